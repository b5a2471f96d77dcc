package infer_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/model"
	"github.com/provena/provena/opml/opmltest"
	"github.com/provena/provena/tensor"
)

// negate returns a Tamper hook that negates element flat of node's first
// output, on a copy.
func negate(node, flat int) func(int, []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return func(i int, outs []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if i != node {
			return outs, nil
		}
		c, err := tensor.FromCanonical(outs[0].DType, outs[0].Shape, outs[0].CanonicalBytes())
		if err != nil {
			return nil, err
		}
		c.F32[flat] = -c.F32[flat]
		return append([]*tensor.Tensor{c}, outs[1:]...), nil
	}
}

// TestTamper checks that a tampered value is what later nodes compute on,
// alike in plain and traced runs, and what the trace commits for its node.
func TestTamper(t *testing.T) {
	m, err := opmltest.Model()
	if err != nil {
		t.Skip(err)
	}
	in := opmltest.Input(9)
	honest, err := infer.Run(m, in, infer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, node := range []int{0, 3, len(m.Nodes) - 1} {
		hook := negate(node, 5)
		plain, err := infer.Run(m, in, infer.Options{Tamper: hook})
		if err != nil {
			t.Fatal(err)
		}
		traced, err := infer.Run(m, in, infer.Options{Trace: true, KeepOutputs: true, Tamper: hook})
		if err != nil {
			t.Fatal(err)
		}
		y, hy, ty := plain.Outputs["y"], honest.Outputs["y"], traced.Outputs["y"]
		if model.ValueRoot(y, 1) == model.ValueRoot(hy, 1) {
			t.Fatalf("node %d: the tampered value did not reach the output", node)
		}
		if model.ValueRoot(y, 1) != model.ValueRoot(ty, 1) {
			t.Fatalf("node %d: plain and traced tampered runs differ", node)
		}
		got := traced.NodeOutputs[node][0]
		if traced.Trace.NodeRoots[node][0] != model.ValueRoot(got, 1) {
			t.Fatalf("node %d: trace does not commit the tampered value", node)
		}
	}
	bad := []struct {
		name string
		hook func(int, []*tensor.Tensor) ([]*tensor.Tensor, error)
		want string
	}{
		{"error", func(int, []*tensor.Tensor) ([]*tensor.Tensor, error) { return nil, errors.New("boom") }, "boom"},
		{"wrong count", func(i int, outs []*tensor.Tensor) ([]*tensor.Tensor, error) { return append(outs, outs...), nil }, "tamper returned 2 outputs"},
	}
	for _, b := range bad {
		for _, trace := range []bool{false, true} {
			_, err := infer.Run(m, in, infer.Options{Trace: trace, Tamper: b.hook})
			if err == nil || !strings.Contains(err.Error(), b.want) {
				t.Fatalf("%s (trace %v): %v", b.name, trace, err)
			}
		}
	}
}
