package ops

import (
	"fmt"

	"github.com/provena/provena/tensor"
)

// shapeOp is Shape (with opset-15 start/end): the input's static shape as
// int64. It reads no input elements.
type shapeOp struct{}

func init() { Register("Shape", shapeOp{}) }

func shapeDims(in []tensor.Meta, a Attrs) ([]int64, error) {
	if err := checkInputs("Shape", in, 1, 1); err != nil {
		return nil, err
	}
	s := in[0].Shape
	r := int64(len(s))
	start, err := attrInt("Shape", a, "start", 0)
	if err != nil {
		return nil, err
	}
	end, err := attrInt("Shape", a, "end", r)
	if err != nil {
		return nil, err
	}
	clampAxis := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end = clampAxis(start), clampAxis(end)
	var dims []int64
	for i := start; i < end; i++ {
		dims = append(dims, int64(s[i]))
	}
	return dims, nil
}

func (shapeOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	dims, err := shapeDims(in, a)
	if err != nil {
		return nil, err
	}
	t := &tensor.Tensor{DType: tensor.Int64, Shape: []int{len(dims)}, I64: append([]int64{}, dims...)}
	return []tensor.Meta{{DType: tensor.Int64, Shape: t.Shape, Const: t}}, nil
}

func (shapeOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	dims, err := shapeDims(metasOf(in), a)
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{{DType: tensor.Int64, Shape: []int{len(dims)}, I64: append([]int64{}, dims...)}}, nil
}

func (shapeOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	dims, err := shapeDims(in, a)
	if err != nil {
		return nil, err
	}
	if err := checkOut("Shape", out, flat, []int{len(dims)}); err != nil {
		return nil, err
	}
	return [][]Range{{}}, nil
}

func (shapeOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	dims, err := shapeDims(metasOf(in), a)
	if err != nil {
		return 0, err
	}
	if err := checkOut("Shape", out, flat, []int{len(dims)}); err != nil {
		return 0, err
	}
	return uint64(dims[flat]), nil
}

// constantOfShapeOp is ConstantOfShape: a tensor of the constant input shape
// filled with the value attribute (float32 zero by default).
type constantOfShapeOp struct{}

func init() { Register("ConstantOfShape", constantOfShapeOp{}) }

func cosSpec(in []tensor.Meta, a Attrs) ([]int, *tensor.Tensor, error) {
	if err := checkInputs("ConstantOfShape", in, 1, 1); err != nil {
		return nil, nil, err
	}
	spec, err := constInts("ConstantOfShape", in[0], "input 0 (shape)")
	if err != nil {
		return nil, nil, err
	}
	if len(spec) > 64 {
		return nil, nil, fmt.Errorf("op ConstantOfShape: rank %d", len(spec))
	}
	shape := make([]int, len(spec))
	for i, d := range spec {
		if d < 0 || d > tensor.MaxElements {
			return nil, nil, fmt.Errorf("op ConstantOfShape: invalid dimension %d", d)
		}
		shape[i] = int(d)
	}
	if _, err := tensor.CheckShape(shape); err != nil {
		return nil, nil, fmt.Errorf("op ConstantOfShape: %w", err)
	}
	val := &tensor.Tensor{DType: tensor.Float32, Shape: []int{1}, F32: []float32{0}}
	if v, ok := a["value"]; ok {
		if v.Kind != AttrTensor || v.Tensor == nil || v.Tensor.Len() != 1 {
			return nil, nil, fmt.Errorf("op ConstantOfShape: attribute value must be a one-element tensor")
		}
		val = v.Tensor
	}
	return shape, val, nil
}

func (constantOfShapeOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	shape, val, err := cosSpec(in, a)
	if err != nil {
		return nil, err
	}
	return outMeta(val.DType, shape), nil
}

func (constantOfShapeOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	shape, val, err := cosSpec(metasOf(in), a)
	if err != nil {
		return nil, err
	}
	out, err := newOut(val.DType, shape)
	if err != nil {
		return nil, err
	}
	b := val.Bits(0)
	for i := range out.Len() {
		setBits(out, i, b)
	}
	return []*tensor.Tensor{out}, nil
}
