package ops

import (
	"fmt"
	"slices"

	"github.com/provena/provena/internal/kernels"
	"github.com/provena/provena/tensor"
)

// ChainStep is one float32 elementwise node of a chain the executor runs in
// a single pass (RunChain): Add, Sub, Mul, Div or Clip. The intermediate
// values between steps live only in a small per-worker buffer, which spares
// the memory traffic of writing and re-reading whole tensors; every element
// still goes through exactly the operations each node's Run would apply.
type ChainStep struct {
	code   naryCode // binary steps
	clip   bool
	lo, hi float32
	// args are the operands: nil for the previous step's value, else a
	// float32 tensor of the chain's shape or of one element.
	args [2]*tensor.Tensor
	prev [2]bool
}

// NewChainStep builds a chain step for a node of type op with inputs in and
// attributes a, where prev[j] marks the inputs that are the previous step's
// value (their tensors in[j] are ignored). It reports false where the node
// cannot join a chain of the given shape; the executor then runs it alone.
func NewChainStep(op string, in []*tensor.Tensor, prev []bool, a Attrs, shape []int) (ChainStep, bool) {
	var s ChainStep
	isPrev := func(j int) bool { return j < len(prev) && prev[j] }
	operand := func(j int) bool {
		if isPrev(j) {
			s.prev[j] = true
			return true
		}
		t := in[j]
		if t == nil || t.DType != tensor.Float32 {
			return false
		}
		if t.Len() != 1 && !slices.Equal(t.Shape, shape) {
			return false
		}
		s.args[j] = t
		return true
	}
	switch op {
	case "Add", "Sub", "Mul", "Div":
		if len(in) != 2 || !operand(0) || !operand(1) {
			return s, false
		}
		// two one-element operands would make a broadcast, not a row
		if !s.prev[0] && !s.prev[1] && s.args[0].Len() == 1 && s.args[1].Len() == 1 && tensor.NumElements(shape) != 1 {
			return s, false
		}
		s.code = map[string]naryCode{"Add": nAdd, "Sub": nSub, "Mul": nMul, "Div": nDiv}[op]
	case "Clip":
		if len(in) < 1 || !operand(0) || (s.args[0] != nil && s.args[0].Len() != tensor.NumElements(shape)) {
			return s, false
		}
		for j := 1; j < len(in); j++ {
			if isPrev(j) || (in[j] != nil && in[j].DType != tensor.Float32) {
				return s, false
			}
		}
		b := clipBoundsOf(in, a)
		s.clip, s.lo, s.hi = true, b.lo, b.hi
	default:
		return s, false
	}
	return s, true
}

// chainBlock is the number of elements one step handles at a time: the
// intermediate buffer stays in the L1 cache.
const chainBlock = 2048

// RunChain runs steps over a float32 tensor of the given shape; the first
// step has no previous value. It returns the last step's output.
func RunChain(ctx *Ctx, shape []int, steps []ChainStep) (*tensor.Tensor, error) {
	if len(steps) == 0 {
		return nil, fmt.Errorf("run chain: no steps")
	}
	if steps[0].prev[0] || steps[0].prev[1] {
		return nil, fmt.Errorf("run chain: the first step reads a previous value")
	}
	out, err := newOutDirty(tensor.Float32, shape)
	if err != nil {
		return nil, fmt.Errorf("run chain: %w", err)
	}
	parallelRange(ctx, out.Len(), 1<<14, func(lo, hi int) {
		var buf [chainBlock]float32
		for b0 := lo; b0 < hi; b0 += chainBlock {
			cnt := min(chainBlock, hi-b0)
			cur := buf[:cnt]
			for k := range steps {
				st := &steps[k]
				dst := cur
				if k == len(steps)-1 {
					dst = out.F32[b0 : b0+cnt]
				}
				var ops [2][]float32
				var strides [2]int
				for j := range 2 {
					switch {
					case st.prev[j]:
						ops[j], strides[j] = cur, 1
					case st.args[j] == nil:
					case st.args[j].Len() == 1 && len(out.F32) != 1:
						ops[j], strides[j] = st.args[j].F32[:1], 0
					default:
						ops[j], strides[j] = st.args[j].F32[b0:b0+cnt], 1
					}
				}
				if st.clip {
					kernels.ClipRow(dst, ops[0], st.lo, st.hi)
				} else {
					binRowF32(st.code, dst, ops[0], ops[1], strides[0], strides[1])
				}
			}
		}
	})
	return out, nil
}
