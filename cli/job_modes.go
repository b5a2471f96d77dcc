package cli

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/provena/provena/app"
	"github.com/provena/provena/model"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/opml"
	"github.com/provena/provena/opmlstore"
	"github.com/provena/provena/tensor"
	"github.com/provena/provena/tx"
	"github.com/provena/provena/worker"
)

// The private job modes on the command line (app/job_modes.go): `job
// submit --mode tee|zk` commits to the input, waits for the assignment,
// seals the input to the drawn worker's key, stores the ciphertext at the
// node and records its hash; `job output` decrypts the sealed outputs with
// the requester's key; `job show` prints, per mode, latency to finality,
// cost and what had to be trusted.

// modeTrust is what a job's result rests on, per mode.
func modeTrust(j *app.OpmlJob) string {
	switch j.Mode {
	case app.JobModeTee:
		s := "the hardware vendor (its keys, TCB and microcode) and the measured code"
		if t := j.Private.Tee; t != nil {
			s += fmt.Sprintf(" (%s measurement %s, TCB %s)", t.Kind, shortHex(t.Measurement), t.TCBStatus)
			if t.Simulated {
				s += "; SIMULATED attestation: its root key is public, so nothing at all is guaranteed"
			}
		}
		return s
	case app.JobModeZk:
		return "the proof system's setup (no party of the trusted setup kept its randomness) and that the circuit encodes the model"
	}
	return "one honest watcher re-executing within the challenge window (the input is public so that anyone can)"
}

func shortHex(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

// modeTxs counts the fee-paying transactions a job took at least: submit,
// delivery (private modes), result, and every challenge and dispute move.
func modeTxs(j *app.OpmlJob) int {
	n := 1
	if j.Posted > 0 {
		n++
	}
	if j.IsPrivate() && j.Private.Delivered > 0 {
		n++
	}
	for _, d := range j.Disputes {
		n += 1 + d.Moves
	}
	return n
}

// jobFinality is a job's submit-to-close latency in blocks and in seconds
// between the two blocks' header times.
func (e *dataEnv) jobFinality(ctx context.Context, j *app.OpmlJob) (blocks int64, secs float64, err error) {
	if j.Closed == 0 {
		return 0, 0, nil
	}
	a, err := e.c.Block(ctx, j.Submitted)
	if err != nil {
		return 0, 0, fmt.Errorf("block %d: %w", j.Submitted, err)
	}
	b, err := e.c.Block(ctx, j.Closed)
	if err != nil {
		return 0, 0, fmt.Errorf("block %d: %w", j.Closed, err)
	}
	return j.Closed - j.Submitted, b.Time.Sub(a.Time).Seconds(), nil
}

// jobModeSummary is the per-mode part of `job show`.
type jobModeSummary struct {
	Mode          string  `json:"mode"`
	FinalBlocks   int64   `json:"final_blocks,omitempty"`
	FinalSeconds  float64 `json:"final_seconds,omitempty"`
	PaidUpv       uint64  `json:"paid_upv"`
	Txs           int     `json:"txs"`
	TxFeesUpv     uint64  `json:"tx_fees_upv"`
	Trusted       string  `json:"trusted"`
	Simulated     bool    `json:"simulated,omitempty"`
	InputVisible  bool    `json:"input_public"`
	ZkOutput      []int64 `json:"zk_output,omitempty"`
	ZkSystem      string  `json:"zk_system,omitempty"`
	ZkProofBytes  int     `json:"zk_proof_bytes,omitempty"`
	SealedInput   string  `json:"sealed_input,omitempty"`
	SealedOutput  string  `json:"sealed_output,omitempty"`
	WorkerKey     string  `json:"worker_key,omitempty"`
	EnclaveQuote  string  `json:"enclave_quote,omitempty"`
	FreshUntil    string  `json:"attestation_fresh_until,omitempty"`
	ResultSignBy  string  `json:"result_signed_by,omitempty"`
	InputCommit   string  `json:"input_commit,omitempty"`
	FinalityNotes string  `json:"finality,omitempty"`
}

func (e *dataEnv) modeSummary(ctx context.Context, j *app.OpmlJob) (*jobModeSummary, error) {
	s := &jobModeSummary{Mode: j.ModeName(), Trusted: modeTrust(j), InputVisible: !j.IsPrivate(), Txs: modeTxs(j)}
	fee := e.fee
	if fee == 0 {
		p, err := e.c.Params(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the minimum fee: %w", err)
		}
		fee = p.MinFee
	}
	s.TxFeesUpv = uint64(s.Txs) * fee
	for _, p := range j.Payouts {
		if p.To != j.Requester {
			s.PaidUpv += p.Amount
		}
	}
	var err error
	if s.FinalBlocks, s.FinalSeconds, err = e.jobFinality(ctx, j); err != nil {
		return nil, err
	}
	switch {
	case j.Mode == app.JobModeTee || j.Mode == app.JobModeZk:
		s.FinalityNotes = "in the block of the result"
	case j.State == app.OpmlJobFinal:
		s.FinalityNotes = fmt.Sprintf("after the %d-block challenge window", app.DefaultOpmlParams().ChallengeBlocks)
	}
	if p := j.Private; p != nil {
		s.WorkerKey = p.WorkerKey
		if p.SealedInput != (app.OpmlHash{}) {
			s.SealedInput = p.SealedInput.String()
		}
		if p.SealedOutput != (app.OpmlHash{}) {
			s.SealedOutput = p.SealedOutput.String()
		}
		if t := p.Tee; t != nil {
			s.Simulated = t.Simulated
			s.EnclaveQuote = t.QuoteID
			s.FreshUntil = t.FreshUntil.Format(time.RFC3339)
			if len(p.Signature) > 0 {
				s.ResultSignBy = j.Worker.String()
			}
		}
		if j.Mode == app.JobModeZk {
			s.InputCommit = p.InputCommit.String()
			s.ZkOutput, s.ZkSystem, s.ZkProofBytes = p.Output, p.ZkSystem, p.ProofBytes
		}
	}
	return s, nil
}

func printModeSummary(w io.Writer, s *jobModeSummary) {
	fmt.Fprintf(w, "  mode %s", s.Mode)
	if s.Simulated {
		fmt.Fprint(w, " (SIMULATED enclave)")
	}
	fmt.Fprintln(w)
	if s.FinalBlocks > 0 || s.FinalityNotes != "" {
		fmt.Fprintf(w, "  finality: %d blocks, %.1f s by block times (%s)\n", s.FinalBlocks, s.FinalSeconds, s.FinalityNotes)
	}
	fmt.Fprintf(w, "  cost: %d %s paid out of escrow, %d transactions (%d %s in tx fees)\n", s.PaidUpv, app.Denom, s.Txs, s.TxFeesUpv, app.Denom)
	fmt.Fprintf(w, "  trusted: %s\n", s.Trusted)
	if s.InputVisible {
		fmt.Fprintln(w, "  input: public (stored in plaintext at the nodes so watchers can re-execute)")
	} else {
		fmt.Fprintf(w, "  input: sealed to %s, ciphertext %s\n", s.WorkerKey, orDash(s.SealedInput))
		fmt.Fprintf(w, "  output: sealed to the requester, ciphertext %s\n", orDash(s.SealedOutput))
	}
	if s.EnclaveQuote != "" {
		fmt.Fprintf(w, "  enclave: quote %s, attestation fresh until %s", shortHex(s.EnclaveQuote), s.FreshUntil)
		if s.ResultSignBy != "" {
			fmt.Fprintf(w, "; result signed by the attested key of %s", s.ResultSignBy)
		}
		fmt.Fprintln(w)
	}
	if s.Mode == app.JobModeZk {
		fmt.Fprintf(w, "  zk: input commitment %s", s.InputCommit)
		if s.ZkSystem != "" && s.ZkProofBytes > 0 {
			fmt.Fprintf(w, "; %s proof of %d bytes verified on chain; public output %v", s.ZkSystem, s.ZkProofBytes, s.ZkOutput)
		}
		fmt.Fprintln(w)
	}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// submitPrivate runs a tee or zk submission: commit, escrow, wait for the
// assignment, seal the input to the drawn worker, store the ciphertext at
// the node, record its hash; with wait, until the job is final. Nothing it
// writes holds the plaintext.
func submitPrivate(ctx context.Context, cmd *cobra.Command, f *opmlFlags, e *dataEnv, mode string, m *model.Model, in map[string]*tensor.Tensor, workerFee uint64, wait bool) error {
	progress := cmd.ErrOrStderr()
	if f.json {
		progress = io.Discard
	}
	id := m.ID()
	var msg tx.Msg
	var commit [32]byte
	switch mode {
	case app.JobModeTee:
		root, err := opml.InputsRoot(m, in)
		if err != nil {
			return err
		}
		commit = root
		msg = tx.MsgTeeSubmitJob{ModelID: tx.DataHash(id), InputsRoot: tx.DataHash(root), WorkerFee: workerFee, Recipient: e.id.Recipient().String()}
	case app.JobModeZk:
		if len(m.Inputs) != 1 {
			return fmt.Errorf("zk jobs take one input; model %s has %d", m.IDString(), len(m.Inputs))
		}
		c, err := worker.ZkInputCommit(m, in[m.Inputs[0].Name])
		if err != nil {
			return err
		}
		commit = c
		msg = tx.MsgZkSubmitJob{ModelID: tx.DataHash(id), InputCommit: tx.DataHash(c), WorkerFee: workerFee, Recipient: e.id.Recipient().String()}
	default:
		return fmt.Errorf("--mode %q: want optimistic, tee or zk", mode)
	}
	s, err := e.send(ctx, msg)
	if err != nil {
		return err
	}
	jobID, err := e.findPrivateJob(ctx, mode, commit)
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "%s job %d submitted (tx %s); waiting for a worker\n", mode, jobID, s.Hash)
	// A worker that misses its deadline is slashed and the job re-drawn:
	// the new worker needs the input sealed to its own key, so with --wait
	// every drawing gets a delivery.
	var (
		j *app.OpmlJob
		h [32]byte
	)
	for {
		if j, err = e.waitJob(ctx, jobID, needsInputOrClosed); err != nil {
			return err
		}
		if j.State != app.OpmlJobAwaitingInput {
			break
		}
		if h, err = deliverPrivate(ctx, e, progress, m, in, j); err != nil {
			return err
		}
		if !wait {
			if j, err = e.job(ctx, jobID); err != nil {
				return err
			}
			break
		}
	}
	if j.State == app.OpmlJobRefunded && h == ([32]byte{}) {
		return fmt.Errorf("%s job %d refunded before any worker took it: %s", mode, jobID, j.Reason)
	}
	out := map[string]any{"job": jobID, "mode": mode, "state": j.State, "tx": s.Hash, "sealed_input": hex.EncodeToString(h[:])}
	text := fmt.Sprintf("%s job %d (%s), input delivered sealed (sha256 %x)\n", mode, jobID, j.State, h)
	if j.Private != nil && j.Private.Tee != nil && j.Private.Tee.Simulated {
		out["simulated"] = true
		text += "SIMULATED enclave: this result proves nothing about hardware\n"
	}
	return printOut(cmd, f.json, out, text)
}

// needsInputOrClosed: the job waits for a delivery to its drawn worker, or
// is closed.
func needsInputOrClosed(j *app.OpmlJob) bool {
	return j.State == app.OpmlJobFinal || j.State == app.OpmlJobRefunded ||
		(j.State == app.OpmlJobAwaitingInput && j.Private != nil && j.Private.SealedInput == (app.OpmlHash{}))
}

// deliverPrivate seals the input to the drawn worker's key, stores the
// ciphertext at the node and records its hash on chain.
func deliverPrivate(ctx context.Context, e *dataEnv, progress io.Writer, m *model.Model, in map[string]*tensor.Tensor, j *app.OpmlJob) ([32]byte, error) {
	if t := j.Private.Tee; t != nil {
		sim := ""
		if t.Simulated {
			sim = " — SIMULATED attestation"
		}
		fmt.Fprintf(progress, "job %d: assigned to %s, %s enclave %s%s\n", j.ID, j.Worker, t.Kind, shortHex(t.Measurement), sim)
	} else {
		fmt.Fprintf(progress, "job %d: assigned to prover %s\n", j.ID, j.Worker)
	}
	sealed, err := worker.SealInput(m, in, j.Private.WorkerKey)
	if err != nil {
		return [32]byte{}, err
	}
	h, err := opmlstore.UploadSealed(ctx, http.DefaultClient, e.c.Base(), sealed)
	if err != nil {
		return h, fmt.Errorf("store the sealed input at the node: %w", err)
	}
	if _, err := e.send(ctx, tx.MsgJobDeliverInput{Job: j.ID, Sealed: tx.DataHash(h)}); err != nil {
		return h, err
	}
	fmt.Fprintf(progress, "job %d: input sealed to %s (%d bytes, sha256 %x) and delivered\n", j.ID, j.Private.WorkerKey, len(sealed), h[:8])
	return h, nil
}

func newJobDeliverCmd() *cobra.Command {
	f := &opmlFlags{}
	var inputs []string
	cmd := &cobra.Command{
		Use:   "deliver ID --input x.npy --from REQUESTER",
		Short: "Deliver a tee or zk job's input, sealed to the worker drawn for it (job submit does this itself; use it after a re-draw)",
		Args:  cobra.ExactArgs(1),
		RunE: opmlRun(f, true, func(ctx context.Context, e *dataEnv, cmd *cobra.Command, args []string) error {
			j, err := e.jobArg(ctx, args[0])
			if err != nil {
				return err
			}
			id := j.ID
			if !needsInputOrClosed(j) || j.State != app.OpmlJobAwaitingInput {
				return fmt.Errorf("job %d (%s, %s) is not waiting for its input", id, j.ModeName(), j.State)
			}
			m, err := f.fetcher(e).Model(ctx, j.ModelID)
			if err != nil {
				return err
			}
			in, err := loadModelInputs(m, inputs)
			if err != nil {
				return err
			}
			progress := cmd.ErrOrStderr()
			if f.json {
				progress = io.Discard
			}
			h, err := deliverPrivate(ctx, e, progress, m, in, j)
			if err != nil {
				return err
			}
			return printOut(cmd, f.json, map[string]any{"job": id, "sealed_input": hex.EncodeToString(h[:]), "worker": j.Worker.String()},
				fmt.Sprintf("job %d: input delivered sealed to %s (sha256 %x)\n", id, j.Worker, h))
		}),
	}
	f.add(cmd, true)
	cmd.Flags().StringSliceVar(&inputs, "input", nil, "input .npy/.json (or name=path), repeatable")
	cmd.MarkFlagRequired("input")
	return cmd
}

// findPrivateJob finds the newest job of the sender in mode with the given
// commitment (inputs root for tee, input commitment for zk).
func (e *dataEnv) findPrivateJob(ctx context.Context, mode string, commit [32]byte) (uint64, error) {
	last, err := e.lastJob(ctx)
	if err != nil {
		return 0, err
	}
	for id := last; id > 0 && id+64 > last; id-- {
		j, err := e.job(ctx, id)
		if err != nil {
			return 0, err
		}
		if j == nil || j.Requester != e.me || j.Mode != mode {
			continue
		}
		if (mode == app.JobModeTee && [32]byte(j.InputsRoot) == commit) || (mode == app.JobModeZk && [32]byte(j.Private.InputCommit) == commit) {
			return id, nil
		}
	}
	return 0, fmt.Errorf("submitted %s job not found among the newest 64 jobs", mode)
}

func (e *dataEnv) waitJob(ctx context.Context, id uint64, done func(*app.OpmlJob) bool) (*app.OpmlJob, error) {
	for {
		j, err := e.job(ctx, id)
		if err != nil {
			return nil, err
		}
		if j != nil && done(j) {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("job %d: %w", id, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// privateOutput fetches a private job's sealed outputs, decrypts them with
// the requester's key, checks them (tee: against the signed roots) and
// writes output index to path.
func privateOutput(ctx context.Context, f *opmlFlags, e *dataEnv, j *app.OpmlJob, index int, path string) (map[string]any, string, error) {
	if e.id == nil && f.from != "" {
		var err error
		if e, err = f.env(ctx, true); err != nil {
			return nil, "", err
		}
	}
	if e.id == nil {
		return nil, "", fmt.Errorf("job %d is a %s job: its output is sealed to the requester; pass --from with the requester's key", j.ID, j.Mode)
	}
	if j.Private.SealedOutput == (app.OpmlHash{}) {
		return nil, "", fmt.Errorf("job %d (%s) has no result yet", j.ID, j.State)
	}
	sealed, err := f.fetcher(e).Sealed(ctx, j.Private.SealedOutput)
	if err != nil {
		return nil, "", err
	}
	outs, err := worker.OpenOutputs(j, sealed, e.id)
	if err != nil {
		return nil, "", err
	}
	m, err := f.fetcher(e).Model(ctx, j.ModelID)
	if err != nil {
		return nil, "", err
	}
	check := "decrypted with the requester's key"
	if j.Mode == app.JobModeTee {
		if err := worker.CheckOutputRoots(j, m, outs); err != nil {
			return nil, "", err
		}
		check += "; matches the roots the enclave signed"
	}
	if index < 0 || index >= len(m.Outputs) {
		return nil, "", fmt.Errorf("job %d's model has %d outputs", j.ID, len(m.Outputs))
	}
	t := outs[m.Outputs[index].Name]
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, "", err
	}
	fo, err := os.Create(path)
	if err != nil {
		return nil, "", err
	}
	err = npy.Write(fo, t)
	if cerr := fo.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, "", err
	}
	names := make([]string, 0, len(outs))
	for n := range outs {
		names = append(names, n)
	}
	sort.Strings(names)
	res := map[string]any{"job": j.ID, "mode": j.Mode, "state": j.State, "output": index, "shape": t.Shape, "path": path, "outputs": names, "verified": j.Mode == app.JobModeTee}
	return res, fmt.Sprintf("job %d output %d %v written to %s (%s)\n", j.ID, index, t.Shape, path, check), nil
}
