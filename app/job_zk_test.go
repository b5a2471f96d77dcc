package app_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
	"github.com/provena/provena/tx"
	"github.com/provena/provena/zk"
)

// toyCircuit has the layout of a chain job (public input commitment and
// outputs; private weights under the circuit's first commitment, whose
// mask is the owner's blinding) around a tiny statement, so the chain's
// checks are tested without compiling a model: the outputs are s²+w₀ and
// s+w₁·w₂ for a private s.
type toyCircuit struct {
	I frontend.Variable    `gnark:",public"`
	O [2]frontend.Variable `gnark:",public"`
	W [3]frontend.Variable
	S frontend.Variable
}

func (c *toyCircuit) Define(api frontend.API) error {
	if _, err := api.(frontend.Committer).Commit(c.W[:]...); err != nil {
		return err
	}
	api.AssertIsDifferent(c.I, 0)
	api.AssertIsEqual(c.O[0], api.Add(api.Mul(c.S, c.S), c.W[0]))
	api.AssertIsEqual(c.O[1], api.Add(c.S, api.Mul(c.W[1], c.W[2])))
	return nil
}

type toyKeys struct {
	ccs      constraint.ConstraintSystem
	pk       groth16.ProvingKey
	vk       []byte
	blinding zk.FieldBytes
}

func newToyKeys(t *testing.T) *toyKeys {
	t.Helper()
	ccs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, &toyCircuit{})
	if err != nil {
		t.Fatal(err)
	}
	if err := zk.BindWeightsMask(ccs); err != nil {
		t.Fatal(err)
	}
	pk, vk, err := groth16.Setup(ccs)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := vk.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	blinding, err := zk.NewBlinding()
	if err != nil {
		t.Fatal(err)
	}
	return &toyKeys{ccs, pk, b.Bytes(), blinding}
}

// prove proves the toy statement for weights w and returns the proof and
// the weights commitment it carries.
func (k *toyKeys) prove(t *testing.T, w [3]int64, in tx.DataHash, s int64) ([]byte, []byte) {
	t.Helper()
	fi, err := zk.FieldBytes(in).Element()
	if err != nil {
		t.Fatal(err)
	}
	wit, err := frontend.NewWitness(&toyCircuit{I: fi, O: [2]frontend.Variable{s*s + w[0], s + w[1]*w[2]}, W: [3]frontend.Variable{w[0], w[1], w[2]}, S: s}, ecc.BN254.ScalarField())
	if err != nil {
		t.Fatal(err)
	}
	mask, err := zk.WeightsMaskOption(k.blinding)
	if err != nil {
		t.Fatal(err)
	}
	p, err := groth16.Prove(k.ccs, k.pk, wit, mask)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := p.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	c := p.(*groth16bn254.Proof).Commitments[0].RawBytes()
	return b.Bytes(), c[:]
}

func proofOnly(proof, _ []byte) []byte { return proof }

func commitOf(t *testing.T, vals ...int64) tx.DataHash {
	t.Helper()
	c, err := zk.Commit(vals)
	if err != nil {
		t.Fatal(err)
	}
	return tx.DataHash(c)
}

// TestZkJobs registers a circuit and plays a zk job through real blocks on
// four ledgers: only the owner registers, only a key that decodes; only the
// named prover is drawn; a malformed proof, a proof for another input, for
// another model's weights, or with other outputs is rejected with its
// reason and pays nothing; a valid one is final and paid in its block.
func TestZkJobs(t *testing.T) {
	req, own, prover, other := apptest.Key(70), apptest.Key(71), apptest.Key(72), apptest.Key(73)
	v := newValidators(t, req, own, prover, other)
	keys := newToyKeys(t)
	w1, w2 := [3]int64{1, 2, 3}, [3]int64{4, 5, 6}
	input, input2 := commitOf(t, 7), commitOf(t, 8)
	good, weights := keys.prove(t, w1, input, 6)
	if _, again := keys.prove(t, w1, input2, 5); !bytes.Equal(again, weights) {
		t.Fatal("the weights commitment differs between two proofs")
	}
	reqKey := newTeeWorker(t, 70).x
	proverKey := newTeeWorker(t, 72).x
	model := teeModelMsg(21)
	model.Fee = 40
	reg := tx.MsgZkRegister{ModelID: model.ModelID, System: "groth16", VerifyingKey: keys.vk, WeightsCommit: weights, Prover: apptest.Addr(prover), ProverKey: proverKey}
	// A flipped bit inside a compressed BN254 G1 point often gives another
	// valid point (cofactor 1), so the malformed keys are structural: cut
	// short, and bytes that are no key at all.
	badKey := reg
	badKey.VerifyingKey = keys.vk[:len(keys.vk)-1]
	garbage := reg
	garbage.VerifyingKey = bytes.Repeat([]byte{0xff}, len(keys.vk))
	plonkKey := reg
	plonkKey.System = "plonk"
	offCurve := reg
	offCurve.WeightsCommit = append(append([]byte(nil), weights[:63]...), weights[63]^1)
	submit := tx.MsgZkSubmitJob{ModelID: model.ModelID, InputCommit: input, WorkerFee: 100, Recipient: reqKey}

	res := v.send(own, model, prover, tx.MsgRegisterWorker{Bond: 5000}, other, tx.MsgRegisterWorker{Bond: 5000}, req, submit)
	for _, d := range res[:3] {
		expectCode(t, d, app.CodeOK, "")
	}
	expectCode(t, res[3], app.CodeZkUnknown, "no zk circuit registered")
	res = v.send(other, reg, own, badKey, own, garbage, own, plonkKey, own, offCurve, own, reg, own, reg)
	expectCode(t, res[0], app.CodeZkNotOwner, "only the owner")
	expectCode(t, res[1], app.CodeZkBadKey, "verifying key")
	expectCode(t, res[2], app.CodeZkBadKey, "verifying key")
	expectCode(t, res[3], app.CodeZkBadKey, "plonk is not accepted")
	expectCode(t, res[4], app.CodeZkBadKey, "weights commitment")
	expectCode(t, res[5], app.CodeOK, "")
	expectCode(t, res[6], app.CodeZkExists, "already has a groth16 circuit")
	var z app.ZkModel
	if ok, err := v.c().Query(app.QueryZkModel, []byte(hex.EncodeToString(model.ModelID[:])), &z); err != nil || !ok || z.Prover != apptest.Addr(prover) || !bytes.Equal(z.VerifyingKey, keys.vk) {
		t.Fatalf("zk model query: %+v %v %v", z, ok, err)
	}

	// Job 1: only the prover is drawn (other is bonded but not named).
	expectCode(t, v.send(req, submit)[0], app.CodeOK, "")
	j := v.job(1)
	if j.Mode != app.JobModeZk || j.State != app.OpmlJobAwaitingInput || j.Worker != apptest.Addr(prover) || j.Private.WorkerKey != proverKey {
		t.Fatalf("zk job after assignment: %s %s worker %s", j.Mode, j.State, j.Worker)
	}
	expectCode(t, v.send(req, tx.MsgJobDeliverInput{Job: 1, Sealed: tx.DataHash{0x5a}})[0], app.CodeOK, "")
	// proving takes seconds: a zk job's result window is its own, longer one
	if j = v.job(1); j.State != app.OpmlJobAssigned || j.Deadline != j.Private.Delivered+app.DefaultOpmlParams().ZkResultBlocks || app.DefaultOpmlParams().ZkResultBlocks <= app.DefaultOpmlParams().ResultBlocks {
		t.Fatalf("zk job after delivery: %s, delivered at %d, deadline %d", j.State, j.Private.Delivered, j.Deadline)
	}

	balP, _ := v.c().Balance(apptest.Addr(prover))
	balOwn, _ := v.c().Balance(apptest.Addr(own))
	out := []int64{37, 12}
	post := func(proof []byte, o []int64) tx.MsgZkPostResult {
		return tx.MsgZkPostResult{Job: 1, Proof: proof, Output: o, SealedOutput: tx.DataHash{0x5e}}
	}
	truncated := good[:len(good)-3]
	flipped := append([]byte(nil), good...)
	flipped[10] ^= 0x01
	res = v.send(
		prover, post([]byte("not a proof"), out),
		prover, post(truncated, out),
		prover, post(flipped, out),
		prover, post(proofOnly(keys.prove(t, w1, input2, 6)), out), // another input
		prover, post(proofOnly(keys.prove(t, w2, input, 6)), []int64{40, 36}), // another model's weights
		prover, post(good, []int64{37, 13}), // outputs other than proved
		prover, post(good, []int64{37}),
		other, post(good, out),
		prover, tx.MsgTeePostResult{Job: 1, OutputRoots: []tx.DataHash{{1}}, SealedOutput: tx.DataHash{1}, Signature: make([]byte, 64)},
		prover, post(good, out),
	)
	for i := range 7 {
		expectCode(t, res[i], app.CodeZkBadProof, "proof rejected")
	}
	expectCode(t, res[7], app.CodeOpmlNotAllowed, "is assigned to")
	expectCode(t, res[8], app.CodeJobMode, "is a zk job, not tee")
	expectCode(t, res[9], app.CodeOK, "")
	j = v.job(1)
	if j.State != app.OpmlJobFinal || j.Closed != j.Posted || len(j.Private.Output) != 2 || j.Private.Output[0] != 37 || j.Private.ProofBytes != len(good) {
		t.Fatalf("zk job after its result: %s closed %d posted %d output %v", j.State, j.Closed, j.Posted, j.Private.Output)
	}
	// The prover paid nine transactions' fees and earned the worker fee.
	if b, _ := v.c().Balance(apptest.Addr(prover)); b != balP+100-9*10 {
		t.Fatalf("prover balance %d, want %d", b, balP+100-90)
	}
	if b, _ := v.c().Balance(apptest.Addr(own)); b != balOwn+40 {
		t.Fatalf("owner balance %d, want %d", b, balOwn+40)
	}
}
