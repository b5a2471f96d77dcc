package onnx

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/tensor"
)

// exportGemmRelu builds y = Relu(x·Wᵀ + b) followed by a Reshape whose
// shape is an int64 initializer, with a value info for the intermediate.
func exportGemmRelu(w, bias []float32) *Builder {
	b := NewBuilder("gemm-relu", 13)
	b.ProducerVersion = "test 1"
	b.Doc = "export test"
	b.Input("x", tensor.Float32, 1, 3)
	b.Float32("w", []int{2, 3}, w)
	b.Float32("b", []int{2}, bias)
	b.Initializer("shape", &tensor.Tensor{DType: tensor.Int64, Shape: []int{2}, I64: []int64{2, 1}})
	b.Node("Gemm", "fc", []string{"x", "w", "b"}, []string{"h"}, IntAttr("transB", 1), FloatAttr("alpha", 1), FloatAttr("beta", 1))
	b.Node("Relu", "relu", []string{"h"}, []string{"r"})
	b.Node("Reshape", "reshape", []string{"r", "shape"}, []string{"y"})
	b.ValueInfo("h", tensor.Float32, 1, 2)
	b.Output("y", tensor.Float32, 2, 1)
	return b
}

func TestExportRoundTrip(t *testing.T) {
	requireOps(t, "Gemm", "Relu", "Reshape")
	w := []float32{1, -2, 0.5, -1, 0.25, 3}
	bias := []float32{0.5, -0.125}
	data, err := exportGemmRelu(w, bias).Bytes()
	if err != nil {
		t.Fatal(err)
	}

	// What the decoder reads back is what the builder was given.
	mp, err := decodeModelProto(data)
	if err != nil {
		t.Fatal(err)
	}
	if mp.IRVersion != ExportIRVersion || mp.Producer != "provena" || len(mp.OpsetImports) != 1 ||
		mp.OpsetImports[0].Version != 13 || mp.OpsetImports[0].Domain != "" {
		t.Errorf("model header: ir %d producer %q opsets %+v", mp.IRVersion, mp.Producer, mp.OpsetImports)
	}
	g := mp.Graph
	if g.Name != "gemm-relu" || len(g.Nodes) != 3 || len(g.Initializers) != 3 || len(g.Inputs) != 1 || len(g.Outputs) != 1 {
		t.Fatalf("graph %q: %d nodes, %d initializers, %d inputs, %d outputs", g.Name, len(g.Nodes), len(g.Initializers), len(g.Inputs), len(g.Outputs))
	}
	wt := g.Initializers[0]
	if !wt.HasRaw || wt.DataType != int64(tensor.Float32) || !slices.Equal(wt.Dims, []int64{2, 3}) || len(wt.RawData) != 4*len(w) {
		t.Errorf("initializer w: raw %v type %d dims %v %d bytes", wt.HasRaw, wt.DataType, wt.Dims, len(wt.RawData))
	}
	fc := g.Nodes[0]
	if fc.OpType != "Gemm" || fc.Name != "fc" || !slices.Equal(fc.Inputs, []string{"x", "w", "b"}) || len(fc.Attrs) != 3 {
		t.Fatalf("node 0: %+v", fc)
	}
	if a := fc.Attrs[0]; a.Name != "transB" || a.Type != attrInt || a.I != 1 {
		t.Errorf("attribute transB: %+v", a)
	}
	if a := fc.Attrs[1]; a.Name != "alpha" || a.Type != attrFloat || a.F != 1 {
		t.Errorf("attribute alpha: %+v", a)
	}
	if in := g.Inputs[0]; in.Name != "x" || in.ElemType != int64(tensor.Float32) || len(in.Dims) != 2 || in.Dims[1].Value != 3 {
		t.Errorf("input: %+v", in)
	}

	// And the importer and runtime compute the model it describes.
	m, err := Import(data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := &tensor.Tensor{DType: tensor.Float32, Shape: []int{1, 3}, F32: []float32{2, 1, -4}}
	res, err := infer.Run(m, map[string]*tensor.Tensor{"x": x}, infer.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	y := res.Outputs["y"]
	want := make([]float32, 2)
	for n := range want {
		s := bias[n]
		for k := range 3 {
			s += w[n*3+k] * x.F32[k]
		}
		want[n] = max(s, 0)
	}
	if !slices.Equal(y.Shape, []int{2, 1}) || !slices.Equal(y.F32, want) {
		t.Errorf("y = %v%v, want [2 1]%v", y.Shape, y.F32, want)
	}
}

func TestExportAttrKinds(t *testing.T) {
	b := NewBuilder("attrs", 13)
	b.Input("x", tensor.Float32, 4)
	b.Node("Custom", "n", []string{"x"}, []string{"y"},
		IntAttr("i", -3), FloatAttr("f", 0.5), StringAttr("s", "hi"), IntsAttr("is", 1, -2, 3), FloatsAttr("fs", 1.5, -2))
	b.Output("y", tensor.Float32, 4)
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	mp, err := decodeModelProto(data)
	if err != nil {
		t.Fatal(err)
	}
	a := mp.Graph.Nodes[0].Attrs
	if len(a) != 5 || a[0].I != -3 || a[0].Type != attrInt || a[1].F != 0.5 || string(a[2].S) != "hi" ||
		a[2].Type != attrString || !slices.Equal(a[3].Ints, []int64{1, -2, 3}) || a[3].Type != attrInts ||
		!slices.Equal(a[4].Floats, []float32{1.5, -2}) || a[4].Type != attrFloats {
		t.Errorf("attributes: %+v %+v %+v %+v %+v", a[0], a[1], a[2], a[3], a[4])
	}
}

func TestExportRejectsMalformed(t *testing.T) {
	ok := func(b *Builder) {
		b.Input("x", tensor.Float32, 1, 3)
		b.Node("Relu", "r", []string{"x"}, []string{"y"})
		b.Output("y", tensor.Float32, 1, 3)
	}
	cases := []struct {
		name  string
		build func(b *Builder)
		want  string
	}{
		{"short data", func(b *Builder) { ok(b); b.Float32("w", []int{2, 3}, make([]float32, 5)) }, `initializer "w": 5 values for shape [2 3]`},
		{"long data", func(b *Builder) { ok(b); b.Float32("w", []int{2}, make([]float32, 3)) }, `3 values for shape [2]`},
		{"negative dim", func(b *Builder) { ok(b); b.Float32("w", []int{-1, 3}, nil) }, `initializer "w"`},
		{"zero dim input", func(b *Builder) { b.Input("x", tensor.Float32, 0, 3) }, `input "x": shape [0 3] has a dimension <= 0`},
		{"negative output dim", func(b *Builder) { ok(b); b.Output("z", tensor.Float32, 1, -3) }, `output "z": shape [1 -3]`},
		{"tensor shape mismatch", func(b *Builder) {
			ok(b)
			b.Initializer("t", &tensor.Tensor{DType: tensor.Int64, Shape: []int{4}, I64: []int64{1, 2}})
		}, `initializer "t": 2 values for shape [4]`},
		{"nil tensor", func(b *Builder) { ok(b); b.Initializer("t", nil) }, `initializer "t": nil tensor`},
		{"bad dtype", func(b *Builder) { b.Input("x", tensor.DType(42), 1) }, `unsupported element type`},
		{"empty name", func(b *Builder) { b.Input("", tensor.Float32, 1) }, `input: empty name`},
		{"undefined input", func(b *Builder) {
			ok(b)
			b.Node("Add", "a", []string{"y", "nope"}, []string{"z"})
		}, `node "a" (Add): input "nope" is not defined before it`},
		{"defined twice", func(b *Builder) {
			ok(b)
			b.Node("Relu", "r2", []string{"x"}, []string{"y"})
		}, `node output "y": defined twice`},
		{"no outputs", func(b *Builder) { b.Input("x", tensor.Float32, 1) }, `graph has no outputs`},
		{"output not produced", func(b *Builder) { ok(b); b.Output("z", tensor.Float32, 1) }, `output "z" is produced by no node`},
		{"empty op", func(b *Builder) { ok(b); b.Node("", "n", []string{"x"}, []string{"z"}) }, `node "n": empty op type`},
		{"node without outputs", func(b *Builder) { ok(b); b.Node("Relu", "n", []string{"x"}, nil) }, `no outputs`},
		{"attr without name", func(b *Builder) {
			b.Input("x", tensor.Float32, 1)
			b.Node("Relu", "n", []string{"x"}, []string{"y"}, IntAttr("", 1))
			b.Output("y", tensor.Float32, 1)
		}, `attribute with no name`},
		{"value info of nothing", func(b *Builder) { ok(b); b.ValueInfo("q", tensor.Float32, 1) }, `value info "q" names no value`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := NewBuilder("bad", 13)
			c.build(b)
			_, err := b.Bytes()
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "onnx export: ") {
				t.Errorf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
	if _, err := NewBuilder("g", 0).Bytes(); err == nil || !strings.Contains(err.Error(), "opset 0") {
		t.Errorf("opset 0: err = %v", err)
	}
}

// The builder copies what it is given: later changes to the caller's
// slices do not reach the encoded model.
func TestExportCopiesData(t *testing.T) {
	w := []float32{1, 2, 3, 4, 5, 6}
	b := exportGemmRelu(w, []float32{0, 0})
	w[0] = float32(math.NaN())
	data, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	mp, err := decodeModelProto(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := toTensor(mp.Graph.Initializers[0])
	if err != nil {
		t.Fatal(err)
	}
	if got.F32[0] != 1 {
		t.Errorf("w[0] = %v after the caller changed its slice, want 1", got.F32[0])
	}
}
