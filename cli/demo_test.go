package cli

import (
	"context"
	"encoding/json"
	"io"
	"strings"
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
	if md := out.Modes; md == nil || len(md.Jobs) != 2 || md.Jobs[0].Mode != app.JobModeOptimistic || md.Jobs[1].Mode != app.JobModeTee ||
		!md.Jobs[1].Simulated || md.Jobs[1].FinalBlocks >= md.Jobs[0].FinalBlocks || md.Jobs[1].InputVisible || md.ZkNote == "" {
		t.Errorf("modes part: %+v", out.Modes)
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
	checkDemoOpml(t, out.Opml)
}

// checkDemoOpml checks the demo's opML part: the honest job final and paid
// exactly, the cheating worker's whole bond slashed (half to the watcher,
// half burned), the requester refunded, the module account empty and the
// supply identity over every account.
func checkDemoOpml(t *testing.T, o *demoOpml) {
	t.Helper()
	if o == nil {
		t.Fatal("no opML record")
	}
	p := app.DefaultOpmlParams()
	for _, s := range o.Steps {
		if s.Code != 0 || s.Height < 1 {
			t.Errorf("opML step %+v did not commit", s)
		}
	}
	h := o.Honest
	if h == nil || h.State != app.OpmlJobFinal || h.Worker != o.Parties["dave"] || len(h.Disputes) != 0 || h.Burned != 0 {
		t.Fatalf("honest job: %+v", h)
	}
	wantPaid := []app.OpmlPayout{
		{To: o.Parties["dave"], Amount: o.WorkerFee, Why: "worker fee"},
		{To: o.Parties["alice"], Amount: o.ModelFee, Why: "model fee"},
	}
	if len(h.Payouts) != len(wantPaid) {
		t.Fatalf("honest job payouts %+v, want %+v", h.Payouts, wantPaid)
	}
	for i, w := range wantPaid {
		if h.Payouts[i] != w {
			t.Errorf("honest job payout %d: %+v, want %+v", i, h.Payouts[i], w)
		}
	}
	if h.Closed <= h.Posted+p.ChallengeBlocks {
		t.Errorf("honest job closed at %d, posted at %d: before the challenge window ended", h.Closed, h.Posted)
	}

	c := o.Cheat
	if c == nil || c.State != app.OpmlJobRefunded || c.Worker != o.Parties["eve"] || len(c.Disputes) != 1 {
		t.Fatalf("cheat job: %+v", c)
	}
	d := c.Disputes[0]
	if d.Winner != "challenger" || d.Challenger != o.Parties["walt"] || d.Moves < 3 || d.Moves != o.DisputeMoves {
		t.Errorf("dispute: %+v (recorded moves %d)", d, o.DisputeMoves)
	}
	share := o.Bond * p.WinnerSharePct / 100
	wantCheat := map[string]uint64{
		"challenge bond returned":                     p.ChallengeBond,
		"share of the worker's slashed bond":          share,
		"refund: the worker's result was shown wrong": o.ModelFee + o.WorkerFee,
	}
	for _, po := range c.Payouts {
		want, ok := wantCheat[po.Why]
		to := o.Parties["walt"]
		if strings.HasPrefix(po.Why, "refund") {
			to = o.Parties["bob"]
		}
		if !ok || po.Amount != want || po.To != to {
			t.Errorf("cheat job payout %+v unexpected", po)
		}
		delete(wantCheat, po.Why)
	}
	if len(wantCheat) != 0 {
		t.Errorf("cheat job payouts missing: %v", wantCheat)
	}
	if o.Slashed != o.Bond || c.Burned != o.Bond-share || o.Burned != c.Burned || o.Refund != o.ModelFee+o.WorkerFee {
		t.Errorf("slashed %d burned %d (job %d) refund %d; want slashed %d, burned %d", o.Slashed, o.Burned, c.Burned, o.Refund, o.Bond, o.Bond-share)
	}
	if m := o.Accounts["opml module"]; m.Balance != 0 {
		t.Errorf("opML module account holds %d after both jobs closed", m.Balance)
	}
	var sup map[string]uint64
	if err := json.Unmarshal(o.Supply, &sup); err != nil {
		t.Fatal(err)
	}
	var sum uint64
	for _, a := range o.Accounts {
		sum += a.Balance
	}
	if !o.SupplyHolds || sum != sup["circulating"] || sup["circulating"]+sup["bonded"]+sup["unbonding"]+sup["burned"] != sup["genesis_supply"] {
		t.Errorf("supply after opML: balances sum %d, supply %v, holds %v", sum, sup, o.SupplyHolds)
	}
	// Every fee burns its non-proposer half; the slash burned the rest.
	if sup["burned"] < c.Burned || (sup["burned"]-c.Burned)%(app.DefaultParams().MinFee-app.DefaultParams().MinFee/2) != 0 {
		t.Errorf("burned %d: not the slash %d plus whole fee halves", sup["burned"], c.Burned)
	}
}
