package app

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/provena/provena/merkle"
	"github.com/provena/provena/opml"
	"github.com/provena/provena/tx"
)

func init() {
	RegisterHandler(tx.TypeRegisterModel, HandlerFunc(handleRegisterModel))
	RegisterHandler(tx.TypeRegisterWorker, HandlerFunc(handleRegisterWorker))
	RegisterHandler(tx.TypeUnregisterWorker, HandlerFunc(handleUnregisterWorker))
	RegisterHandler(tx.TypeSubmitJob, HandlerFunc(handleSubmitJob))
	RegisterHandler(tx.TypePostResult, HandlerFunc(handlePostResult))
	RegisterHandler(tx.TypeChallenge, HandlerFunc(handleChallenge))
	RegisterHandler(tx.TypeDisputeMove, HandlerFunc(handleDisputeMove))
	RegisterHandler(tx.TypeOneStep, HandlerFunc(handleOneStep))
	RegisterEndBlocker("opml", opmlEndBlock)
}

// opmlLock moves amount from addr's balance into the module account.
func opmlLock(ctx *Context, addr tx.Address, amount uint64, what string) error {
	acc, err := ctx.Account(addr)
	if err != nil {
		return err
	}
	if acc.Balance < amount {
		return Fail(CodeInsufficientFunds, "insufficient funds: balance %d %s after fee, %s needs %d %s", acc.Balance, Denom, what, amount, Denom)
	}
	mod, err := ctx.Account(OpmlAddress)
	if err != nil {
		return err
	}
	if mod.Balance, err = add(mod.Balance, amount, "opml module balance"); err != nil {
		return err
	}
	acc.Balance -= amount
	if err := ctx.SetAccount(addr, &acc); err != nil {
		return err
	}
	return ctx.SetAccount(OpmlAddress, &mod)
}

// opmlPay moves amount from the module account to addr and records it.
func opmlPay(ctx *Context, j *OpmlJob, to tx.Address, amount uint64, why string) error {
	if amount == 0 {
		return nil
	}
	mod, err := ctx.Account(OpmlAddress)
	if err != nil {
		return err
	}
	if mod.Balance < amount {
		return fmt.Errorf("opml: module holds %d %s, cannot pay %d for %s", mod.Balance, Denom, amount, why)
	}
	acc, err := ctx.Account(to)
	if err != nil {
		return err
	}
	if acc.Balance, err = add(acc.Balance, amount, "balance"); err != nil {
		return err
	}
	mod.Balance -= amount
	if err := ctx.SetAccount(OpmlAddress, &mod); err != nil {
		return err
	}
	if err := ctx.SetAccount(to, &acc); err != nil {
		return err
	}
	if j != nil {
		j.Payouts = append(j.Payouts, OpmlPayout{To: to, Amount: amount, Why: why})
		ctx.Emit("opml_payout", "job", u64(j.ID), "to", to.String(), "amount", u64(amount), "why", why)
	}
	return nil
}

// opmlBurn destroys amount held by the module.
func opmlBurn(ctx *Context, j *OpmlJob, amount uint64) error {
	if amount == 0 {
		return nil
	}
	mod, err := ctx.Account(OpmlAddress)
	if err != nil {
		return err
	}
	if mod.Balance < amount {
		return fmt.Errorf("opml: module holds %d %s, cannot burn %d", mod.Balance, Denom, amount)
	}
	sup, err := ctx.Supply()
	if err != nil {
		return err
	}
	if sup.Burned, err = add(sup.Burned, amount, "burned supply"); err != nil {
		return err
	}
	mod.Balance -= amount
	if err := ctx.SetAccount(OpmlAddress, &mod); err != nil {
		return err
	}
	if j != nil {
		j.Burned += amount
	}
	return ctx.SetSupply(sup)
}

func handleRegisterModel(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgRegisterModel)
	key := OpmlModelKey(msg.ModelID)
	if b, err := ctx.Get(key); err != nil {
		return err
	} else if b != nil {
		return Fail(CodeOpmlExists, "model %x is already registered", msg.ModelID)
	}
	rec := OpmlModel{ID: msg.ModelID, Owner: sender, Fee: msg.Fee, NumNodes: int(msg.NumNodes), Inputs: msg.Inputs, Outputs: msg.Outputs, Height: ctx.Height()}
	if err := opmlSet(ctx, key, rec); err != nil {
		return err
	}
	ctx.Emit("opml_model", "id", rec.ID.String(), "owner", sender.String(), "fee", u64(msg.Fee))
	return nil
}

func handleRegisterWorker(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgRegisterWorker)
	w := &OpmlWorker{Address: sender}
	if _, err := opmlGet(ctx, OpmlWorkerKey(sender), w); err != nil {
		return err
	}
	total, err := add(w.Bond, msg.Bond, "worker bond")
	if err != nil {
		return err
	}
	if p := DefaultOpmlParams(); total < p.MinWorkerBond {
		return Fail(CodeOpmlBond, "worker bond would be %d %s, minimum is %d %s", total, Denom, p.MinWorkerBond, Denom)
	}
	if err := opmlLock(ctx, sender, msg.Bond, "worker bond"); err != nil {
		return err
	}
	w.Bond = total
	if err := opmlSet(ctx, OpmlWorkerKey(sender), w); err != nil {
		return err
	}
	ctx.Emit("opml_worker", "address", sender.String(), "bond", u64(total))
	return opmlMixSeed(ctx, sender[:])
}

func handleUnregisterWorker(ctx *Context, sender tx.Address, m tx.Msg) error {
	w, err := opmlLoadWorker(ctx, sender)
	if err != nil {
		return err
	}
	if w.Job != 0 {
		return Fail(CodeOpmlState, "worker holds job %d until it is final", w.Job)
	}
	if err := opmlPay(ctx, nil, sender, w.Bond, "worker bond returned"); err != nil {
		return err
	}
	ctx.Emit("opml_worker_left", "address", sender.String(), "bond", u64(w.Bond))
	return ctx.Delete(OpmlWorkerKey(sender))
}

func handleSubmitJob(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgSubmitJob)
	j := &OpmlJob{
		ModelID: msg.ModelID, InputsRoot: msg.InputsRoot, WorkerFee: msg.WorkerFee, Mode: JobModeOptimistic,
		Energy: EnergyJobConstraints{Green: msg.Green, MaxUg: msg.MaxGCO2Ug, EstimateWh: msg.EstimateWh},
	}
	return opmlNewJob(ctx, sender, j, msg.InputsRoot)
}

// opmlNewJob opens job j for sender in every mode: it escrows the model fee
// plus j.WorkerFee, numbers the job, stores it as pending and mixes
// seedCommit (what the requester committed to) into the assignment seed.
// The caller fills ModelID, InputsRoot, WorkerFee, Mode and the
// mode-specific fields.
func opmlNewJob(ctx *Context, sender tx.Address, j *OpmlJob, seedCommit [32]byte) error {
	var model OpmlModel
	ok, err := opmlGet(ctx, OpmlModelKey(j.ModelID), &model)
	if err != nil {
		return err
	}
	if !ok {
		return Fail(CodeOpmlUnknown, "model %x is not registered", j.ModelID)
	}
	escrow, err := add(model.Fee, j.WorkerFee, "job payment")
	if err != nil {
		return err
	}
	if err := opmlLock(ctx, sender, escrow, "job escrow"); err != nil {
		return err
	}
	var seq uint64
	if b, err := ctx.Get(keyOpmlSeq); err != nil {
		return err
	} else if len(b) == 8 {
		seq = binary.BigEndian.Uint64(b)
	}
	seq++
	if err := ctx.Set(keyOpmlSeq, binary.BigEndian.AppendUint64(nil, seq)); err != nil {
		return err
	}
	j.ID, j.Requester, j.Owner, j.ModelFee, j.Submitted = seq, sender, model.Owner, model.Fee, ctx.Height()
	j.State, j.Deadline = OpmlJobPending, ctx.Height()+DefaultOpmlParams().PendingBlocks
	if err := opmlSaveJob(ctx, j); err != nil {
		return err
	}
	if err := ctx.Set(opmlOpenKey(j.ID), []byte{}); err != nil {
		return err
	}
	ctx.Emit("opml_job", "id", u64(j.ID), "model", j.ModelID.String(), "requester", sender.String(), "escrow", u64(escrow), "mode", j.Mode)
	return opmlMixSeed(ctx, sender[:], seedCommit[:], binary.BigEndian.AppendUint64(nil, seq))
}

func opmlSaveJob(ctx *Context, j *OpmlJob) error { return opmlSet(ctx, OpmlJobKey(j.ID), j) }

func handlePostResult(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgPostResult)
	j, err := opmlLoadJob(ctx, msg.Job)
	if err != nil {
		return err
	}
	if j.State != OpmlJobAssigned {
		return Fail(CodeOpmlState, "job %d is %s, results are posted to assigned jobs", j.ID, j.State)
	}
	if sender != j.Worker {
		return Fail(CodeOpmlNotAllowed, "job %d is assigned to %s, not %s", j.ID, j.Worker, sender)
	}
	if err := jobOptimisticOnly(j); err != nil {
		return err
	}
	if ctx.Height() > j.Deadline {
		return Fail(CodeOpmlState, "job %d: result deadline %d has passed", j.ID, j.Deadline)
	}
	var model OpmlModel
	if _, err := opmlGet(ctx, OpmlModelKey(j.ModelID), &model); err != nil {
		return err
	}
	if len(msg.Outputs) != len(model.Outputs) {
		return Fail(CodeOpmlBadResult, "result has %d output roots, the model has %d outputs", len(msg.Outputs), len(model.Outputs))
	}
	// The result is the output value roots only: the worker commits a trace
	// (the commit stage of opml.Game) only if it is challenged.
	j.OutputRoots = make([]OpmlHash, len(msg.Outputs))
	for k, r := range msg.Outputs {
		j.OutputRoots[k] = OpmlHash(r)
	}
	j.NodesRoot, j.TraceRoot = OpmlHash{}, OpmlHash{}
	j.Posted = ctx.Height()
	j.State = OpmlJobPosted
	j.Deadline = ctx.Height() + DefaultOpmlParams().ChallengeBlocks
	ctx.Emit("opml_result", "job", u64(j.ID), "worker", sender.String(), "output_root", j.OutputRoots[0].String(), "window_ends", i64(j.Deadline))
	return opmlSaveJob(ctx, j)
}

func handleChallenge(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgChallenge)
	j, err := opmlLoadJob(ctx, msg.Job)
	if err != nil {
		return err
	}
	if j.State != OpmlJobPosted {
		return Fail(CodeOpmlState, "job %d is %s, only posted results can be challenged", j.ID, j.State)
	}
	if ctx.Height() > j.Deadline {
		return Fail(CodeOpmlState, "job %d: challenge window closed at %d", j.ID, j.Deadline)
	}
	if sender == j.Worker {
		return Fail(CodeOpmlNotAllowed, "the worker cannot challenge its own result")
	}
	// A trace committed in an earlier dispute of this result binds the
	// worker: a challenger that agrees with it has nothing to dispute.
	if j.NodesRoot != (OpmlHash{}) && msg.NodesRoot == j.NodesRoot {
		return Fail(CodeOpmlNotAllowed, "challenger's nodes root equals the worker's committed one: nothing to dispute")
	}
	var model OpmlModel
	if _, err := opmlGet(ctx, OpmlModelKey(j.ModelID), &model); err != nil {
		return err
	}
	if len(j.OutputRoots) != len(model.Outputs) {
		return Fail(CodeOpmlState, "job %d has %d output roots, the model %d outputs", j.ID, len(j.OutputRoots), len(model.Outputs))
	}
	claim := opml.Claim{
		ModelID: merkle.Hash(j.ModelID), InputsRoot: merkle.Hash(j.InputsRoot), NumInputs: len(model.Inputs), NumNodes: model.NumNodes,
		Against: merkle.Hash(msg.NodesRoot), Committed: merkle.Hash(j.NodesRoot),
	}
	for k, o := range model.Outputs {
		claim.Outputs = append(claim.Outputs, opml.OutputClaim{Node: int(o.Node), Output: int(o.Output), Root: merkle.Hash(j.OutputRoots[k])})
	}
	p := DefaultOpmlParams()
	g, err := opml.NewGame(claim, ctx.Height(), p.MoveBlocks)
	if err != nil {
		return Fail(CodeOpmlState, "job %d: %v", j.ID, err)
	}
	if err := opmlLock(ctx, sender, p.ChallengeBond, "challenge bond"); err != nil {
		return err
	}
	j.State, j.Challenger, j.ChallengerRoot, j.Game = OpmlJobDisputed, sender, msg.NodesRoot, g
	j.DisputeStarted = ctx.Height()
	j.Deadline = g.Deadline
	ctx.Emit("opml_challenge", "job", u64(j.ID), "challenger", sender.String(), "bond", u64(p.ChallengeBond))
	return opmlSaveJob(ctx, j)
}

// opmlParty maps the sender of a dispute move to its side.
func opmlParty(ctx *Context, sender tx.Address, id uint64) (*OpmlJob, opml.Party, error) {
	j, err := opmlLoadJob(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if j.State != OpmlJobDisputed || j.Game == nil {
		return nil, 0, Fail(CodeOpmlState, "job %d is %s, not in a dispute", j.ID, j.State)
	}
	switch sender {
	case j.Worker:
		return j, opml.Worker, nil
	case j.Challenger:
		return j, opml.Challenger, nil
	}
	return nil, 0, Fail(CodeOpmlNotAllowed, "%s is neither the worker nor the challenger of job %d", sender, j.ID)
}

func opmlMoveResult(ctx *Context, j *OpmlJob, err error) error {
	var me *opml.MoveError
	if errors.As(err, &me) {
		return Fail(CodeOpmlBadMove, "job %d dispute: %v", j.ID, err)
	}
	if err != nil {
		return err
	}
	ctx.Emit("opml_move", "job", u64(j.ID), "stage", j.Game.Stage.String(), "turn", j.Game.Turn.String(), "deadline", i64(j.Game.Deadline))
	if j.NodesRoot == (OpmlHash{}) && j.Game.NodesRoot != (merkle.Hash{}) {
		// The worker's commitment outlives this dispute: a later challenge
		// of the same result is played against it.
		j.NodesRoot, j.TraceRoot = OpmlHash(j.Game.NodesRoot), OpmlHash(j.Game.TraceRoot)
		ctx.Emit("opml_commit", "job", u64(j.ID), "trace_root", j.TraceRoot.String())
	}
	if j.Game.Stage == opml.StageOver {
		if err := opmlSettle(ctx, j); err != nil {
			return err
		}
	} else {
		j.Deadline = j.Game.Deadline
	}
	return opmlSaveJob(ctx, j)
}

func handleDisputeMove(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgDisputeMove)
	j, party, err := opmlParty(ctx, sender, msg.Job)
	if err != nil {
		return err
	}
	mv, err := opml.DecodeMove(opml.MoveKind(msg.Kind), msg.Payload)
	if err != nil {
		return Fail(CodeOpmlBadMove, "job %d dispute: %v", j.ID, err)
	}
	return opmlMoveResult(ctx, j, j.Game.Apply(party, ctx.Height(), mv))
}

func handleOneStep(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgOneStep)
	j, party, err := opmlParty(ctx, sender, msg.Job)
	if err != nil {
		return err
	}
	return opmlMoveResult(ctx, j, j.Game.ApplyStep(party, ctx.Height(), msg.Proof))
}

// opmlSettle pays out a finished dispute. A worker that lost forfeits its
// whole bond (WinnerSharePct to the challenger, the rest burned), is
// unregistered, and the requester is refunded: the job is not reassigned,
// since its result is known to be wrong and the requester can resubmit. A
// challenger that lost forfeits its challenge bond the same way to the
// worker, and the result's challenge window starts again.
func opmlSettle(ctx *Context, j *OpmlJob) error {
	g := j.Game
	p := DefaultOpmlParams()
	j.Disputes = append(j.Disputes, OpmlDispute{Challenger: j.Challenger, Winner: g.Winner.String(), Moves: g.Moves, Started: j.DisputeStarted, Ended: ctx.Height(), Reason: g.Reason})
	ctx.Emit("opml_dispute_over", "job", u64(j.ID), "winner", g.Winner.String(), "moves", i64(int64(g.Moves)), "reason", g.Reason)
	w, err := opmlLoadWorker(ctx, j.Worker)
	if err != nil {
		return err
	}
	if g.Winner == opml.Challenger {
		slash := w.Bond
		reward := slash * p.WinnerSharePct / 100
		if err := opmlPay(ctx, j, j.Challenger, p.ChallengeBond, "challenge bond returned"); err != nil {
			return err
		}
		if err := opmlPay(ctx, j, j.Challenger, reward, "share of the worker's slashed bond"); err != nil {
			return err
		}
		if err := opmlBurn(ctx, j, slash-reward); err != nil {
			return err
		}
		if err := opmlPay(ctx, j, j.Requester, j.ModelFee+j.WorkerFee, "refund: the worker's result was shown wrong"); err != nil {
			return err
		}
		ctx.Emit("opml_slash", "job", u64(j.ID), "address", j.Worker.String(), "amount", u64(slash))
		if err := ctx.Delete(OpmlWorkerKey(j.Worker)); err != nil {
			return err
		}
		if err := ctx.Delete(opmlOpenKey(j.ID)); err != nil {
			return err
		}
		j.State, j.Closed, j.Game = OpmlJobRefunded, ctx.Height(), nil
		j.Reason = "worker lost a dispute: " + g.Reason
		return nil
	}
	reward := p.ChallengeBond * p.WinnerSharePct / 100
	if err := opmlPay(ctx, j, j.Worker, reward, "share of the challenger's slashed bond"); err != nil {
		return err
	}
	if err := opmlBurn(ctx, j, p.ChallengeBond-reward); err != nil {
		return err
	}
	ctx.Emit("opml_slash", "job", u64(j.ID), "address", j.Challenger.String(), "amount", u64(p.ChallengeBond))
	j.State, j.Game, j.Challenger, j.ChallengerRoot = OpmlJobPosted, nil, tx.Address{}, OpmlHash{}
	j.Deadline = ctx.Height() + p.ChallengeBlocks
	return nil
}

// opmlEndBlock advances every open job: assignment, missed deadlines,
// dispute timeouts and finalisation.
func opmlEndBlock(ctx *Context) error {
	var ids []uint64
	err := ctx.Iterate(prefixOpmlOpen, func(k, _ []byte) bool {
		ids = append(ids, binary.BigEndian.Uint64(k[len(prefixOpmlOpen):]))
		return true
	})
	if err != nil {
		return fmt.Errorf("opml: list open jobs: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	workers, err := opmlWorkers(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		j, err := opmlLoadJob(ctx, id)
		if err != nil {
			return fmt.Errorf("opml: open job %d: %w", id, err)
		}
		if err := opmlAdvance(ctx, j, workers); err != nil {
			return fmt.Errorf("opml: job %d: %w", id, err)
		}
		if err := opmlSaveJob(ctx, j); err != nil {
			return err
		}
	}
	return nil
}

// opmlWorkers lists registered workers in address order.
func opmlWorkers(ctx *Context) ([]tx.Address, error) {
	var out []tx.Address
	err := ctx.Iterate(prefixOpmlWorker, func(k, _ []byte) bool {
		var a tx.Address
		copy(a[:], k[len(prefixOpmlWorker):])
		out = append(out, a)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("opml: list workers: %w", err)
	}
	sort.Slice(out, func(i, k int) bool { return string(out[i][:]) < string(out[k][:]) })
	return out, nil
}

func opmlAdvance(ctx *Context, j *OpmlJob, workers []tx.Address) error {
	p := DefaultOpmlParams()
	h := ctx.Height()
	switch j.State {
	case OpmlJobAssigned:
		if h <= j.Deadline {
			return nil
		}
		w, err := opmlLoadWorker(ctx, j.Worker)
		if err != nil {
			return err
		}
		slash := w.Bond * p.MissSlashPct / 100
		if err := opmlBurn(ctx, j, slash); err != nil {
			return err
		}
		w.Bond -= slash
		w.Slashed += slash
		w.Job = 0
		if err := opmlSet(ctx, OpmlWorkerKey(w.Address), w); err != nil {
			return err
		}
		ctx.Emit("opml_slash", "job", u64(j.ID), "address", w.Address.String(), "amount", u64(slash), "why", "missed result deadline")
		j.Tried = append(j.Tried, j.Worker)
		j.Worker = tx.Address{}
		if len(j.Tried) >= p.MaxAssignments {
			return opmlRefund(ctx, j, fmt.Sprintf("%d assigned workers missed their deadline", len(j.Tried)))
		}
		j.State, j.Deadline = OpmlJobPending, h+p.PendingBlocks
		return opmlAssign(ctx, j, workers)
	case OpmlJobPending:
		if err := opmlAssign(ctx, j, workers); err != nil {
			return err
		}
		energyHoldDeferred(ctx, j)
		if j.State == OpmlJobPending && h > j.Deadline {
			why := "no eligible worker"
			if j.Unassignable != "" {
				why += ": " + j.Unassignable
			}
			return opmlRefund(ctx, j, why)
		}
	case OpmlJobPosted:
		if h <= j.Deadline {
			return nil
		}
		if err := opmlPay(ctx, j, j.Worker, j.WorkerFee, "worker fee"); err != nil {
			return err
		}
		if err := lineagePayModelFee(ctx, j); err != nil {
			return err
		}
		if err := energySettleJob(ctx, j); err != nil {
			return err
		}
		w, err := opmlLoadWorker(ctx, j.Worker)
		if err != nil {
			return err
		}
		w.Job = 0
		w.Done++
		if err := opmlSet(ctx, OpmlWorkerKey(w.Address), w); err != nil {
			return err
		}
		j.State, j.Closed = OpmlJobFinal, h
		ctx.Emit("opml_final", "job", u64(j.ID), "worker", j.Worker.String())
		return ctx.Delete(opmlOpenKey(j.ID))
	case OpmlJobAwaitingInput:
		return jobAwaitingAdvance(ctx, j)
	case OpmlJobDisputed:
		if j.Game.Timeout(h) {
			ctx.Emit("opml_timeout", "job", u64(j.ID), "reason", j.Game.Reason)
			return opmlSettle(ctx, j)
		}
	}
	return nil
}

// opmlAssign draws the job's worker from the eligible set (bond at least
// the minimum, no job in hand, not tried before for this job), sorted by
// address, with an index from the module's running seed, the job id, the
// height and the block time.
func opmlAssign(ctx *Context, j *OpmlJob, workers []tx.Address) error {
	p := DefaultOpmlParams()
	var eligible []*OpmlWorker
	var reasons []string
	for _, a := range workers {
		tried := false
		for _, t := range j.Tried {
			tried = tried || t == a
		}
		if tried || a == j.Requester {
			continue
		}
		w := &OpmlWorker{}
		ok, err := opmlGet(ctx, OpmlWorkerKey(a), w)
		if err != nil {
			return err
		}
		if !ok || w.Job != 0 || w.Bond < p.MinWorkerBond {
			continue
		}
		fit, why, err := EnergyCheckWorker(ctx, j.Energy, a)
		if err != nil {
			return err
		}
		if !fit {
			if len(reasons) < 4 {
				reasons = append(reasons, why)
			}
			continue
		}
		if fit, why, err := jobModeEligible(ctx, j, a); err != nil {
			return err
		} else if !fit {
			if len(reasons) < 4 {
				reasons = append(reasons, why)
			}
			continue
		}
		eligible = append(eligible, w)
	}
	if len(eligible) == 0 {
		if len(reasons) > 0 {
			j.Unassignable = strings.Join(reasons, "; ")
		}
		return nil
	}
	j.Unassignable = ""
	seed, err := ctx.Get(keyOpmlSeed)
	if err != nil {
		return err
	}
	hb := sha256.New()
	hb.Write([]byte("provena/opml/assign\x00"))
	hb.Write(seed)
	hb.Write(ctx.LastAppHash())
	hb.Write(binary.BigEndian.AppendUint64(nil, j.ID))
	hb.Write(binary.BigEndian.AppendUint64(nil, uint64(ctx.Height())))
	hb.Write(binary.BigEndian.AppendUint64(nil, uint64(len(j.Tried))))
	// The header time, to the nanosecond, is the one value of the block a
	// requester cannot know when it signs (the proposer sets it).
	hb.Write(binary.BigEndian.AppendUint64(nil, uint64(ctx.BlockTime().UnixNano())))
	d := hb.Sum(nil)
	w := eligible[binary.BigEndian.Uint64(d)%uint64(len(eligible))]
	w.Job = j.ID
	if err := opmlSet(ctx, OpmlWorkerKey(w.Address), w); err != nil {
		return err
	}
	j.Worker, j.State, j.Deadline = w.Address, OpmlJobAssigned, ctx.Height()+p.ResultBlocks
	ctx.Emit("opml_assign", "job", u64(j.ID), "worker", w.Address.String(), "deadline", i64(j.Deadline))
	if err := energyOnAssign(ctx, j); err != nil {
		return err
	}
	return jobModeAssigned(ctx, j)
}

func opmlRefund(ctx *Context, j *OpmlJob, why string) error {
	if err := opmlPay(ctx, j, j.Requester, j.ModelFee+j.WorkerFee, "refund: "+why); err != nil {
		return err
	}
	j.State, j.Closed, j.Reason = OpmlJobRefunded, ctx.Height(), why
	return ctx.Delete(opmlOpenKey(j.ID))
}
