package app_test

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
	"github.com/provena/provena/opml"
	"github.com/provena/provena/opml/opmlchain"
	"github.com/provena/provena/opml/opmltest"
	"github.com/provena/provena/tx"
	"github.com/provena/provena/worker"
)

// TestOpmlRejections sends malformed and misplaced opML messages through
// real blocks and checks each is rejected with its code and reason, and
// that none of them moves a token outside the fee.
func TestOpmlRejections(t *testing.T) {
	m, err := opmltest.Model()
	if err != nil {
		t.Skip(err)
	}
	req, own, wa, wb, ch, other := apptest.Key(20), apptest.Key(21), apptest.Key(22), apptest.Key(23), apptest.Key(24), apptest.Key(25)
	keys := []ed25519.PrivateKey{req, own, wa, wb, ch, other}
	c, err := opmlchain.New(app.Params{}, 1_000_000, keys...)
	if err != nil {
		t.Fatal(err)
	}
	addrs := []tx.Address{app.OpmlAddress}
	for _, k := range keys {
		addrs = append(addrs, apptest.Addr(k))
	}
	// send queues msgs and runs one block, returning the results.
	send := func(msgs ...any) []opmlchain.Delivered {
		t.Helper()
		for i := 0; i < len(msgs); i += 2 {
			if _, err := c.Submit(msgs[i].(ed25519.PrivateKey), msgs[i+1].(tx.Msg)); err != nil {
				t.Fatal(err)
			}
		}
		res, err := c.Block()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.CheckSupply(addrs...); err != nil {
			t.Fatal(err)
		}
		return res
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
	ok := func(res []opmlchain.Delivered) {
		t.Helper()
		for _, d := range res {
			expect(d, app.CodeOK, "")
		}
	}

	reg := worker.RegisterModelMsg(m, 50)
	res := send(own, reg, wa, tx.MsgRegisterWorker{Bond: 5000}, wb, tx.MsgRegisterWorker{Bond: 5000}, other, tx.MsgRegisterWorker{Bond: 10})
	ok(res[:3])
	expect(res[3], app.CodeOpmlBond, "minimum")
	res = send(own, reg, req, tx.MsgSubmitJob{ModelID: [32]byte{9}, InputsRoot: [32]byte{1}})
	expect(res[0], app.CodeOpmlExists, "already registered")
	expect(res[1], app.CodeOpmlUnknown, "not registered")

	in := opmltest.Input(9)
	root, err := opml.InputsRoot(m, in)
	if err != nil {
		t.Fatal(err)
	}
	ok(send(req, tx.MsgSubmitJob{ModelID: m.ID(), InputsRoot: root, WorkerFee: 100}))
	j, err := c.Job(1)
	if err != nil || j.State != app.OpmlJobAssigned {
		t.Fatalf("job %+v %v", j, err)
	}
	wk, idle := wa, wb
	if j.Worker == apptest.Addr(wb) {
		wk, idle = wb, wa
	}
	res0, err := opmltest.Run(m, in)
	if err != nil {
		t.Fatal(err)
	}
	honest, _ := opml.NewView(m, res0)
	// The lying worker's result is wrong (node 6 is the output) and so is
	// an earlier node of the trace it commits.
	lying, _ := opml.NewView(m, res0)
	if err := lying.Corrupt(2, 0, 40); err != nil {
		t.Fatal(err)
	}
	if err := lying.Corrupt(6, 0, 40); err != nil {
		t.Fatal(err)
	}
	lyingRoots, _ := lying.OutputRoots()
	good := tx.MsgPostResult{Job: 1, Outputs: [][32]byte{lyingRoots[0]}}
	twoOutputs := tx.MsgPostResult{Job: 1, Outputs: [][32]byte{lyingRoots[0], lyingRoots[0]}}
	res = send(idle, good, wk, twoOutputs, wk, tx.MsgUnregisterWorker{}, wk, tx.MsgPostResult{Job: 7, Outputs: good.Outputs})
	expect(res[0], app.CodeOpmlNotAllowed, "is assigned to")
	expect(res[1], app.CodeOpmlBadResult, "the model has 1 outputs")
	expect(res[2], app.CodeOpmlState, "holds job 1")
	expect(res[3], app.CodeOpmlUnknown, "no job 7")

	res = send(ch, tx.MsgChallenge{Job: 1, NodesRoot: honest.NodesRoot()}, wk, good)
	expect(res[0], app.CodeOpmlState, "only posted results")
	expect(res[1], app.CodeOK, "")
	if j, _ = c.Job(1); j.NodesRoot != (app.OpmlHash{}) || j.OutputRoots[0] != app.OpmlHash(lyingRoots[0]) {
		t.Fatalf("posted job: nodes root %s, outputs %v", j.NodesRoot, j.OutputRoots)
	}
	res = send(wk, tx.MsgChallenge{Job: 1, NodesRoot: honest.NodesRoot()})
	expect(res[0], app.CodeOpmlNotAllowed, "its own result")
	ok(send(ch, tx.MsgChallenge{Job: 1, NodesRoot: honest.NodesRoot()}))
	j, _ = c.Job(1)
	if j.State != app.OpmlJobDisputed || j.Game.Turn != opml.Worker || j.Game.Stage != opml.StageCommit {
		t.Fatalf("job %s turn %s stage %s", j.State, j.Game.Turn, j.Game.Stage)
	}
	// The commit stage: only the worker, only a commitment whose output
	// leaf carries the posted root.
	cm, _, err := lying.Answer(j.Game)
	if err != nil || cm.Kind != opml.MoveCommit {
		t.Fatalf("commit %s: %v", cm.Kind, err)
	}
	commit := tx.MsgDisputeMove{Job: 1, Kind: uint8(cm.Kind), Payload: cm.Encode()}
	hm, _, _ := honest.Answer(j.Game)
	res = send(
		other, commit,
		ch, commit,
		wk, tx.MsgDisputeMove{Job: 1, Kind: uint8(hm.Kind), Payload: hm.Encode()},
		wk, tx.MsgDisputeMove{Job: 1, Kind: uint8(opml.MoveCommit), Payload: cm.Encode()[:40]},
		wk, tx.MsgDisputeMove{Job: 1, Kind: uint8(opml.MoveReveal), Payload: make([]byte, 64)},
	)
	expect(res[0], app.CodeOpmlNotAllowed, "neither the worker nor the challenger")
	expect(res[1], app.CodeOpmlBadMove, "worker's turn, not the challenger's")
	expect(res[2], app.CodeOpmlBadMove, "is not the posted value root")
	expect(res[3], app.CodeOpmlBadMove, "decode commit move")
	expect(res[4], app.CodeOpmlBadMove, "stage is commit")
	ok(send(wk, commit))
	j, _ = c.Job(1)
	if j.Game.Stage != opml.StageNodes || j.NodesRoot != app.OpmlHash(lying.NodesRoot()) || j.TraceRoot != app.OpmlHash(lying.TraceRoot()) {
		t.Fatalf("after the commit: stage %s, nodes root %s", j.Game.Stage, j.NodesRoot)
	}
	mv, _, err := lying.Answer(j.Game)
	if err != nil {
		t.Fatal(err)
	}
	reveal := tx.MsgDisputeMove{Job: 1, Kind: uint8(mv.Kind), Payload: mv.Encode()}
	garbage := tx.MsgDisputeMove{Job: 1, Kind: uint8(opml.MoveReveal), Payload: make([]byte, 64)}
	res = send(
		other, reveal,
		ch, tx.MsgDisputeMove{Job: 1, Kind: uint8(opml.MovePick), Payload: []byte{0}},
		wk, tx.MsgDisputeMove{Job: 1, Kind: uint8(opml.MoveReveal), Payload: make([]byte, 10)},
		wk, tx.MsgDisputeMove{Job: 1, Kind: 42, Payload: nil},
		wk, garbage,
		wk, tx.MsgOneStep{Job: 1, Proof: []byte{1, 2, 3}},
	)
	expect(res[0], app.CodeOpmlNotAllowed, "neither the worker nor the challenger")
	expect(res[1], app.CodeOpmlBadMove, "worker's turn, not the challenger's")
	expect(res[2], app.CodeOpmlBadMove, "want 64")
	expect(res[3], app.CodeOpmlBadMove, "unknown kind")
	expect(res[4], app.CodeOpmlBadMove, "do not hash")
	expect(res[5], app.CodeOpmlBadMove, "decode step proof")
	// A move after its deadline is rejected in the block that times the game out.
	j, _ = c.Job(1)
	for c.Height() < j.Game.Deadline {
		send()
	}
	res = send(wk, reveal)
	expect(res[0], app.CodeOpmlBadMove, "after the worker's deadline")
	j, _ = c.Job(1)
	if j.State != app.OpmlJobRefunded || j.Disputes[0].Winner != "challenger" {
		t.Fatalf("job %s %+v", j.State, j.Disputes)
	}

	// Job 2 goes to the remaining worker, which posts the right output.
	// A challenger whose nodes root is the honest trace's loses in the
	// commit stage; the commitment then binds the result: the same root
	// cannot challenge again, another root starts at the descent.
	ok(send(req, tx.MsgSubmitJob{ModelID: m.ID(), InputsRoot: root, WorkerFee: 100}))
	if j, _ = c.Job(2); j.State != app.OpmlJobAssigned || j.Worker != apptest.Addr(idle) {
		t.Fatalf("job 2: %s to %s", j.State, j.Worker)
	}
	honestRoots, _ := honest.OutputRoots()
	ok(send(idle, tx.MsgPostResult{Job: 2, Outputs: [][32]byte{honestRoots[0]}}))
	ok(send(ch, tx.MsgChallenge{Job: 2, NodesRoot: honest.NodesRoot()}))
	j, _ = c.Job(2)
	hc, _, err := honest.Answer(j.Game)
	if err != nil {
		t.Fatal(err)
	}
	ok(send(idle, tx.MsgDisputeMove{Job: 2, Kind: uint8(hc.Kind), Payload: hc.Encode()}))
	j, _ = c.Job(2)
	if j.State != app.OpmlJobPosted || len(j.Disputes) != 1 || j.Disputes[0].Winner != "worker" || j.Disputes[0].Moves != 1 || j.NodesRoot != app.OpmlHash(honest.NodesRoot()) {
		t.Fatalf("job 2 after an equal commitment: %s %+v", j.State, j.Disputes)
	}
	res = send(ch, tx.MsgChallenge{Job: 2, NodesRoot: honest.NodesRoot()})
	expect(res[0], app.CodeOpmlNotAllowed, "nothing to dispute")
	ok(send(ch, tx.MsgChallenge{Job: 2, NodesRoot: lying.NodesRoot()}))
	if j, _ = c.Job(2); j.Game.Stage != opml.StageNodes || j.Game.TraceRoot != honest.TraceRoot() {
		t.Fatalf("second dispute of job 2 starts in stage %s", j.Game.Stage)
	}

	// Queries serve the records with proofs that verify.
	q := c.App().Query(app.QueryOpmlJob, []byte("1"), 0, true)
	if q.Code != 0 || len(q.ProofJSON) == 0 {
		t.Fatalf("job query: %+v", q)
	}
	for _, bad := range [][]byte{[]byte("x"), []byte("-1")} {
		if r := c.App().Query(app.QueryOpmlJob, bad, 0, false); r.Code != app.CodeBadQuery {
			t.Fatalf("job query %q: code %d", bad, r.Code)
		}
	}
	if r := c.App().Query(app.QueryOpmlJob, []byte("99"), 0, false); r.Code != 0 || string(r.Value) != "null" {
		t.Fatalf("missing job: %d %s", r.Code, r.Value)
	}
	mr := c.App().Query(app.QueryOpmlModel, []byte(fmt.Sprintf("%x", m.ID())), 0, false)
	if mr.Code != 0 || !strings.Contains(string(mr.Value), fmt.Sprintf("%x", m.ID())) {
		t.Fatalf("model query: %d %s", mr.Code, mr.Value)
	}
}

// TestOpmlGreenJobWithoutGreenWorkers: a job that asks for certified green
// energy is not given to workers the energy module does not clear; it
// stays pending with the reason on the job, and is refunded after the
// pending period.
func TestOpmlGreenJobWithoutGreenWorkers(t *testing.T) {
	m, err := opmltest.Model()
	if err != nil {
		t.Skip(err)
	}
	req, own, wa := apptest.Key(30), apptest.Key(31), apptest.Key(32)
	c, err := opmlchain.New(app.Params{}, 1_000_000, req, own, wa)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := opml.InputsRoot(m, opmltest.Input(1))
	for _, s := range []struct {
		k ed25519.PrivateKey
		m tx.Msg
	}{
		{own, worker.RegisterModelMsg(m, 50)},
		{wa, tx.MsgRegisterWorker{Bond: 5000}},
		{req, tx.MsgSubmitJob{ModelID: m.ID(), InputsRoot: root, WorkerFee: 10, Green: true, EstimateWh: 2}},
	} {
		if _, err := c.Submit(s.k, s.m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Block(); err != nil {
		t.Fatal(err)
	}
	before, _ := c.Balance(apptest.Addr(req))
	j, err := c.Job(1)
	if err != nil || j.State != app.OpmlJobPending || !strings.Contains(j.Unassignable, "no energy profile") {
		t.Fatalf("green job: %+v %v", j, err)
	}
	for j.State == app.OpmlJobPending {
		if _, err := c.Block(); err != nil {
			t.Fatal(err)
		}
		if j, err = c.Job(1); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := c.Balance(apptest.Addr(req))
	if j.State != app.OpmlJobRefunded || !strings.Contains(j.Reason, "no energy profile") || after != before+60 {
		t.Fatalf("job %s (%s), requester %d -> %d", j.State, j.Reason, before, after)
	}
}
