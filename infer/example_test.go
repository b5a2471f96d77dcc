package infer_test

import (
	"fmt"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/model"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
)

// Example runs a one-node model traced, proves one output element and
// verifies the proof as a chain would: from the model id and trace root only.
func Example() {
	w, _ := tensor.New(tensor.Float32, []int{1000})
	for i := range w.F32 {
		w.F32[i] = float32(i) / 10
	}
	m := &model.Model{
		Name: "example", Opset: 13,
		Inputs:  []model.ValueInfo{{Name: "x", DType: tensor.Float32, Shape: []int{1000}}},
		Outputs: []model.ValueInfo{{Name: "y", DType: tensor.Float32, Shape: []int{1000}}},
		Nodes: []model.Node{{Name: "add", OpType: "Add", Inputs: []string{"x", "w"}, Outputs: []string{"y"},
			Attrs: ops.Attrs{ops.OpsetAttr: {Kind: ops.AttrInt, Int: 13}}}},
		Weights: []model.Weight{{Name: "w", Tensor: w}},
	}
	if err := m.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	x, _ := tensor.New(tensor.Float32, []int{1000})
	res, err := infer.Run(m, map[string]*tensor.Tensor{"x": x}, infer.Options{Trace: true, KeepOutputs: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	v, proof, err := infer.RecomputeElement(m, res, 0, 0, 123)
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := infer.VerifyStep(m.ID(), res.Trace.Root, proof)
	fmt.Println(tensor.Float32, v == res.Outputs["y"].Bits(123), err, r.Match)
	// Output: float32 true <nil> true
}
