package app_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
	"github.com/provena/provena/opml/opmlchain"
	"github.com/provena/provena/tee/sim"
	"github.com/provena/provena/tx"
)

// validators runs the same blocks on four independent ledgers and checks
// that every transaction gets the same code and reason and every block
// the same app hash: the verdicts of the job modes are consensus.
type validators struct {
	t      *testing.T
	chains []*opmlchain.Chain
	addrs  []tx.Address
}

func newValidators(t *testing.T, keys ...ed25519.PrivateKey) *validators {
	v := &validators{t: t, addrs: []tx.Address{app.OpmlAddress}}
	for range 4 {
		c, err := opmlchain.New(app.Params{}, 1_000_000, keys...)
		if err != nil {
			t.Fatal(err)
		}
		v.chains = append(v.chains, c)
	}
	for _, k := range keys {
		v.addrs = append(v.addrs, apptest.Addr(k))
	}
	return v
}

func (v *validators) c() *opmlchain.Chain { return v.chains[0] }

// send queues key/msg pairs on every ledger and runs one block.
func (v *validators) send(msgs ...any) []opmlchain.Delivered {
	v.t.Helper()
	var first []opmlchain.Delivered
	var firstHash []byte
	for n, c := range v.chains {
		for i := 0; i < len(msgs); i += 2 {
			if _, err := c.Submit(msgs[i].(ed25519.PrivateKey), msgs[i+1].(tx.Msg)); err != nil {
				v.t.Fatal(err)
			}
		}
		res, err := c.Block()
		if err != nil {
			v.t.Fatal(err)
		}
		if err := c.CheckSupply(v.addrs...); err != nil {
			v.t.Fatal(err)
		}
		_, hash := c.App().Info()
		if n == 0 {
			first, firstHash = res, hash
			continue
		}
		if !bytes.Equal(hash, firstHash) {
			v.t.Fatalf("validator %d: app hash %x, validator 0: %x", n, hash, firstHash)
		}
		for i := range res {
			if res[i].Result.Code != first[i].Result.Code || res[i].Result.Log != first[i].Result.Log {
				v.t.Fatalf("validator %d tx %d: %d %q, validator 0: %d %q", n, i, res[i].Result.Code, res[i].Result.Log, first[i].Result.Code, first[i].Result.Log)
			}
		}
	}
	return first
}

func (v *validators) job(id uint64) *app.OpmlJob {
	v.t.Helper()
	j, err := v.c().Job(id)
	if err != nil {
		v.t.Fatal(err)
	}
	return j
}

func (v *validators) until(h int64) {
	for v.c().Height() < h {
		v.send()
	}
}

func expectCode(t *testing.T, d opmlchain.Delivered, code uint32, reason string) {
	t.Helper()
	if d.Result.Code != code || !strings.Contains(d.Result.Log, reason) {
		t.Fatalf("%s: code %d %q, want code %d containing %q", d.Msg, d.Result.Code, d.Result.Log, code, reason)
	}
	if code != app.CodeOK {
		t.Logf("%s rejected (%d): %s", d.Msg, d.Result.Code, d.Result.Log)
	}
}

func teeSign(k ed25519.PrivateKey, job uint64, inputsRoot [32]byte, outs []tx.DataHash, sealed tx.DataHash) []byte {
	return ed25519.Sign(k, tx.TeeResultMessage(job, inputsRoot, outs, sealed))
}

// TestTeeJobs plays tee jobs through real blocks on four ledgers: only an
// attested, allowed, fresh worker is drawn; the requester delivers the
// sealed input; each bad result is rejected with its reason and pays
// nothing; a good one is final and paid in its own block; a stale
// attestation or a revoked measurement stops results; an undelivered input
// refunds the requester and frees the worker.
func TestTeeJobs(t *testing.T) {
	req, own := apptest.Key(50), apptest.Key(51)
	wa, wb, wc := newTeeWorker(t, 52), newTeeWorker(t, 53), newTeeWorker(t, 54)
	v := newValidators(t, req, own, wa.key, wb.key, wc.key)
	model := teeModelMsg(11)
	model.Fee = 70
	mid := hex.EncodeToString(model.ModelID[:])
	good := sim.New(sim.MeasurementOf("provena-worker v1"))
	meas := hex.EncodeToString(good.Measurement[:])
	const maxAge = 3600
	reqID := newTeeWorker(t, 50).x // the requester's own age key
	allow := tx.MsgTeeAllow{ModelID: mid, Kind: "sim", Measurement: meas}
	reg := func(w teeWorker, issued time.Time) tx.MsgTeeRegister {
		return tx.MsgTeeRegister{ModelID: mid, Kind: "sim", Quote: good.QuoteFor(w.pub, w.x, issued), SignKey: w.pub, X25519: w.x}
	}
	ok := func(res []opmlchain.Delivered) {
		t.Helper()
		for _, d := range res {
			expectCode(t, d, app.CodeOK, "")
		}
	}

	ok(v.send(own, tx.MsgTeeConfig{SimRoots: []string{hex.EncodeToString(sim.TestRootPublic())}, MaxAgeSecs: maxAge}, own, model,
		wa.key, tx.MsgRegisterWorker{Bond: 5000}, wb.key, tx.MsgRegisterWorker{Bond: 5000}))
	ok(v.send(own, allow))
	// wa's attestation counts until blockTime(12): fresh for job 1, stale
	// before job 2's result.
	ok(v.send(wa.key, reg(wa, blockTime(12).Add(-maxAge*time.Second))))

	// Block 4: job 1. Only wa is attested, so wa is drawn whatever the seed.
	in := tx.DataHash{0xaa}
	res := v.send(req, tx.MsgTeeSubmitJob{ModelID: model.ModelID, InputsRoot: in, WorkerFee: 100, Recipient: reqID},
		req, tx.MsgTeeSubmitJob{ModelID: [32]byte{99}, InputsRoot: in, Recipient: reqID})
	expectCode(t, res[0], app.CodeOK, "")
	expectCode(t, res[1], app.CodeOpmlUnknown, "not registered")
	j := v.job(1)
	if j.Mode != app.JobModeTee || j.State != app.OpmlJobAwaitingInput || j.Worker != apptest.Addr(wa.key) ||
		j.Private == nil || j.Private.WorkerKey != wa.x || j.Private.Tee == nil || !j.Private.Tee.Simulated || j.Deadline != 4+app.JobDeliverBlocks {
		t.Fatalf("job 1 after assignment: %+v %+v", j, j.Private)
	}

	// Block 5: delivery, only by the requester, once; results before it
	// are refused.
	outs := []tx.DataHash{{0x0b}}
	sealedOut := tx.DataHash{0x5e}
	post := tx.MsgTeePostResult{Job: 1, OutputRoots: outs, SealedOutput: sealedOut, Signature: teeSign(wa.key, 1, in, outs, sealedOut)}
	res = v.send(wa.key, post, wb.key, tx.MsgJobDeliverInput{Job: 1, Sealed: tx.DataHash{1}},
		req, tx.MsgJobDeliverInput{Job: 1, Sealed: tx.DataHash{0x5a}}, req, tx.MsgJobDeliverInput{Job: 1, Sealed: tx.DataHash{2}})
	expectCode(t, res[0], app.CodeOpmlState, "awaiting_input")
	expectCode(t, res[1], app.CodeJobDelivery, "only the requester")
	expectCode(t, res[2], app.CodeOK, "")
	expectCode(t, res[3], app.CodeOpmlState, "not awaiting its input")

	// Block 6: each bad result rejected, then the good one.
	balWa, _ := v.c().Balance(apptest.Addr(wa.key))
	balOwn, _ := v.c().Balance(apptest.Addr(own))
	wrongKey := post
	wrongKey.Signature = teeSign(wb.key, 1, in, outs, sealedOut)
	wrongJob := post
	wrongJob.Signature = teeSign(wa.key, 2, in, outs, sealedOut)
	wrongInput := post
	wrongInput.Signature = teeSign(wa.key, 1, [32]byte{0xbb}, outs, sealedOut)
	changedOutput := post
	changedOutput.OutputRoots = []tx.DataHash{{0x0c}}
	twoOutputs := post
	twoOutputs.OutputRoots = []tx.DataHash{{0x0b}, {0x0c}}
	twoOutputs.Signature = teeSign(wa.key, 1, in, twoOutputs.OutputRoots, sealedOut)
	res = v.send(wa.key, wrongKey, wa.key, wrongJob, wa.key, wrongInput, wa.key, changedOutput, wa.key, twoOutputs,
		wb.key, tx.MsgTeePostResult{Job: 1, OutputRoots: outs, SealedOutput: sealedOut, Signature: teeSign(wb.key, 1, in, outs, sealedOut)},
		wa.key, tx.MsgPostResult{Job: 1, Outputs: [][32]byte{{}}},
		wa.key, tx.MsgTeePostResult{Job: 9, OutputRoots: outs, SealedOutput: sealedOut, Signature: post.Signature},
		wa.key, post, wa.key, post)
	expectCode(t, res[0], app.CodeJobSignature, "does not verify under the attested key")
	expectCode(t, res[1], app.CodeJobSignature, "does not verify")
	expectCode(t, res[2], app.CodeJobSignature, "does not verify")
	expectCode(t, res[3], app.CodeJobSignature, "does not verify")
	expectCode(t, res[4], app.CodeOpmlBadResult, "the model has 1 outputs")
	expectCode(t, res[5], app.CodeOpmlNotAllowed, "is assigned to")
	expectCode(t, res[6], app.CodeJobMode, "is a tee job")
	expectCode(t, res[7], app.CodeOpmlUnknown, "no job 9")
	expectCode(t, res[8], app.CodeOK, "")
	expectCode(t, res[9], app.CodeOpmlState, "job 1 is posted") // final at the end of this block
	j = v.job(1)
	if j.State != app.OpmlJobFinal || j.Closed != 6 || j.Posted != 6 || j.Private.SealedOutput != app.OpmlHash(sealedOut) || len(j.OutputRoots) != 1 {
		t.Fatalf("job 1 after its result: state %s closed %d posted %d", j.State, j.Closed, j.Posted)
	}
	// Paid in the result's block: wa sent nine transactions (eight
	// rejected, which pay only their fee); it earned the worker fee. The
	// owner earned the model fee.
	if b, _ := v.c().Balance(apptest.Addr(wa.key)); b != balWa+100-9*opmlchain.Fee {
		t.Fatalf("worker balance %d, want %d", b, balWa+100-9*opmlchain.Fee)
	}
	if b, _ := v.c().Balance(apptest.Addr(own)); b != balOwn+70 {
		t.Fatalf("owner balance %d, want %d", b, balOwn+70)
	}

	// Block 7: a challenge cannot reach a tee result; the owner revokes the
	// measurement and job 2 finds nobody eligible.
	revoke := allow
	revoke.Revoke = true
	res = v.send(wb.key, tx.MsgChallenge{Job: 1, NodesRoot: [32]byte{3}}, own, revoke,
		req, tx.MsgTeeSubmitJob{ModelID: model.ModelID, InputsRoot: tx.DataHash{0xcc}, WorkerFee: 100, Recipient: reqID})
	expectCode(t, res[0], app.CodeOpmlState, "only posted results")
	ok(res[1:])
	if j = v.job(2); j.State != app.OpmlJobPending || !strings.Contains(j.Unassignable, "no longer allowed") || !strings.Contains(j.Unassignable, "has no attestation") {
		t.Fatalf("job 2 with the measurement revoked: %s %q", j.State, j.Unassignable)
	}
	// Block 8: allowed again, wa is drawn; block 9 delivers.
	ok(v.send(own, allow))
	if j = v.job(2); j.State != app.OpmlJobAwaitingInput || j.Worker != apptest.Addr(wa.key) {
		t.Fatalf("job 2: %s worker %s", j.State, j.Worker)
	}
	ok(v.send(req, tx.MsgJobDeliverInput{Job: 2, Sealed: tx.DataHash{0x5b}}, wc.key, tx.MsgRegisterWorker{Bond: 5000}, wc.key, reg(wc, blockTime(10))))
	// Block 10: the owner revokes the measurement before the result: it
	// no longer counts (block 11 allows it again).
	post2 := tx.MsgTeePostResult{Job: 2, OutputRoots: outs, SealedOutput: sealedOut, Signature: teeSign(wa.key, 2, [32]byte{0xcc}, outs, sealedOut)}
	res = v.send(own, revoke, wa.key, post2)
	expectCode(t, res[0], app.CodeOK, "")
	expectCode(t, res[1], app.CodeTeeNotAllowed, "no longer allowed")
	ok(v.send(own, allow))
	// Block 13: wa's attestation went stale at blockTime(12).
	v.until(12)
	res = v.send(wa.key, post2)
	expectCode(t, res[0], app.CodeTeeStale, "stale")
	// The worker misses its deadline (block 19): slashed at block 20, and
	// the job goes to wc, attested since block 9 (wa was tried).
	v.until(20)
	if j = v.job(2); j.State != app.OpmlJobAwaitingInput || j.Worker != apptest.Addr(wc.key) || j.Private.WorkerKey != wc.x || len(j.Tried) != 1 {
		t.Fatalf("job 2 after the missed deadline: %s worker %s tried %v", j.State, j.Worker, j.Tried)
	}
	// The requester never delivers to wc: refunded, wc freed.
	balReq, _ := v.c().Balance(apptest.Addr(req))
	v.until(20 + app.JobDeliverBlocks + 1)
	if j = v.job(2); j.State != app.OpmlJobRefunded || !strings.Contains(j.Reason, "did not deliver") {
		t.Fatalf("job 2: %s %q", j.State, j.Reason)
	}
	if b, _ := v.c().Balance(apptest.Addr(req)); b != balReq+170 {
		t.Fatalf("requester balance %d, want %d (refund of 170)", b, balReq+170)
	}
	var w app.OpmlWorker
	if ok, err := v.c().Query(app.QueryOpmlWorker, []byte(apptest.Addr(wc.key).String()), &w); err != nil || !ok || w.Job != 0 {
		t.Fatalf("wc after the refund: %+v %v %v", w, ok, err)
	}
}
