package app_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
	"github.com/provena/provena/tx"
)

var (
	alice = apptest.Key(1)
	bob   = apptest.Key(2)
	carol = apptest.Key(3) // the proposer
)

func testParams() app.Params {
	p := app.DefaultParams()
	p.UnbondingBlocks = 2
	return p
}

func newApp(t testing.TB, keys ...ed25519.PrivateKey) *app.App {
	t.Helper()
	a := app.OpenMem()
	t.Cleanup(func() { a.Close() })
	if _, err := a.InitChain(apptest.ChainID, apptest.Genesis(testParams(), 1_000_000, keys...)); err != nil {
		t.Fatal(err)
	}
	return a
}

// block executes and commits txs as the next block, proposed by carol.
func block(t testing.TB, a *app.App, txs ...[]byte) app.BlockResult {
	t.Helper()
	h, _ := a.Info()
	res, err := a.ExecuteBlock(app.Block{Height: h + 1, Time: time.Unix(1_700_000_000+h, 0), Proposer: apptest.Addr(carol), Txs: txs})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := a.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hash, res.AppHash) {
		t.Fatalf("commit hash %x differs from FinalizeBlock's %x", hash, res.AppHash)
	}
	return res
}

func account(t testing.TB, a *app.App, k ed25519.PrivateKey) app.AccountJSON {
	t.Helper()
	r := a.Query(app.QueryAccount, apptest.Addr(k).Bytes(), 0, false)
	if r.Code != app.CodeOK {
		t.Fatalf("query account: %d %s", r.Code, r.Log)
	}
	var j app.AccountJSON
	if err := json.Unmarshal(r.Value, &j); err != nil {
		t.Fatal(err)
	}
	return j
}

func supply(t testing.TB, a *app.App) app.SupplyJSON {
	t.Helper()
	r := a.Query(app.QuerySupply, nil, 0, false)
	var s app.SupplyJSON
	if err := json.Unmarshal(r.Value, &s); err != nil {
		t.Fatalf("query supply: %d %s: %v", r.Code, r.Log, err)
	}
	return s
}

func TestTransferAndFees(t *testing.T) {
	a := newApp(t, alice)
	res := block(t, a,
		apptest.Transfer(alice, 0, 11, apptest.Addr(bob), 1000),
		apptest.Transfer(alice, 1, 10, apptest.Addr(bob), 2_000_000), // fails, pays fee
	)
	if r := res.TxResults[0]; r.Code != app.CodeOK || len(r.Events) != 2 || r.Events[1].Type != "transfer" {
		t.Fatalf("transfer: %+v", r)
	}
	if r := res.TxResults[1]; r.Code != app.CodeInsufficientFunds || !strings.Contains(r.Log, "transfer needs 2000000") {
		t.Fatalf("overdraft: %+v", r)
	}
	if got := account(t, a, alice); got.Balance != 1_000_000-1000-11-10 || got.Nonce != 2 {
		t.Fatalf("alice %+v", got)
	}
	if got := account(t, a, bob); got.Balance != 1000 || got.Nonce != 0 {
		t.Fatalf("bob %+v", got)
	}
	// Fees 11 and 10: proposer gets 5 + 5, 6 + 5 burned.
	if got := account(t, a, carol); got.Balance != 10 {
		t.Fatalf("proposer %+v", got)
	}
	s := supply(t, a)
	want := app.SupplyJSON{GenesisSupply: 1_000_000, Circulating: 1_000_000 - 11, Burned: 11}
	if s != want {
		t.Fatalf("supply %+v, want %+v", s, want)
	}
	if len(res.Events) != 1 || res.Events[0].Type != "fees" {
		t.Fatalf("block events %+v", res.Events)
	}
}

func TestCheckTxPendingState(t *testing.T) {
	a := newApp(t, alice)
	to := apptest.Addr(bob)
	for n := uint64(0); n < 3; n++ {
		if r := a.CheckTx(apptest.Transfer(alice, n, 10, to, 100_000), false); r.Code != app.CodeOK {
			t.Fatalf("nonce %d: %d %s", n, r.Code, r.Log)
		}
	}
	checks := []struct {
		name string
		tx   []byte
		code uint32
		log  string
	}{
		{"pending replay", apptest.Transfer(alice, 1, 10, to, 1), app.CodeBadNonce, "nonce 1 already used (next is 3)"},
		{"gap", apptest.Transfer(alice, 5, 10, to, 1), app.CodeBadNonce, "nonce 5 is in the future (next is 3)"},
		{"pending overdraft", apptest.Transfer(alice, 3, 10, to, 700_000), app.CodeInsufficientFunds, "balance 699960 upv after fee"},
		{"bad unbond", apptest.Sign(alice, 3, 10, tx.MsgUnbond{Amount: 1}), app.CodeInsufficientFunds, "insufficient bonded stake"},
		{"zero amount", apptest.Transfer(alice, 3, 10, to, 0), app.CodeInvalidMsg, "amount must be positive"},
	}
	for _, c := range checks {
		if r := a.CheckTx(c.tx, false); r.Code != c.code || !strings.Contains(r.Log, c.log) {
			t.Errorf("%s: %d %q, want %d %q", c.name, r.Code, r.Log, c.code, c.log)
		}
	}
	// Rejected txs left no trace: nonce 3 is still next.
	if r := a.CheckTx(apptest.Transfer(alice, 3, 10, to, 1), false); r.Code != app.CodeOK {
		t.Fatalf("nonce 3 after rejections: %d %s", r.Code, r.Log)
	}
	block(t, a, apptest.Transfer(alice, 0, 10, to, 100_000))
	// After commit the check state restarts from committed state; rechecks
	// rebuild it in mempool order.
	for n := uint64(1); n < 4; n++ {
		amt := uint64(100_000)
		if n == 3 {
			amt = 1
		}
		if r := a.CheckTx(apptest.Transfer(alice, n, 10, to, amt), true); r.Code != app.CodeOK {
			t.Fatalf("recheck nonce %d: %d %s", n, r.Code, r.Log)
		}
	}
	if r := a.CheckTx(apptest.Transfer(alice, 0, 10, to, 1), false); r.Code != app.CodeBadNonce || !strings.Contains(r.Log, "already used (next is 4)") {
		t.Fatalf("committed replay: %d %s", r.Code, r.Log)
	}
}

func TestBondUnbond(t *testing.T) {
	a := newApp(t, alice)
	block(t, a, apptest.Sign(alice, 0, 10, tx.MsgBond{Amount: 500}))          // height 1
	res := block(t, a, apptest.Sign(alice, 1, 10, tx.MsgUnbond{Amount: 200})) // height 2, matures at 4
	if r := res.TxResults[0]; r.Code != app.CodeOK {
		t.Fatalf("unbond: %d %s", r.Code, r.Log)
	}
	got := account(t, a, alice)
	if got.Bonded != 300 || len(got.Unbonding) != 1 || got.Unbonding[0] != (app.UnbondingJSON{Amount: 200, MaturesAt: 4}) {
		t.Fatalf("after unbond %+v", got)
	}
	if s := supply(t, a); s.Bonded != 300 || s.Unbonding != 200 {
		t.Fatalf("supply %+v", s)
	}
	block(t, a) // 3: not yet
	if got := account(t, a, alice); got.Balance != 1_000_000-20-500 {
		t.Fatalf("matured early: %+v", got)
	}
	res = block(t, a) // 4: matures
	got = account(t, a, alice)
	if got.Balance != 1_000_000-20-300 || len(got.Unbonding) != 0 || got.Bonded != 300 {
		t.Fatalf("after maturity %+v", got)
	}
	if s := supply(t, a); s.Bonded != 300 || s.Unbonding != 0 || s.Circulating != 1_000_000-300-10 {
		t.Fatalf("supply %+v", s)
	}
	found := false
	for _, e := range res.Events {
		found = found || e.Type == "unbond_matured"
	}
	if !found {
		t.Fatalf("no unbond_matured event in %+v", res.Events)
	}
}

// TestSupplyConservation runs random blocks of transfers, bonds, unbonds and
// failing transactions and checks after each block that nothing was created
// or lost: sum(balances) + sum(bonded) + sum(unbonding) + burned == genesis.
func TestSupplyConservation(t *testing.T) {
	keys := []ed25519.PrivateKey{alice, bob, apptest.Key(4), apptest.Key(5)}
	a := newApp(t, keys...)
	all := append(keys, carol)
	nonces := make([]uint64, len(keys))
	rng := rand.New(rand.NewPCG(1, 2))
	for h := 0; h < 30; h++ {
		var txs [][]byte
		for range rng.IntN(12) {
			i := rng.IntN(len(keys))
			fee := 10 + rng.Uint64N(5)
			amt := rng.Uint64N(400_000) + 1
			var b []byte
			switch rng.IntN(6) {
			case 0, 1:
				b = apptest.Transfer(keys[i], nonces[i], fee, apptest.Addr(all[rng.IntN(len(all))]), amt)
			case 2:
				b = apptest.Sign(keys[i], nonces[i], fee, tx.MsgBond{Amount: amt / 4})
			case 3:
				b = apptest.Sign(keys[i], nonces[i], fee, tx.MsgUnbond{Amount: amt / 8})
			case 4: // replay or future nonce: rejected without a fee
				b = apptest.Transfer(keys[i], nonces[i]+uint64(rng.IntN(3))+1, fee, apptest.Addr(bob), 1)
				txs = append(txs, b)
				continue
			case 5: // garbage
				txs = append(txs, []byte("not a tx"))
				continue
			}
			nonces[i]++
			txs = append(txs, b)
		}
		res := block(t, a, txs...)
		for i, r := range res.TxResults {
			if r.Code == app.CodeInternal {
				t.Fatalf("height %d tx %d: %s", h+1, i, r.Log)
			}
		}
		var total uint64
		for _, k := range all {
			acc := account(t, a, k)
			total += acc.Balance + acc.Bonded
			for _, e := range acc.Unbonding {
				total += e.Amount
			}
		}
		s := supply(t, a)
		if total+s.Burned != s.GenesisSupply {
			t.Fatalf("height %d: accounts hold %d + burned %d != genesis %d", h+1, total, s.Burned, s.GenesisSupply)
		}
		if s.Circulating+s.Bonded+s.Unbonding+s.Burned != s.GenesisSupply {
			t.Fatalf("height %d: supply record inconsistent %+v", h+1, s)
		}
	}
	if s := supply(t, a); s.Burned == 0 || s.Bonded == 0 {
		t.Fatalf("random run exercised too little: %+v", s)
	}
}

func TestDeterminism(t *testing.T) {
	a1, a2 := newApp(t, alice, bob), newApp(t, alice, bob)
	h1, _ := a1.Info()
	h2, _ := a2.Info()
	if h1 != 0 || h2 != 0 {
		t.Fatal("fresh apps have height")
	}
	for h := uint64(0); h < 10; h++ {
		txs := [][]byte{
			apptest.Transfer(alice, h, 10, apptest.Addr(bob), 100+h),
			apptest.Transfer(bob, 2*h, 10, apptest.Addr(apptest.Key(int(10+h))), 7),
			apptest.Sign(bob, 2*h+1, 12, tx.MsgBond{Amount: 50}),
		}
		r1, r2 := block(t, a1, txs...), block(t, a2, txs...)
		if !bytes.Equal(r1.AppHash, r2.AppHash) {
			t.Fatalf("height %d: app hashes differ %x %x", h+1, r1.AppHash, r2.AppHash)
		}
	}
	// Genesis account order does not matter.
	a3 := app.OpenMem()
	defer a3.Close()
	ha, _ := newApp(t, alice, bob).InitChain(apptest.ChainID, apptest.Genesis(testParams(), 1_000_000, alice, bob))
	hb, _ := a3.InitChain(apptest.ChainID, apptest.Genesis(testParams(), 1_000_000, bob, alice))
	if !bytes.Equal(ha, hb) {
		t.Fatal("genesis hash depends on account order")
	}
}

func TestRestart(t *testing.T) {
	dir := t.TempDir()
	a, err := app.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.InitChain(apptest.ChainID, apptest.Genesis(testParams(), 1_000_000, alice)); err != nil {
		t.Fatal(err)
	}
	block(t, a, apptest.Transfer(alice, 0, 10, apptest.Addr(bob), 1))
	block(t, a, apptest.Transfer(alice, 1, 10, apptest.Addr(bob), 2))
	height, hash := a.Info()
	// Execute block 3 but "crash" before Commit.
	pending := apptest.Transfer(alice, 2, 10, apptest.Addr(bob), 3)
	r3, err := a.ExecuteBlock(app.Block{Height: 3, Proposer: apptest.Addr(carol), Txs: [][]byte{pending}})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()

	a, err = app.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	h2, hash2 := a.Info()
	if h2 != height || !bytes.Equal(hash2, hash) || height != 2 {
		t.Fatalf("reopened at %d %x, want %d %x", h2, hash2, height, hash)
	}
	if a.ChainID() != apptest.ChainID || a.Params() != testParams() {
		t.Fatalf("reopened chain %q params %+v", a.ChainID(), a.Params())
	}
	if got := account(t, a, bob); got.Balance != 3 {
		t.Fatalf("bob after reopen %+v (uncommitted block leaked?)", got)
	}
	// Replaying block 3 gives the same hash as before the crash.
	if res := block(t, a, pending); !bytes.Equal(res.AppHash, r3.AppHash) {
		t.Fatalf("replayed block 3 hash %x, first run %x", res.AppHash, r3.AppHash)
	}
	if got := account(t, a, bob); got.Balance != 6 {
		t.Fatalf("bob after replay %+v", got)
	}
	if _, err := a.InitChain(apptest.ChainID, apptest.Genesis(testParams(), 1, alice)); err == nil {
		t.Fatal("InitChain over committed state succeeded")
	}
}

func TestQueryProofs(t *testing.T) {
	a := newApp(t, alice)
	block(t, a, apptest.Transfer(alice, 0, 10, apptest.Addr(bob), 77))
	_, appHash := a.Info() // = header(2).AppHash
	block(t, a, apptest.Transfer(alice, 1, 10, apptest.Addr(bob), 1))

	cases := []struct {
		name string
		path string
		data []byte
	}{
		{"existing account", app.QueryAccount, apptest.Addr(bob).Bytes()},
		{"missing account", app.QueryAccount, apptest.Addr(apptest.Key(99)).Bytes()},
		{"text address", app.QueryAccount, []byte(apptest.Addr(alice).String())},
		{"params", app.QueryParams, nil},
		{"supply", app.QuerySupply, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.Query(c.path, c.data, 1, true)
			if r.Code != app.CodeOK || r.Height != 1 || len(r.ProofJSON) == 0 {
				t.Fatalf("query: %+v", r)
			}
			if err := app.VerifyQuery(appHash, c.path, r); err != nil {
				t.Fatal(err)
			}
			// JSON only, as a remote client would see it.
			r.Proof = nil
			if err := app.VerifyQuery(appHash, c.path, r); err != nil {
				t.Fatalf("from proof JSON: %v", err)
			}
			tampered := r
			tampered.Value = bytes.Clone(r.Value)
			i := bytes.IndexAny(tampered.Value, "0123456789")
			tampered.Value[i] = '0' + (tampered.Value[i]-'0'+1)%10
			if app.VerifyQuery(appHash, c.path, tampered) == nil {
				t.Fatal("tampered value verified")
			}
			_, latest := a.Info()
			if app.VerifyQuery(latest, c.path, r) == nil && c.path != app.QueryParams {
				t.Fatal("proof for height 1 verified against height 2's hash")
			}
		})
	}
	r := a.Query(app.QueryAccount, apptest.Addr(bob).Bytes(), 1, true)
	acc, err := app.VerifyAccount(appHash, apptest.Addr(bob), r)
	if err != nil || acc.Balance != 77 {
		t.Fatalf("VerifyAccount = %+v, %v", acc, err)
	}
	if _, err := app.VerifyAccount(appHash, apptest.Addr(alice), r); err == nil {
		t.Fatal("proof for bob accepted for alice")
	}
	for _, c := range []struct {
		path   string
		data   []byte
		height int64
		code   uint32
		log    string
	}{
		{"/nope", nil, 0, app.CodeUnknownQuery, "unknown query path"},
		{app.QueryAccount, []byte{1, 2}, 0, app.CodeBadQuery, "20 address bytes"},
		{app.QueryAccount, apptest.Addr(bob).Bytes(), 9, app.CodeBadQuery, "height 9 is not available"},
	} {
		if r := a.Query(c.path, c.data, c.height, false); r.Code != c.code || !strings.Contains(r.Log, c.log) {
			t.Errorf("query %s: %d %q", c.path, r.Code, r.Log)
		}
	}
}

func TestGenesisValidate(t *testing.T) {
	addr := apptest.Addr(alice).String()
	for _, c := range []struct {
		name, json, err string
	}{
		{"empty", ``, "app_state is empty"},
		{"unknown field", `{"params":{"block_time_ms":1000,"unbonding_blocks":1,"max_tx_bytes":4096,"min_fee":0},"acounts":[]}`, "unknown field"},
		{"zero params", `{"params":{},"accounts":[]}`, "block_time_ms 0"},
		{"bad max tx", `{"params":{"block_time_ms":1000,"unbonding_blocks":1,"max_tx_bytes":10,"min_fee":0}}`, "max_tx_bytes 10"},
		{"bad address", `{"params":{"block_time_ms":1000,"unbonding_blocks":1,"max_tx_bytes":4096,"min_fee":0},"accounts":[{"address":"pvxyz","balance":1}]}`, "accounts[0]"},
		{"duplicate", `{"params":{"block_time_ms":1000,"unbonding_blocks":1,"max_tx_bytes":4096,"min_fee":0},"accounts":[{"address":"` + addr + `","balance":1},{"address":"` + addr + `","balance":1}]}`, "repeats"},
		{"overflow", `{"params":{"block_time_ms":1000,"unbonding_blocks":1,"max_tx_bytes":4096,"min_fee":0},"accounts":[{"address":"` + addr + `","balance":18446744073709551615},{"address":"` + apptest.Addr(bob).String() + `","balance":1}]}`, "overflows"},
	} {
		_, err := app.ParseGenesis([]byte(c.json))
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want %q", c.name, err, c.err)
		}
	}
	g, err := app.ParseGenesis(apptest.Genesis(app.DefaultParams(), 5, alice, bob))
	if err != nil || g.Supply() != 10 {
		t.Fatalf("good genesis: %v", err)
	}
}

// TestDeliverVerifiesUnseenSignatures: transactions this node never checked
// (another proposer's block) are verified in the block, in a batch, and a
// forged one among them is still rejected on its own.
func TestDeliverVerifiesUnseenSignatures(t *testing.T) {
	a := newApp(t, alice, bob)
	good1 := apptest.Transfer(alice, 0, 10, apptest.Addr(carol), 1)
	good2 := apptest.Transfer(bob, 0, 10, apptest.Addr(carol), 2)
	signed, _ := tx.Decode(apptest.Transfer(alice, 1, 10, apptest.Addr(carol), 3))
	forgedTx, _ := tx.Decode(apptest.Transfer(alice, 1, 10, apptest.Addr(carol), 900_000))
	forgedTx.Signature = signed.Signature
	forged, _ := forgedTx.Encode()
	res := block(t, a, good1, forged, good2)
	codes := []uint32{res.TxResults[0].Code, res.TxResults[1].Code, res.TxResults[2].Code}
	if codes[0] != app.CodeOK || codes[1] != app.CodeBadSignature || codes[2] != app.CodeOK {
		t.Fatalf("codes %v (%s)", codes, res.TxResults[1].Log)
	}
	if got := account(t, a, alice); got.Nonce != 1 {
		t.Fatalf("forged tx touched alice: %+v", got)
	}
	if got := account(t, a, carol); got.Balance != 3+10 {
		t.Fatalf("carol %+v", got)
	}
}
