package app_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
	"github.com/provena/provena/opml/opmlchain"
	"github.com/provena/provena/tee"
	"github.com/provena/provena/tee/sim"
	"github.com/provena/provena/tx"
	"github.com/provena/provena/vault"
)

// teeWorker is a worker's two keys: the ed25519 account key and the age
// X25519 recipient derived from it (vault.AccountIdentity).
type teeWorker struct {
	key ed25519.PrivateKey
	pub ed25519.PublicKey
	x   string
}

func newTeeWorker(t *testing.T, i int) teeWorker {
	t.Helper()
	k := apptest.Key(i)
	id, err := vault.AccountIdentity(k)
	if err != nil {
		t.Fatal(err)
	}
	return teeWorker{k, k.Public().(ed25519.PublicKey), id.Recipient().String()}
}

// blockTime is opmlchain's header time of block h.
func blockTime(h int64) time.Time { return time.Unix(1_700_000_000+h, 0).UTC() }

func teeModelMsg(id byte) tx.MsgRegisterModel {
	sig := tx.TensorSig{DType: 1, Shape: []uint32{1}}
	return tx.MsgRegisterModel{ModelID: [32]byte{id}, NumNodes: 1, Inputs: []tx.TensorSig{sig},
		Outputs: []tx.OutputSig{{Node: 0, Output: 0, Sig: sig}}}
}

// TestTeeRegistration runs the module through real blocks: the config, allow-lists, and each reason an attestation is rejected. Four
// independent ledgers (as four validators) execute the same blocks and
// must reach the same verdicts and app hashes.
func TestTeeRegistration(t *testing.T) {
	own, other := apptest.Key(30), apptest.Key(31)
	wa, wb := newTeeWorker(t, 32), newTeeWorker(t, 33)
	var chains []*opmlchain.Chain
	for range 4 {
		c, err := opmlchain.New(app.Params{}, 1_000_000, own, other, wa.key, wb.key)
		if err != nil {
			t.Fatal(err)
		}
		chains = append(chains, c)
	}
	c := chains[0]
	send := func(msgs ...any) []opmlchain.Delivered {
		t.Helper()
		var first []opmlchain.Delivered
		var firstHash []byte
		for v, c := range chains {
			for i := 0; i < len(msgs); i += 2 {
				if _, err := c.Submit(msgs[i].(ed25519.PrivateKey), msgs[i+1].(tx.Msg)); err != nil {
					t.Fatal(err)
				}
			}
			res, err := c.Block()
			if err != nil {
				t.Fatal(err)
			}
			_, hash := c.App().Info()
			if v == 0 {
				first, firstHash = res, hash
				continue
			}
			if !bytes.Equal(hash, firstHash) {
				t.Fatalf("validator %d: app hash %x, validator 0: %x", v, hash, firstHash)
			}
			for i := range res {
				if res[i].Result.Code != first[i].Result.Code || res[i].Result.Log != first[i].Result.Log {
					t.Fatalf("validator %d tx %d: %d %q, validator 0: %d %q", v, i, res[i].Result.Code, res[i].Result.Log, first[i].Result.Code, first[i].Result.Log)
				}
			}
		}
		return first
	}
	expect := func(d opmlchain.Delivered, code uint32, reason string) {
		t.Helper()
		if d.Result.Code != code || !strings.Contains(d.Result.Log, reason) {
			t.Fatalf("%s: code %d %q, want code %d containing %q", d.Msg, d.Result.Code, d.Result.Log, code, reason)
		}
		if code != app.CodeOK {
			t.Logf("%s rejected: %s", d.Msg, d.Result.Log)
		}
	}
	model := teeModelMsg(7)
	mid := hex.EncodeToString(model.ModelID[:])
	root := hex.EncodeToString(sim.TestRootPublic())
	const maxAge = 3600
	good := sim.New(sim.MeasurementOf("provena-worker v1"))
	meas := hex.EncodeToString(good.Measurement[:])

	// Block 1: the config, once.
	res := send(own, tx.MsgTeeConfig{SimRoots: []string{root}, MaxAgeSecs: maxAge}, other, tx.MsgTeeConfig{SimRoots: nil, MaxAgeSecs: 1}, own, model)
	expect(res[0], app.CodeOK, "")
	expect(res[1], app.CodeTeeConfig, "already configured")
	expect(res[2], app.CodeOK, "")

	// Block 2: no second config; only the owner allows.
	res = send(other, tx.MsgTeeConfig{MaxAgeSecs: 10}, other, tx.MsgTeeAllow{ModelID: mid, Kind: "sim", Measurement: meas},
		own, tx.MsgTeeAllow{ModelID: mid, Kind: "sim", Measurement: meas},
		own, tx.MsgTeeAllow{ModelID: hex.EncodeToString(make([]byte, 32)), Kind: "sim", Measurement: meas})
	expect(res[0], app.CodeTeeConfig, "already configured at height 1")
	expect(res[1], app.CodeTeeNotOwner, "only the owner")
	expect(res[2], app.CodeOK, "")
	expect(res[3], app.CodeTeeUnknown, "not registered")

	// Block 3: registrations, at block time blockTime(3).
	now := blockTime(3)
	reg := func(w teeWorker, signKey ed25519.PublicKey, kind string, quote []byte) tx.MsgTeeRegister {
		return tx.MsgTeeRegister{ModelID: mid, Kind: kind, Quote: quote, SignKey: signKey, X25519: w.x}
	}
	waQuote := good.QuoteFor(wa.pub, wa.x, now.Add(-10*time.Second))
	otherSeed := [32]byte{1, 2, 3}
	foreign := &sim.Attester{Root: ed25519.NewKeyFromSeed(otherSeed[:]), Measurement: good.Measurement}
	notAllowed := sim.New(sim.MeasurementOf("some other build"))
	tdxQuote, err := os.ReadFile("../tee/testdata/tdx_prod_quote_SPR_E4.dat")
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), tdxQuote...)
	bad[200] ^= 1
	res = send(
		wa.key, reg(wa, wa.pub, "sim", waQuote),
		wb.key, reg(wb, wb.pub, "sim", good.QuoteFor(wa.pub, wa.x, now)), // wa's quote under wb's keys
		wb.key, reg(wb, wa.pub, "sim", good.QuoteFor(wa.pub, wb.x, now)), // claims wa's signing key
		wb.key, reg(wb, wb.pub, "sim", notAllowed.QuoteFor(wb.pub, wb.x, now)),
		wb.key, reg(wb, wb.pub, "sim", good.QuoteFor(wb.pub, wb.x, now.Add(-2*time.Hour))),
		wb.key, reg(wb, wb.pub, "sim", good.QuoteFor(wb.pub, wb.x, now.Add(-31*24*time.Hour))),
		wb.key, reg(wb, wb.pub, "sim", good.QuoteFor(wb.pub, wb.x, now.Add(10*time.Minute))),
		wb.key, reg(wb, wb.pub, "sim", foreign.QuoteFor(wb.pub, wb.x, now)),
		wb.key, reg(wb, wb.pub, "tdx", tdxQuote), // real quote, valid in 2023, made for other keys
		wb.key, reg(wb, wb.pub, "tdx", bad),
	)
	expect(res[0], app.CodeOK, "")
	expect(res[1], app.CodeTeeBinding, "does not bind the sender's keys")
	expect(res[2], app.CodeTeeBinding, "another key")
	expect(res[3], app.CodeTeeNotAllowed, "not allowed for model")
	expect(res[4], app.CodeTeeStale, "stale attestation")
	expect(res[5], app.CodeTeeInvalid, "simulated quote valid from") // its certificate expired
	expect(res[6], app.CodeTeeInvalid, "valid from")                 // issued in the future: not yet valid
	expect(res[7], app.CodeTeeSimNotAllowed, "does not name its root")
	expect(res[8], app.CodeTeeBinding, "does not bind")
	expect(res[9], app.CodeTeeInvalid, "verify tdx attestation")

	// Block 4: the same quote again is a replay; for another model it is not.
	model2 := teeModelMsg(9)
	mid2 := hex.EncodeToString(model2.ModelID[:])
	res = send(wa.key, reg(wa, wa.pub, "sim", waQuote), own, model2, own, tx.MsgTeeAllow{ModelID: mid2, Kind: "sim", Measurement: meas})
	expect(res[0], app.CodeTeeReplay, "replay")
	other2 := reg(wa, wa.pub, "sim", waQuote)
	other2.ModelID = mid2
	res = send(wa.key, other2)
	expect(res[0], app.CodeOK, "")

	var att app.TeeAttestation
	ok, err := c.Query(app.QueryTeeAttestation, []byte(apptest.Addr(wa.key).String()+"/"+mid), &att)
	if err != nil || !ok {
		t.Fatalf("query attestation: %v %v", ok, err)
	}
	issued := now.Add(-10 * time.Second)
	if !att.Simulated || att.TCBStatus != "SIMULATED" || att.Measurement != meas || att.X25519 != wa.x ||
		!att.IssuedAt.Equal(issued) || !att.FreshUntil.Equal(issued.Add(maxAge*time.Second)) || att.Height != 3 {
		t.Fatalf("attestation %+v", att)
	}
	var cfg app.TeeConfig
	if ok, err := c.Query(app.QueryTeeConfig, nil, &cfg); err != nil || !ok || len(cfg.SimRoots) != 1 || cfg.MaxAgeSecs != maxAge {
		t.Fatalf("config %+v %v %v", cfg, ok, err)
	}
}

// A chain whose tee_config named no simulated root (or that had none)
// rejects simulated quotes, and the config window closes after block
// TeeConfigMaxHeight.
func TestTeeSimulatedRejectedWithoutConfig(t *testing.T) {
	own, w := apptest.Key(40), newTeeWorker(t, 41)
	c, err := opmlchain.New(app.Params{}, 1_000_000, own, w.key)
	if err != nil {
		t.Fatal(err)
	}
	model := teeModelMsg(8)
	mid := hex.EncodeToString(model.ModelID[:])
	a := sim.New(sim.MeasurementOf("x"))
	for _, m := range []struct {
		k   ed25519.PrivateKey
		msg tx.Msg
	}{{own, model}, {own, tx.MsgTeeAllow{ModelID: mid, Kind: "sim", Measurement: hex.EncodeToString(a.Measurement[:])}}} {
		if _, err := c.Submit(m.k, m.msg); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Block(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Submit(w.key, tx.MsgTeeRegister{ModelID: mid, Kind: "sim", Quote: a.QuoteFor(w.pub, w.x, blockTime(2)), SignKey: w.pub, X25519: w.x}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Block()
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Result.Code != app.CodeTeeSimNotAllowed {
		t.Fatalf("code %d %q, want sim not allowed", res[0].Result.Code, res[0].Result.Log)
	}
	for c.Height() < app.TeeConfigMaxHeight {
		if _, err := c.Block(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Submit(own, tx.MsgTeeConfig{SimRoots: []string{hex.EncodeToString(sim.TestRootPublic())}, MaxAgeSecs: 60}); err != nil {
		t.Fatal(err)
	}
	if res, err = c.Block(); err != nil {
		t.Fatal(err)
	}
	if res[0].Result.Code != app.CodeTeeConfig || !strings.Contains(res[0].Result.Log, "first 20 blocks") {
		t.Fatalf("late config: code %d %q", res[0].Result.Code, res[0].Result.Log)
	}
}

func TestTeeKindsMatch(t *testing.T) {
	if strings.Join(tx.TeeKinds, ",") != strings.Join(tee.Kinds, ",") || tx.TeeMaxQuote != tee.MaxQuoteSize {
		t.Fatalf("tx.TeeKinds %v / tee.Kinds %v, or quote limits differ", tx.TeeKinds, tee.Kinds)
	}
}
