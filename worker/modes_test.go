package worker

import (
	"testing"

	"github.com/provena/provena/app"
	"github.com/provena/provena/model"
	"github.com/provena/provena/opml/opmltest"
)

// TestModesDemoTee runs the optimistic and tee jobs of ModesDemo on the
// opML test model: both final, both paid, the tee job in the block of its
// result, and the requester's decrypted tee output equal to the optimistic
// one bit for bit.
func TestModesDemoTee(t *testing.T) {
	m, err := opmltest.Model()
	if err != nil {
		t.Skip(err)
	}
	runs, err := ModesDemo(m, opmltest.Input(5), nil, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].Mode != app.JobModeOptimistic || runs[1].Mode != app.JobModeTee {
		t.Fatalf("runs %+v", runs)
	}
	opt, tee := runs[0], runs[1]
	if opt.Blocks <= app.DefaultOpmlParams().ChallengeBlocks {
		t.Errorf("optimistic job final after %d blocks, inside its challenge window", opt.Blocks)
	}
	j := tee.Job
	if j.Posted != j.Closed || j.Private == nil || j.Private.Tee == nil || !j.Private.Tee.Simulated || len(j.Payouts) < 2 {
		t.Fatalf("tee job: posted %d closed %d private %+v payouts %v", j.Posted, j.Closed, j.Private, j.Payouts)
	}
	if tee.Blocks >= opt.Blocks || tee.Txs != 3 {
		t.Errorf("tee job: %d blocks (optimistic %d), %d txs (want submit, deliver, result)", tee.Blocks, opt.Blocks, tee.Txs)
	}
	a, b := opt.Outputs["y"], tee.Outputs["y"]
	if a == nil || b == nil || model.ValueRoot(a, 0) != model.ValueRoot(b, 0) {
		t.Fatal("tee output differs from the optimistic output")
	}
}
