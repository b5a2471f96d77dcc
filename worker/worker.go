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
	// Corrupt flips one element of one node output in the committed trace.
	Corrupt bool
	Node    int
	Output  int
	Elem    int
	// Garble replaces node Node's first output root with an unopenable hash.
	Garble bool
	// SilentInDispute stops answering once a dispute has SilentAfter moves.
	SilentInDispute bool
	SilentAfter     int
	// NoResult never posts results (the worker misses its deadline).
	NoResult bool
}

// Logf receives progress lines; nil discards them.
type Logf func(format string, args ...any)

// party is what Worker and Watcher share: the traced runs they hold, and
// de-duplication of the moves they sent.
type party struct {
	c    Client
	logf Logf

	mu    sync.Mutex
	views map[uint64]*opml.View
	sent  map[uint64]sentMove
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
	return party{c: c, logf: logf, views: map[uint64]*opml.View{}, sent: map[uint64]sentMove{}}
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

// execute runs a job's model on its input with a full trace.
func (p *party) execute(j *app.OpmlJob) (*opml.View, error) {
	if v, ok := p.views[j.ID]; ok {
		return v, nil
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
	res, err := infer.Run(m, in, infer.Options{Trace: true, KeepOutputs: true})
	if err != nil {
		return nil, fmt.Errorf("job %d: run: %w", j.ID, err)
	}
	if res.Trace.InputsRoot != merkle.Hash(j.InputsRoot) {
		return nil, fmt.Errorf("job %d: input store returned an input with root %x, job commits %x", j.ID, res.Trace.InputsRoot, j.InputsRoot)
	}
	v, err := opml.NewView(m, res)
	if err != nil {
		return nil, err
	}
	p.views[j.ID] = v
	return v, nil
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
	switch j.State {
	case app.OpmlJobAssigned:
		if j.Worker != w.c.Address() || w.fault.NoResult {
			return nil
		}
		if s, ok := w.sent[j.ID]; ok && s.stage == 0 && h < s.height+resendAfter {
			return nil
		}
		v, err := w.view(j)
		if err != nil {
			return err
		}
		msg, err := ResultMsg(j.ID, v, w.outputs(j))
		if err != nil {
			return err
		}
		if st, ok := w.c.(OutputStore); ok {
			for k, r := range v.Model().OutputRefs() {
				if r.Kind != model.RefNode {
					continue
				}
				t := v.Output(r.Index, r.Output)
				if err := st.PutOutput(msg.Outputs[k].Roots[r.Output], t); err != nil {
					return fmt.Errorf("job %d: store output: %w", j.ID, err)
				}
			}
		}
		w.sent[j.ID] = sentMove{height: h}
		w.Results++
		w.logf("worker %s: job %d: posting result, trace root %s", w.c.Address(), j.ID, v.TraceRoot())
		return w.c.Send(msg)
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
		v, err := w.view(j)
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

// outputs is the registered output signature of the job's model, which the
// worker reads from the model package (node and output of each graph
// output).
func (w *Worker) outputs(j *app.OpmlJob) []model.Ref {
	v := w.views[j.ID]
	if v == nil {
		return nil
	}
	return v.Model().OutputRefs()
}

func (w *Worker) view(j *app.OpmlJob) (*opml.View, error) {
	if v, ok := w.views[j.ID]; ok {
		return v, nil
	}
	v, err := w.metered(j, func() (*opml.View, error) { return w.execute(j) })
	if err != nil {
		return nil, err
	}
	f := w.fault
	switch {
	case f.Corrupt:
		err = v.Corrupt(f.Node, f.Output, f.Elem)
	case f.Garble:
		err = v.Garble(f.Node)
	}
	if err != nil {
		return nil, fmt.Errorf("job %d: fault: %w", j.ID, err)
	}
	return v, nil
}

// ResultMsg builds the result message for a job from a view: the nodes
// root and the leaves of the nodes producing the graph outputs.
func ResultMsg(job uint64, v *opml.View, outs []model.Ref) (tx.MsgPostResult, error) {
	msg := tx.MsgPostResult{Job: job, NodesRoot: v.NodesRoot()}
	for _, r := range outs {
		if r.Kind != model.RefNode {
			return msg, fmt.Errorf("job %d: graph output is not a node output", job)
		}
		p, err := v.ProveNodeLeaf(r.Index)
		if err != nil {
			return msg, err
		}
		lp := tx.LeafProof{Index: uint32(p.Index)}
		for _, h := range p.Roots {
			lp.Roots = append(lp.Roots, h)
		}
		for _, h := range p.Proof {
			lp.Proof = append(lp.Proof, h)
		}
		msg.Outputs = append(msg.Outputs, lp)
	}
	return msg, nil
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
