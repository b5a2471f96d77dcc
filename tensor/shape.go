package tensor

import "fmt"

// Strides returns the row-major element strides of a shape.
func Strides(shape []int) []int {
	s := make([]int, len(shape))
	n := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = n
		n *= shape[i]
	}
	return s
}

// BroadcastShapes applies ONNX multidirectional (NumPy) broadcasting to the
// given shapes and returns the result shape, validated by CheckShape.
func BroadcastShapes(shapes ...[]int) ([]int, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make([]int, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			if d < 0 {
				return nil, fmt.Errorf("%w: negative dimension %d", ErrShape, d)
			}
			switch o := out[off+i]; {
			case d == o || d == 1:
			case o == 1:
				out[off+i] = d
			default:
				return nil, fmt.Errorf("shapes %v cannot be broadcast together (dimension %d: %d vs %d)", shapes, off+i, o, d)
			}
		}
	}
	if _, err := CheckShape(out); err != nil {
		return nil, err
	}
	return out, nil
}

// BroadcastStrides returns, for a shape broadcast to out, the stride of each
// output dimension in the input's flat index (0 where the input repeats).
func BroadcastStrides(shape, out []int) []int {
	st := make([]int, len(out))
	off := len(out) - len(shape)
	n := 1
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 {
			st[off+i] = n
		}
		n *= shape[i]
	}
	return st
}
