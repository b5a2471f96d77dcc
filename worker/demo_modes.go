package worker

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
	"github.com/provena/provena/model"
	"github.com/provena/provena/opml"
	"github.com/provena/provena/opml/opmlchain"
	"github.com/provena/provena/tee/sim"
	"github.com/provena/provena/tensor"
	"github.com/provena/provena/tx"
	"github.com/provena/provena/vault"
)

// ModeRun is one job of ModesDemo: its final record, the blocks and the
// block-time seconds from submission to finality, the wall time the
// in-process chain took, and the outputs the requester read.
type ModeRun struct {
	Mode    string
	Job     *app.OpmlJob
	Blocks  int64
	Seconds float64
	Wall    time.Duration
	Outputs map[string]*tensor.Tensor
	// Txs counts the fee-paying transactions the job took (requester's and
	// worker's); Fees is what they paid in tx fees.
	Txs  int
	Fees uint64
}

// ZkSetup makes ModesDemo run a zk job: the prover (the owner's worker,
// holding the artifact) and the registration to send (its prover fields
// are filled in).
type ZkSetup struct {
	Prover   Prover
	Register tx.MsgZkRegister
}

// SimMeasurementLabel names the simulated enclave build the demos allow.
const SimMeasurementLabel = "provena-worker-v1"

// ModesDemo registers m once on a fresh in-memory chain and runs one job
// on input in in each mode: optimistic (final after the challenge
// window), tee (a SIMULATED enclave: the input sealed to its attested key,
// the result signed, final in its block) and, with zk set, zk (proved by
// the owner's worker, verified on chain, final in its block). Every
// input and output of the private modes exists only sealed in the store.
func ModesDemo(m *model.Model, in map[string]*tensor.Tensor, zk *ZkSetup, logf Logf) ([]ModeRun, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	req, own, wOpt, wTee := apptest.Key(61), apptest.Key(62), apptest.Key(63), apptest.Key(64)
	c, err := opmlchain.New(app.Params{}, 10_000_000, req, own, wOpt, wTee)
	if err != nil {
		return nil, err
	}
	store := NewMemStore()
	store.PutModel(m)
	cl := func(k ed25519.PrivateKey) *InProc { return &InProc{Chain: c, Key: k, Store: store} }
	counts := map[tx.Address]int{}
	block := func() error {
		res, err := c.Block()
		if err != nil {
			return err
		}
		for _, d := range res {
			counts[d.From]++
			if !d.Result.IsOK() {
				return fmt.Errorf("modes demo: %s from %s failed: %s", d.Msg, d.From, d.Result.Log)
			}
		}
		return nil
	}
	send := func(k ed25519.PrivateKey, msgs ...tx.Msg) error {
		for _, msg := range msgs {
			if _, err := c.Submit(k, msg); err != nil {
				return err
			}
		}
		return nil
	}
	mid := m.ID()
	mhex := hex.EncodeToString(mid[:])
	att := sim.New(sim.MeasurementOf(SimMeasurementLabel))
	teeKeys, err := SimulatedKeys(wTee)
	if err != nil {
		return nil, err
	}
	ownKeys, err := SimulatedKeys(own)
	if err != nil {
		return nil, err
	}
	reqID, err := vault.AccountIdentity(req)
	if err != nil {
		return nil, err
	}
	if err := send(own, tx.MsgTeeConfig{SimRoots: []string{hex.EncodeToString(sim.TestRootPublic())}, MaxAgeSecs: 3600}, RegisterModelMsg(m, 50),
		tx.MsgRegisterWorker{Bond: 10_000}, // the owner's own worker: the zk prover
		tx.MsgTeeAllow{ModelID: mhex, Kind: "sim", Measurement: hex.EncodeToString(att.Measurement[:])}); err != nil {
		return nil, err
	}
	if err := send(wOpt, tx.MsgRegisterWorker{Bond: 10_000}); err != nil {
		return nil, err
	}
	if err := send(wTee, tx.MsgRegisterWorker{Bond: 10_000}); err != nil {
		return nil, err
	}
	if err := block(); err != nil {
		return nil, err
	}
	if err := send(wTee, tx.MsgTeeRegister{ModelID: mhex, Kind: "sim", Quote: att.QuoteFor(wTee.Public().(ed25519.PublicKey), teeKeys.Identity.Recipient().String(), blockTimeOf(c.Height()+1)),
		SignKey: wTee.Public().(ed25519.PublicKey), X25519: teeKeys.Identity.Recipient().String()}); err != nil {
		return nil, err
	}
	var provers []Prover
	if zk != nil {
		reg := zk.Register
		reg.ModelID, reg.Prover, reg.ProverKey = tx.DataHash(mid), apptest.Addr(own), ownKeys.Identity.Recipient().String()
		if err := send(own, reg); err != nil {
			return nil, err
		}
		provers = append(provers, zk.Prover)
	}
	if err := block(); err != nil {
		return nil, err
	}
	logf("model %x registered once (fee 50); workers bonded; SIMULATED enclave attested for it (measurement %x)", mid, att.Measurement[:8])

	workers := []*Worker{NewWorker(cl(wOpt), Fault{}, logf), NewWorker(cl(wTee), Fault{}, logf), NewWorker(cl(own), Fault{}, logf)}
	workers[1].SetPrivate(teeKeys)
	workers[2].SetPrivate(ownKeys, provers...)
	watcher := NewWatcher(cl(req), logf)
	root, err := opml.InputsRoot(m, in)
	if err != nil {
		return nil, err
	}
	modes := []string{app.JobModeOptimistic, app.JobModeTee}
	if zk != nil {
		modes = append(modes, app.JobModeZk)
	} else {
		logf("zk: skipped; it needs a quantized model with a registered circuit (provena zk setup, provena zk register)")
	}
	var runs []ModeRun
	for _, mode := range modes {
		start := time.Now()
		before := map[tx.Address]int{}
		for a, n := range counts {
			before[a] = n
		}
		var msg tx.Msg
		switch mode {
		case app.JobModeOptimistic:
			if _, err := store.PutInputs(m, in); err != nil {
				return nil, err
			}
			msg = tx.MsgSubmitJob{ModelID: mid, InputsRoot: root, WorkerFee: 100}
		case app.JobModeTee:
			msg = tx.MsgTeeSubmitJob{ModelID: tx.DataHash(mid), InputsRoot: tx.DataHash(root), WorkerFee: 100, Recipient: reqID.Recipient().String()}
		case app.JobModeZk:
			commit, err := zkInputCommit(zk.Prover, in[m.Inputs[0].Name])
			if err != nil {
				return nil, err
			}
			msg = tx.MsgZkSubmitJob{ModelID: tx.DataHash(mid), InputCommit: tx.DataHash(commit), WorkerFee: 100, Recipient: reqID.Recipient().String()}
		}
		if err := send(req, msg); err != nil {
			return nil, err
		}
		if err := block(); err != nil {
			return nil, err
		}
		id, err := lastJobID(c)
		if err != nil {
			return nil, err
		}
		delivered := false
		var j *app.OpmlJob
		for i := 0; ; i++ {
			if i > 200 {
				return nil, fmt.Errorf("modes demo: %s job %d not final after 200 blocks", mode, id)
			}
			if j, err = c.Job(id); err != nil {
				return nil, err
			}
			if j.State == app.OpmlJobFinal || j.State == app.OpmlJobRefunded {
				break
			}
			if j.State == app.OpmlJobAwaitingInput && !delivered {
				sealed, err := SealInput(m, in, j.Private.WorkerKey)
				if err != nil {
					return nil, err
				}
				h, err := store.PutSealed(sealed)
				if err != nil {
					return nil, err
				}
				if err := send(req, tx.MsgJobDeliverInput{Job: id, Sealed: tx.DataHash(h)}); err != nil {
					return nil, err
				}
				delivered = true
				logf("%s job %d: assigned to %s; input sealed to %s (%d bytes) and delivered", mode, id, j.Worker, j.Private.WorkerKey, len(sealed))
			}
			for _, w := range workers {
				if err := w.Step(); err != nil {
					return nil, err
				}
			}
			if err := watcher.Step(); err != nil {
				return nil, err
			}
			if err := block(); err != nil {
				return nil, err
			}
		}
		if j.State != app.OpmlJobFinal {
			return nil, fmt.Errorf("modes demo: %s job %d ended %s: %s", mode, id, j.State, j.Reason)
		}
		run := ModeRun{Mode: mode, Job: j, Blocks: j.Closed - j.Submitted, Wall: time.Since(start)}
		run.Seconds = blockTimeOf(j.Closed).Sub(blockTimeOf(j.Submitted)).Seconds()
		for _, a := range []tx.Address{apptest.Addr(req), j.Worker} {
			run.Txs += counts[a] - before[a]
		}
		run.Fees = uint64(run.Txs) * opmlchain.Fee
		if j.IsPrivate() {
			sealed, err := store.Sealed(j.Private.SealedOutput)
			if err != nil {
				return nil, err
			}
			if run.Outputs, err = OpenOutputs(j, sealed, reqID); err != nil {
				return nil, err
			}
			if mode == app.JobModeTee {
				if err := CheckOutputRoots(j, m, run.Outputs); err != nil {
					return nil, err
				}
			}
		} else if run.Outputs, err = optimisticOutputs(store, m, j); err != nil {
			return nil, err
		}
		logf("%s job %d: final at height %d, %d blocks after submission", mode, id, j.Closed, run.Blocks)
		runs = append(runs, run)
	}
	return runs, c.CheckSupply(app.OpmlAddress, apptest.Addr(req), apptest.Addr(own), apptest.Addr(wOpt), apptest.Addr(wTee))
}

// blockTimeOf is opmlchain's header time of block h.
func blockTimeOf(h int64) time.Time { return time.Unix(1_700_000_000+h, 0).UTC() }

func lastJobID(c *opmlchain.Chain) (uint64, error) {
	var id uint64
	for {
		var j app.OpmlJob
		ok, err := c.Query(app.QueryOpmlJob, fmt.Appendf(nil, "%d", id+1), &j)
		if err != nil {
			return 0, err
		}
		if !ok {
			return id, nil
		}
		id++
	}
}

func optimisticOutputs(s *MemStore, m *model.Model, j *app.OpmlJob) (map[string]*tensor.Tensor, error) {
	out := map[string]*tensor.Tensor{}
	for k, o := range m.Outputs {
		t, err := s.Output([32]byte(j.OutputRoots[k]))
		if err != nil {
			return nil, err
		}
		out[o.Name] = t
	}
	return out, nil
}

// InputCommitter is a Prover that also computes the requester's input
// commitment (zk.CommitTensor of the quantized input).
type InputCommitter interface {
	InputCommit(input *tensor.Tensor) ([32]byte, error)
}

func zkInputCommit(p Prover, input *tensor.Tensor) ([32]byte, error) {
	ic, ok := p.(InputCommitter)
	if !ok {
		return [32]byte{}, fmt.Errorf("zk prover %T cannot compute input commitments", p)
	}
	return ic.InputCommit(input)
}
