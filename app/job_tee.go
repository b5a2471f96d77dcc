package app

import (
	"crypto/ed25519"
	"encoding/hex"

	"github.com/provena/provena/tx"
)

func init() {
	RegisterHandler(tx.TypeTeeSubmitJob, HandlerFunc(handleTeeSubmitJob))
	RegisterHandler(tx.TypeTeePostResult, HandlerFunc(handleTeePostResult))
}

func handleTeeSubmitJob(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgTeeSubmitJob)
	_, err := jobNewPrivate(ctx, sender, JobModeTee, msg.ModelID, msg.InputsRoot, msg.WorkerFee, &JobPrivate{Recipient: msg.Recipient})
	return err
}

// handleTeePostResult accepts an enclave's result: the worker's
// attestation must still count at this block's time (fresh, measurement
// still allowed), and the signature over (job, inputs root, outputs) must
// verify under the attested signing key. Then the job is final in this
// block.
func handleTeePostResult(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgTeePostResult)
	j, err := jobPrivateResult(ctx, sender, msg.Job, JobModeTee)
	if err != nil {
		return err
	}
	att, err := TeeFreshAttestation(ctx, sender, j.ModelID)
	if err != nil {
		return err
	}
	var model OpmlModel
	if _, err := opmlGet(ctx, OpmlModelKey(j.ModelID), &model); err != nil {
		return err
	}
	if len(msg.OutputRoots) != len(model.Outputs) {
		return Fail(CodeOpmlBadResult, "result has %d output roots, the model has %d outputs", len(msg.OutputRoots), len(model.Outputs))
	}
	key, err := hex.DecodeString(att.SignKey)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return Fail(CodeTeeInvalid, "stored attestation has a malformed sign key")
	}
	if !ed25519.Verify(key, tx.TeeResultMessage(j.ID, j.InputsRoot, msg.OutputRoots, msg.SealedOutput), msg.Signature) {
		return Fail(CodeJobSignature, "job %d: result signature does not verify under the attested key of %s (%s %s)", j.ID, sender, att.Kind, att.Measurement)
	}
	j.OutputRoots = make([]OpmlHash, len(msg.OutputRoots))
	for i, r := range msg.OutputRoots {
		j.OutputRoots[i] = OpmlHash(r)
	}
	j.Private.SealedOutput = OpmlHash(msg.SealedOutput)
	j.Private.Signature = msg.Signature
	j.Private.Tee = &JobTeeRecord{Kind: att.Kind, Simulated: att.Simulated, Measurement: att.Measurement, TCBStatus: att.TCBStatus, QuoteID: att.QuoteID, FreshUntil: att.FreshUntil}
	return jobFinalNow(ctx, j)
}
