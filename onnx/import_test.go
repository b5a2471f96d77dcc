package onnx

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/model"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
)

func requireOps(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, ok := ops.Lookup(n); !ok {
			t.Skipf("operator %s not registered yet", n)
		}
	}
}

func seq(n int, scale float32, off float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((i*37)%11-5)*scale + off
	}
	return v
}

// convBNRelu is x[N,2,5,5] -> Conv(3x3, pad 1, bias) -> BN -> Relu -> y.
func convBNRelu(raw bool) []byte {
	return modelBytes(13, graphSpec{
		nodes: [][]byte{
			node("Conv", "conv", []string{"x", "w", "b"}, []string{"c"}, attrIs("pads", 1, 1, 1, 1), attrIs("kernel_shape", 3, 3)),
			node("BatchNormalization", "bn", []string{"c", "gamma", "beta", "mean", "var"}, []string{"n"}, attrF("epsilon", 1e-3)),
			node("Relu", "relu", []string{"n"}, []string{"y"}),
		},
		inits: [][]byte{
			tensorF("w", []int64{3, 2, 3, 3}, seq(54, 0.1, 0), raw),
			tensorF("b", []int64{3}, []float32{0.5, -0.25, 0}, raw),
			tensorF("gamma", []int64{3}, []float32{1.5, 0.5, 2}, raw),
			tensorF("beta", []int64{3}, []float32{0.1, -0.2, 0.3}, raw),
			tensorF("mean", []int64{3}, []float32{0.05, 0.1, -0.1}, raw),
			tensorF("var", []int64{3}, []float32{0.9, 1.1, 0.25}, raw),
			tensorF("unused", []int64{2}, []float32{1, 2}, raw),
		},
		inputs:  [][]byte{vinfo("x", tFloat, "N", 2, 5, 5), vinfo("w", tFloat, 3, 2, 3, 3)},
		outputs: [][]byte{vinfo("y", tFloat, "N", 3, 5, 5)},
	})
}

func TestConvBatchNormFold(t *testing.T) {
	requireOps(t, "Conv", "Relu")
	for _, raw := range []bool{true, false} {
		m, err := Import(convBNRelu(raw), Options{InputShapes: map[string][]int{"x": {1, 2, 5, 5}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Nodes) != 2 || m.Nodes[0].OpType != "Conv" || m.Nodes[1].OpType != "Relu" {
			t.Fatalf("nodes: %+v", m.Summary().Ops)
		}
		if _, ok := m.Weight("unused"); ok {
			t.Fatal("unused initializer kept")
		}
		if m.Nodes[0].Attrs[ops.OpsetAttr].Int != 13 {
			t.Fatal("_opset not set")
		}
		w, _ := m.Weight(m.Nodes[0].Inputs[1])
		b, _ := m.Weight(m.Nodes[0].Inputs[2])
		// The documented fold order, in float32.
		gamma, beta, mean, vr := []float32{1.5, 0.5, 2}, []float32{0.1, -0.2, 0.3}, []float32{0.05, 0.1, -0.1}, []float32{0.9, 1.1, 0.25}
		w0, b0 := seq(54, 0.1, 0), []float32{0.5, -0.25, 0}
		for c := 0; c < 3; c++ {
			s := gamma[c] / float32(math.Sqrt(float64(vr[c]+1e-3)))
			for k := 0; k < 18; k++ {
				if w.F32[c*18+k] != w0[c*18+k]*s {
					t.Fatalf("w[%d] not folded in the documented order", c*18+k)
				}
			}
			if want := float32((b0[c]-mean[c])*s) + beta[c]; b.F32[c] != want {
				t.Fatalf("b[%d] = %v, want %v", c, b.F32[c], want)
			}
		}
		x, _ := tensor.New(tensor.Float32, []int{1, 2, 5, 5})
		copy(x.F32, seq(50, 0.3, 0.1))
		res, err := infer.Run(m, map[string]*tensor.Tensor{"x": x}, infer.Options{Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		y := res.Outputs["y"]
		// Reference: unfolded conv, BN, relu in float64.
		for c := 0; c < 3; c++ {
			for i := 0; i < 5; i++ {
				for j := 0; j < 5; j++ {
					acc := float64(b0[c])
					for ci := 0; ci < 2; ci++ {
						for di := 0; di < 3; di++ {
							for dj := 0; dj < 3; dj++ {
								ii, jj := i+di-1, j+dj-1
								if ii < 0 || jj < 0 || ii >= 5 || jj >= 5 {
									continue
								}
								acc += float64(w0[((c*2+ci)*3+di)*3+dj]) * float64(x.F32[(ci*5+ii)*5+jj])
							}
						}
					}
					v := (acc-float64(mean[c]))/math.Sqrt(float64(vr[c])+1e-3)*float64(gamma[c]) + float64(beta[c])
					v = math.Max(v, 0)
					if got := float64(y.F32[(c*5+i)*5+j]); math.Abs(got-v) > 1e-5*(1+math.Abs(v)) {
						t.Fatalf("y[%d,%d,%d] = %v, want %v", c, i, j, got, v)
					}
				}
			}
		}
	}
}

func TestIdentityDropoutAndConstantFolding(t *testing.T) {
	requireOps(t, "Relu", "Add", "Cast", "Mul")
	data := modelBytes(13, graphSpec{
		nodes: [][]byte{
			node("Constant", "k", nil, []string{"k"}, attrT("value", tensorI("", []int64{2}, []int64{2, 3}))),
			node("Cast", "cast", []string{"k"}, []string{"kf"}, attrI("to", 1)),
			node("Mul", "twice", []string{"kf", "kf"}, []string{"k2"}),
			node("Identity", "id", []string{"x"}, []string{"xi"}),
			node("Dropout", "drop", []string{"xi"}, []string{"xd"}),
			node("Add", "add", []string{"xd", "k2"}, []string{"s"}),
			node("Relu", "relu", []string{"s"}, []string{"r"}),
			node("Identity", "out", []string{"r"}, []string{"y"}),
		},
		inputs:  [][]byte{vinfo("x", tFloat, 2)},
		outputs: [][]byte{vinfo("y", tFloat, 2)},
	})
	m, err := Import(data, Options{Name: "fold"})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, n := range m.Nodes {
		got = append(got, n.OpType)
	}
	if strings.Join(got, ",") != "Add,Relu" {
		t.Fatalf("nodes %v, want Add,Relu (Constant, Cast, Mul folded; Identity, Dropout removed)", got)
	}
	if m.Outputs[0].Name != "y" || m.Name != "fold" || len(m.Weights) != 1 {
		t.Fatalf("outputs %v, name %q, weights %d", m.Outputs, m.Name, len(m.Weights))
	}
	if w := m.Weights[0].Tensor; w.DType != tensor.Float32 || w.F32[0] != 4 || w.F32[1] != 9 {
		t.Fatalf("folded weight %v %v", w.DType, w.F32)
	}
	x, _ := tensor.New(tensor.Float32, []int{2})
	x.F32[0], x.F32[1] = -10, 1
	res, err := infer.Run(m, map[string]*tensor.Tensor{"x": x}, infer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if y := res.Outputs["y"].F32; y[0] != 0 || y[1] != 10 {
		t.Fatalf("y = %v", y)
	}
}

// reshapeChain flattens x[1,C,H,W] to [1, C*H*W] through Shape, Gather,
// Concat and Reshape, all of which must fold to one constant shape.
func reshapeChain() []byte {
	return modelBytes(13, graphSpec{
		nodes: [][]byte{
			node("Shape", "shape", []string{"x"}, []string{"s"}),
			node("Gather", "g0", []string{"s", "i0"}, []string{"n"}, attrI("axis", 0)),
			node("Unsqueeze", "u", []string{"n", "ax"}, []string{"n1"}),
			node("Concat", "cat", []string{"n1", "minus1"}, []string{"target"}, attrI("axis", 0)),
			node("Reshape", "reshape", []string{"x", "target"}, []string{"y"}),
		},
		inits: [][]byte{
			tensorI("i0", nil, []int64{0}),
			tensorI("ax", []int64{1}, []int64{0}),
			tensorI("minus1", []int64{1}, []int64{-1}),
		},
		inputs:  [][]byte{vinfo("x", tFloat, "batch", 2, 3, 4)},
		outputs: [][]byte{vinfo("y", tFloat, "batch", -1)},
	})
}

func TestReshapeChainFolds(t *testing.T) {
	requireOps(t, "Shape", "Gather", "Unsqueeze", "Concat", "Reshape")
	m, err := Import(reshapeChain(), Options{InputShapes: map[string][]int{"x": {1, 2, 3, 4}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Nodes) != 1 || m.Nodes[0].OpType != "Reshape" {
		t.Fatalf("ops %v, want one Reshape", m.Summary().Ops)
	}
	if s := m.Outputs[0].Shape; len(s) != 2 || s[0] != 1 || s[1] != 24 {
		t.Fatalf("output shape %v", s)
	}
}

func TestSoftmaxModel(t *testing.T) {
	requireOps(t, "Softmax", "MatMul")
	for _, opset := range []int{11, 13} {
		data := modelBytes(opset, graphSpec{
			nodes: [][]byte{
				node("MatMul", "mm", []string{"x", "w"}, []string{"h"}),
				node("Softmax", "sm", []string{"h"}, []string{"y"}, attrI("axis", -1)),
			},
			inits:   [][]byte{tensorF("w", []int64{4, 3}, seq(12, 0.5, 0.1), true)},
			inputs:  [][]byte{vinfo("x", tFloat, 2, 4)},
			outputs: [][]byte{vinfo("y", tFloat, 2, 3)},
		})
		m, err := Import(data, Options{})
		if err != nil {
			t.Fatal(err)
		}
		x, _ := tensor.New(tensor.Float32, []int{2, 4})
		copy(x.F32, seq(8, 1, 0))
		res, err := infer.Run(m, map[string]*tensor.Tensor{"x": x}, infer.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for r := 0; r < 2; r++ {
			var sum float64
			for _, v := range res.Outputs["y"].F32[r*3 : r*3+3] {
				sum += float64(v)
			}
			if math.Abs(sum-1) > 1e-6 {
				t.Fatalf("opset %d row %d sums to %v", opset, r, sum)
			}
		}
	}
}

func TestImportErrors(t *testing.T) {
	in := [][]byte{vinfo("x", tFloat, 2)}
	out := [][]byte{vinfo("y", tFloat, 2)}
	one := func(opset int, n []byte) []byte {
		return modelBytes(opset, graphSpec{nodes: [][]byte{n}, inputs: in, outputs: out})
	}
	relu := node("Relu", "r", []string{"x"}, []string{"y"})
	external := pb(tensorF("w", []int64{2}, nil, true)).v(14, 1)
	tests := []struct {
		name string
		data []byte
		opts Options
		want []string
	}{
		{"garbage", []byte{0xff, 0xff, 0xff}, Options{}, []string{"onnx decode"}},
		{"no graph", pb{}.v(1, 8), Options{}, []string{"no graph"}},
		{"opset 8", one(8, relu), Options{}, []string{"opset 8 not supported"}},
		{"opset 18", one(18, relu), Options{}, []string{"opset 18 not supported"}},
		{"missing ops listed together", modelBytes(13, graphSpec{
			nodes: [][]byte{
				node("FancyOp", "f1", []string{"x"}, []string{"a"}),
				node("OtherOp", "o1", []string{"a"}, []string{"b"}),
				node("FancyOp", "f2", []string{"b"}, []string{"y"}),
			}, inputs: in, outputs: out,
		}), Options{}, []string{"2 problem(s)", `node "f1" (FancyOp): operator not implemented (2 node(s)`, `node "o1" (OtherOp)`}},
		{"foreign domain", one(13, pb(node("Relu", "r", []string{"x"}, []string{"y"})).s(7, "com.microsoft")), Options{}, []string{`"r" (Relu)`, "domain"}},
		{"graph attribute", one(13, node("Relu", "r", []string{"x"}, []string{"y"}, attrG("body"))), Options{}, []string{`"r" (Relu)`, "attribute body", "subgraph"}},
		{"dynamic dim", modelBytes(13, graphSpec{nodes: [][]byte{relu}, inputs: [][]byte{vinfo("x", tFloat, "N")}, outputs: out}), Options{}, []string{"dynamic", "--input-shape x="}},
		{"override mismatch", one(13, relu), Options{InputShapes: map[string][]int{"x": {3}}}, []string{"fixed at 2"}},
		{"unknown override", one(13, relu), Options{InputShapes: map[string][]int{"z": {3}}}, []string{"unknown input", "z"}},
		{"external data", modelBytes(13, graphSpec{nodes: [][]byte{node("Add", "a", []string{"x", "w"}, []string{"y"})}, inits: [][]byte{external}, inputs: in, outputs: out}), Options{}, []string{"external data"}},
		{"undefined input", one(13, node("Relu", "r", []string{"nope"}, []string{"y"})), Options{}, []string{"never defined"}},
		{"cycle", modelBytes(13, graphSpec{nodes: [][]byte{
			node("Relu", "a", []string{"b"}, []string{"a"}),
			node("Relu", "b", []string{"a"}, []string{"b"}),
		}, inputs: in, outputs: out}), Options{}, []string{"cycle"}},
		{"huge tensor", modelBytes(13, graphSpec{nodes: [][]byte{relu}, inits: [][]byte{tensorF("w", []int64{1 << 20, 1 << 20}, nil, true)}, inputs: in, outputs: out}), Options{}, []string{"invalid tensor shape"}},
		{"raw size", modelBytes(13, graphSpec{nodes: [][]byte{relu}, inits: [][]byte{tensorF("w", []int64{3}, []float32{1}, true)}, inputs: in, outputs: out}), Options{}, []string{"raw_data has 4 bytes"}},
		{"float16 input", modelBytes(13, graphSpec{nodes: [][]byte{relu}, inputs: [][]byte{vinfo("x", 10, 2)}, outputs: out}), Options{}, []string{"float16 not supported"}},
		{"constant output", modelBytes(13, graphSpec{nodes: [][]byte{
			relu, node("Constant", "c", nil, []string{"z"}, attrT("value", tensorI("", nil, []int64{1}))),
		}, inputs: in, outputs: append(out, vinfo("z", tInt64))}), Options{}, []string{"constant"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Import(tt.data, tt.opts)
			if err == nil {
				t.Fatal("import succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestImportErrorIsTyped(t *testing.T) {
	_, err := Import(modelBytes(13, graphSpec{
		nodes:  [][]byte{node("FancyOp", "f", []string{"x"}, []string{"y"})},
		inputs: [][]byte{vinfo("x", tFloat, 2)}, outputs: [][]byte{vinfo("y", tFloat, 2)},
	}), Options{})
	var ie *ImportError
	if !errors.As(err, &ie) || len(ie.Problems) != 1 || ie.Problems[0].OpType != "FancyOp" || ie.Problems[0].Node != "f" {
		t.Fatalf("got %v", err)
	}
}

func TestImportedModelRoundTrips(t *testing.T) {
	requireOps(t, "Conv", "Relu")
	m, err := Import(convBNRelu(true), Options{InputShapes: map[string][]int{"x": {1, 2, 5, 5}}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "m.pvm")
	if err := m.Save(p); err != nil {
		t.Fatal(err)
	}
	m2, err := model.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if m2.ID() != m.ID() {
		t.Fatal("model id changed through save/load")
	}
	again, _ := Import(convBNRelu(false), Options{InputShapes: map[string][]int{"x": {1, 2, 5, 5}}})
	if again.ID() != m.ID() {
		t.Fatal("raw_data and float_data encodings give different model ids")
	}
}

func fixturesDir() string {
	if d := os.Getenv("PROVENA_FIXTURES"); d != "" {
		return d
	}
	d, _ := filepath.Abs("../.cache/fixtures")
	return d
}

func FuzzDecodeModelProto(f *testing.F) {
	f.Add(convBNRelu(true))
	f.Add(reshapeChain())
	f.Add([]byte{0x3a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeModelProto(data)
	})
}

func FuzzImport(f *testing.F) {
	f.Add(convBNRelu(true), 5)
	f.Add(convBNRelu(false), 1)
	f.Add(reshapeChain(), 4)
	f.Fuzz(func(t *testing.T, data []byte, side int) {
		side = 1 + (side & 7)
		m, err := Import(data, Options{InputShapes: map[string][]int{"x": {1, 2, side, side}}})
		if err != nil {
			return
		}
		if _, err := model.Decode(m.Encode()); err != nil {
			t.Fatalf("imported model does not decode: %v", err)
		}
		// Execution must not panic either; keep it to small graphs.
		in := map[string]*tensor.Tensor{}
		for _, v := range m.Inputs {
			if tensor.NumElements(v.Shape) > 1<<12 {
				return
			}
			x, err := tensor.New(v.DType, v.Shape)
			if err != nil {
				return
			}
			in[v.Name] = x
		}
		for _, n := range m.Nodes {
			for _, o := range n.OutMetas {
				if tensor.NumElements(o.Shape) > 1<<16 {
					return
				}
			}
		}
		infer.Run(m, in, infer.Options{Threads: 1, Trace: true})
	})
}

// TestConvTransposeBatchNormFold compares a folded ConvTranspose+BN (group
// 2, so the channel mapping matters) with the same graph left unfolded
// (the ConvTranspose output is also a graph output there).
func TestConvTransposeBatchNormFold(t *testing.T) {
	requireOps(t, "ConvTranspose", "BatchNormalization")
	build := func(exposeConv bool) []byte {
		outs := [][]byte{vinfo("y", tFloat, 1, 6, 6, 6)}
		if exposeConv {
			outs = append(outs, vinfo("c", tFloat, 1, 6, 6, 6))
		}
		return modelBytes(13, graphSpec{
			nodes: [][]byte{
				node("ConvTranspose", "ct", []string{"x", "w", "b"}, []string{"c"}, attrIs("strides", 2, 2), attrI("group", 2)),
				node("BatchNormalization", "bn", []string{"c", "gamma", "beta", "mean", "var"}, []string{"y"}),
			},
			inits: [][]byte{
				tensorF("w", []int64{4, 3, 2, 2}, seq(48, 0.2, 0.05), true),
				tensorF("b", []int64{6}, seq(6, 0.1, 0), true),
				tensorF("gamma", []int64{6}, seq(6, 0.3, 1), true),
				tensorF("beta", []int64{6}, seq(6, 0.05, 0), true),
				tensorF("mean", []int64{6}, seq(6, 0.02, 0), true),
				tensorF("var", []int64{6}, seq(6, 0.01, 0.5), true),
			},
			inputs:  [][]byte{vinfo("x", tFloat, 1, 4, 3, 3)},
			outputs: outs,
		})
	}
	folded, err := Import(build(false), Options{})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Import(build(true), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(folded.Nodes) != 1 || len(plain.Nodes) != 2 {
		t.Fatalf("folded %v, unfolded %v", folded.Summary().Ops, plain.Summary().Ops)
	}
	x, _ := tensor.New(tensor.Float32, []int{1, 4, 3, 3})
	copy(x.F32, seq(36, 0.4, 0.1))
	in := map[string]*tensor.Tensor{"x": x}
	a, err := infer.Run(folded, in, infer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := infer.Run(plain, in, infer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range b.Outputs["y"].F32 {
		if got := a.Outputs["y"].F32[i]; math.Abs(float64(got-v)) > 1e-5*(1+math.Abs(float64(v))) {
			t.Fatalf("y[%d]: folded %v, unfolded %v", i, got, v)
		}
	}
}
