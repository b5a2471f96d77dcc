package worker

import (
	"crypto/ed25519"
	"testing"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
	"github.com/provena/provena/model"
	"github.com/provena/provena/opml/opmlchain"
	"github.com/provena/provena/opml/opmltest"
	"github.com/provena/provena/tx"
)

const (
	genesisBalance = 1_000_000
	workerBond     = 10_000
	modelFee       = 50
	workerFee      = 120
)

var (
	requester = apptest.Key(10)
	owner     = apptest.Key(11)
	w1, w2    = apptest.Key(12), apptest.Key(13)
	watcherK  = apptest.Key(14)
	everyone  = []ed25519.PrivateKey{requester, owner, w1, w2, watcherK}
)

type env struct {
	t       *testing.T
	c       *opmlchain.Chain
	store   *MemStore
	m       *model.Model
	workers map[tx.Address]*Worker
	watcher *Watcher
	sent    map[tx.Address]int // fee-paying transactions per address
	codes   []app.Result       // every non-OK result
}

func (e *env) addrs() []tx.Address {
	out := []tx.Address{app.OpmlAddress}
	for _, k := range everyone {
		out = append(out, apptest.Addr(k))
	}
	return out
}

func (e *env) client(k ed25519.PrivateKey) *InProc {
	return &InProc{Chain: e.c, Key: k, Store: e.store}
}

// block executes the queued transactions and checks the supply invariant.
func (e *env) block() []opmlchain.Delivered {
	e.t.Helper()
	res, err := e.c.Block()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, d := range res {
		e.sent[d.From]++
		if !d.Result.IsOK() {
			e.codes = append(e.codes, d.Result)
		}
	}
	if err := e.c.CheckSupply(e.addrs()...); err != nil {
		e.t.Fatalf("height %d: %v", e.c.Height(), err)
	}
	return res
}

func (e *env) mustOK(res []opmlchain.Delivered) {
	e.t.Helper()
	for _, d := range res {
		if !d.Result.IsOK() {
			e.t.Fatalf("%s from %s: code %d: %s", d.Msg, d.From, d.Result.Code, d.Result.Log)
		}
	}
}

func setup(t *testing.T) *env {
	t.Helper()
	m, err := opmltest.Model()
	if err != nil {
		t.Skip(err)
	}
	c, err := opmlchain.New(app.Params{}, genesisBalance, everyone...)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, c: c, store: NewMemStore(), m: m, workers: map[tx.Address]*Worker{}, sent: map[tx.Address]int{}}
	e.store.PutModel(m)
	for _, k := range []ed25519.PrivateKey{w1, w2} {
		if _, err := c.Submit(k, tx.MsgRegisterWorker{Bond: workerBond}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Submit(owner, RegisterModelMsg(m, modelFee)); err != nil {
		t.Fatal(err)
	}
	e.mustOK(e.block())
	return e
}

// submit submits a job on input seed and returns its id and assigned worker.
func (e *env) submit(seed uint64) (uint64, tx.Address) {
	e.t.Helper()
	root, err := e.store.PutInputs(e.m, opmltest.Input(seed))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.c.Submit(requester, tx.MsgSubmitJob{ModelID: e.m.ID(), InputsRoot: root, WorkerFee: workerFee}); err != nil {
		e.t.Fatal(err)
	}
	e.mustOK(e.block())
	var j app.OpmlJob
	var id uint64
	for id = 1; ; id++ {
		ok, err := e.c.Query(app.QueryOpmlJob, []byte(itoa(id)), &j)
		if err != nil || !ok {
			e.t.Fatalf("job not found: %v", err)
		}
		if j.InputsRoot == app.OpmlHash(root) && j.State == app.OpmlJobAssigned {
			break
		}
	}
	return id, j.Worker
}

func itoa(v uint64) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
		if v == 0 {
			return string(b)
		}
	}
}

func keyOf(a tx.Address) ed25519.PrivateKey {
	for _, k := range everyone {
		if apptest.Addr(k) == a {
			return k
		}
	}
	return nil
}

// run steps the parties and produces blocks until job id is closed.
func (e *env) run(id uint64, max int) *app.OpmlJob {
	e.t.Helper()
	for i := 0; i < max; i++ {
		for _, w := range e.workers {
			if err := w.Step(); err != nil {
				e.t.Fatal(err)
			}
		}
		if e.watcher != nil {
			if err := e.watcher.Step(); err != nil {
				e.t.Fatal(err)
			}
		}
		e.block()
		j, err := e.c.Job(id)
		if err != nil {
			e.t.Fatal(err)
		}
		if j.State == app.OpmlJobFinal || j.State == app.OpmlJobRefunded {
			return j
		}
	}
	e.t.Fatalf("job %d not closed after %d blocks", id, max)
	return nil
}

func (e *env) balance(k ed25519.PrivateKey) uint64 {
	b, err := e.c.Balance(apptest.Addr(k))
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func TestHonestJobFinalAndPaid(t *testing.T) {
	e := setup(t)
	id, assigned := e.submit(9)
	for _, k := range []ed25519.PrivateKey{w1, w2} {
		e.workers[apptest.Addr(k)] = NewWorker(e.client(k), Fault{}, t.Logf)
	}
	e.watcher = NewWatcher(e.client(watcherK), t.Logf)
	j := e.run(id, 60)
	if j.State != app.OpmlJobFinal || len(j.Disputes) != 0 || e.watcher.Challenges != 0 {
		t.Fatalf("job %+v", j)
	}
	if len(e.codes) != 0 {
		t.Fatalf("failed transactions: %+v", e.codes)
	}
	fee := uint64(opmlchain.Fee)
	want := []struct {
		k ed25519.PrivateKey
		w uint64
	}{
		{requester, genesisBalance - modelFee - workerFee},
		{owner, genesisBalance + modelFee},
		{keyOf(assigned), genesisBalance - workerBond + workerFee},
	}
	for _, x := range want {
		k, w := x.k, x.w
		a := apptest.Addr(k)
		if got := e.balance(k); got != w-fee*uint64(e.sent[a]) {
			t.Errorf("%s: balance %d, want %d - %d fees", a, got, w, e.sent[a])
		}
	}
	if got, _ := e.c.Balance(app.OpmlAddress); got != 2*workerBond {
		t.Errorf("module holds %d, want the two worker bonds %d", got, 2*workerBond)
	}
	if j.Closed-j.Posted != app.DefaultOpmlParams().ChallengeBlocks+1 {
		t.Errorf("finalised %d blocks after the result, window is %d", j.Closed-j.Posted, app.DefaultOpmlParams().ChallengeBlocks)
	}
	// The committed output root is the output's root.
	res, _ := opmltest.Run(e.m, opmltest.Input(9))
	if len(j.OutputRoots) != 1 || [32]byte(j.OutputRoots[0]) != model.ValueRoot(res.Outputs["y"], 1) {
		t.Fatal("output root on chain is not the output's value root")
	}
	// The requester fetches the output the worker stored and checks it.
	y, err := e.store.Output(j.OutputRoots[0])
	if err != nil || model.ValueRoot(y, 1) != [32]byte(j.OutputRoots[0]) {
		t.Fatalf("stored output: %v", err)
	}
}

func TestCheatingWorkersCaught(t *testing.T) {
	m, err := opmltest.Model()
	if err != nil {
		t.Skip(err)
	}
	last := len(m.Nodes) - 1
	tests := []struct {
		name  string
		fault Fault
	}{
		{"corrupt first node", Fault{Corrupt: true, Node: 0, Elem: 0}},
		{"corrupt middle node", Fault{Corrupt: true, Node: 3, Elem: 2222}},
		{"corrupt last node", Fault{Corrupt: true, Node: last, Elem: 3199}},
		{"made-up output, trace it cannot open", Fault{Garble: true, Node: 2, Elem: 9}},
		{"stops answering mid-dispute", Fault{Corrupt: true, Node: 4, Elem: 5, SilentInDispute: true, SilentAfter: 6}},
		{"never commits its trace", Fault{Corrupt: true, Node: 4, Elem: 5, SilentInDispute: true, SilentAfter: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			id, assigned := e.submit(9)
			for _, k := range []ed25519.PrivateKey{w1, w2} {
				f := Fault{}
				if apptest.Addr(k) == assigned {
					f = tt.fault
				}
				e.workers[apptest.Addr(k)] = NewWorker(e.client(k), f, t.Logf)
			}
			e.watcher = NewWatcher(e.client(watcherK), t.Logf)
			reqBefore, watchBefore := e.balance(requester), e.balance(watcherK)
			j := e.run(id, 200)
			if j.State != app.OpmlJobRefunded || len(j.Disputes) != 1 || j.Disputes[0].Winner != "challenger" {
				t.Fatalf("state %s, disputes %+v", j.State, j.Disputes)
			}
			t.Logf("dispute: %d moves over %d blocks: %s", j.Disputes[0].Moves, j.Disputes[0].Ended-j.Disputes[0].Started, j.Disputes[0].Reason)
			if _, err := e.client(watcherK).Worker(assigned); err != nil {
				t.Fatal(err)
			}
			if w, _ := e.client(watcherK).Worker(assigned); w != nil {
				t.Fatal("slashed worker is still registered")
			}
			p := app.DefaultOpmlParams()
			fee := uint64(opmlchain.Fee)
			reward := workerBond * p.WinnerSharePct / 100
			if got, want := e.balance(requester), reqBefore+modelFee+workerFee; got != want {
				t.Errorf("requester %d, want %d (refunded)", got, want)
			}
			if got, want := e.balance(watcherK), watchBefore+reward-fee*uint64(e.sent[apptest.Addr(watcherK)]); got != want {
				t.Errorf("watcher %d, want %d (+%d reward, %d fees)", got, want, reward, e.sent[apptest.Addr(watcherK)])
			}
			if j.Burned != workerBond-reward {
				t.Errorf("burned %d, want %d", j.Burned, workerBond-reward)
			}
			if len(e.codes) != 0 {
				t.Fatalf("failed transactions: %+v", e.codes)
			}
		})
	}
}

func TestLyingChallengerLosesBond(t *testing.T) {
	e := setup(t)
	id, assigned := e.submit(9)
	for _, k := range []ed25519.PrivateKey{w1, w2} {
		e.workers[apptest.Addr(k)] = NewWorker(e.client(k), Fault{}, t.Logf)
	}
	e.watcher = NewLyingWatcher(e.client(watcherK), Fault{Corrupt: true, Node: 5, Elem: 77}, t.Logf)
	watchBefore := e.balance(watcherK)
	workerBefore := e.balance(keyOf(assigned))
	sentW := e.sent[assigned]
	j := e.run(id, 200)
	if j.State != app.OpmlJobFinal || len(j.Disputes) != 1 || j.Disputes[0].Winner != "worker" {
		t.Fatalf("state %s, disputes %+v", j.State, j.Disputes)
	}
	t.Logf("dispute: %d moves: %s", j.Disputes[0].Moves, j.Disputes[0].Reason)
	p := app.DefaultOpmlParams()
	fee := uint64(opmlchain.Fee)
	reward := p.ChallengeBond * p.WinnerSharePct / 100
	if got, want := e.balance(watcherK), watchBefore-p.ChallengeBond-fee*uint64(e.sent[apptest.Addr(watcherK)]); got != want {
		t.Errorf("lying watcher %d, want %d", got, want)
	}
	if got, want := e.balance(keyOf(assigned)), workerBefore+reward+workerFee-fee*uint64(e.sent[assigned]-sentW); got != want {
		t.Errorf("worker %d, want %d", got, want)
	}
	if j.Burned != p.ChallengeBond-reward {
		t.Errorf("burned %d", j.Burned)
	}
	// The window restarted after the failed challenge.
	if j.Closed <= j.Disputes[0].Ended+p.ChallengeBlocks {
		t.Errorf("final at %d, dispute ended %d: window did not restart", j.Closed, j.Disputes[0].Ended)
	}
}

func TestMissedDeadlineReassigned(t *testing.T) {
	e := setup(t)
	id, first := e.submit(9)
	for _, k := range []ed25519.PrivateKey{w1, w2} {
		f := Fault{}
		if apptest.Addr(k) == first {
			f.NoResult = true
		}
		e.workers[apptest.Addr(k)] = NewWorker(e.client(k), f, t.Logf)
	}
	j := e.run(id, 100)
	if j.State != app.OpmlJobFinal || len(j.Tried) != 1 || j.Tried[0] != first || j.Worker == first {
		t.Fatalf("state %s worker %s tried %v", j.State, j.Worker, j.Tried)
	}
	w, err := e.client(w1).Worker(first)
	if err != nil || w == nil {
		t.Fatal(err)
	}
	slash := uint64(workerBond) * app.DefaultOpmlParams().MissSlashPct / 100
	if w.Bond != workerBond-slash || w.Slashed != slash {
		t.Fatalf("late worker: %+v", w)
	}
}

func TestDemo(t *testing.T) {
	honest, cheat, err := Demo(t.Logf)
	if err != nil {
		t.Skip(err)
	}
	if honest.State != app.OpmlJobFinal || cheat.State != app.OpmlJobRefunded || cheat.Disputes[0].Winner != "challenger" {
		t.Fatalf("honest %s, cheat %s", honest.State, cheat.State)
	}
}

func TestBenchDispute(t *testing.T) {
	m, err := opmltest.Model()
	if err != nil {
		t.Skip(err)
	}
	r, err := BenchDispute(m, opmltest.Input(9), -1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Winner != "challenger" || r.Rounds < 10 || r.StepProofBytes == 0 || r.DisputeTxs != r.Rounds+1 {
		t.Fatalf("%+v", r)
	}
	t.Logf("%+v", *r)
}

func TestWorkerRefusesMismatchedRegistration(t *testing.T) {
	e := setup(t)
	// A second registration of a model whose package has another node count:
	// register the test model's id again is refused, so register a lie for
	// a copy of the model with one output moved.
	m2, _ := opmltest.Model()
	m2.Name = "opml-cnn-copy"
	if m2.ID() == e.m.ID() {
		t.Skip("model name is not part of the id")
	}
	e.store.PutModel(m2)
	lie := RegisterModelMsg(m2, 1)
	lie.NumNodes++
	if _, err := e.c.Submit(owner, lie); err != nil {
		t.Fatal(err)
	}
	e.mustOK(e.block())
	if err := CheckRegistration(e.client(w1), m2); err == nil {
		t.Fatal("mismatched registration accepted")
	}
	if err := CheckRegistration(e.client(w1), e.m); err != nil {
		t.Fatal(err)
	}
}
