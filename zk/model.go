package zk

import (
	"fmt"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/model"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
)

// FromModel extracts the integer core of a quantized model (see
// ops/quant.go): the output of its single QQuantize node is the circuit's
// int8 input; the inputs of the QDequantize nodes producing the model's
// outputs, in model output order, are the circuit's outputs. Weights are
// committed in node order, W then B of each QGemm/QConv.
func FromModel(m *model.Model) (*Graph, error) {
	if m == nil || !m.Validated() {
		return nil, fmt.Errorf("zk: model not validated")
	}
	if len(m.Inputs) != 1 {
		return nil, fmt.Errorf("zk: circuits take models with one input, this one has %d", len(m.Inputs))
	}
	if len(m.Nodes) == 0 || m.Nodes[0].OpType != "QQuantize" {
		return nil, fmt.Errorf("zk: not a quantized model: the first node must be QQuantize (run provena model quantize)")
	}
	q := &m.Nodes[0]
	if q.InRefs[0].Kind != model.RefInput {
		return nil, fmt.Errorf("zk: QQuantize must read the model input")
	}
	g, err := NewGraph(q.OutMetas[0].Shape)
	if err != nil {
		return nil, err
	}
	ids := map[string]int{q.Outputs[0]: g.input}
	producer := map[string]*model.Node{}
	weight := func(n *model.Node, i int) (*tensor.Tensor, error) {
		if i >= len(n.Inputs) || n.Inputs[i] == "" {
			return nil, nil
		}
		if n.InRefs[i].Kind != model.RefWeight {
			return nil, fmt.Errorf("input %d must be a weight", i)
		}
		return m.Weights[n.InRefs[i].Index].Tensor, nil
	}
	act := func(n *model.Node, i int) (int, error) {
		id, ok := ids[n.Inputs[i]]
		if !ok {
			return 0, fmt.Errorf("input %d (%s) is not an integer value of the core", i, n.Inputs[i])
		}
		return id, nil
	}
	for i := 1; i < len(m.Nodes); i++ {
		n := &m.Nodes[i]
		for _, o := range n.Outputs {
			producer[o] = n
		}
		var out int
		err := func() error {
			switch n.OpType {
			case "QDequantize":
				_, err := act(n, 0)
				return err
			case "QGemm", "QConv":
				x, err := act(n, 0)
				if err != nil {
					return err
				}
				W, err := weight(n, 1)
				if err != nil {
					return err
				}
				B, err := weight(n, 2)
				if err != nil {
					return err
				}
				out32 := intAttr(n.Attrs, "out_int32", 0) == 1
				mult, shift := n.Attrs["mult"].Ints, n.Attrs["shift"].Ints
				lo, hi := intAttr(n.Attrs, "lo", -128), intAttr(n.Attrs, "hi", 127)
				if n.OpType == "QGemm" {
					out, err = g.AddGemm(n.Name, x, W, B, mult, shift, lo, hi, out32)
				} else {
					strides := intsAttr(n.Attrs, "strides", []int{1, 1})
					pads := intsAttr(n.Attrs, "pads", []int{0, 0, 0, 0})
					out, err = g.AddConv(n.Name, x, W, B, strides, pads, mult, shift, lo, hi, out32)
				}
				return err
			case "QMaxPool":
				x, err := act(n, 0)
				if err != nil {
					return err
				}
				out, err = g.AddMaxPool(n.Name, x, intsAttr(n.Attrs, "kernel_shape", nil), intsAttr(n.Attrs, "strides", []int{1, 1}))
				return err
			case "QAdd":
				a, err := act(n, 0)
				if err != nil {
					return err
				}
				b, err := act(n, 1)
				if err != nil {
					return err
				}
				out, err = g.AddAdd(n.Name, a, b, intAttr(n.Attrs, "mult_a", 0), intAttr(n.Attrs, "mult_b", 0), intAttr(n.Attrs, "shift", 0), intAttr(n.Attrs, "lo", -128), intAttr(n.Attrs, "hi", 127))
				return err
			case "Flatten", "Reshape":
				x, err := act(n, 0)
				if err != nil {
					return err
				}
				out, err = g.AddReshape(n.Name, x, n.OutMetas[0].Shape)
				return err
			}
			return &ops.UnsupportedError{Op: n.OpType, What: "not part of a quantized core circuits can prove"}
		}()
		if err != nil {
			return nil, fmt.Errorf("zk: node %d (%s %q): %w", i, n.OpType, n.Name, err)
		}
		if n.OpType != "QDequantize" {
			ids[n.Outputs[0]] = out
		}
	}
	var outs []int
	for _, o := range m.Outputs {
		p := producer[o.Name]
		if p == nil || p.OpType != "QDequantize" {
			return nil, fmt.Errorf("zk: model output %s does not come from QDequantize", o.Name)
		}
		outs = append(outs, ids[p.Inputs[0]])
	}
	if err := g.SetOutputs(outs...); err != nil {
		return nil, err
	}
	return g, nil
}

func intAttr(a ops.Attrs, name string, def int64) int64 {
	if v, ok := a[name]; ok && v.Kind == ops.AttrInt {
		return v.Int
	}
	return def
}

func intsAttr(a ops.Attrs, name string, def []int) []int {
	v, ok := a[name]
	if !ok || v.Kind != ops.AttrInts {
		return def
	}
	out := make([]int, len(v.Ints))
	for i, x := range v.Ints {
		out[i] = int(x)
	}
	return out
}

// QuantizeInput runs the model's QQuantize node on a float input and returns
// the circuit input; an int8 input is taken as already quantized.
func QuantizeInput(m *model.Model, x *tensor.Tensor) ([]int64, error) {
	if x == nil {
		return nil, fmt.Errorf("zk: no input")
	}
	if x.DType == tensor.Int8 {
		return tensorInts(x), nil
	}
	if len(m.Inputs) != 1 {
		return nil, fmt.Errorf("zk: model has %d inputs", len(m.Inputs))
	}
	res, err := infer.Run(m, map[string]*tensor.Tensor{m.Inputs[0].Name: x}, infer.Options{Nodes: 1, Threads: 1})
	if err != nil {
		return nil, fmt.Errorf("zk: quantize input: %w", err)
	}
	t := res.Outputs[m.Nodes[0].Outputs[0]]
	if t == nil || t.DType != tensor.Int8 {
		return nil, fmt.Errorf("zk: QQuantize gave no int8 output")
	}
	return tensorInts(t), nil
}
