package worker

import (
	"crypto/ed25519"
	"fmt"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
	"github.com/provena/provena/opml/opmlchain"
	"github.com/provena/provena/opml/opmltest"
	"github.com/provena/provena/tx"
)

// Demo plays two optimistic jobs on an in-memory chain, each on a fresh
// ledger with one worker and one watcher: one with an honest worker (final
// after the window, worker and model owner paid) and one with a worker
// that corrupts one element of a middle node (challenged, bisected, caught
// by the one-step proof, slashed, requester refunded). It returns the two
// final job records; logf (may be nil) receives what happens.
func Demo(logf Logf) (honest, cheat *app.OpmlJob, err error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if honest, err = demoJob(Fault{}, logf); err != nil {
		return nil, nil, err
	}
	cheat, err = demoJob(Fault{Corrupt: true, Node: 3, Elem: 100}, logf)
	return honest, cheat, err
}

func demoJob(f Fault, logf Logf) (*app.OpmlJob, error) {
	m, err := opmltest.Model()
	if err != nil {
		return nil, err
	}
	req, own, wk, wat := apptest.Key(1), apptest.Key(2), apptest.Key(3), apptest.Key(4)
	c, err := opmlchain.New(app.Params{}, 1_000_000, req, own, wk, wat)
	if err != nil {
		return nil, err
	}
	store := NewMemStore()
	store.PutModel(m)
	root, err := store.PutInputs(m, opmltest.Input(9))
	if err != nil {
		return nil, err
	}
	cl := func(k ed25519.PrivateKey) *InProc { return &InProc{Chain: c, Key: k, Store: store} }
	w := NewWorker(cl(wk), f, logf)
	v := NewWatcher(cl(wat), logf)
	steps := []struct {
		k   ed25519.PrivateKey
		msg tx.Msg
	}{
		{own, RegisterModelMsg(m, 50)},
		{wk, tx.MsgRegisterWorker{Bond: 10_000}},
		{req, tx.MsgSubmitJob{ModelID: m.ID(), InputsRoot: root, WorkerFee: 100}},
	}
	for _, s := range steps {
		if _, err := c.Submit(s.k, s.msg); err != nil {
			return nil, err
		}
	}
	if _, err := c.Block(); err != nil {
		return nil, err
	}
	logf("model %x registered (fee 50), worker %s bonded 10000, job 1 submitted (escrow 150)", m.ID(), cl(wk).Address())
	for i := 0; i < 300; i++ {
		if err := w.Step(); err != nil {
			return nil, err
		}
		if err := v.Step(); err != nil {
			return nil, err
		}
		res, err := c.Block()
		if err != nil {
			return nil, err
		}
		for _, d := range res {
			if !d.Result.IsOK() {
				return nil, fmt.Errorf("demo: %s failed: %s", d.Msg, d.Result.Log)
			}
		}
		j, err := c.Job(1)
		if err != nil {
			return nil, err
		}
		if j.State == app.OpmlJobFinal || j.State == app.OpmlJobRefunded {
			for _, p := range j.Payouts {
				logf("job 1: paid %d upv to %s (%s)", p.Amount, p.To, p.Why)
			}
			if j.Burned > 0 {
				logf("job 1: burned %d upv", j.Burned)
			}
			logf("job 1: %s at height %d", j.State, j.Closed)
			return j, c.CheckSupply(app.OpmlAddress, apptest.Addr(req), apptest.Addr(own), apptest.Addr(wk), apptest.Addr(wat))
		}
	}
	return nil, fmt.Errorf("demo: job not closed after 300 blocks")
}
