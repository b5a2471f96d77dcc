package worker

import (
	"fmt"

	"github.com/provena/provena/model"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
	"github.com/provena/provena/zk"
)

// ZkInputCommit is a zk job's input commitment as the requester computes
// it: the model's first node must be QQuantize; its int8 output for x (the
// circuit's input) is committed with zk.CommitTensor.
func ZkInputCommit(m *model.Model, x *tensor.Tensor) ([32]byte, error) {
	q, err := QuantizeInput(m, x)
	if err != nil {
		return [32]byte{}, err
	}
	c, err := zk.CommitTensor(q)
	if err != nil {
		return [32]byte{}, fmt.Errorf("commit input: %w", err)
	}
	return [32]byte(c), nil
}

// QuantizeInput runs a quantized model's first node, QQuantize, on x.
func QuantizeInput(m *model.Model, x *tensor.Tensor) (*tensor.Tensor, error) {
	if len(m.Nodes) == 0 || m.Nodes[0].OpType != "QQuantize" {
		return nil, fmt.Errorf("model %s is not quantized (its first node must be QQuantize; see provena model quantize): zk jobs need a quantized model", m.IDString())
	}
	if x == nil || x.DType != tensor.Float32 {
		return nil, fmt.Errorf("zk input must be one float32 tensor")
	}
	a, ok := m.Nodes[0].Attrs["scale"]
	if !ok || a.Kind != ops.AttrFloat || !(a.Float > 0) {
		return nil, fmt.Errorf("model %s: QQuantize has no valid scale", m.IDString())
	}
	q, err := tensor.New(tensor.Int8, x.Shape)
	if err != nil {
		return nil, err
	}
	for i, v := range x.F32 {
		q.I8[i] = ops.QQuantizeValue(v, a.Float)
	}
	return q, nil
}
