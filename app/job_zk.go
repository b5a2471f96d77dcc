package app

import (
	"fmt"

	"github.com/provena/provena/tx"
	"github.com/provena/provena/zk"
)

func init() {
	RegisterHandler(tx.TypeZkRegister, HandlerFunc(handleZkRegister))
	RegisterHandler(tx.TypeZkSubmitJob, HandlerFunc(handleZkSubmitJob))
	RegisterHandler(tx.TypeZkPostResult, HandlerFunc(handleZkPostResult))
}

// handleZkRegister records a model's circuit: only the model's owner, once,
// only Groth16 (chain jobs commit to the weights with the Pedersen
// commitment inside a Groth16 proof, zk.ChainVisibility), and only a
// verifying key and weights commitment that decode (points on the curve and
// in their subgroup), so a job can never fail on a registration the chain
// accepted.
func handleZkRegister(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgZkRegister)
	var model OpmlModel
	ok, err := opmlGet(ctx, OpmlModelKey(msg.ModelID), &model)
	if err != nil {
		return err
	}
	if !ok {
		return Fail(CodeZkUnknown, "model %s is not registered", msg.ModelID)
	}
	if model.Owner != sender {
		return Fail(CodeZkNotOwner, "only the owner of model %s (%s) registers its circuit", msg.ModelID, model.Owner)
	}
	if z, err := zkLoadModel(ctx, msg.ModelID); err != nil {
		return err
	} else if z != nil {
		return Fail(CodeZkExists, "model %s already has a %s circuit (height %d)", msg.ModelID, z.System, z.Height)
	}
	if msg.System != zk.Groth16 {
		return Fail(CodeZkBadKey, "verifying key: chain jobs commit to the weights inside %s proofs (weights=committed); %s is not accepted", zk.Groth16, msg.System)
	}
	if err := zkSafe(func() error { return zk.DecodeVerifyingKey(msg.System, msg.VerifyingKey) }); err != nil {
		return Fail(CodeZkBadKey, "verifying key: %v", err)
	}
	var wc zk.G1Bytes
	if len(msg.WeightsCommit) != len(wc) {
		return Fail(CodeZkBadKey, "weights commitment: %d bytes, want an uncompressed G1 point of %d", len(msg.WeightsCommit), len(wc))
	}
	if wc, err = zk.ParseG1Bytes(msg.WeightsCommit); err != nil {
		return Fail(CodeZkBadKey, "weights commitment: %v", err)
	}
	z := ZkModel{Model: OpmlHash(msg.ModelID), System: msg.System, VerifyingKey: msg.VerifyingKey, WeightsCommit: wc[:],
		Prover: msg.Prover, ProverKey: msg.ProverKey, Height: ctx.Height()}
	if err := opmlSet(ctx, ZkModelKey(msg.ModelID), z); err != nil {
		return err
	}
	ctx.Emit("zk_register", "model", msg.ModelID.String(), "system", msg.System, "prover", msg.Prover.String(), "vk_bytes", u64(uint64(len(msg.VerifyingKey))))
	return nil
}

func handleZkSubmitJob(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgZkSubmitJob)
	z, err := zkLoadModel(ctx, msg.ModelID)
	if err != nil {
		return err
	}
	if z == nil {
		return Fail(CodeZkUnknown, "model %s has no zk circuit registered (provena zk register)", msg.ModelID)
	}
	if _, err := zk.FieldBytes(msg.InputCommit).Element(); err != nil {
		return Fail(CodeZkBadProof, "input commitment: %v", err)
	}
	_, err = jobNewPrivate(ctx, sender, JobModeZk, msg.ModelID, [32]byte{}, msg.WorkerFee, &JobPrivate{Recipient: msg.Recipient, InputCommit: OpmlHash(msg.InputCommit)})
	return err
}

// handleZkPostResult accepts a result only with a proof that verifies
// against the model's registered key and weights commitment and this
// job's input commitment, with the posted outputs as the public output.
// A rejected proof changes nothing and pays nothing; the prover may post
// again until its deadline.
func handleZkPostResult(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgZkPostResult)
	j, err := jobPrivateResult(ctx, sender, msg.Job, JobModeZk)
	if err != nil {
		return err
	}
	z, err := zkLoadModel(ctx, j.ModelID)
	if err != nil {
		return err
	}
	if z == nil {
		return Fail(CodeZkUnknown, "model %s has no zk circuit", j.ModelID)
	}
	var wc zk.G1Bytes
	copy(wc[:], z.WeightsCommit) // 64 bytes, checked at registration
	pub := zk.Public{WeightsPoint: wc, InputCommit: zk.FieldBytes(j.Private.InputCommit), Output: msg.Output}
	if err := zkSafe(func() error { return zk.Verify(z.System, z.VerifyingKey, msg.Proof, pub) }); err != nil {
		return Fail(CodeZkBadProof, "job %d: proof rejected: %v", j.ID, err)
	}
	j.Private.Output = append([]int64(nil), msg.Output...)
	j.Private.SealedOutput = OpmlHash(msg.SealedOutput)
	j.Private.ProofBytes = len(msg.Proof)
	j.Private.ZkSystem = z.System
	return jobFinalNow(ctx, j)
}

// zkSafe turns a panic in the verifier into a rejection. The verifier
// promises not to panic; if a bug made it, every validator would panic on
// the same bytes, so the verdict stays deterministic instead of halting
// the chain.
func zkSafe(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("verifier failed: %v", r)
		}
	}()
	return f()
}
