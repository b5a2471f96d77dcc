package infer

import (
	"math"
	"slices"
	"testing"

	"github.com/provena/provena/model"
	"github.com/provena/provena/tensor"
)

// chainModel has elementwise chains of every kind elementwiseChains finds:
// HardSwish (x*clip(x+3, 0, 6)/6) cut by a graph output after Clip, a
// chain with a full-size weight operand, and a chain with a per-channel
// operand that the executor must run node by node.
func chainModel(t *testing.T) *model.Model {
	shape := []int{1, 4, 40, 30} // 4800 elements: several blocks and a tail
	scalar := func(v float32) *tensor.Tensor {
		s, _ := tensor.New(tensor.Float32, []int{1})
		s.F32[0] = v
		return s
	}
	m := &model.Model{
		Name: "chains", Opset: 13,
		Inputs: []model.ValueInfo{{Name: "x", DType: tensor.Float32, Shape: shape}},
		Outputs: []model.ValueInfo{
			{Name: "y", DType: tensor.Float32, Shape: shape},
			{Name: "c", DType: tensor.Float32, Shape: shape},
		},
		Nodes: []model.Node{
			{Name: "add3", OpType: "Add", Inputs: []string{"x", "three"}, Outputs: []string{"a"}, Attrs: attrs()},
			{Name: "clip", OpType: "Clip", Inputs: []string{"a", "zero", "six"}, Outputs: []string{"c"}, Attrs: attrs()},
			{Name: "mul", OpType: "Mul", Inputs: []string{"x", "c"}, Outputs: []string{"m"}, Attrs: attrs()},
			{Name: "div6", OpType: "Div", Inputs: []string{"m", "six"}, Outputs: []string{"h"}, Attrs: attrs()},
			{Name: "addw", OpType: "Add", Inputs: []string{"h", "wfull"}, Outputs: []string{"g"}, Attrs: attrs()},
			{Name: "relu", OpType: "Relu", Inputs: []string{"g"}, Outputs: []string{"r"}, Attrs: attrs()},
			{Name: "scale", OpType: "Mul", Inputs: []string{"r", "chan"}, Outputs: []string{"s"}, Attrs: attrs()},
			{Name: "sub", OpType: "Sub", Inputs: []string{"s", "x"}, Outputs: []string{"y"}, Attrs: attrs()},
		},
		Weights: []model.Weight{
			{Name: "chan", Tensor: filled([]int{1, 4, 1, 1}, 5)},
			{Name: "six", Tensor: scalar(6)},
			{Name: "three", Tensor: scalar(3)},
			{Name: "wfull", Tensor: filled(shape, 6)},
			{Name: "zero", Tensor: scalar(0)},
		},
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestElementwiseChainsMatchNodeByNode(t *testing.T) {
	m := chainModel(t)
	lastUse := make([][]int, len(m.Nodes))
	for i := range m.Nodes {
		lastUse[i] = []int{-1}
	}
	for i := range m.Nodes {
		for _, r := range m.Nodes[i].InRefs {
			if r.Kind == model.RefNode {
				lastUse[r.Index][r.Output] = i
			}
		}
	}
	isOutput := map[model.Ref]bool{}
	for _, r := range m.OutputRefs() {
		isOutput[r] = true
	}
	got := elementwiseChains(m, len(m.Nodes), lastUse, isOutput)
	if want := []int{1, -1, 4, -1, -1, -1, 7, -1}; !slices.Equal(got, want) {
		t.Fatalf("chains %v, want %v", got, want)
	}

	x := filled([]int{1, 4, 40, 30}, 11)
	special := []float32{float32(math.NaN()), float32(math.Copysign(0, -1)), -3, 3, -1e30, 1e30, float32(math.Inf(1)), float32(math.Inf(-1))}
	for i, v := range special {
		x.F32[i*97] = v
	}
	in := map[string]*tensor.Tensor{"x": x}
	// KeepOutputs runs node by node (nothing is freed, so nothing is fused).
	ref, err := Run(m, in, Options{Threads: 1, KeepOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range []int{1, 2, 8} {
		for _, trace := range []bool{false, true} {
			res, err := Run(m, in, Options{Threads: th, Trace: trace})
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"y", "c"} {
				a, b := res.Outputs[name].F32, ref.Outputs[name].F32
				for i := range b {
					if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
						t.Fatalf("threads %d trace %v: %s[%d] = %g, node by node %g", th, trace, name, i, a[i], b[i])
					}
				}
			}
		}
	}
}
