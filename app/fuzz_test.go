package app_test

import (
	"bytes"
	"testing"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
	"github.com/provena/provena/tx"
)

func FuzzDecodeAccount(f *testing.F) {
	for _, acc := range []app.Account{{}, {Balance: 1, Nonce: 2, Bonded: 3, Unbonding: []app.UnbondingEntry{{Amount: 4, MaturesAt: 5}}}} {
		f.Add(acc.Encode())
	}
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		acc, err := app.DecodeAccount(b)
		if err != nil {
			return
		}
		if !bytes.Equal(acc.Encode(), b) {
			t.Fatalf("non-canonical account accepted: %x", b)
		}
	})
}

func FuzzParseGenesis(f *testing.F) {
	f.Add(apptest.Genesis(app.DefaultParams(), 10, apptest.Key(1), apptest.Key(2)))
	f.Add([]byte(`{"params":{},"accounts":null}`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := app.ParseGenesis(b)
		if err != nil {
			return
		}
		if err := g.Validate(); err != nil {
			t.Fatalf("parsed genesis does not validate: %v", err)
		}
	})
}

// FuzzCheckTx feeds arbitrary bytes to CheckTx: it must answer with a code,
// never panic, and accept only transactions that decode.
func FuzzCheckTx(f *testing.F) {
	a := app.OpenMem()
	defer a.Close()
	alice := apptest.Key(1)
	if _, err := a.InitChain(apptest.ChainID, apptest.Genesis(app.DefaultParams(), 1_000_000, alice)); err != nil {
		f.Fatal(err)
	}
	f.Add(apptest.Transfer(alice, 0, 10, apptest.Addr(apptest.Key(2)), 5))
	f.Add(apptest.Sign(alice, 0, 10, tx.MsgBond{Amount: 5}))
	zkReg := tx.MsgZkRegister{ModelID: tx.DataHash{1}, System: "groth16", VerifyingKey: []byte{1}, WeightsCommit: make([]byte, tx.ZkWeightsCommitBytes), Prover: apptest.Addr(alice), ProverKey: "age1"}
	f.Add(apptest.Sign(alice, 0, 10, zkReg))
	zkReg.WeightsCommit = zkReg.WeightsCommit[:32] // the former 32-byte hash: rejected
	f.Add(apptest.Sign(alice, 0, 10, zkReg))
	f.Add([]byte("junk"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := a.CheckTx(b, false)
		if r.Code == app.CodeOK {
			if _, err := tx.Decode(b); err != nil {
				t.Fatalf("accepted undecodable tx: %v", err)
			}
		} else if r.Log == "" {
			t.Fatalf("code %d without a log", r.Code)
		}
	})
}
