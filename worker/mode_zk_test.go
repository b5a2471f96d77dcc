package worker

import (
	"math/rand/v2"
	"testing"

	"github.com/provena/provena/app"
	"github.com/provena/provena/model"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/quant"
	"github.com/provena/provena/tensor"
	"github.com/provena/provena/zk"
)

func randTensor(r *rand.Rand, scale float64, uniform bool, shape ...int) *tensor.Tensor {
	t, _ := tensor.New(tensor.Float32, shape)
	for i := range t.F32 {
		if uniform {
			t.F32[i] = float32(r.Float64())
		} else {
			t.F32[i] = float32(r.NormFloat64() * scale)
		}
	}
	return t
}

func attrs(kv ...any) ops.Attrs {
	a := ops.Attrs{ops.OpsetAttr: {Kind: ops.AttrInt, Int: 13}}
	for i := 0; i < len(kv); i += 2 {
		a[kv[i].(string)] = ops.Attr{Kind: ops.AttrInt, Int: int64(kv[i+1].(int))}
	}
	return a
}

// tinyQuantized is a 16-8-4 MLP quantized by package quant: small enough
// that its circuit's setup and proof take well under a second.
func tinyQuantized(t *testing.T) (*model.Model, map[string]*tensor.Tensor) {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 6))
	f := &model.Model{
		Name: "tiny-mlp", Opset: 13,
		Inputs:  []model.ValueInfo{{Name: "x", DType: tensor.Float32, Shape: []int{1, 1, 4, 4}}},
		Outputs: []model.ValueInfo{{Name: "logits", DType: tensor.Float32, Shape: []int{1, 4}}},
		Nodes: []model.Node{
			{Name: "flat", OpType: "Flatten", Inputs: []string{"x"}, Outputs: []string{"f"}, Attrs: attrs("axis", 1)},
			{Name: "fc1", OpType: "Gemm", Inputs: []string{"f", "w1", "b1"}, Outputs: []string{"h"}, Attrs: attrs("transB", 1)},
			{Name: "relu", OpType: "Relu", Inputs: []string{"h"}, Outputs: []string{"hr"}, Attrs: attrs()},
			{Name: "fc2", OpType: "Gemm", Inputs: []string{"hr", "w2", "b2"}, Outputs: []string{"logits"}, Attrs: attrs("transB", 1)},
		},
		Weights: []model.Weight{
			{Name: "w1", Tensor: randTensor(r, 0.4, false, 8, 16)},
			{Name: "b1", Tensor: randTensor(r, 0.1, false, 8)},
			{Name: "w2", Tensor: randTensor(r, 0.4, false, 4, 8)},
			{Name: "b2", Tensor: randTensor(r, 0.1, false, 4)},
		},
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	var cal []map[string]*tensor.Tensor
	for range 32 {
		cal = append(cal, map[string]*tensor.Tensor{"x": randTensor(r, 0, true, 1, 1, 4, 4)})
	}
	c, err := quant.Calibrate(f, cal, quant.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := quant.Quantize(f, c, quant.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return q, map[string]*tensor.Tensor{"x": randTensor(r, 0, true, 1, 1, 4, 4)}
}

// TestModesDemoZk runs one quantized model in all three modes: the zk job
// is drawn to the owner's worker (the prover), proved, verified on chain and
// final in its block; its public output is the circuit's, the requester's
// commitment is the prover's statement's, and the decrypted output equals
// the optimistic one.
func TestModesDemoZk(t *testing.T) {
	m, in := tinyQuantized(t)
	setup, err := InsecureDevZkSetup(m, zk.Groth16)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := ModesDemo(m, in, setup, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 || runs[2].Mode != app.JobModeZk {
		t.Fatalf("runs %+v", runs)
	}
	opt, z := runs[0], runs[2]
	j := z.Job
	if j.Posted != j.Closed || j.Private == nil || j.Private.ZkSystem != zk.Groth16 || j.Private.ProofBytes == 0 || z.Blocks >= opt.Blocks {
		t.Fatalf("zk job: posted %d closed %d private %+v blocks %d", j.Posted, j.Closed, j.Private, z.Blocks)
	}
	g, err := zk.FromModel(m)
	if err != nil {
		t.Fatal(err)
	}
	xq, err := zk.QuantizeInput(m, in["x"])
	if err != nil {
		t.Fatal(err)
	}
	want, err := g.Outputs(xq)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != len(j.Private.Output) {
		t.Fatalf("public output %v, circuit %v", j.Private.Output, want)
	}
	for i := range want {
		if want[i] != j.Private.Output[i] {
			t.Fatalf("public output %v, circuit %v", j.Private.Output, want)
		}
	}
	c, err := ZkInputCommit(m, in["x"])
	if err != nil || c != [32]byte(j.Private.InputCommit) {
		t.Fatalf("input commitment %x on chain, %x computed (%v)", j.Private.InputCommit, c, err)
	}
	if model.ValueRoot(opt.Outputs["logits"], 0) != model.ValueRoot(z.Outputs["logits"], 0) {
		t.Fatal("zk job's sealed output differs from the optimistic job's")
	}
}
