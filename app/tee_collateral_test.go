package app_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
	"github.com/provena/provena/tx"
)

// collLedgers is four independent ledgers (four validators) fed the same
// blocks at chosen block times: the sample Intel collateral is only
// current in June-July 2023, which opmlchain's fixed clock does not reach.
type collLedgers struct {
	t      *testing.T
	apps   []*app.App
	height int64
	nonces map[tx.Address]uint64
}

func newCollLedgers(t *testing.T, teeSection string, keys ...ed25519.PrivateKey) *collLedgers {
	t.Helper()
	g := app.Genesis{Params: app.DefaultParams(), Modules: map[string]json.RawMessage{"energy": app.DevEnergyGenesis()}}
	if teeSection != "" {
		g.Modules["tee"] = json.RawMessage(teeSection)
	}
	for _, k := range keys {
		g.Accounts = append(g.Accounts, app.GenesisAccount{Address: apptest.Addr(k).String(), Balance: 1_000_000})
	}
	gb, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	l := &collLedgers{t: t, nonces: map[tx.Address]uint64{}}
	for range 4 {
		a := app.OpenMem()
		if _, err := a.InitChain(apptest.ChainID, gb); err != nil {
			t.Fatal(err)
		}
		l.apps = append(l.apps, a)
	}
	return l
}

type signedMsg struct {
	key ed25519.PrivateKey
	msg tx.Msg
}

// block executes msgs at block time at on every ledger and checks that
// all reach the same results and app hash.
func (l *collLedgers) block(at time.Time, msgs ...signedMsg) []app.Result {
	l.t.Helper()
	var txs [][]byte
	for _, m := range msgs {
		from := apptest.Addr(m.key)
		txs = append(txs, apptest.Sign(m.key, l.nonces[from], 10, m.msg))
		l.nonces[from]++
	}
	l.height++
	var first []app.Result
	var firstHash []byte
	for v, a := range l.apps {
		res, err := a.ExecuteBlock(app.Block{Height: l.height, Time: at, Txs: txs})
		if err != nil {
			l.t.Fatal(err)
		}
		hash, err := a.Commit()
		if err != nil {
			l.t.Fatal(err)
		}
		if v == 0 {
			first, firstHash = res.TxResults, hash
			continue
		}
		if !bytes.Equal(hash, firstHash) {
			l.t.Fatalf("validator %d: app hash %x, validator 0: %x", v, hash, firstHash)
		}
		for i := range res.TxResults {
			if res.TxResults[i].Code != first[i].Code || res.TxResults[i].Log != first[i].Log {
				l.t.Fatalf("validator %d tx %d: %d %q, validator 0: %d %q", v, i, res.TxResults[i].Code, res.TxResults[i].Log, first[i].Code, first[i].Log)
			}
		}
	}
	return first
}

func expectResult(t *testing.T, what string, r app.Result, code uint32, reason string) {
	t.Helper()
	if r.Code != code || !strings.Contains(r.Log, reason) {
		t.Fatalf("%s: code %d %q, want code %d containing %q", what, r.Code, r.Log, code, reason)
	}
	if code != app.CodeOK {
		t.Logf("%s rejected: %s", what, r.Log)
	}
}

func readTeeTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../tee/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTeeCollateral posts Intel's sample TDX collateral on chain and
// registers the real production quote against it. That collateral does not
// list the quote's TCB level, so with it on chain the quote is rejected for
// its TCB; without it the quote verifies with TCB "unchecked" and is then
// rejected only because its report data binds someone else's keys (no
// real quote can bind a test key).
func TestTeeCollateral(t *testing.T) {
	poster, w := apptest.Key(50), newTeeWorker(t, 51)
	l := newCollLedgers(t, "", poster, w.key)
	coll := readTeeTestdata(t, "tdx_collateral.json")
	quote := readTeeTestdata(t, "tdx_prod_quote_SPR_E4.dat")
	// One base64 character of the TCB info body changed: a changed byte
	// of what Intel signed.
	tampered := append([]byte(nil), coll...)
	i := bytes.Index(tampered, []byte(`"body": "eyJ0Y2JJbmZvIjp7`)) + len(`"body": "eyJ0Y2JJbmZvIjp7`) + 40
	if i < 100 {
		t.Fatal("tcb info body not found")
	}
	tampered[i] ^= 1
	reg := tx.MsgTeeRegister{ModelID: strings.Repeat("07", 32), Kind: "tdx", Quote: quote, SignKey: w.pub, X25519: w.x}
	post := func(b []byte) tx.Msg { return tx.MsgTeeCollateral{Kind: "tdx", Collateral: b} }
	day := func(m time.Month, d int) time.Time { return time.Date(2023, m, d, 12, 0, 0, 0, time.UTC) }

	res := l.block(day(6, 10), signedMsg{poster, post(coll)})
	expectResult(t, "collateral before its issue date", res[0], app.CodeTeeCollateral, "TCB info issued 2023-06-18T08:42:58Z, after")

	res = l.block(day(6, 20),
		signedMsg{w.key, reg},
		signedMsg{poster, post(tampered)},
		signedMsg{poster, post([]byte("{"))},
		signedMsg{poster, post(coll)},
		signedMsg{w.key, reg},
	)
	expectResult(t, "register without collateral", res[0], app.CodeTeeBinding, "does not bind") // verified, TCB unchecked
	expectResult(t, "tampered collateral", res[1], app.CodeTeeCollateral, "signature does not verify")
	expectResult(t, "malformed collateral", res[2], app.CodeTeeCollateral, "parse collateral")
	expectResult(t, "real collateral", res[3], app.CodeOK, "")
	expectResult(t, "register with collateral", res[4], app.CodeTeeInvalid, "against the on-chain tdx collateral issued 2023-06-18T08:42:58Z")
	if !strings.Contains(strings.ToLower(res[4].Log), "tcb") {
		t.Fatalf("rejection does not name the TCB: %s", res[4].Log)
	}

	res = l.block(day(6, 21), signedMsg{poster, post(coll)})
	expectResult(t, "the same collateral again", res[0], app.CodeTeeCollateral, "older collateral refused: TCB info issued 2023-06-18T08:42:58Z is not newer")

	var got *app.TeeCollateral
	r := l.apps[0].Query(app.QueryTeeCollateral, []byte("tdx"), 0, false)
	if r.Code != 0 || json.Unmarshal(r.Value, &got) != nil || got == nil {
		t.Fatalf("query: %d %s", r.Code, r.Value)
	}
	if got.Height != 2 || got.Info.FMSPC != "50806f000000" || got.Sender != apptest.Addr(poster).String() || len(got.Responses) != 4 ||
		!got.Info.NextUpdate.Equal(time.Date(2023, 7, 8, 7, 24, 59, 0, time.UTC)) {
		t.Fatalf("stored collateral %+v", got.Info)
	}
	if r := l.apps[0].Query(app.QueryTeeCollateral, []byte("sev-snp"), 0, false); r.Code == 0 {
		t.Fatal("sev-snp collateral query accepted")
	}

	// After the collateral's nextUpdate the stored set no longer vouches
	// for anything: registrations are rejected until a newer one is posted.
	res = l.block(day(7, 10), signedMsg{w.key, reg}, signedMsg{poster, post(coll)})
	expectResult(t, "register after nextUpdate", res[0], app.CodeTeeInvalid, "expired")
	expectResult(t, "outdated collateral", res[1], app.CodeTeeCollateral, "outdated")
}

// A chain whose genesis requires tdx collateral refuses tdx registrations
// until some is posted; other kinds are unaffected, and the genesis list
// names only kinds with on-chain collateral.
func TestTeeCollateralRequired(t *testing.T) {
	w := newTeeWorker(t, 52)
	l := newCollLedgers(t, `{"sim_roots":[],"max_age_secs":3600,"require_collateral":["tdx"]}`, w.key)
	quote := readTeeTestdata(t, "tdx_prod_quote_SPR_E4.dat")
	res := l.block(time.Date(2023, 6, 20, 0, 0, 0, 0, time.UTC),
		signedMsg{w.key, tx.MsgTeeRegister{ModelID: strings.Repeat("07", 32), Kind: "tdx", Quote: quote, SignKey: w.pub, X25519: w.x}},
		signedMsg{w.key, tx.MsgTeeRegister{ModelID: strings.Repeat("07", 32), Kind: "sev-snp", Quote: readTeeTestdata(t, "attestation.bin"),
			SignKey: w.pub, X25519: w.x, VCEK: readTeeTestdata(t, "vcek.testcer")}})
	expectResult(t, "tdx without collateral", res[0], app.CodeTeeCollateral, "requires tdx collateral")
	expectResult(t, "sev-snp", res[1], app.CodeTeeBinding, "does not bind")

	for _, bad := range []string{`["sev-snp"]`, `["tdx","tdx"]`, `["sgx"]`} {
		g := app.Genesis{Params: app.DefaultParams(), Modules: map[string]json.RawMessage{
			"tee": json.RawMessage(`{"sim_roots":[],"max_age_secs":3600,"require_collateral":` + bad + `}`)}}
		gb, _ := json.Marshal(g)
		if _, err := app.OpenMem().InitChain(apptest.ChainID, gb); err == nil || !strings.Contains(err.Error(), "require_collateral") {
			t.Errorf("genesis require_collateral %s: %v", bad, err)
		}
	}
}
