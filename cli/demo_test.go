package cli

import (
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/provena/provena/app"
	"github.com/provena/provena/node"
)

// TestDemo runs the demo's chain and checks its story against arithmetic
// done here: balances after fees, stake, the supply identity and the proof.
func TestDemo(t *testing.T) {
	out, err := runDemo(context.Background(), io.Discard, false)
	if err != nil {
		t.Fatal(err)
	}
	fee := app.DefaultParams().MinFee
	want := map[string]struct{ balance, bonded, unbonding uint64 }{
		"bob":       {5_000_000 - 750_000 - fee, 0, 0},
		"carol":     {2_000_000 + 750_000 - 1_000_000 - 2*fee, 600_000, 400_000},
		"validator": {node.DefaultValidatorBalance + 5*(fee/2), 0, 0},
	}
	for name, w := range want {
		a := out.Accounts[name]
		var unb uint64
		for _, u := range a.Unbonding {
			unb += u.Amount
		}
		if a.Balance != w.balance || a.Bonded != w.bonded || unb != w.unbonding {
			t.Errorf("%s: balance %d bonded %d unbonding %d, want %+v", name, a.Balance, a.Bonded, unb, w)
		}
	}
	var sup map[string]uint64
	if err := json.Unmarshal(out.Supply, &sup); err != nil {
		t.Fatal(err)
	}
	if sup["circulating"]+sup["bonded"]+sup["unbonding"]+sup["burned"] != sup["genesis_supply"] {
		t.Errorf("supply does not add up: %v", sup)
	}
	if sup["burned"] != 5*fee-5*(fee/2) {
		t.Errorf("burned %d after 5 fees of %d, want the non-proposer half of each", sup["burned"], fee)
	}
	last := out.Steps[len(out.Steps)-1]
	if last.Code != app.CodeBadNonce {
		t.Errorf("replay step: %+v, want code %d", last, app.CodeBadNonce)
	}
	for _, s := range out.Steps[:len(out.Steps)-1] {
		if s.Code != 0 || s.Height < 1 {
			t.Errorf("step %+v did not commit", s)
		}
	}
	if out.Proof.HeaderHeight != out.Proof.Height+1 || !out.Proof.Exists || out.Proof.Account.Bonded != 600_000 {
		t.Errorf("proof: %+v", out.Proof)
	}
}
