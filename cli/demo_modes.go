package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/provena/provena/app"
	"github.com/provena/provena/conformance"
	"github.com/provena/provena/model"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/onnx"
	"github.com/provena/provena/opml"
	"github.com/provena/provena/opml/opmltest"
	"github.com/provena/provena/opmlstore"
	"github.com/provena/provena/quant"
	"github.com/provena/provena/tee/sim"
	"github.com/provena/provena/tensor"
	"github.com/provena/provena/tx"
	"github.com/provena/provena/worker"
)

// demoModes is the demo's three-mode part: the model registered for the
// opML part, one job per mode, and what each cost and rested on.
type demoModes struct {
	ModelID string            `json:"model_id"`
	Jobs    []*jobModeSummary `json:"jobs"`
	JobIDs  []uint64          `json:"job_ids"`
	ZkNote  string            `json:"zk"`
}

// demoTrustSimRoot names tee/sim's test root in the demo chain's genesis
// (modules.tee), so its SIMULATED attestations are accepted; a chain whose
// genesis does not name it rejects them.
func demoTrustSimRoot(home string) error {
	path := filepath.Join(home, "config", "genesis.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("genesis: %w", err)
	}
	var st map[string]json.RawMessage
	if err := json.Unmarshal(doc["app_state"], &st); err != nil {
		return fmt.Errorf("genesis app_state: %w", err)
	}
	mods := map[string]json.RawMessage{}
	if raw, ok := st["modules"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &mods); err != nil {
			return fmt.Errorf("genesis modules: %w", err)
		}
	}
	tee, err := json.Marshal(app.TeeGenesis{SimRoots: []string{hex.EncodeToString(sim.TestRootPublic())}, MaxAgeSecs: 3600})
	if err != nil {
		return err
	}
	mods["tee"] = tee
	if st["modules"], err = json.Marshal(mods); err != nil {
		return err
	}
	if doc["app_state"], err = json.Marshal(st); err != nil {
		return err
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

// demoZkArtifact is `demo --zk`: a .zk artifact whose quantized model the
// three-mode part runs instead of the opML part's model.
var demoZkArtifact string

// runDemoModes runs one model in each mode on the same node: an optimistic
// job (final after the window), a tee job on tina, a SIMULATED enclave
// (the input sealed to her attested key, the result signed, final in its
// block), and, given an artifact (demo --zk), a zk job proved by the owner's
// worker and verified on chain; without one it says why zk is skipped. The
// model is the opML part's, or the artifact's quantized model, registered
// here.
func runDemoModes(ctx context.Context, d *demoEnv) (*demoModes, error) {
	w := d.w
	m, err := opmltest.Model()
	if err != nil {
		return nil, err
	}
	in := opmltest.Input(3)
	registered := true // the opML part registered it
	var zkSetup *worker.ZkSetup
	if demoZkArtifact == "" {
		if qm, qin, err := demoMNIST(); err == nil {
			m, in, registered = qm, qin, false
		} else {
			fmt.Fprintf(w, "\n(the quantized MNIST model is not available: %v; using the opML part's model)\n", err)
		}
	} else {
		a, err := openChainArtifact(demoZkArtifact)
		if err != nil {
			return nil, err
		}
		m, registered = a.Model, false
		if zkSetup, err = zkSetupFor(demoZkArtifact, m); err != nil {
			return nil, err
		}
		if in, err = demoInput(m); err != nil {
			return nil, err
		}
	}
	mid := m.IDString()
	rec := &demoModes{ModelID: mid}
	k, err := d.kr.Add("tina")
	if err != nil {
		return rec, err
	}
	d.addrs["tina"] = k.Address
	if d.privs["tina"], err = d.kr.PrivateKey("tina"); err != nil {
		return rec, err
	}
	fmt.Fprintf(w, "\nOne model, three modes: the same model %s… (%s, %d nodes) in an optimistic, a tee and a zk job\n", mid[:12], m.Name, len(m.Nodes))
	fmt.Fprintf(w, "tina runs a SIMULATED enclave (no TEE hardware here: tee/sim's test root, named in this chain's genesis, signs her quote)\n\n")
	meas := sim.MeasurementOf(worker.SimMeasurementLabel)
	step := func(who, action string, msg tx.Msg) error {
		s, err := d.c.Send(ctx, d.privs[who], d.fee, msg, true)
		if err != nil {
			return fmt.Errorf("%s: %w", action, err)
		}
		fmt.Fprintf(w, "block %-4d %s\n", s.Committed.Height, action)
		return nil
	}
	store := opmlStore(filepath.Join(d.home, "opml"))
	type demoMsg struct {
		who, action string
		msg         tx.Msg
	}
	var first []demoMsg
	if !registered {
		if err := store.PutModel(m); err != nil {
			return rec, err
		}
		if err := opmlstore.UploadModel(ctx, http.DefaultClient, d.c.Base(), m); err != nil {
			return rec, err
		}
		first = append(first, demoMsg{"alice", "alice registers the quantized model, fee 50 upv a job", worker.RegisterModelMsg(m, 50)})
	}
	if zkSetup != nil {
		akeys, err := worker.SimulatedKeys(d.privs["alice"])
		if err != nil {
			return rec, err
		}
		reg := zkSetup.Register
		reg.ModelID, reg.Prover, reg.ProverKey = tx.DataHash(m.ID()), d.addrs["alice"], akeys.Identity.Recipient().String()
		first = append(first,
			demoMsg{"alice", fmt.Sprintf("alice registers its %s circuit (verifying key %d bytes; weights stay with her worker, the prover)", reg.System, len(reg.VerifyingKey)), reg},
			demoMsg{"alice", "alice bonds 10,000 upv: her worker proves zk jobs", tx.MsgRegisterWorker{Bond: 10_000}})
	}
	for _, s := range append(first, []demoMsg{
		{"alice", "alice sends tina 100,000 upv", tx.MsgTransfer{To: d.addrs["tina"], Amount: 100_000}},
		{"alice", fmt.Sprintf("alice (the model's owner) allows enclave build %q (measurement %x…)", worker.SimMeasurementLabel, meas[:6]),
			tx.MsgTeeAllow{ModelID: mid, Kind: "sim", Measurement: hex.EncodeToString(meas[:])}},
		{"tina", "tina bonds 10,000 upv as a worker", tx.MsgRegisterWorker{Bond: 10_000}},
	}...) {
		if err := step(s.who, s.action, s.msg); err != nil {
			return rec, err
		}
	}
	env := func(name string) *dataEnv {
		e := &dataEnv{c: d.c, rpc: d.rpc, priv: d.privs[name], me: d.addrs[name], fee: d.fee}
		if k, err := worker.SimulatedKeys(d.privs[name]); err == nil {
			e.id = k.Identity
		}
		return e
	}
	if _, _, s, err := teeRegister(ctx, env("tina"), mid, "", "", "", worker.SimMeasurementLabel); err != nil {
		return rec, err
	} else {
		fmt.Fprintf(w, "block %-4d tina posts her SIMULATED attestation: binds her signing key and X25519 key; fresh for 1 h\n", s.Committed.Height)
	}
	party := func(name string) *nodeClient {
		return &nodeClient{ctx: ctx, e: env(name), store: store, fetch: &opmlstore.Fetcher{Store: store, Sources: []string{d.c.Base()}}}
	}
	logf := func(format string, args ...any) {}
	keys, err := worker.SimulatedKeys(d.privs["tina"])
	if err != nil {
		return rec, err
	}
	tina := worker.NewWorker(party("tina"), worker.Fault{}, logf)
	tina.SetPrivate(keys)
	walt := worker.NewWatcher(party("walt"), logf)
	bob := env("bob")
	steps := []func() error{tina.Step, walt.Step}
	if zkSetup != nil {
		akeys, err := worker.SimulatedKeys(d.privs["alice"])
		if err != nil {
			return rec, err
		}
		prover := worker.NewWorker(party("alice"), worker.Fault{}, logf)
		prover.SetPrivate(akeys, zkSetup.Prover)
		steps = append(steps, prover.Step)
	}

	// Optimistic.
	root, err := store.PutInputs(m, in)
	if err != nil {
		return rec, err
	}
	if err := step("bob", "bob submits an optimistic job (input public: watchers must re-run it)", tx.MsgSubmitJob{ModelID: m.ID(), InputsRoot: root, WorkerFee: 100}); err != nil {
		return rec, err
	}
	id, err := bob.findJob(ctx, root)
	if err != nil {
		return rec, err
	}
	opt, err := d.play(ctx, id, steps...)
	if err != nil {
		return rec, err
	}
	rec.JobIDs = append(rec.JobIDs, id)

	// tee: the same input, sealed.
	teeRoot, err := opml.InputsRoot(m, in)
	if err != nil {
		return rec, err
	}
	if err := step("bob", "bob submits a tee job for the same input (only a commitment on chain)",
		tx.MsgTeeSubmitJob{ModelID: tx.DataHash(m.ID()), InputsRoot: tx.DataHash(teeRoot), WorkerFee: 100, Recipient: bob.id.Recipient().String()}); err != nil {
		return rec, err
	}
	if id, err = bob.findPrivateJob(ctx, app.JobModeTee, teeRoot); err != nil {
		return rec, err
	}
	deliverer := func(id uint64, to string) func() error {
		delivered := false
		return func() error {
			j, err := bob.job(ctx, id)
			if err != nil || j == nil || delivered || j.State != app.OpmlJobAwaitingInput {
				return err
			}
			sealed, err := worker.SealInput(m, in, j.Private.WorkerKey)
			if err != nil {
				return err
			}
			h, err := opmlstore.UploadSealed(ctx, http.DefaultClient, d.c.Base(), sealed)
			if err != nil {
				return err
			}
			delivered = true
			return step("bob", fmt.Sprintf("bob seals the input to %s (%d bytes of age ciphertext at the node) and records its hash", to, len(sealed)),
				tx.MsgJobDeliverInput{Job: id, Sealed: tx.DataHash(h)})
		}
	}
	j, err := d.play(ctx, id, append([]func() error{deliverer(id, "tina's attested key")}, steps...)...)
	if err != nil {
		return rec, err
	}
	if j.State != app.OpmlJobFinal {
		return rec, fmt.Errorf("tee job %d ended %s: %s", id, j.State, j.Reason)
	}
	sealed, err := party("bob").fetch.Sealed(ctx, j.Private.SealedOutput)
	if err != nil {
		return rec, err
	}
	outs, err := worker.OpenOutputs(j, sealed, bob.id)
	if err != nil {
		return rec, err
	}
	if err := worker.CheckOutputRoots(j, m, outs); err != nil {
		return rec, err
	}
	if j.OutputRoots[0] != opt.OutputRoots[0] {
		return rec, fmt.Errorf("tee job %d's output differs from the optimistic job's", id)
	}
	fmt.Fprintf(w, "           bob opens the sealed output with his key: it matches the root tina's enclave signed, and the optimistic job's output bit for bit\n")
	rec.JobIDs = append(rec.JobIDs, id)

	if zkSetup == nil {
		rec.ZkNote = "skipped: it needs the model's circuit set up beforehand (provena zk setup m.q.pvm, about a minute for the MNIST MLP on 2 cores; then provena demo --zk m.zk)"
		if m.Nodes[0].OpType != "QQuantize" {
			rec.ZkNote = "skipped: zk needs a quantized model and its circuit's artifact (provena model quantize, provena zk setup; then provena demo --zk m.zk); this model is float32"
		}
	} else {
		commit, err := worker.ZkInputCommit(m, in[m.Inputs[0].Name])
		if err != nil {
			return rec, err
		}
		if err := step("bob", "bob submits a zk job for the same input (the chain sees its Poseidon2 commitment)",
			tx.MsgZkSubmitJob{ModelID: tx.DataHash(m.ID()), InputCommit: tx.DataHash(commit), WorkerFee: 100, Recipient: bob.id.Recipient().String()}); err != nil {
			return rec, err
		}
		if id, err = bob.findPrivateJob(ctx, app.JobModeZk, commit); err != nil {
			return rec, err
		}
		zj, err := d.play(ctx, id, append([]func() error{deliverer(id, "alice's prover key")}, steps...)...)
		if err != nil {
			return rec, err
		}
		if zj.State != app.OpmlJobFinal {
			return rec, fmt.Errorf("zk job %d ended %s: %s", id, zj.State, zj.Reason)
		}
		fmt.Fprintf(w, "           the chain verified a %d-byte %s proof against the registered weights commitment and bob's input commitment; public output %v\n",
			zj.Private.ProofBytes, zj.Private.ZkSystem, zj.Private.Output)
		rec.JobIDs = append(rec.JobIDs, id)
	}

	fmt.Fprintf(w, "\n%-11s %-22s %-10s %-7s %s\n", "mode", "submit to final", "paid", "txs", "trusted")
	for _, id := range rec.JobIDs {
		j, err := bob.job(ctx, id)
		if err != nil {
			return rec, err
		}
		s, err := bob.modeSummary(ctx, j)
		if err != nil {
			return rec, err
		}
		rec.Jobs = append(rec.Jobs, s)
		mode := s.Mode
		if s.Simulated {
			mode += " (SIM)"
		}
		fmt.Fprintf(w, "%-11s %3d blocks, %5.1f s    %-10s %-7d %s\n", mode, s.FinalBlocks, s.FinalSeconds, upv(s.PaidUpv), s.Txs, s.Trusted)
	}
	if rec.ZkNote != "" {
		fmt.Fprintf(w, "%-11s %s\n", "zk", rec.ZkNote)
	}
	return rec, nil
}

// demoMNIST is the fixtures' MNIST MLP quantized to int8 on its
// calibration images, and the first test image.
func demoMNIST() (*model.Model, map[string]*tensor.Tensor, error) {
	dir, _ := conformance.Dir()
	if dir == "" {
		return nil, nil, fmt.Errorf("no fixture directory")
	}
	dir = filepath.Join(dir, "mnist")
	f, err := onnx.ImportFile(filepath.Join(dir, "mlp.onnx"), onnx.Options{})
	if err != nil {
		return nil, nil, err
	}
	q, _, err := quant.QuantizeDir(f, filepath.Join(dir, "calib"), quant.Options{})
	if err != nil {
		return nil, nil, err
	}
	fh, err := os.Open(filepath.Join(dir, "sample", "0.npy"))
	if err != nil {
		return nil, nil, err
	}
	defer fh.Close()
	x, err := npy.Read(fh)
	if err != nil {
		return nil, nil, err
	}
	return q, map[string]*tensor.Tensor{q.Inputs[0].Name: x}, nil
}

// demoInput is a deterministic input for m's one float input, values in
// [0, 1) like an image's.
func demoInput(m *model.Model) (map[string]*tensor.Tensor, error) {
	if len(m.Inputs) != 1 || m.Inputs[0].DType != tensor.Float32 {
		return nil, fmt.Errorf("demo: model %s needs one float32 input", m.IDString())
	}
	x, err := tensor.New(tensor.Float32, m.Inputs[0].Shape)
	if err != nil {
		return nil, err
	}
	for i := range x.F32 {
		x.F32[i] = float32((i*37)%101) / 101
	}
	return map[string]*tensor.Tensor{m.Inputs[0].Name: x}, nil
}
