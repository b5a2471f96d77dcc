package ops

import (
	"math"
	"testing"

	"github.com/provena/provena/tensor"
)

func TestMoreOps(t *testing.T) {
	x := f32T([]int{4}, -1.5, -0.5, 0.5, 2)
	runCases(t, []opCase{
		{name: "reciprocal", op: "Reciprocal", in: []*tensor.Tensor{x}, want: f32T([]int{4}, -1/1.5, -2, 2, 0.5)},
		{name: "floor", op: "Floor", in: []*tensor.Tensor{x}, want: f32T([]int{4}, -2, -1, 0, 2)},
		{name: "ceil", op: "Ceil", in: []*tensor.Tensor{x}, want: f32T([]int{4}, -1, float32(math.Copysign(0, -1)), 1, 2)},
		{name: "leakyrelu", op: "LeakyRelu", in: []*tensor.Tensor{x}, a: Attrs{"alpha": afloat(0.5)}, want: f32T([]int{4}, -0.75, -0.25, 0.5, 2)},
		{name: "log", op: "Log", in: []*tensor.Tensor{f32T([]int{3}, 1, float32(math.E), 0.5)}, wantF: []float64{0, 1, math.Log(0.5)}},
		{name: "greater", op: "Greater", in: []*tensor.Tensor{x, f32T(nil, 0)}, want: boolT([]int{4}, 0, 0, 1, 1)},
		{name: "less int", op: "Less", in: []*tensor.Tensor{i64T([]int{2}, 1, 5), i64T(nil, 3)}, want: boolT([]int{2}, 1, 0)},
		{name: "upsample", op: "Upsample", in: []*tensor.Tensor{f32T([]int{1, 1, 1, 2}, 1, 2), f32T([]int{4}, 1, 1, 2, 2)}, a: withOpset(9),
			want: f32T([]int{1, 1, 2, 4}, 1, 1, 2, 2, 1, 1, 2, 2)},
	})
}

func TestConstantOfShape(t *testing.T) {
	op, _ := Lookup("ConstantOfShape")
	shape := i64T([]int{2}, 2, 3)
	out, err := op.Run(&Ctx{}, []*tensor.Tensor{shape}, Attrs{"value": {Kind: AttrTensor, Tensor: i64T([]int{1}, 7)}})
	if err != nil {
		t.Fatal(err)
	}
	if !sameTensor(out[0], i64T([]int{2, 3}, 7, 7, 7, 7, 7, 7)) {
		t.Fatalf("got %v", out[0].I64)
	}
	if _, err := op.Infer([]tensor.Meta{{DType: tensor.Int64, Shape: []int{1}, Const: i64T([]int{1}, -1)}}, nil); err == nil {
		t.Fatal("negative dimension accepted")
	}
}

// TestCapabilities pins the operator set and which operators can recompute
// one element (every one but ConstantOfShape, which reads no elements).
func TestCapabilities(t *testing.T) {
	want := []string{"Abs", "Add", "AveragePool", "BatchNormalization", "Cast", "Ceil", "Clip", "Concat", "ConstantOfShape",
		"Conv", "ConvTranspose", "Div", "Dropout", "Equal", "Erf", "Exp", "Expand", "Flatten", "Floor", "Gather", "Gelu", "Gemm",
		"GlobalAveragePool", "GlobalMaxPool", "Greater", "HardSigmoid", "Identity", "LayerNormalization", "LeakyRelu", "Less",
		"Log", "LogSoftmax", "MatMul", "Max", "MaxPool", "Min", "Mul", "Neg", "Pad", "Pow", "QAdd", "QConv", "QDequantize", "QGemm", "QMaxPool", "QQuantize", "Reciprocal", "ReduceMax",
		"ReduceMean", "ReduceMin", "ReduceSum", "Relu", "Reshape", "Resize", "Shape", "Sigmoid", "Slice", "Softmax", "Split",
		"Sqrt", "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze", "Upsample", "Where"}
	got := Registered()
	if len(got) != len(want) {
		t.Fatalf("registered %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("registered %v, want %v", got, want)
		}
		op, _ := Lookup(want[i])
		if _, ok := op.(ElemOp); ok == (want[i] == "ConstantOfShape") {
			t.Errorf("%s: ElemOp implemented = %v", want[i], ok)
		}
	}
}
