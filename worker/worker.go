// Package worker runs the off-chain parties of optimistic inference: the
// Worker, which executes the jobs the chain assigns it and defends its
// results in disputes, and the Watcher, which re-executes posted results
// and challenges wrong ones. Both are polling loops over a small Client
// interface, so they run the same against an in-process ledger
// (package opml/opmlchain) or a node over its API. Each Step is one poll;
// Run repeats it.
package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/infer"
	"github.com/provena/provena/merkle"
	"github.com/provena/provena/model"
	"github.com/provena/provena/opml"
	"github.com/provena/provena/tensor"
	"github.com/provena/provena/tx"
)

// Client is what the worker and watcher need from the chain and from
// content-addressed storage. Send signs with the party's own key.
type Client interface {
	// Address is the party's account address.
	Address() tx.Address
	// Height is the last committed height.
	Height() (int64, error)
	// Job returns job id, or (nil, nil) when there is none.
	Job(id uint64) (*app.OpmlJob, error)
	// Worker returns the worker record of a, or (nil, nil).
	Worker(a tx.Address) (*app.OpmlWorker, error)
	// Send signs and broadcasts msg.
	Send(msg tx.Msg) error
	// Model returns the model package with the given id, verified against it.
	Model(id [32]byte) (*model.Model, error)
	// ModelRecord returns the model's registration on chain, or (nil, nil).
	ModelRecord(id [32]byte) (*app.OpmlModel, error)
	// Inputs returns the job input committed by inputsRoot, by input name.
	Inputs(inputsRoot [32]byte) (map[string]*tensor.Tensor, error)
}

// OutputStore is an optional ability of a Client: keeping a job's graph
// outputs by their value root, where the requester fetches them and checks
// them against the roots on chain.
type OutputStore interface {
	PutOutput(root [32]byte, t *tensor.Tensor) error
}

// Fault makes a worker lie, for tests and demonstrations. The zero Fault is
// an honest worker.
type Fault struct {
	// Corrupt flips the sign bit of element Elem of output Output of node
	// Node as the worker computes it; later nodes compute on the wrong
	// value. The lie is in its plain run (the result it posts) and in the
	// traced re-run it commits when challenged, as a worker with a faulty
	// kernel would have it. The sign, not the lowest bit: a one-ulp error
	// is often rounded away by later nodes (a Sigmoid), leaving the result
	// right; a negated nonzero element is not (a zero one is: pick another).
	Corrupt bool
	Node    int
	Output  int
	Elem    int
	// Garble posts a made-up result (element Elem of the first graph output
	// flipped, no node computing it) and, when challenged, commits a trace
	// that ends in it but whose node Node has an unopenable first root.
	Garble bool
	// SilentInDispute stops answering once a dispute has SilentAfter moves.
	SilentInDispute bool
	SilentAfter     int
	// NoResult never posts results (the worker misses its deadline).
	NoResult bool
}

// tamper is the fault as an infer.Options.Tamper hook (nil: none).
func (f *Fault) tamper() func(int, []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if f == nil || !f.Corrupt {
		return nil
	}
	return func(node int, outs []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if node != f.Node {
			return outs, nil
		}
		if f.Output < 0 || f.Output >= len(outs) {
			return nil, fmt.Errorf("fault: node %d has no output %d", node, f.Output)
		}
		t := outs[f.Output]
		c, err := opml.FlipBit(t, f.Elem, 8*t.DType.Size()-1)
		if err != nil {
			return nil, fmt.Errorf("fault: node %d output %d: %w", node, f.Output, err)
		}
		outs = append([]*tensor.Tensor(nil), outs...)
		outs[f.Output] = c
		return outs, nil
	}
}

// Logf receives progress lines; nil discards them.
type Logf func(format string, args ...any)

// party is what Worker and Watcher share: the jobs' models and inputs, the
// traced runs they hold, and de-duplication of the moves they sent.
type party struct {
	c    Client
	logf Logf

	mu    sync.Mutex
	jobs  map[uint64]*jobInput
	views map[uint64]*opml.View
	sent  map[uint64]sentMove
}

// jobInput is a job's model and input, checked against the job's
// commitments. A worker keeps it until the job is final: a challenge makes
// it re-run the input traced.
type jobInput struct {
	m  *model.Model
	in map[string]*tensor.Tensor
}

type sentMove struct {
	moves  int
	stage  opml.Stage
	height int64
}

func newParty(c Client, logf Logf) party {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return party{c: c, logf: logf, jobs: map[uint64]*jobInput{}, views: map[uint64]*opml.View{}, sent: map[uint64]sentMove{}}
}

// forget drops what the party holds of a job.
func (p *party) forget(id uint64) {
	delete(p.jobs, id)
	delete(p.views, id)
	delete(p.sent, id)
}

// resendAfter is how many blocks a party waits for a sent move to show
// before sending it again (it may have been dropped or rejected).
const resendAfter = 3

// fresh reports whether the party has not yet sent a move for g's current
// position (or sent it long enough ago to try again), and records it.
func (p *party) fresh(job uint64, g *opml.Game, height int64) bool {
	s, ok := p.sent[job]
	if ok && s.moves == g.Moves && s.stage == g.Stage && height < s.height+resendAfter {
		return false
	}
	p.sent[job] = sentMove{moves: g.Moves, stage: g.Stage, height: height}
	return true
}

// input fetches a job's model and input and checks them against the job.
func (p *party) input(j *app.OpmlJob) (*jobInput, error) {
	if ji, ok := p.jobs[j.ID]; ok {
		return ji, nil
	}
	m, err := p.c.Model(j.ModelID)
	if err != nil {
		return nil, fmt.Errorf("job %d: fetch model: %w", j.ID, err)
	}
	if m.ID() != j.ModelID {
		return nil, fmt.Errorf("job %d: model package has id %x, job wants %x", j.ID, m.ID(), j.ModelID)
	}
	if err := CheckRegistration(p.c, m); err != nil {
		return nil, fmt.Errorf("job %d: %w", j.ID, err)
	}
	in, err := p.c.Inputs(j.InputsRoot)
	if err != nil {
		return nil, fmt.Errorf("job %d: fetch input: %w", j.ID, err)
	}
	root, err := opml.InputsRoot(m, in)
	if err != nil {
		return nil, fmt.Errorf("job %d: %w", j.ID, err)
	}
	if root != merkle.Hash(j.InputsRoot) {
		return nil, fmt.Errorf("job %d: input store returned an input with root %x, job commits %x", j.ID, root, j.InputsRoot)
	}
	ji := &jobInput{m: m, in: in}
	p.jobs[j.ID] = ji
	return ji, nil
}

// result runs a job plainly, as an optimistic result needs: its graph
// outputs in model order and their value roots.
func (p *party) result(j *app.OpmlJob, f *Fault) ([][32]byte, []*tensor.Tensor, error) {
	ji, err := p.input(j)
	if err != nil {
		return nil, nil, err
	}
	res, err := infer.Run(ji.m, ji.in, infer.Options{Tamper: f.tamper()})
	if err != nil {
		return nil, nil, fmt.Errorf("job %d: run: %w", j.ID, err)
	}
	roots, outs, err := OutputRoots(ji.m, res.Outputs)
	if err != nil {
		return nil, nil, fmt.Errorf("job %d: %w", j.ID, err)
	}
	if f != nil && f.Garble {
		if outs[0], err = opml.FlipLowBit(outs[0], f.Elem); err != nil {
			return nil, nil, fmt.Errorf("job %d: fault: %w", j.ID, err)
		}
		roots[0] = model.ValueRoot(outs[0], 0)
	}
	return roots, outs, nil
}

// execute runs a job's model on its input with a full trace (the fault's
// tamper hook in the run, so the trace carries the same lie as the plain
// result).
func (p *party) execute(j *app.OpmlJob, f *Fault) (*opml.View, error) {
	if v, ok := p.views[j.ID]; ok {
		return v, nil
	}
	ji, err := p.input(j)
	if err != nil {
		return nil, err
	}
	res, err := infer.Run(ji.m, ji.in, infer.Options{Trace: true, KeepOutputs: true, Tamper: f.tamper()})
	if err != nil {
		return nil, fmt.Errorf("job %d: run: %w", j.ID, err)
	}
	v, err := opml.NewView(ji.m, res)
	if err != nil {
		return nil, err
	}
	if f != nil && f.Garble {
		r := ji.m.OutputRefs()[0]
		if err := v.Corrupt(r.Index, r.Output, f.Elem); err != nil {
			return nil, fmt.Errorf("job %d: fault: %w", j.ID, err)
		}
		if err := v.Garble(f.Node); err != nil {
			return nil, fmt.Errorf("job %d: fault: %w", j.ID, err)
		}
	}
	p.views[j.ID] = v
	return v, nil
}

// OutputRoots are a run's graph outputs in model order and their value
// roots (model.ValueRoot: the roots a trace gives those tensors), which is
// what an optimistic result posts. Every graph output must be a node
// output, as the chain's commit stage opens it from a node's leaf.
func OutputRoots(m *model.Model, outs map[string]*tensor.Tensor) ([][32]byte, []*tensor.Tensor, error) {
	refs := m.OutputRefs()
	roots := make([][32]byte, len(m.Outputs))
	ts := make([]*tensor.Tensor, len(m.Outputs))
	for k, o := range m.Outputs {
		if refs[k].Kind != model.RefNode {
			return nil, nil, fmt.Errorf("graph output %q is not a node output", o.Name)
		}
		t, ok := outs[o.Name]
		if !ok || t == nil {
			return nil, nil, fmt.Errorf("run produced no output %q", o.Name)
		}
		ts[k], roots[k] = t, model.ValueRoot(t, 0)
	}
	return roots, ts, nil
}

// Worker executes assigned jobs and defends its results.
type Worker struct {
	party
	fault Fault
	priv  *private // tee and zk jobs (modes.go); nil: optimistic only
	// energy holds each metered job's evidence until its receipt is sent
	// (energy.go).
	energy map[uint64]*energyRun
	// Results counts results posted; Moves counts dispute moves sent.
	Results, Moves int
}

// NewWorker returns a worker acting through c (whose key must belong to a
// registered worker).
func NewWorker(c Client, fault Fault, logf Logf) *Worker {
	return &Worker{party: newParty(c, logf), fault: fault}
}

// Step polls once: posts the result of a newly assigned job, or answers the
// dispute over the job it holds.
func (w *Worker) Step() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	rec, err := w.c.Worker(w.c.Address())
	if err != nil || rec == nil || rec.Job == 0 {
		if err == nil {
			w.forgetOthers(0)
		}
		return err
	}
	j, err := w.c.Job(rec.Job)
	if err != nil || j == nil {
		return err
	}
	h, err := w.c.Height()
	if err != nil {
		return err
	}
	if j.IsPrivate() {
		return w.stepPrivate(j, h)
	}
	w.forgetOthers(j.ID)
	switch j.State {
	case app.OpmlJobAssigned:
		if j.Worker != w.c.Address() || w.fault.NoResult {
			return nil
		}
		if s, ok := w.sent[j.ID]; ok && s.stage == 0 && h < s.height+resendAfter {
			return nil
		}
		var roots [][32]byte
		var outs []*tensor.Tensor
		err := w.metered(j, func() (err error) {
			roots, outs, err = w.result(j, &w.fault)
			return err
		})
		if err != nil {
			return err
		}
		if st, ok := w.c.(OutputStore); ok {
			for k, t := range outs {
				if err := st.PutOutput(roots[k], t); err != nil {
					return fmt.Errorf("job %d: store output: %w", j.ID, err)
				}
			}
		}
		w.sent[j.ID] = sentMove{height: h}
		w.Results++
		w.logf("worker %s: job %d: posting result, output root %x", w.c.Address(), j.ID, roots[0])
		return w.c.Send(tx.MsgPostResult{Job: j.ID, Outputs: roots})
	case app.OpmlJobPosted:
		return w.sendReceipt(j)
	case app.OpmlJobDisputed:
		// The receipt is due whatever the dispute's outcome.
		if err := w.sendReceipt(j); err != nil {
			w.logf("worker %s: %v", w.c.Address(), err)
		}
		if j.Game == nil || (w.fault.SilentInDispute && j.Game.Moves >= w.fault.SilentAfter) || j.Game.Turn != opml.Worker || !w.fresh(j.ID, j.Game, h) {
			return nil
		}
		if j.Game.Stage == opml.StageCommit {
			w.logf("worker %s: job %d: challenged; re-running its input traced to commit the trace", w.c.Address(), j.ID)
		}
		v, err := w.execute(j, &w.fault)
		if err != nil {
			return err
		}
		mv, step, err := v.Answer(j.Game)
		if errors.Is(err, opml.ErrCannotAnswer) {
			w.logf("worker %s: job %d: cannot open its commitment at stage %s", w.c.Address(), j.ID, j.Game.Stage)
			return nil
		}
		if err != nil {
			return fmt.Errorf("job %d: answer: %w", j.ID, err)
		}
		w.Moves++
		if step != nil {
			b, err := opml.EncodeStepProof(step)
			if err != nil {
				return err
			}
			w.logf("worker %s: job %d: one-step proof, %d bytes", w.c.Address(), j.ID, len(b))
			return w.c.Send(tx.MsgOneStep{Job: j.ID, Proof: b})
		}
		return w.c.Send(tx.MsgDisputeMove{Job: j.ID, Kind: uint8(mv.Kind), Payload: mv.Encode()})
	}
	return nil
}

// forgetOthers drops the inputs and traces of jobs other than the one the
// worker holds: the chain frees a worker only once its job is final or
// refunded, so nothing of theirs can be asked again.
func (w *Worker) forgetOthers(id uint64) {
	for k := range w.jobs {
		if k != id {
			w.forget(k)
		}
	}
	for k := range w.views {
		if k != id {
			w.forget(k)
		}
	}
}

// ResultMsg is the result message of a job from a run's graph outputs (by
// name): their value roots in model order.
func ResultMsg(job uint64, m *model.Model, outs map[string]*tensor.Tensor) (tx.MsgPostResult, error) {
	roots, _, err := OutputRoots(m, outs)
	if err != nil {
		return tx.MsgPostResult{}, fmt.Errorf("job %d: %w", job, err)
	}
	return tx.MsgPostResult{Job: job, Outputs: roots}, nil
}

// Run calls step every interval until ctx ends; errors go to logf and the
// loop goes on (a transient node or store failure must not stop a party).
func Run(ctx context.Context, interval time.Duration, step func() error, logf Logf) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := step(); err != nil && logf != nil {
			logf("%v", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CheckRegistration refuses a model whose on-chain registration disagrees
// with its package (node count, inputs, output nodes): the chain derives the
// trace root from the registered node count and checks results against the
// registered outputs, so an honest worker could not defend a result there.
func CheckRegistration(c Client, m *model.Model) error {
	rec, err := c.ModelRecord(m.ID())
	if err != nil {
		return err
	}
	if rec == nil {
		return fmt.Errorf("model %x is not registered", m.ID())
	}
	want := RegisterModelMsg(m, rec.Fee)
	bad := rec.NumNodes != int(want.NumNodes) || len(rec.Inputs) != len(want.Inputs) || len(rec.Outputs) != len(want.Outputs)
	for k := 0; !bad && k < len(rec.Outputs); k++ {
		bad = rec.Outputs[k].Node != want.Outputs[k].Node || rec.Outputs[k].Output != want.Outputs[k].Output
	}
	if bad {
		return fmt.Errorf("model %x: registration (%d nodes, %d inputs, %d outputs) does not match the package (%d nodes, %d inputs, %d outputs): refusing it",
			m.ID(), rec.NumNodes, len(rec.Inputs), len(rec.Outputs), want.NumNodes, len(want.Inputs), len(want.Outputs))
	}
	return nil
}
