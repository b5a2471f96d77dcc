package app

import (
	"errors"
	"fmt"
	"time"

	"github.com/provena/provena/tx"
)

// Job modes (docs/opml.md, "Job modes"). Every job is an OpmlJob with the
// module's escrow, assignment, deadlines and payments; the mode decides who
// may take it and how a result becomes final:
//
//   - optimistic: anyone bonded; a trace commitment, final after the
//     challenge window unless a watcher disputes it.
//   - tee: only a worker whose attestation for the model is fresh at the
//     block time and whose measurement is allowed; the result is signed by
//     the attested key and final in the block that carries it.
//   - zk: only the prover the model's zk registration names; the result
//     carries a proof the chain verifies, final in the same block.
//
// In the two private modes the input never goes on chain or to a node in
// plaintext: after assignment the requester seals it to the worker's key
// (the enclave's attested X25519 key, or the prover's), puts the ciphertext
// in the nodes' opML stores and records its hash (MsgJobDeliverInput); the
// worker's result deadline starts then.
const (
	JobModeOptimistic = "optimistic"
	JobModeTee        = "tee"
	JobModeZk         = "zk"
)

// OpmlJobAwaitingInput is the state of a private-mode job that has a
// worker but not yet the input sealed to it.
const OpmlJobAwaitingInput = "awaiting_input"

// JobDeliverBlocks is how long a requester has, after assignment, to
// deliver the sealed input before the job is refunded and the worker freed.
const JobDeliverBlocks = 10

// Result codes of the private job modes.
const (
	CodeJobMode      uint32 = 410 // the message is for another mode than the job's
	CodeJobSignature uint32 = 411 // tee result signature does not verify under the attested key
	CodeJobDelivery  uint32 = 412 // sealed input delivered by someone else, or twice
)

// JobPrivate is what a private-mode job adds to its record.
type JobPrivate struct {
	// Recipient is the requester's age key; outputs are sealed to it.
	Recipient string `json:"recipient"`
	// InputCommit is a zk job's input commitment (zk.CommitTensor of the
	// quantized input). A tee job commits with the job's inputs root.
	InputCommit OpmlHash `json:"input_commit,omitzero"`
	// WorkerKey is the age recipient the input must be sealed to, set at
	// assignment: the enclave's attested key, or the zk prover's key.
	WorkerKey    string   `json:"worker_key,omitempty"`
	SealedInput  OpmlHash `json:"sealed_input,omitzero"`
	Delivered    int64    `json:"delivered,omitempty"`
	SealedOutput OpmlHash `json:"sealed_output,omitzero"`

	// Tee is the attestation the result was accepted under.
	Tee       *JobTeeRecord `json:"tee,omitempty"`
	Signature []byte        `json:"signature,omitempty"`

	// ZkSystem and Output are a zk result's proof system and public
	// output (the circuit's integer outputs); ProofBytes is its size.
	ZkSystem   string  `json:"zk_system,omitempty"`
	Output     []int64 `json:"output,omitempty"`
	ProofBytes int     `json:"proof_bytes,omitempty"`
}

// JobTeeRecord names the enclave a tee job ran in.
type JobTeeRecord struct {
	Kind        string    `json:"kind"`
	Simulated   bool      `json:"simulated"`
	Measurement string    `json:"measurement"`
	TCBStatus   string    `json:"tcb_status"`
	QuoteID     string    `json:"quote_id"`
	FreshUntil  time.Time `json:"fresh_until"`
}

// ModeName is the job's mode, "optimistic" for records written before
// modes existed.
func (j *OpmlJob) ModeName() string {
	if j.Mode == "" {
		return JobModeOptimistic
	}
	return j.Mode
}

// IsPrivate reports whether the job is in a private mode.
func (j *OpmlJob) IsPrivate() bool { return j.Mode == JobModeTee || j.Mode == JobModeZk }

// jobNewPrivate escrows and stores a new private-mode job.
func jobNewPrivate(ctx *Context, sender tx.Address, mode string, modelID [32]byte, inputsRoot [32]byte, workerFee uint64, priv *JobPrivate) (*OpmlJob, error) {
	j := &OpmlJob{ModelID: modelID, InputsRoot: inputsRoot, WorkerFee: workerFee, Mode: mode, Private: priv}
	commit := inputsRoot
	if priv.InputCommit != (OpmlHash{}) {
		commit = priv.InputCommit
	}
	if err := opmlNewJob(ctx, sender, j, commit); err != nil {
		return nil, err
	}
	return j, nil
}

// jobModeEligible says whether worker a may take job j under its mode, and
// if not, why (the reason lands in the job's unassignable list).
func jobModeEligible(ctx *Context, j *OpmlJob, a tx.Address) (bool, string, error) {
	switch j.Mode {
	case JobModeTee:
		_, err := TeeFreshAttestation(ctx, a, j.ModelID)
		if err == nil {
			return true, "", nil
		}
		var ce *codedError
		if errors.As(err, &ce) {
			return false, fmt.Sprintf("%s: %v", a, err), nil
		}
		return false, "", err
	case JobModeZk:
		z, err := zkLoadModel(ctx, j.ModelID)
		if err != nil {
			return false, "", err
		}
		if z == nil {
			return false, fmt.Sprintf("model %s has no zk registration", j.ModelID), nil
		}
		if a != z.Prover {
			return false, fmt.Sprintf("%s is not the model's prover %s", a, z.Prover), nil
		}
	}
	return true, "", nil
}

// jobModeAssigned runs after a worker was drawn: a private job waits for
// the input sealed to that worker's key before the result deadline runs.
func jobModeAssigned(ctx *Context, j *OpmlJob) error {
	if !j.IsPrivate() {
		return nil
	}
	switch j.Mode {
	case JobModeTee:
		att, err := TeeFreshAttestation(ctx, j.Worker, j.ModelID)
		if err != nil {
			return fmt.Errorf("tee job %d: attestation of the drawn worker: %w", j.ID, err)
		}
		j.Private.WorkerKey = att.X25519
		j.Private.Tee = &JobTeeRecord{Kind: att.Kind, Simulated: att.Simulated, Measurement: att.Measurement, TCBStatus: att.TCBStatus, QuoteID: att.QuoteID, FreshUntil: att.FreshUntil}
	case JobModeZk:
		z, err := zkLoadModel(ctx, j.ModelID)
		if err != nil {
			return err
		}
		if z == nil {
			return fmt.Errorf("zk job %d: model lost its zk registration", j.ID)
		}
		j.Private.WorkerKey = z.ProverKey
		j.Private.ZkSystem = z.System
	}
	j.Private.SealedInput, j.Private.Delivered = OpmlHash{}, 0
	j.State, j.Deadline = OpmlJobAwaitingInput, ctx.Height()+JobDeliverBlocks
	return nil
}

// jobAwaitingAdvance refunds a private job whose requester did not deliver
// the sealed input in time, and frees its worker (who did nothing wrong).
func jobAwaitingAdvance(ctx *Context, j *OpmlJob) error {
	if ctx.Height() <= j.Deadline {
		return nil
	}
	w, err := opmlLoadWorker(ctx, j.Worker)
	if err != nil {
		return err
	}
	w.Job = 0
	if err := opmlSet(ctx, OpmlWorkerKey(w.Address), w); err != nil {
		return err
	}
	return opmlRefund(ctx, j, fmt.Sprintf("the requester did not deliver the sealed input by block %d", j.Deadline))
}

// jobOptimisticOnly refuses an optimistic result for a private job.
func jobOptimisticOnly(j *OpmlJob) error {
	if j.IsPrivate() {
		return Fail(CodeJobMode, "job %d is a %s job: its result is a %s_post_result", j.ID, j.Mode, j.Mode)
	}
	return nil
}

func handleDeliverInput(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgJobDeliverInput)
	j, err := opmlLoadJob(ctx, msg.Job)
	if err != nil {
		return err
	}
	if !j.IsPrivate() {
		return Fail(CodeJobMode, "job %d is %s: its input is public, nothing to deliver", j.ID, j.ModeName())
	}
	if sender != j.Requester {
		return Fail(CodeJobDelivery, "only the requester %s delivers job %d's input", j.Requester, j.ID)
	}
	if j.State != OpmlJobAwaitingInput {
		return Fail(CodeOpmlState, "job %d is %s, not awaiting its input", j.ID, j.State)
	}
	if ctx.Height() > j.Deadline {
		return Fail(CodeOpmlState, "job %d: delivery deadline %d has passed", j.ID, j.Deadline)
	}
	j.Private.SealedInput, j.Private.Delivered = OpmlHash(msg.Sealed), ctx.Height()
	window := DefaultOpmlParams().ResultBlocks
	if j.Mode == JobModeZk {
		// The MNIST MLP's proof takes about 3 s on two cores, the CNN's
		// about 5: ten blocks would fail honest provers on fast chains.
		window = DefaultOpmlParams().ZkResultBlocks
	}
	j.State, j.Deadline = OpmlJobAssigned, ctx.Height()+window
	ctx.Emit("job_input", "job", u64(j.ID), "sealed", j.Private.SealedInput.String(), "deadline", i64(j.Deadline))
	return opmlSaveJob(ctx, j)
}

// jobPrivateResult checks what every private result needs: the job's
// mode, state, worker and deadline.
func jobPrivateResult(ctx *Context, sender tx.Address, id uint64, mode string) (*OpmlJob, error) {
	j, err := opmlLoadJob(ctx, id)
	if err != nil {
		return nil, err
	}
	if j.Mode != mode {
		return nil, Fail(CodeJobMode, "job %d is a %s job, not %s", j.ID, j.ModeName(), mode)
	}
	if j.State != OpmlJobAssigned {
		return nil, Fail(CodeOpmlState, "job %d is %s, results are posted to assigned jobs with a delivered input", j.ID, j.State)
	}
	if sender != j.Worker {
		return nil, Fail(CodeOpmlNotAllowed, "job %d is assigned to %s, not %s", j.ID, j.Worker, sender)
	}
	if ctx.Height() > j.Deadline {
		return nil, Fail(CodeOpmlState, "job %d: result deadline %d has passed", j.ID, j.Deadline)
	}
	return j, nil
}

// jobFinalNow marks an accepted private result as posted with a window
// that has already closed, so this block's end pays it through the same
// path as an unchallenged optimistic result (worker fee, model fee, and
// whatever else final payment does), and no challenge can land.
func jobFinalNow(ctx *Context, j *OpmlJob) error {
	j.Posted = ctx.Height()
	j.State = OpmlJobPosted
	j.Deadline = ctx.Height() - 1
	ctx.Emit("job_result", "job", u64(j.ID), "mode", j.Mode, "worker", j.Worker.String())
	return opmlSaveJob(ctx, j)
}

func init() {
	RegisterHandler(tx.TypeJobDeliverInput, HandlerFunc(handleDeliverInput))
}
