package quant

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/model"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
)

func randT(r *rand.Rand, scale float64, shape ...int) *tensor.Tensor {
	t, _ := tensor.New(tensor.Float32, shape)
	for i := range t.F32 {
		t.F32[i] = float32(r.NormFloat64() * scale)
	}
	return t
}

func uniformT(r *rand.Rand, shape ...int) *tensor.Tensor {
	t, _ := tensor.New(tensor.Float32, shape)
	for i := range t.F32 {
		t.F32[i] = float32(r.Float64())
	}
	return t
}

func at(kv ...any) ops.Attrs {
	a := ops.Attrs{ops.OpsetAttr: {Kind: ops.AttrInt, Int: 13}}
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case int:
			a[kv[i].(string)] = ops.Attr{Kind: ops.AttrInt, Int: int64(v)}
		case float32:
			a[kv[i].(string)] = ops.Attr{Kind: ops.AttrFloat, Float: v}
		case []int64:
			a[kv[i].(string)] = ops.Attr{Kind: ops.AttrInts, Ints: v}
		}
	}
	return a
}

// mlp is Flatten -> Gemm(transB) -> Relu -> Gemm(alpha 0.5, [1,10] bias),
// the shape of the MNIST MLP at a smaller size.
func mlp(t testing.TB) *model.Model {
	r := rand.New(rand.NewPCG(1, 2))
	m := &model.Model{
		Name: "mlp", Opset: 13,
		Inputs:  []model.ValueInfo{{Name: "x", DType: tensor.Float32, Shape: []int{1, 1, 8, 8}}},
		Outputs: []model.ValueInfo{{Name: "logits", DType: tensor.Float32, Shape: []int{1, 10}}},
		Nodes: []model.Node{
			{Name: "flat", OpType: "Flatten", Inputs: []string{"x"}, Outputs: []string{"f"}, Attrs: at("axis", 1)},
			{Name: "fc1", OpType: "Gemm", Inputs: []string{"f", "w1", "b1"}, Outputs: []string{"h"}, Attrs: at("transB", 1)},
			{Name: "relu", OpType: "Relu", Inputs: []string{"h"}, Outputs: []string{"hr"}, Attrs: at()},
			{Name: "fc2", OpType: "Gemm", Inputs: []string{"hr", "w2", "b2"}, Outputs: []string{"logits"}, Attrs: at("alpha", float32(0.5))},
		},
		Weights: []model.Weight{
			{Name: "w1", Tensor: randT(r, 0.2, 32, 64)},
			{Name: "b1", Tensor: randT(r, 0.1, 32)},
			{Name: "w2", Tensor: randT(r, 0.3, 32, 10)},
			{Name: "b2", Tensor: randT(r, 0.1, 1, 10)},
		},
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

// cnn covers Conv with pads, Relu, Clip (opset 13 inputs), a residual Add
// with a folded Relu, MaxPool, Reshape and MatMul + bias Add.
func cnn(t testing.TB) *model.Model {
	r := rand.New(rand.NewPCG(3, 4))
	lo, hi := &tensor.Tensor{DType: tensor.Float32, F32: []float32{0}}, &tensor.Tensor{DType: tensor.Float32, F32: []float32{2}}
	m := &model.Model{
		Name: "cnn", Opset: 13,
		Inputs:  []model.ValueInfo{{Name: "x", DType: tensor.Float32, Shape: []int{1, 2, 10, 10}}},
		Outputs: []model.ValueInfo{{Name: "y", DType: tensor.Float32, Shape: []int{1, 10}}},
		Nodes: []model.Node{
			{Name: "c1", OpType: "Conv", Inputs: []string{"x", "cw1", "cb1"}, Outputs: []string{"c1"}, Attrs: at("pads", []int64{1, 1, 1, 1})},
			{Name: "r1", OpType: "Relu", Inputs: []string{"c1"}, Outputs: []string{"r1"}, Attrs: at()},
			{Name: "c2", OpType: "Conv", Inputs: []string{"r1", "cw2", "cb2"}, Outputs: []string{"c2"}, Attrs: at("pads", []int64{1, 1, 1, 1}, "strides", []int64{1, 1})},
			{Name: "clip", OpType: "Clip", Inputs: []string{"c2", "lo", "hi"}, Outputs: []string{"k"}, Attrs: at()},
			{Name: "res", OpType: "Add", Inputs: []string{"r1", "k"}, Outputs: []string{"s"}, Attrs: at()},
			{Name: "r2", OpType: "Relu", Inputs: []string{"s"}, Outputs: []string{"r2"}, Attrs: at()},
			{Name: "pool", OpType: "MaxPool", Inputs: []string{"r2"}, Outputs: []string{"p"}, Attrs: at("kernel_shape", []int64{2, 2}, "strides", []int64{2, 2})},
			{Name: "flat", OpType: "Reshape", Inputs: []string{"p", "shape"}, Outputs: []string{"f"}, Attrs: at()},
			{Name: "mm", OpType: "MatMul", Inputs: []string{"f", "mw"}, Outputs: []string{"mmo"}, Attrs: at()},
			{Name: "bias", OpType: "Add", Inputs: []string{"mmo", "mb"}, Outputs: []string{"y"}, Attrs: at()},
		},
		Weights: []model.Weight{
			{Name: "cw1", Tensor: randT(r, 0.4, 4, 2, 3, 3)},
			{Name: "cb1", Tensor: randT(r, 0.1, 4)},
			{Name: "cw2", Tensor: randT(r, 0.3, 4, 4, 3, 3)},
			{Name: "cb2", Tensor: randT(r, 0.1, 4)},
			{Name: "lo", Tensor: lo},
			{Name: "hi", Tensor: hi},
			{Name: "shape", Tensor: &tensor.Tensor{DType: tensor.Int64, Shape: []int{2}, I64: []int64{1, -1}}},
			{Name: "mw", Tensor: randT(r, 0.2, 100, 10)},
			{Name: "mb", Tensor: randT(r, 0.1, 10)},
		},
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

func samples(m *model.Model, n int, seed uint64) []map[string]*tensor.Tensor {
	r := rand.New(rand.NewPCG(seed, 9))
	out := make([]map[string]*tensor.Tensor, n)
	for i := range out {
		out[i] = map[string]*tensor.Tensor{m.Inputs[0].Name: uniformT(r, m.Inputs[0].Shape...)}
	}
	return out
}

// floatLabels evaluates with the float model's own top-1 as the label, so
// QuantAcc is the agreement and FloatAcc must be 1.
func floatLabels(t *testing.T, m *model.Model, xs []map[string]*tensor.Tensor) Sample {
	labels := make([]int, len(xs))
	for i, x := range xs {
		out, err := classify(m, x[m.Inputs[0].Name])
		if err != nil {
			t.Fatal(err)
		}
		labels[i] = argmax(out.F32)
	}
	return func(i int) (*tensor.Tensor, int, error) { return xs[i][m.Inputs[0].Name], labels[i], nil }
}

func quantize(t *testing.T, m *model.Model, opts Options) (*model.Model, *Report) {
	t.Helper()
	cal, err := Calibrate(m, samples(m, 200, 1), opts)
	if err != nil {
		t.Fatal(err)
	}
	q, rep, err := Quantize(m, cal, opts)
	if err != nil {
		t.Fatal(err)
	}
	return q, rep
}

func opTypes(m *model.Model) string {
	var s []string
	for _, n := range m.Nodes {
		s = append(s, n.OpType)
	}
	return strings.Join(s, " ")
}

func checkAgreement(t *testing.T, f, q *model.Model, minAgree float64) *Accuracy {
	t.Helper()
	xs := samples(f, 300, 2)
	acc, err := Evaluate(f, q, len(xs), floatLabels(t, f, xs), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acc.FloatCorrect != acc.N || acc.QuantCorrect != acc.Agree {
		t.Fatalf("float labels: %+v", acc)
	}
	if acc.Agreement < minAgree || acc.MaxAbsDiff > 0.1*acc.MaxAbsFloat {
		t.Fatalf("quantized model too far from float: %+v", acc)
	}
	t.Logf("agreement %.3f, max |diff| %.4f of max |y| %.3f", acc.Agreement, acc.MaxAbsDiff, acc.MaxAbsFloat)
	return acc
}

func TestQuantizeMLP(t *testing.T) {
	f := mlp(t)
	q, rep := quantize(t, f, Options{})
	if got := opTypes(q); got != "QQuantize Flatten QGemm QGemm QDequantize" {
		t.Fatalf("ops %s", got)
	}
	g1, g2 := q.Nodes[2], q.Nodes[3]
	if g1.Attrs["lo"].Int != 0 || g1.Attrs["hi"].Int != 127 || len(g1.Attrs["mult"].Ints) != 32 {
		t.Fatalf("fc1 attrs %v", g1.Attrs)
	}
	if g2.Attrs["out_int32"].Int != 1 || q.Nodes[4].InMetas[0].DType != tensor.Int32 {
		t.Fatalf("fc2 should keep its int32 accumulator: %v", g2.Attrs)
	}
	if len(rep.Layers) != 2 || rep.Layers[0].AccBound <= 0 || !rep.Layers[1].Int32Out || rep.Samples != 200 {
		t.Fatalf("report %+v", rep)
	}
	if from := strings.Join(rep.Layers[0].From, ","); from != "fc1,relu" {
		t.Fatalf("fc1 folded %s", from)
	}
	checkAgreement(t, f, q, 0.97)

	q8, _ := quantize(t, f, Options{Int8Outputs: true})
	if q8.Nodes[3].Attrs["out_int32"].Int != 0 || q8.Nodes[4].InMetas[0].DType != tensor.Int8 {
		t.Fatalf("Int8Outputs: %v", q8.Nodes[3].Attrs)
	}
	checkAgreement(t, f, q8, 0.9)
}

func TestQuantizeCNN(t *testing.T) {
	f := cnn(t)
	q, rep := quantize(t, f, Options{})
	if got := opTypes(q); got != "QQuantize QConv QConv QAdd QMaxPool Reshape QGemm QDequantize" {
		t.Fatalf("ops %s", got)
	}
	c2 := q.Nodes[2]
	// Clip(0, 2) folds to lo 0 and hi round(2/s_out) (the clip output's
	// calibrated max is at most 2, so hi is 127 here).
	if c2.Attrs["lo"].Int != 0 || c2.Attrs["hi"].Int != 127 {
		t.Fatalf("clip fold: %v", c2.Attrs)
	}
	if add := q.Nodes[3]; add.Attrs["lo"].Int != 0 {
		t.Fatalf("relu after add not folded: %v", add.Attrs)
	}
	if from := strings.Join(rep.Layers[len(rep.Layers)-1].From, ","); from != "mm,bias" {
		t.Fatalf("matmul bias fold: %s", from)
	}
	checkAgreement(t, f, q, 0.95)
}

// TestQuantizedModelIsAnOrdinaryPackage: encodes and decodes to the same
// id, quantizes deterministically, runs identically on 1 and 4 threads,
// and every node's elements survive one-step proofs (opML disputes work on
// quantized models).
func TestQuantizedModelIsAnOrdinaryPackage(t *testing.T) {
	f := cnn(t)
	q, _ := quantize(t, f, Options{})
	q2, _ := quantize(t, f, Options{})
	if q.ID() != q2.ID() {
		t.Fatal("quantization is not deterministic")
	}
	d, err := model.Decode(q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if d.ID() != q.ID() {
		t.Fatal("decoded id differs")
	}
	x := samples(f, 1, 77)[0]
	r1, err := infer.Run(q, x, infer.Options{Threads: 1, Trace: true, KeepOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	r4, err := infer.Run(d, x, infer.Options{Threads: 4, Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	if r1.Trace.Root != r4.Trace.Root {
		t.Fatal("trace roots differ between 1 and 4 threads")
	}
	for i := range q.Nodes {
		out := r1.NodeOutputs[i][0]
		for _, flat := range []int{0, out.Len() / 2, out.Len() - 1} {
			v, p, err := infer.RecomputeElement(q, r1, i, 0, flat)
			if err != nil {
				t.Fatalf("node %d: %v", i, err)
			}
			res, err := infer.VerifyStep(q.ID(), r1.Trace.Root, p)
			if err != nil || !res.Match || v != out.Bits(flat) {
				t.Fatalf("node %d (%s) element %d: %v %+v", i, q.Nodes[i].OpType, flat, err, res)
			}
		}
	}
}

func TestQuantizeErrors(t *testing.T) {
	cal := func(m *model.Model) *Calibration {
		c, err := Calibrate(m, samples(m, 3, 5), Options{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// Softmax at the end: not supported, named.
	f := mlp(t)
	f.Nodes[3].Outputs[0] = "z"
	f.Nodes = append(f.Nodes, model.Node{Name: "sm", OpType: "Softmax", Inputs: []string{"z"}, Outputs: []string{"logits"}, Attrs: at("axis", 1)})
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Quantize(f, cal(f), Options{}); err == nil || !strings.Contains(err.Error(), `Softmax "sm"`) {
		t.Fatalf("softmax: %v", err)
	}
	// Relu after MaxPool has nothing to fold into.
	c := cnn(t)
	c.Nodes[6].Outputs[0] = "p0"
	c.Nodes = append(c.Nodes[:7], append([]model.Node{{Name: "late", OpType: "Relu", Inputs: []string{"p0"}, Outputs: []string{"p"}, Attrs: at()}}, c.Nodes[7:]...)...)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Quantize(c, cal(c), Options{}); err == nil || !strings.Contains(err.Error(), `Relu "late"`) {
		t.Fatalf("late relu: %v", err)
	}
	// K = 140000 weights of one magnitude: 128*127*K > 2^31.
	const K = 140000
	w := &tensor.Tensor{DType: tensor.Float32, Shape: []int{1, K}, F32: make([]float32, K)}
	for i := range w.F32 {
		w.F32[i] = 1
	}
	big := &model.Model{Name: "big", Opset: 13,
		Inputs:  []model.ValueInfo{{Name: "x", DType: tensor.Float32, Shape: []int{1, K}}},
		Outputs: []model.ValueInfo{{Name: "y", DType: tensor.Float32, Shape: []int{1, 1}}},
		Nodes:   []model.Node{{Name: "fc", OpType: "Gemm", Inputs: []string{"x", "w"}, Outputs: []string{"y"}, Attrs: at("transB", 1)}},
		Weights: []model.Weight{{Name: "w", Tensor: w}},
	}
	if err := big.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Quantize(big, cal(big), Options{}); err == nil || !strings.Contains(err.Error(), "accumulator bound") {
		t.Fatalf("accumulator bound: %v", err)
	}
	// A calibration of another model has no ranges for this one.
	if _, _, err := Quantize(f, cal(big), Options{}); err == nil || !strings.Contains(err.Error(), "no calibration range") {
		t.Fatalf("foreign calibration: %v", err)
	}
	if _, _, err := Quantize(f, nil, Options{}); err == nil {
		t.Fatal("nil calibration accepted")
	}
}

func TestMultShift(t *testing.T) {
	for _, c := range []struct {
		m           float64
		mult, shift int64
		err         bool
	}{
		{0.5, 1 << 30, 31, false},
		{1, 1 << 30, 30, false},
		{0.75, 3 << 29, 31, false},
		{math.Ldexp(1, -40), 1 << 22, 62, false},
		{math.Ldexp(1, 29), 1 << 30, 1, false},
		{1.0 / 3, 1431655765, 32, false}, // round(2^32/3)
		{math.Ldexp(1, -70), 0, 0, true},
		{math.Ldexp(1, 30), 0, 0, true},
		{0, 0, 0, true},
		{math.NaN(), 0, 0, true},
	} {
		m, s, err := MultShift(c.m)
		if (err != nil) != c.err || m != c.mult || s != c.shift {
			t.Errorf("MultShift(%g) = %d, %d, %v; want %d, %d, err %v", c.m, m, s, err, c.mult, c.shift, c.err)
		}
	}
}

func TestLoadSamples(t *testing.T) {
	m := mlp(t)
	dir := t.TempDir()
	xs := samples(m, 3, 4)
	for i, name := range []string{"b.npy", "a.npy", "c.NPY"} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := npy.Write(f, xs[i]["x"]); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	os.WriteFile(filepath.Join(dir, "labels.txt"), []byte("1\n"), 0o644)
	got, err := LoadSamples(m, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0]["x"].F32[0] != xs[1]["x"].F32[0] || got[1]["x"].F32[0] != xs[0]["x"].F32[0] {
		t.Fatal("samples not read in name order")
	}
	f, _ := os.Create(filepath.Join(dir, "d.npy"))
	npy.Write(f, &tensor.Tensor{DType: tensor.Float32, Shape: []int{2}, F32: []float32{1, 2}})
	f.Close()
	if _, err := LoadSamples(m, dir); err == nil || !strings.Contains(err.Error(), "d.npy") {
		t.Fatalf("wrong shape: %v", err)
	}
	if _, err := LoadSamples(m, t.TempDir()); err == nil {
		t.Fatal("empty directory accepted")
	}
}
