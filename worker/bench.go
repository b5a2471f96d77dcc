package worker

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
	"github.com/provena/provena/infer"
	"github.com/provena/provena/merkle"
	"github.com/provena/provena/model"
	"github.com/provena/provena/opml"
	"github.com/provena/provena/opml/opmlchain"
	"github.com/provena/provena/tensor"
	"github.com/provena/provena/tx"
)

// BenchReport is what BenchDispute measured.
type BenchReport struct {
	Model   string `json:"model"`
	ModelID string `json:"model_id"`
	Nodes   int    `json:"nodes"`
	// Worker time: plain, traced (roots only), traced keeping every output
	// (what a worker needs to answer disputes).
	PlainMS      float64 `json:"plain_ms"`
	TracedMS     float64 `json:"traced_ms"`
	TracedKeepMS float64 `json:"traced_keep_ms"`
	// Submit to result: blocks between the job's block and the result's
	// block on an in-process chain, and the wall time it took (inference
	// dominates; a real chain adds its block time per block).
	SubmitToResultBlocks int64   `json:"submit_to_result_blocks"`
	SubmitToResultMS     float64 `json:"submit_to_result_ms"`
	// The dispute against a worker that corrupted one element of node
	// FaultNode.
	FaultNode      int     `json:"fault_node"`
	FaultOp        string  `json:"fault_op"`
	Rounds         int     `json:"rounds"` // moves, the one-step proof included
	DisputeBlocks  int64   `json:"dispute_blocks"`
	DisputeTxs     int     `json:"dispute_txs"`   // challenge, moves, one step
	DisputeBytes   int     `json:"dispute_bytes"` // their signed sizes
	StepProofBytes int     `json:"step_proof_bytes"`
	StepVerifyMS   float64 `json:"step_verify_ms"`
	Winner         string  `json:"winner"`
}

// countingClient records the bytes a party sends.
type countingClient struct {
	*InProc
	txs, bytes int
	step       []byte
}

func (c *countingClient) Send(msg tx.Msg) error {
	b, err := c.Chain.Submit(c.Key, msg)
	if err != nil {
		return err
	}
	switch m := msg.(type) {
	case tx.MsgChallenge, tx.MsgDisputeMove:
		c.txs++
		c.bytes += len(b)
	case tx.MsgOneStep:
		c.txs++
		c.bytes += len(b)
		c.step = m.Proof
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchDispute measures optimistic inference on m and input in: run times,
// submit-to-result latency, and a full dispute on an in-process chain
// against a worker that corrupts element 0 of node faultNode (-1: the
// middle node), with max_tx_bytes raised to the hard limit so that any
// one-step proof fits.
func BenchDispute(m *model.Model, in map[string]*tensor.Tensor, faultNode int, logf Logf) (*BenchReport, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if faultNode < 0 {
		faultNode = len(m.Nodes) / 2
	}
	if faultNode >= len(m.Nodes) {
		return nil, fmt.Errorf("bench: node %d out of range", faultNode)
	}
	r := &BenchReport{Model: m.Name, ModelID: m.IDString(), Nodes: len(m.Nodes), FaultNode: faultNode, FaultOp: m.Nodes[faultNode].OpType}
	for _, c := range []struct {
		name string
		opts infer.Options
		out  *float64
	}{
		{"plain", infer.Options{}, &r.PlainMS},
		{"traced", infer.Options{Trace: true}, &r.TracedMS},
		{"traced, keeping every output", infer.Options{Trace: true, KeepOutputs: true}, &r.TracedKeepMS},
	} {
		start := time.Now()
		if _, err := infer.Run(m, in, c.opts); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		*c.out = ms(time.Since(start))
		logf("run %s: %.0f ms", c.name, *c.out)
	}
	p := app.DefaultParams()
	p.MaxTxBytes = tx.MaxTxBytes
	req, own, wk, wat := apptest.Key(1), apptest.Key(2), apptest.Key(3), apptest.Key(4)
	c, err := opmlchain.New(p, 1_000_000, req, own, wk, wat)
	if err != nil {
		return nil, err
	}
	store := NewMemStore()
	store.PutModel(m)
	root, err := store.PutInputs(m, in)
	if err != nil {
		return nil, err
	}
	cl := func(k ed25519.PrivateKey) *countingClient {
		return &countingClient{InProc: &InProc{Chain: c, Key: k, Store: store}}
	}
	wc, vc := cl(wk), cl(wat)
	n := m.Nodes[faultNode].OutMetas[0]
	w := NewWorker(wc, Fault{Corrupt: true, Node: faultNode, Elem: tensor.NumElements(n.Shape) / 2}, logf)
	v := NewWatcher(vc, logf)
	for _, s := range []struct {
		k   ed25519.PrivateKey
		msg tx.Msg
	}{
		{own, RegisterModelMsg(m, 50)},
		{wk, tx.MsgRegisterWorker{Bond: 10_000}},
		{req, tx.MsgSubmitJob{ModelID: m.ID(), InputsRoot: root, WorkerFee: 100}},
	} {
		if _, err := c.Submit(s.k, s.msg); err != nil {
			return nil, err
		}
	}
	if _, err := c.Block(); err != nil {
		return nil, err
	}
	submitted := c.Height()
	start := time.Now()
	for {
		if err := w.Step(); err != nil {
			return nil, err
		}
		if _, err := c.Block(); err != nil {
			return nil, err
		}
		j, err := c.Job(1)
		if err != nil {
			return nil, err
		}
		if j.State == app.OpmlJobPosted {
			r.SubmitToResultBlocks = j.Posted - submitted
			r.SubmitToResultMS = ms(time.Since(start))
			break
		}
		if c.Height() > submitted+50 {
			return nil, fmt.Errorf("bench: no result after 50 blocks (job %s)", j.State)
		}
	}
	for i := 0; i < 2000; i++ {
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
				return nil, fmt.Errorf("bench: %s failed: %s", d.Msg, d.Result.Log)
			}
		}
		j, err := c.Job(1)
		if err != nil {
			return nil, err
		}
		if len(j.Disputes) == 0 {
			continue
		}
		d := j.Disputes[0]
		r.Rounds, r.Winner, r.DisputeBlocks = d.Moves, d.Winner, d.Ended-d.Started
		r.DisputeTxs, r.DisputeBytes = wc.txs+vc.txs, wc.bytes+vc.bytes
		r.StepProofBytes = len(wc.step)
		if wc.step != nil {
			sp, err := opml.DecodeStepProof(wc.step)
			if err != nil {
				return nil, err
			}
			start := time.Now()
			if _, err := infer.VerifyStep(merkle.Hash(j.ModelID), merkle.Hash(j.TraceRoot), sp); err != nil {
				return nil, err
			}
			r.StepVerifyMS = ms(time.Since(start))
		}
		return r, nil
	}
	return nil, fmt.Errorf("bench: dispute not over after 2000 blocks")
}
