// Package opmltest builds small real models, inputs and traced runs for
// tests of the dispute game, the on-chain module and the worker.
package opmltest

import (
	"fmt"
	"math/rand/v2"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/model"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
)

// Filled returns a float32 tensor of shape with fixed-seed values in
// [-1, 1].
func Filled(shape []int, seed uint64) *tensor.Tensor {
	t, _ := tensor.New(tensor.Float32, shape)
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := range t.F32 {
		t.F32[i] = float32(rng.IntN(2001)-1000) / 997
	}
	return t
}

func attrs(kv ...any) ops.Attrs {
	a := ops.Attrs{ops.OpsetAttr: {Kind: ops.AttrInt, Int: 13}}
	for i := 0; i < len(kv); i += 2 {
		a[kv[i].(string)] = ops.Attr{Kind: ops.AttrInts, Ints: kv[i+1].([]int64)}
	}
	return a
}

// Model returns a 7-node CNN: Conv(3x3) -> Relu -> Conv(1x1) -> Add(bias)
// -> Sigmoid -> Mul(scale) -> Add(shift), over a 1x3x20x20 input "x" with a
// 1x8x20x20 output "y". Seven nodes make an unbalanced nodes tree (promoted
// last nodes), and each output spans 50 or 100 chunks.
func Model() (*model.Model, error) {
	for _, op := range []string{"Conv", "Relu", "Add", "Sigmoid", "Mul"} {
		if _, ok := ops.Lookup(op); !ok {
			return nil, fmt.Errorf("opmltest: operator %s not registered", op)
		}
	}
	m := &model.Model{
		Name: "opml-cnn", Opset: 13,
		Inputs:  []model.ValueInfo{{Name: "x", DType: tensor.Float32, Shape: []int{1, 3, 20, 20}}},
		Outputs: []model.ValueInfo{{Name: "y", DType: tensor.Float32, Shape: []int{1, 8, 20, 20}}},
		Nodes: []model.Node{
			{Name: "conv1", OpType: "Conv", Inputs: []string{"x", "w1", "b1"}, Outputs: []string{"c1"}, Attrs: attrs("pads", []int64{1, 1, 1, 1})},
			{Name: "relu", OpType: "Relu", Inputs: []string{"c1"}, Outputs: []string{"r"}, Attrs: attrs()},
			{Name: "conv2", OpType: "Conv", Inputs: []string{"r", "w2"}, Outputs: []string{"c2"}, Attrs: attrs()},
			{Name: "bias", OpType: "Add", Inputs: []string{"c2", "b2"}, Outputs: []string{"a"}, Attrs: attrs()},
			{Name: "sig", OpType: "Sigmoid", Inputs: []string{"a"}, Outputs: []string{"s"}, Attrs: attrs()},
			{Name: "scale", OpType: "Mul", Inputs: []string{"s", "k"}, Outputs: []string{"sk"}, Attrs: attrs()},
			{Name: "shift", OpType: "Add", Inputs: []string{"sk", "b3"}, Outputs: []string{"y"}, Attrs: attrs()},
		},
		Weights: []model.Weight{
			{Name: "w1", Tensor: Filled([]int{16, 3, 3, 3}, 1)},
			{Name: "b1", Tensor: Filled([]int{16}, 2)},
			{Name: "w2", Tensor: Filled([]int{8, 16, 1, 1}, 3)},
			{Name: "b2", Tensor: Filled([]int{1, 8, 1, 1}, 4)},
			{Name: "k", Tensor: Filled([]int{1, 8, 20, 20}, 5)},
			{Name: "b3", Tensor: Filled([]int{1, 8, 1, 1}, 6)},
		},
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("opmltest: %w", err)
	}
	return m, nil
}

// Input returns the model's input for seed.
func Input(seed uint64) map[string]*tensor.Tensor {
	return map[string]*tensor.Tensor{"x": Filled([]int{1, 3, 20, 20}, seed)}
}

// Run runs m on in with a trace and every output kept.
func Run(m *model.Model, in map[string]*tensor.Tensor) (*infer.Result, error) {
	return infer.Run(m, in, infer.Options{Trace: true, KeepOutputs: true})
}
