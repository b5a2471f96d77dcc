package ops

import (
	"fmt"

	"github.com/provena/provena/tensor"
)

// attrInt returns an integer attribute or def when absent.
func attrInt(op string, a Attrs, name string, def int64) (int64, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	if v.Kind != AttrInt {
		return 0, fmt.Errorf("op %s: attribute %s: want an int", op, name)
	}
	return v.Int, nil
}

func attrFloat(op string, a Attrs, name string, def float32) (float32, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	if v.Kind != AttrFloat {
		return 0, fmt.Errorf("op %s: attribute %s: want a float", op, name)
	}
	return v.Float, nil
}

func attrString(op string, a Attrs, name, def string) (string, error) {
	v, ok := a[name]
	if !ok {
		return def, nil
	}
	if v.Kind != AttrString {
		return "", fmt.Errorf("op %s: attribute %s: want a string", op, name)
	}
	return v.String, nil
}

// attrInts returns an ints attribute, or nil, false when absent.
func attrInts(op string, a Attrs, name string) ([]int64, bool, error) {
	v, ok := a[name]
	if !ok {
		return nil, false, nil
	}
	if v.Kind != AttrInts {
		return nil, false, fmt.Errorf("op %s: attribute %s: want ints", op, name)
	}
	return v.Ints, true, nil
}

func opset(a Attrs) int {
	if v, ok := a[OpsetAttr]; ok && v.Kind == AttrInt && v.Int > 0 && v.Int < 1000 {
		return int(v.Int)
	}
	return DefaultOpset
}

// present reports whether optional input i is given.
func present(in []tensor.Meta, i int) bool { return i < len(in) && in[i].DType != 0 }

func presentT(in []*tensor.Tensor, i int) bool { return i < len(in) && in[i] != nil }

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(op string, axis int64, rank int) (int, error) {
	if axis < -int64(rank) || axis >= int64(rank) {
		return 0, fmt.Errorf("op %s: axis %d out of range for rank %d", op, axis, rank)
	}
	if axis < 0 {
		axis += int64(rank)
	}
	return int(axis), nil
}

// constInts reads a constant integer input (int64 or int32) as int64s.
func constInts(op string, m tensor.Meta, what string) ([]int64, error) {
	if m.Const == nil {
		return nil, &UnsupportedError{Op: op, What: what + " must be a constant input"}
	}
	return tensorInts(op, m.Const, what)
}

func tensorInts(op string, t *tensor.Tensor, what string) ([]int64, error) {
	switch t.DType {
	case tensor.Int64:
		if len(t.I64) != tensor.NumElements(t.Shape) {
			return nil, fmt.Errorf("op %s: %s: malformed tensor", op, what)
		}
		return t.I64, nil
	case tensor.Int32:
		if len(t.I32) != tensor.NumElements(t.Shape) {
			return nil, fmt.Errorf("op %s: %s: malformed tensor", op, what)
		}
		v := make([]int64, len(t.I32))
		for i, x := range t.I32 {
			v[i] = int64(x)
		}
		return v, nil
	}
	return nil, fmt.Errorf("op %s: %s: want int64 or int32, got %v", op, what, t.DType)
}

// constFloats reads a constant float32 input.
func constFloats(op string, m tensor.Meta, what string) ([]float32, error) {
	if m.Const == nil {
		return nil, &UnsupportedError{Op: op, What: what + " must be a constant input"}
	}
	if m.Const.DType != tensor.Float32 || len(m.Const.F32) != tensor.NumElements(m.Const.Shape) {
		return nil, fmt.Errorf("op %s: %s: want float32", op, what)
	}
	return m.Const.F32, nil
}

func checkInputs(op string, in []tensor.Meta, lo, hi int) error {
	if len(in) < lo || len(in) > hi {
		return fmt.Errorf("op %s: %d inputs, want %d to %d", op, len(in), lo, hi)
	}
	for i := 0; i < lo; i++ {
		if in[i].DType == 0 {
			return fmt.Errorf("op %s: input %d is required", op, i)
		}
	}
	for i, m := range in {
		if m.DType == 0 {
			continue
		}
		if _, err := tensor.CheckShape(m.Shape); err != nil {
			return fmt.Errorf("op %s: input %d: %w", op, i, err)
		}
	}
	return nil
}

func checkType(op string, in []tensor.Meta, i int, allowed ...tensor.DType) error {
	for _, d := range allowed {
		if in[i].DType == d {
			return nil
		}
	}
	return fmt.Errorf("op %s: input %d: type %v not supported (want %v)", op, i, in[i].DType, allowed)
}

func metaOf(t *tensor.Tensor) tensor.Meta {
	if t == nil {
		return tensor.Meta{}
	}
	return tensor.Meta{DType: t.DType, Shape: t.Shape, Const: t}
}

func metasOf(in []*tensor.Tensor) []tensor.Meta {
	m := make([]tensor.Meta, len(in))
	for i, t := range in {
		m[i] = metaOf(t)
	}
	return m
}

// newOut is a zero output tensor, float32 ones from recycled activations
// where one of the same length is free.
func newOut(dt tensor.DType, shape []int) (*tensor.Tensor, error) {
	if dt == tensor.Float32 {
		if n, err := tensor.CheckShape(shape); err == nil && n > 0 {
			if b := pooledF32(n, true); b != nil {
				return &tensor.Tensor{DType: dt, Shape: append([]int(nil), shape...), F32: b}, nil
			}
		}
	}
	return tensor.New(dt, shape)
}

func outMeta(dt tensor.DType, shape []int) []tensor.Meta {
	return []tensor.Meta{{DType: dt, Shape: shape}}
}

func checkOut(op string, out, flat int, shape []int) error {
	if out != 0 {
		return fmt.Errorf("op %s: output %d does not exist", op, out)
	}
	if flat < 0 || flat >= tensor.NumElements(shape) {
		return fmt.Errorf("op %s: element %d out of range for shape %v", op, flat, shape)
	}
	return nil
}

// unravel writes the multi-index of flat into idx.
func unravel(flat int, shape []int, idx []int) {
	for i := len(shape) - 1; i >= 0; i-- {
		d := shape[i]
		if d == 0 {
			idx[i] = 0
			continue
		}
		idx[i] = flat % d
		flat /= d
	}
}
