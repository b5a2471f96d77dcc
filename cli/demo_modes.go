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
	"github.com/provena/provena/opml"
	"github.com/provena/provena/opml/opmltest"
	"github.com/provena/provena/opmlstore"
	"github.com/provena/provena/tee/sim"
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

// runDemoModes runs the model of the opML part in each mode on the same
// node: an optimistic job (final after the window), a tee job on tina, a
// SIMULATED enclave (the input sealed to her attested key, the result
// signed, final in its block), and says why zk is skipped.
func runDemoModes(ctx context.Context, d *demoEnv) (*demoModes, error) {
	w := d.w
	m, err := opmltest.Model()
	if err != nil {
		return nil, err
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
	fmt.Fprintf(w, "\nOne model, three modes: the same model %s… in an optimistic, a tee and a zk job\n", mid[:12])
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
	for _, s := range []struct {
		who, action string
		msg         tx.Msg
	}{
		{"alice", "alice sends tina 100,000 upv", tx.MsgTransfer{To: d.addrs["tina"], Amount: 100_000}},
		{"alice", fmt.Sprintf("alice (the model's owner) allows enclave build %q (measurement %x…)", worker.SimMeasurementLabel, meas[:6]),
			tx.MsgTeeAllow{ModelID: mid, Kind: "sim", Measurement: hex.EncodeToString(meas[:])}},
		{"tina", "tina bonds 10,000 upv as a worker", tx.MsgRegisterWorker{Bond: 10_000}},
	} {
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
	store := opmlStore(filepath.Join(d.home, "opml"))
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

	// Optimistic.
	in := opmltest.Input(3)
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
	opt, err := d.play(ctx, id, tina.Step, walt.Step)
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
	delivered := false
	deliver := func() error {
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
		return step("bob", fmt.Sprintf("bob seals the input to tina's attested key (%d bytes of age ciphertext at the node) and records its hash", len(sealed)),
			tx.MsgJobDeliverInput{Job: id, Sealed: tx.DataHash(h)})
	}
	j, err := d.play(ctx, id, deliver, tina.Step)
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
	rec.ZkNote = "skipped: zk needs a quantized model with a registered circuit (provena model quantize, zk setup, zk register); the demo's model is float32"

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
	fmt.Fprintf(w, "%-11s %s\n", "zk", rec.ZkNote)
	return rec, nil
}
