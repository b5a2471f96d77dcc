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
	lying, _ := opml.NewView(m, res0)
	if err := lying.Corrupt(2, 0, 40); err != nil {
		t.Fatal(err)
	}
	good, err := worker.ResultMsg(1, lying, m.OutputRefs())
	if err != nil {
		t.Fatal(err)
	}
	badProof := good
	badProof.Outputs = []tx.LeafProof{good.Outputs[0]}
	badProof.Outputs[0].Proof = append([][32]byte{{1}}, good.Outputs[0].Proof[1:]...)
	wrongNode := good
	wrongNode.Outputs = []tx.LeafProof{{Index: 1, Roots: good.Outputs[0].Roots}}
	res = send(idle, good, wk, badProof, wk, wrongNode, wk, tx.MsgUnregisterWorker{}, wk, tx.MsgPostResult{Job: 7, NodesRoot: good.NodesRoot, Outputs: good.Outputs})
	expect(res[0], app.CodeOpmlNotAllowed, "is assigned to")
	expect(res[1], app.CodeOpmlBadResult, "does not verify")
	expect(res[2], app.CodeOpmlBadResult, "the output is node 6")
	expect(res[3], app.CodeOpmlState, "holds job 1")
	expect(res[4], app.CodeOpmlUnknown, "no job 7")

	res = send(ch, tx.MsgChallenge{Job: 1, NodesRoot: honest.NodesRoot()}, wk, good)
	expect(res[0], app.CodeOpmlState, "only posted results")
	expect(res[1], app.CodeOK, "")
	res = send(wk, tx.MsgChallenge{Job: 1, NodesRoot: honest.NodesRoot()}, ch, tx.MsgChallenge{Job: 1, NodesRoot: good.NodesRoot})
	expect(res[0], app.CodeOpmlNotAllowed, "its own result")
	expect(res[1], app.CodeOpmlNotAllowed, "nothing to dispute")
	ok(send(ch, tx.MsgChallenge{Job: 1, NodesRoot: honest.NodesRoot()}))
	j, _ = c.Job(1)
	if j.State != app.OpmlJobDisputed || j.Game.Turn != opml.Worker {
		t.Fatalf("job %s turn %s", j.State, j.Game.Turn)
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
