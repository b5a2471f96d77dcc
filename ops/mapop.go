package ops

import (
	"fmt"

	"github.com/provena/provena/tensor"
)

// mapPlan describes a pure data-movement operator: every output element is
// a copy of one input element (or a constant pad value). No arithmetic
// happens, so Run, Elem and every thread split give the same bits by
// construction.
type mapPlan struct {
	outs []tensor.Meta
	// src maps output element idx (a multi-index) of output out to an input
	// and flat index; in < 0 means the pad value.
	src func(out int, idx []int) (in, at int, err error)
	// row, when set and ok, says the output row at idx (whose last index is
	// 0) reads input in at at, at+stride, ... .
	row func(out int, idx []int) (in, at, stride int, ok bool)
	// pad returns the bits of the pad value.
	pad func() uint64
	// params are inputs the plan reads whole (shape-defining constants).
	params []int
}

type mapOp struct {
	name string
	plan func(in []tensor.Meta, a Attrs) (*mapPlan, error)
}

func (m *mapOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	p, err := m.plan(in, a)
	if err != nil {
		return nil, err
	}
	return p.outs, nil
}

func (m *mapOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	p, err := m.plan(metasOf(in), a)
	if err != nil {
		return nil, err
	}
	outs := make([]*tensor.Tensor, len(p.outs))
	for o, meta := range p.outs {
		t, err := newOutDirty(meta.DType, meta.Shape)
		if err != nil {
			return nil, err
		}
		outs[o] = t
		shape := meta.Shape
		n := t.Len()
		if n == 0 {
			continue
		}
		rowLen := 1
		if len(shape) > 0 {
			rowLen = shape[len(shape)-1]
		}
		rows := n / rowLen
		var fail errOnce
		parallelRange(ctx, rows, max(1, 1<<14/rowLen), func(lo, hi int) {
			idx := make([]int, len(shape))
			for r := lo; r < hi; r++ {
				base := r * rowLen
				unravel(base, shape, idx)
				if p.row != nil {
					if src, at, stride, ok := p.row(o, idx); ok {
						copyStrided(t, base, in[src], at, stride, rowLen)
						continue
					}
				}
				for j := 0; j < rowLen; j++ {
					if len(idx) > 0 {
						idx[len(idx)-1] = j
					}
					src, at, err := p.src(o, idx)
					if err != nil {
						fail.set(err)
						return
					}
					if src < 0 {
						setBits(t, base+j, p.pad())
					} else {
						setBits(t, base+j, in[src].Bits(at))
					}
				}
			}
		})
		if fail.err != nil {
			return nil, fmt.Errorf("op %s: %w", m.name, fail.err)
		}
	}
	return outs, nil
}

func (m *mapOp) locate(p *mapPlan, out, flat int) (int, int, error) {
	if out < 0 || out >= len(p.outs) {
		return 0, 0, fmt.Errorf("op %s: output %d does not exist", m.name, out)
	}
	shape := p.outs[out].Shape
	if flat < 0 || flat >= tensor.NumElements(shape) {
		return 0, 0, fmt.Errorf("op %s: element %d out of range for shape %v", m.name, flat, shape)
	}
	idx := make([]int, len(shape))
	unravel(flat, shape, idx)
	src, at, err := p.src(out, idx)
	if err != nil {
		return 0, 0, fmt.Errorf("op %s: %w", m.name, err)
	}
	return src, at, nil
}

func (m *mapOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	p, err := m.plan(in, a)
	if err != nil {
		return nil, err
	}
	src, at, err := m.locate(p, out, flat)
	if err != nil {
		return nil, err
	}
	deps := make([][]Range, len(in))
	for _, i := range p.params {
		if present(in, i) && tensor.NumElements(in[i].Shape) > 0 {
			n := tensor.NumElements(in[i].Shape)
			deps[i] = []Range{{0, n}}
		}
	}
	if src >= 0 {
		deps[src] = one(at)
	}
	return deps, nil
}

func (m *mapOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	p, err := m.plan(metasOf(in), a)
	if err != nil {
		return 0, err
	}
	src, at, err := m.locate(p, out, flat)
	if err != nil {
		return 0, err
	}
	if src < 0 {
		return p.pad(), nil
	}
	return in[src].Bits(at), nil
}

// copyStrided copies n elements src[so + j*stride] to dst[do + j].
func copyStrided(dst *tensor.Tensor, do int, src *tensor.Tensor, so, stride, n int) {
	if stride == 1 {
		copyElems(dst, do, src, so, n)
		return
	}
	switch dst.DType {
	case tensor.Float32:
		d, s := dst.F32[do:do+n], src.F32
		for j := range d {
			d[j] = s[so+j*stride]
		}
	case tensor.Int64:
		d, s := dst.I64[do:do+n], src.I64
		for j := range d {
			d[j] = s[so+j*stride]
		}
	default:
		for j := 0; j < n; j++ {
			setBits(dst, do+j, src.Bits(so+j*stride))
		}
	}
}

// identityPlan is a plan whose single output has the input's elements in
// the same order (Reshape, Flatten, Squeeze, Unsqueeze, Identity).
func identityPlan(in []tensor.Meta, shape []int, params ...int) (*mapPlan, error) {
	if n, err := tensor.CheckShape(shape); err != nil {
		return nil, err
	} else if n != tensor.NumElements(in[0].Shape) {
		return nil, fmt.Errorf("%d elements cannot be reshaped to %v", tensor.NumElements(in[0].Shape), shape)
	}
	st := tensor.Strides(shape)
	return &mapPlan{
		outs: outMeta(in[0].DType, shape),
		src: func(_ int, idx []int) (int, int, error) {
			f := 0
			for d, i := range idx {
				f += i * st[d]
			}
			return 0, f, nil
		},
		row: func(_ int, idx []int) (int, int, int, bool) {
			f := 0
			for d, i := range idx {
				f += i * st[d]
			}
			return 0, f, 1, true
		},
		params: params,
	}, nil
}
