package ops

import (
	"fmt"
	"math"

	"github.com/provena/provena/tensor"
)

var anyType = []tensor.DType{tensor.Float32, tensor.Int64, tensor.Int32, tensor.Int8, tensor.Uint8, tensor.Bool}

func init() {
	for _, m := range []*mapOp{
		{"Reshape", reshapePlan},
		{"Flatten", flattenPlan},
		{"Squeeze", squeezePlan},
		{"Unsqueeze", unsqueezePlan},
		{"Identity", func(in []tensor.Meta, a Attrs) (*mapPlan, error) {
			if err := checkInputs("Identity", in, 1, 1); err != nil {
				return nil, err
			}
			return identityPlan(in, append([]int(nil), in[0].Shape...))
		}},
		{"Dropout", dropoutPlan},
		{"Transpose", transposePlan},
		{"Concat", concatPlan},
		{"Split", splitPlan},
		{"Slice", slicePlan},

		{"Pad", padPlan},
		{"Expand", expandPlan},
	} {
		Register(m.name, m)
	}
}

func reshapePlan(in []tensor.Meta, a Attrs) (*mapPlan, error) {
	if err := checkInputs("Reshape", in, 2, 2); err != nil {
		return nil, err
	}
	spec, err := constInts("Reshape", in[1], "input 1 (shape)")
	if err != nil {
		return nil, err
	}
	allowZero, err := attrInt("Reshape", a, "allowzero", 0)
	if err != nil {
		return nil, err
	}
	if len(spec) > 64 {
		return nil, fmt.Errorf("op Reshape: shape of rank %d", len(spec))
	}
	shape := make([]int, len(spec))
	infer := -1
	known := 1
	for i, d := range spec {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("op Reshape: more than one -1 in shape %v", spec)
			}
			infer = i
			continue
		case d == 0 && allowZero == 0:
			if i >= len(in[0].Shape) {
				return nil, fmt.Errorf("op Reshape: shape %v copies dimension %d of a rank-%d input", spec, i, len(in[0].Shape))
			}
			shape[i] = in[0].Shape[i]
		case d < 0 || d > tensor.MaxElements:
			return nil, fmt.Errorf("op Reshape: invalid dimension %d in shape %v", d, spec)
		default:
			shape[i] = int(d)
		}
		if shape[i] != 0 && known > tensor.MaxElements/shape[i] {
			return nil, fmt.Errorf("op Reshape: shape %v too large", spec)
		}
		known *= shape[i]
	}
	total := tensor.NumElements(in[0].Shape)
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, fmt.Errorf("op Reshape: cannot infer -1 in %v for %d elements", spec, total)
		}
		shape[infer] = total / known
	}
	p, err := identityPlan(in, shape, 1)
	if err != nil {
		return nil, fmt.Errorf("op Reshape: %w", err)
	}
	return p, nil
}

func flattenPlan(in []tensor.Meta, a Attrs) (*mapPlan, error) {
	if err := checkInputs("Flatten", in, 1, 1); err != nil {
		return nil, err
	}
	r := len(in[0].Shape)
	axis, err := attrInt("Flatten", a, "axis", 1)
	if err != nil {
		return nil, err
	}
	if axis < -int64(r) || axis > int64(r) {
		return nil, fmt.Errorf("op Flatten: axis %d out of range for rank %d", axis, r)
	}
	if axis < 0 {
		axis += int64(r)
	}
	outer := tensor.NumElements(in[0].Shape[:axis])
	return identityPlan(in, []int{outer, tensor.NumElements(in[0].Shape[axis:])})
}

// axesInput reads axes from attribute "axes" before opset 13 and from input
// 1 from opset 13 on; ok is false when neither is given.
func axesInput(op string, in []tensor.Meta, a Attrs, since int) ([]int64, bool, error) {
	if opset(a) < since {
		return attrInts(op, a, "axes")
	}
	if !present(in, 1) {
		return nil, false, nil
	}
	v, err := constInts(op, in[1], "input 1 (axes)")
	return v, err == nil, err
}

func squeezePlan(in []tensor.Meta, a Attrs) (*mapPlan, error) {
	if err := checkInputs("Squeeze", in, 1, 2); err != nil {
		return nil, err
	}
	axes, ok, err := axesInput("Squeeze", in, a, 13)
	if err != nil {
		return nil, err
	}
	s := in[0].Shape
	drop := make([]bool, len(s))
	if !ok {
		for i, d := range s {
			drop[i] = d == 1
		}
	}
	for _, ax := range axes {
		i, err := normAxis("Squeeze", ax, len(s))
		if err != nil {
			return nil, err
		}
		if s[i] != 1 {
			return nil, fmt.Errorf("op Squeeze: dimension %d has size %d, not 1", i, s[i])
		}
		drop[i] = true
	}
	var shape []int
	for i, d := range s {
		if !drop[i] {
			shape = append(shape, d)
		}
	}
	return identityPlan(in, shape, 1)
}

func unsqueezePlan(in []tensor.Meta, a Attrs) (*mapPlan, error) {
	if err := checkInputs("Unsqueeze", in, 1, 2); err != nil {
		return nil, err
	}
	axes, ok, err := axesInput("Unsqueeze", in, a, 13)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("op Unsqueeze: axes are required")
	}
	r := len(in[0].Shape) + len(axes)
	if r > 64 {
		return nil, fmt.Errorf("op Unsqueeze: rank %d too large", r)
	}
	ins := make([]bool, r)
	for _, ax := range axes {
		i, err := normAxis("Unsqueeze", ax, r)
		if err != nil {
			return nil, err
		}
		if ins[i] {
			return nil, fmt.Errorf("op Unsqueeze: axis %d repeated", ax)
		}
		ins[i] = true
	}
	shape := make([]int, 0, r)
	k := 0
	for i := range r {
		if ins[i] {
			shape = append(shape, 1)
		} else {
			shape = append(shape, in[0].Shape[k])
			k++
		}
	}
	return identityPlan(in, shape, 1)
}

func dropoutPlan(in []tensor.Meta, a Attrs) (*mapPlan, error) {
	if err := checkInputs("Dropout", in, 1, 3); err != nil {
		return nil, err
	}
	if n, _ := attrInt("Dropout", a, OutputsAttr, 1); n > 1 {
		return nil, &UnsupportedError{Op: "Dropout", What: "the mask output (training only)"}
	}
	if present(in, 2) {
		v, err := constInts("Dropout", tensor.Meta{Const: boolAsInt(in[2].Const)}, "input 2 (training_mode)")
		if err != nil || len(v) != 1 || v[0] != 0 {
			return nil, &UnsupportedError{Op: "Dropout", What: "training_mode must be a constant false"}
		}
	}
	return identityPlan(in, append([]int(nil), in[0].Shape...), 1, 2)
}

func boolAsInt(t *tensor.Tensor) *tensor.Tensor {
	if t == nil || (t.DType != tensor.Bool && t.DType != tensor.Uint8) {
		return t
	}
	v := make([]int64, len(t.U8))
	for i, b := range t.U8 {
		v[i] = int64(b)
	}
	return &tensor.Tensor{DType: tensor.Int64, Shape: t.Shape, I64: v}
}

func transposePlan(in []tensor.Meta, a Attrs) (*mapPlan, error) {
	if err := checkInputs("Transpose", in, 1, 1); err != nil {
		return nil, err
	}
	s := in[0].Shape
	r := len(s)
	perm, ok, err := attrInts("Transpose", a, "perm")
	if err != nil {
		return nil, err
	}
	if !ok {
		perm = make([]int64, r)
		for i := range perm {
			perm[i] = int64(r - 1 - i)
		}
	}
	if len(perm) != r {
		return nil, fmt.Errorf("op Transpose: perm %v for rank %d", perm, r)
	}
	seen := make([]bool, r)
	shape := make([]int, r)
	ist := tensor.Strides(s)
	st := make([]int, r) // input stride of each output dimension
	for i, p := range perm {
		if p < 0 || p >= int64(r) || seen[p] {
			return nil, fmt.Errorf("op Transpose: perm %v is not a permutation", perm)
		}
		seen[p] = true
		shape[i] = s[p]
		st[i] = ist[p]
	}
	at := func(idx []int) int {
		f := 0
		for d, i := range idx {
			f += i * st[d]
		}
		return f
	}
	return &mapPlan{
		outs: outMeta(in[0].DType, shape),
		src:  func(_ int, idx []int) (int, int, error) { return 0, at(idx), nil },
		row: func(_ int, idx []int) (int, int, int, bool) {
			if r == 0 {
				return 0, 0, 1, true
			}
			return 0, at(idx), st[r-1], true
		},
	}, nil
}

func concatPlan(in []tensor.Meta, a Attrs) (*mapPlan, error) {
	if err := checkInputs("Concat", in, 1, 1<<16); err != nil {
		return nil, err
	}
	for i := range in {
		if in[i].DType == 0 {
			return nil, fmt.Errorf("op Concat: input %d is missing", i)
		}
		if in[i].DType != in[0].DType {
			return nil, fmt.Errorf("op Concat: input %d: type %v differs from input 0's %v", i, in[i].DType, in[0].DType)
		}
	}
	if _, ok := a["axis"]; !ok {
		return nil, fmt.Errorf("op Concat: attribute axis is required")
	}
	ax64, err := attrInt("Concat", a, "axis", 0)
	if err != nil {
		return nil, err
	}
	r := len(in[0].Shape)
	axis, err := normAxis("Concat", ax64, r)
	if err != nil {
		return nil, err
	}
	shape := append([]int(nil), in[0].Shape...)
	starts := make([]int, len(in)+1) // offset of each input along axis
	for i, m := range in {
		if len(m.Shape) != r {
			return nil, fmt.Errorf("op Concat: input %d: rank %d, want %d", i, len(m.Shape), r)
		}
		for d := range r {
			if d != axis && m.Shape[d] != shape[d] {
				return nil, fmt.Errorf("op Concat: input %d: shape %v does not match %v off axis %d", i, m.Shape, in[0].Shape, axis)
			}
		}
		starts[i+1] = starts[i] + m.Shape[axis]
		if starts[i+1] > tensor.MaxElements {
			return nil, fmt.Errorf("op Concat: output too large")
		}
	}
	shape[axis] = starts[len(in)]
	if _, err := tensor.CheckShape(shape); err != nil {
		return nil, fmt.Errorf("op Concat: %w", err)
	}
	strides := make([][]int, len(in))
	for i, m := range in {
		strides[i] = tensor.Strides(m.Shape)
	}
	locate := func(idx []int) (int, int) {
		k := idx[axis]
		i := 0
		for starts[i+1] <= k {
			i++
		}
		f := 0
		for d, v := range idx {
			if d == axis {
				v -= starts[i]
			}
			f += v * strides[i][d]
		}
		return i, f
	}
	return &mapPlan{
		outs: outMeta(in[0].DType, shape),
		src: func(_ int, idx []int) (int, int, error) {
			i, f := locate(idx)
			return i, f, nil
		},
		row: func(_ int, idx []int) (int, int, int, bool) {
			if axis == r-1 {
				return 0, 0, 0, false
			}
			i, f := locate(idx)
			return i, f, 1, true
		},
	}, nil
}

func splitPlan(in []tensor.Meta, a Attrs) (*mapPlan, error) {
	if err := checkInputs("Split", in, 1, 2); err != nil {
		return nil, err
	}
	r := len(in[0].Shape)
	ax64, err := attrInt("Split", a, "axis", 0)
	if err != nil {
		return nil, err
	}
	axis, err := normAxis("Split", ax64, r)
	if err != nil {
		return nil, err
	}
	dim := in[0].Shape[axis]
	var sizes []int64
	if opset(a) < 13 {
		sizes, _, err = attrInts("Split", a, "split")
	} else if present(in, 1) {
		sizes, err = constInts("Split", in[1], "input 1 (split)")
	}
	if err != nil {
		return nil, err
	}
	if sizes == nil {
		n, err := attrInt("Split", a, "num_outputs", 0)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			if n, err = attrInt("Split", a, OutputsAttr, 0); err != nil {
				return nil, err
			}
		}
		if n < 1 || n > 1<<16 {
			return nil, fmt.Errorf("op Split: number of outputs unknown (set %s)", OutputsAttr)
		}
		chunk := (int64(dim) + n - 1) / n
		for left := int64(dim); int64(len(sizes)) < n; left -= min(chunk, left) {
			sizes = append(sizes, min(chunk, left))
		}
	}
	if len(sizes) > 1<<16 {
		return nil, fmt.Errorf("op Split: %d outputs", len(sizes))
	}
	starts := make([]int, len(sizes))
	total := 0
	outs := make([]tensor.Meta, len(sizes))
	for i, s := range sizes {
		if s < 0 || s > int64(dim) {
			return nil, fmt.Errorf("op Split: split size %d out of range", s)
		}
		starts[i] = total
		total += int(s)
		shape := append([]int(nil), in[0].Shape...)
		shape[axis] = int(s)
		outs[i] = tensor.Meta{DType: in[0].DType, Shape: shape}
	}
	if total != dim {
		return nil, fmt.Errorf("op Split: sizes %v do not add up to dimension %d", sizes, dim)
	}
	ist := tensor.Strides(in[0].Shape)
	at := func(o int, idx []int) int {
		f := 0
		for d, v := range idx {
			if d == axis {
				v += starts[o]
			}
			f += v * ist[d]
		}
		return f
	}
	return &mapPlan{
		outs:   outs,
		src:    func(o int, idx []int) (int, int, error) { return 0, at(o, idx), nil },
		row:    func(o int, idx []int) (int, int, int, bool) { return 0, at(o, idx), 1, true },
		params: []int{1},
	}, nil
}

// sliceSpec reads Slice's starts, ends, axes and steps (attributes before
// opset 10, constant inputs from 10).
func sliceSpec(in []tensor.Meta, a Attrs) (starts, ends, axes, steps []int64, err error) {
	if opset(a) < 10 {
		if err := checkInputs("Slice", in, 1, 1); err != nil {
			return nil, nil, nil, nil, err
		}
		starts, _, err = attrInts("Slice", a, "starts")
		if err == nil {
			ends, _, err = attrInts("Slice", a, "ends")
		}
		if err == nil {
			axes, _, err = attrInts("Slice", a, "axes")
		}
		return starts, ends, axes, nil, err
	}
	if err := checkInputs("Slice", in, 3, 5); err != nil {
		return nil, nil, nil, nil, err
	}
	if starts, err = constInts("Slice", in[1], "input 1 (starts)"); err != nil {
		return
	}
	if ends, err = constInts("Slice", in[2], "input 2 (ends)"); err != nil {
		return
	}
	if present(in, 3) {
		if axes, err = constInts("Slice", in[3], "input 3 (axes)"); err != nil {
			return
		}
	}
	if present(in, 4) {
		steps, err = constInts("Slice", in[4], "input 4 (steps)")
	}
	return
}

func slicePlan(in []tensor.Meta, a Attrs) (*mapPlan, error) {
	starts, ends, axes, steps, err := sliceSpec(in, a)
	if err != nil {
		return nil, err
	}
	s := in[0].Shape
	r := len(s)
	if len(ends) != len(starts) || (axes != nil && len(axes) != len(starts)) || (steps != nil && len(steps) != len(starts)) {
		return nil, fmt.Errorf("op Slice: starts, ends, axes and steps differ in length")
	}
	begin := make([]int, r)
	step := make([]int, r)
	shape := append([]int(nil), s...)
	for d := range step {
		step[d] = 1
	}
	seen := make([]bool, r)
	for i := range starts {
		ax := int64(i)
		if axes != nil {
			ax = axes[i]
		}
		d, err := normAxis("Slice", ax, r)
		if err != nil {
			return nil, err
		}
		if seen[d] {
			return nil, fmt.Errorf("op Slice: axis %d repeated", d)
		}
		seen[d] = true
		st := int64(1)
		if steps != nil {
			st = steps[i]
		}
		if st == 0 || st == math.MinInt64 {
			return nil, fmt.Errorf("op Slice: invalid step %d", st)
		}
		dim := int64(s[d])
		clampIdx := func(v, lo, hi int64) int64 {
			if v < 0 {
				if v < -dim {
					v = lo
				} else {
					v += dim
				}
			}
			return min(max(v, lo), hi)
		}
		var b, e int64
		if st > 0 {
			b, e = clampIdx(starts[i], 0, dim), clampIdx(ends[i], 0, dim)
		} else {
			b, e = clampIdx(starts[i], 0, dim-1), clampIdx(ends[i], -1, dim-1)
			if ends[i] < -dim {
				e = -1
			}
		}
		n := int64(0)
		if st > 0 && e > b {
			n = (e - b + st - 1) / st
		} else if st < 0 && e < b {
			n = (b - e + (-st) - 1) / (-st)
		}
		begin[d], step[d], shape[d] = int(b), int(st), int(n)
	}
	ist := tensor.Strides(s)
	at := func(idx []int) int {
		f := 0
		for d, v := range idx {
			f += (begin[d] + v*step[d]) * ist[d]
		}
		return f
	}
	return &mapPlan{
		outs: outMeta(in[0].DType, shape),
		src:  func(_ int, idx []int) (int, int, error) { return 0, at(idx), nil },
		row: func(_ int, idx []int) (int, int, int, bool) {
			if r == 0 {
				return 0, 0, 1, true
			}
			return 0, at(idx), step[r-1] * ist[r-1], true
		},
		params: []int{1, 2, 3, 4},
	}, nil
}

// gatherPlan is Gather: out[i.., j.., k..] = data[i.., indices[j..], k..];
// negative indices count from the end; an index out of range is an error.
func gatherPlan(in []tensor.Meta, a Attrs) (*mapPlan, error) {
	if err := checkInputs("Gather", in, 2, 2); err != nil {
		return nil, err
	}
	if err := checkType("Gather", in, 1, tensor.Int64, tensor.Int32); err != nil {
		return nil, err
	}
	s := in[0].Shape
	ax64, err := attrInt("Gather", a, "axis", 0)
	if err != nil {
		return nil, err
	}
	axis, err := normAxis("Gather", ax64, len(s))
	if err != nil {
		return nil, err
	}
	is := in[1].Shape
	shape := append(append(append([]int(nil), s[:axis]...), is...), s[axis+1:]...)
	if _, err := tensor.CheckShape(shape); err != nil {
		return nil, fmt.Errorf("op Gather: %w", err)
	}
	ist := tensor.Strides(s)
	xst := tensor.Strides(is)
	idxT := in[1].Const
	dim := s[axis]
	at := func(idx []int) (int, error) {
		if idxT == nil {
			return 0, &UnsupportedError{Op: "Gather", What: "indices must be known"}
		}
		j := 0
		for d := range is {
			j += idx[axis+d] * xst[d]
		}
		k := intAt(idxT, j)
		if k < -int64(dim) || k >= int64(dim) {
			return 0, fmt.Errorf("index %d out of range for dimension %d", k, dim)
		}
		if k < 0 {
			k += int64(dim)
		}
		f := 0
		for d := range axis {
			f += idx[d] * ist[d]
		}
		f += int(k) * ist[axis]
		for d := axis + 1; d < len(s); d++ {
			f += idx[d+len(is)-1] * ist[d]
		}
		return f, nil
	}
	return &mapPlan{
		outs: outMeta(in[0].DType, shape),
		src: func(_ int, idx []int) (int, int, error) {
			f, err := at(idx)
			return 0, f, err
		},
		row: func(_ int, idx []int) (int, int, int, bool) {
			if axis == len(s)-1 || len(shape) == 0 {
				return 0, 0, 0, false
			}
			f, err := at(idx)
			return 0, f, 1, err == nil
		},
	}, nil
}

type gatherOp struct{ *mapOp }

// Deps for Gather reads the index element, then the data element it selects.
// Without constant indices the data dependency is the whole axis.
func (g gatherOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	p, err := gatherPlan(in, a)
	if err != nil {
		return nil, err
	}
	shape := p.outs[0].Shape
	if err := checkOut("Gather", out, flat, shape); err != nil {
		return nil, err
	}
	s, is := in[0].Shape, in[1].Shape
	ax64, _ := attrInt("Gather", a, "axis", 0)
	axis, _ := normAxis("Gather", ax64, len(s))
	idx := make([]int, len(shape))
	unravel(flat, shape, idx)
	xst := tensor.Strides(is)
	j := 0
	for d := range is {
		j += idx[axis+d] * xst[d]
	}
	deps := [][]Range{nil, one(j)}
	if in[1].Const != nil {
		_, f, err := p.src(0, idx)
		if err != nil {
			return nil, fmt.Errorf("op Gather: %w", err)
		}
		deps[0] = one(f)
		return deps, nil
	}
	ist := tensor.Strides(s)
	var rs rangeSet
	for k := 0; k < s[axis]; k++ {
		f := k * ist[axis]
		for d := range axis {
			f += idx[d] * ist[d]
		}
		for d := axis + 1; d < len(s); d++ {
			f += idx[d+len(is)-1] * ist[d]
		}
		rs.add(f, f+1)
	}
	deps[0] = rs.norm()
	return deps, nil
}

func (g gatherOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	return g.mapOp.Elem(in, a, out, flat)
}

// padPlan is Pad (modes constant, reflect, edge; negative pads crop).
func padPlan(in []tensor.Meta, a Attrs) (*mapPlan, error) {
	if err := checkInputs("Pad", in, 1, 4); err != nil {
		return nil, err
	}
	mode, err := attrString("Pad", a, "mode", "constant")
	if err != nil {
		return nil, err
	}
	if mode != "constant" && mode != "reflect" && mode != "edge" {
		return nil, &UnsupportedError{Op: "Pad", Attr: "mode", What: mode}
	}
	s := in[0].Shape
	r := len(s)
	var pads []int64
	var axes []int64
	var padVal func() uint64
	dt := in[0].DType
	if opset(a) < 11 {
		pads, _, err = attrInts("Pad", a, "pads")
		if err != nil {
			return nil, err
		}
		v, err := attrFloat("Pad", a, "value", 0)
		if err != nil {
			return nil, err
		}
		if dt != tensor.Float32 {
			return nil, fmt.Errorf("op Pad: opset %d pads float32 only", opset(a))
		}
		padVal = func() uint64 { return f32bits(v) }
	} else {
		if !present(in, 1) {
			return nil, fmt.Errorf("op Pad: input 1 (pads) is required")
		}
		if pads, err = constInts("Pad", in[1], "input 1 (pads)"); err != nil {
			return nil, err
		}
		if present(in, 3) {
			if axes, err = constInts("Pad", in[3], "input 3 (axes)"); err != nil {
				return nil, err
			}
		}
		padVal = func() uint64 { return 0 }
		if present(in, 2) {
			if in[2].DType != dt || tensor.NumElements(in[2].Shape) != 1 {
				return nil, fmt.Errorf("op Pad: input 2 (constant_value) must be a scalar of type %v", dt)
			}
			cv := in[2].Const
			padVal = func() uint64 {
				if cv == nil {
					return 0
				}
				return cv.Bits(0)
			}
		}
	}
	begin, end := make([]int, r), make([]int, r)
	if axes == nil {
		if len(pads) != 2*r {
			return nil, fmt.Errorf("op Pad: %d pads for rank %d", len(pads), r)
		}
		for d := range r {
			axes = append(axes, int64(d))
		}
	} else if len(pads) != 2*len(axes) {
		return nil, fmt.Errorf("op Pad: %d pads for %d axes", len(pads), len(axes))
	}
	shape := append([]int(nil), s...)
	for i, ax := range axes {
		d, err := normAxis("Pad", ax, r)
		if err != nil {
			return nil, err
		}
		b, e := pads[i], pads[i+len(axes)]
		if b < -tensor.MaxElements || b > tensor.MaxElements || e < -tensor.MaxElements || e > tensor.MaxElements {
			return nil, fmt.Errorf("op Pad: pads %v out of range", pads)
		}
		n := int64(s[d]) + b + e
		if n < 0 {
			return nil, fmt.Errorf("op Pad: dimension %d would be %d", d, n)
		}
		if mode == "reflect" && (b > 0 || e > 0) && (b >= int64(s[d]) || e >= int64(s[d])) {
			return nil, fmt.Errorf("op Pad: reflect pads %v need dimension %d larger than the pad", pads, d)
		}
		if mode == "edge" && (b > 0 || e > 0) && s[d] == 0 {
			return nil, fmt.Errorf("op Pad: edge padding of an empty dimension")
		}
		begin[d], end[d], shape[d] = int(b), int(e), int(n)
	}
	if _, err := tensor.CheckShape(shape); err != nil {
		return nil, fmt.Errorf("op Pad: %w", err)
	}
	ist := tensor.Strides(s)
	return &mapPlan{
		outs: outMeta(dt, shape),
		src: func(_ int, idx []int) (int, int, error) {
			f := 0
			for d, v := range idx {
				k := v - begin[d]
				if k < 0 || k >= s[d] {
					switch mode {
					case "constant":
						return -1, 0, nil
					case "edge":
						k = min(max(k, 0), s[d]-1)
					case "reflect":
						if k < 0 {
							k = -k
						} else {
							k = 2*(s[d]-1) - k
						}
					}
				}
				f += k * ist[d]
			}
			return 0, f, nil
		},
		pad:    padVal,
		params: []int{1, 2, 3},
	}, nil
}

// expandPlan is Expand: broadcast the input to a constant shape.
func expandPlan(in []tensor.Meta, a Attrs) (*mapPlan, error) {
	if err := checkInputs("Expand", in, 2, 2); err != nil {
		return nil, err
	}
	spec, err := constInts("Expand", in[1], "input 1 (shape)")
	if err != nil {
		return nil, err
	}
	if len(spec) > 64 {
		return nil, fmt.Errorf("op Expand: shape of rank %d", len(spec))
	}
	want := make([]int, len(spec))
	for i, d := range spec {
		if d < 0 || d > tensor.MaxElements {
			return nil, fmt.Errorf("op Expand: invalid dimension %d", d)
		}
		want[i] = int(d)
	}
	shape, err := tensor.BroadcastShapes(in[0].Shape, want)
	if err != nil {
		return nil, fmt.Errorf("op Expand: %w", err)
	}
	st := tensor.BroadcastStrides(in[0].Shape, shape)
	at := func(idx []int) int {
		f := 0
		for d, v := range idx {
			f += v * st[d]
		}
		return f
	}
	return &mapPlan{
		outs: outMeta(in[0].DType, shape),
		src:  func(_ int, idx []int) (int, int, error) { return 0, at(idx), nil },
		row: func(_ int, idx []int) (int, int, int, bool) {
			if len(shape) == 0 {
				return 0, 0, 1, true
			}
			return 0, at(idx), st[len(shape)-1], true
		},
		params: []int{1},
	}, nil
}

func init() { Register("Gather", gatherOp{&mapOp{"Gather", gatherPlan}}) }
