package ops

import (
	"fmt"
	"math"

	"github.com/provena/provena/tensor"
)

// poolOp is AveragePool and MaxPool over 1-D or 2-D windows. Canonical
// order per output: taps in (i, j) order, padding skipped. AveragePool: s =
// +0; s += x; y = s / float32(count), count being the in-bounds taps, or,
// with count_include_pad, the taps inside the padded input. MaxPool: m =
// -Inf; m = x where x > m or x is NaN.
type poolOp struct {
	name string
	max  bool
}

func init() {
	Register("AveragePool", &poolOp{name: "AveragePool"})
	Register("MaxPool", &poolOp{name: "MaxPool", max: true})
}

type poolGeom struct {
	convParams
	includePad bool
	rank       int
}

func (po *poolOp) geom(in []tensor.Meta, a Attrs) (*poolGeom, error) {
	op := po.name
	if err := checkInputs(op, in, 1, 1); err != nil {
		return nil, err
	}
	if err := checkType(op, in, 0, tensor.Float32); err != nil {
		return nil, err
	}
	if n, _ := attrInt(op, a, OutputsAttr, 1); n > 1 {
		return nil, &UnsupportedError{Op: op, What: "the Indices output"}
	}
	s := in[0].Shape
	if len(s) != 3 && len(s) != 4 {
		return nil, &UnsupportedError{Op: op, What: fmt.Sprintf("input of rank %d (only 1-D and 2-D pooling)", len(s))}
	}
	sp := len(s) - 2
	ks, ok, err := attrInts(op, a, "kernel_shape")
	if err != nil {
		return nil, err
	}
	if !ok || len(ks) != sp {
		return nil, fmt.Errorf("op %s: attribute kernel_shape must have %d values", op, sp)
	}
	for _, k := range ks {
		if k < 1 || k > maxGeom {
			return nil, fmt.Errorf("op %s: attribute kernel_shape %v out of range", op, ks)
		}
	}
	st, err := geomInts(op, a, "strides", sp, 1, 1)
	if err != nil {
		return nil, err
	}
	dl, err := geomInts(op, a, "dilations", sp, 1, 1)
	if err != nil {
		return nil, err
	}
	pads, err := geomInts(op, a, "pads", 2*sp, 0, 0)
	if err != nil {
		return nil, err
	}
	ceil, err := attrInt(op, a, "ceil_mode", 0)
	if err != nil {
		return nil, err
	}
	cip, err := attrInt(op, a, "count_include_pad", 0)
	if err != nil {
		return nil, err
	}
	if so, _ := attrInt(op, a, "storage_order", 0); so != 0 {
		return nil, &UnsupportedError{Op: op, Attr: "storage_order", What: "column-major indices"}
	}
	autoPad, err := attrString(op, a, "auto_pad", "NOTSET")
	if err != nil {
		return nil, err
	}
	g := &poolGeom{includePad: cip != 0, rank: len(s)}
	p := &g.convParams
	p.n, p.c, p.h, p.w, p.m, p.g = s[0], s[1], 1, s[len(s)-1], s[1], s[1]
	p.kh, p.kw = 1, int(ks[sp-1])
	p.sh, p.sw, p.dh, p.dw = 1, st[sp-1], 1, dl[sp-1]
	if sp == 2 {
		p.h, p.kh, p.sh, p.dh = s[2], int(ks[0]), st[0], dl[0]
		p.pt, p.pl, p.pb, p.pr = pads[0], pads[1], pads[2], pads[3]
	} else {
		p.pl, p.pr = pads[0], pads[1]
	}
	ekh, ekw := (p.kh-1)*p.dh+1, (p.kw-1)*p.dw+1
	switch autoPad {
	case "NOTSET":
	case "VALID":
		p.pt, p.pl, p.pb, p.pr = 0, 0, 0, 0
	default:
		return nil, &UnsupportedError{Op: op, Attr: "auto_pad", What: autoPad}
	}
	size := func(in, lo, hi, ek, s int) (int, error) {
		span := in + lo + hi - ek
		if span < 0 {
			return 0, fmt.Errorf("op %s: window larger than padded input", op)
		}
		if ceil == 0 {
			return span/s + 1, nil
		}
		o := (span+s-1)/s + 1
		if (o-1)*s >= in+lo { // last window would start in the end padding
			o--
		}
		return o, nil
	}
	if p.oh, err = size(p.h, p.pt, p.pb, ekh, p.sh); err != nil {
		return nil, err
	}
	if p.ow, err = size(p.w, p.pl, p.pr, ekw, p.sw); err != nil {
		return nil, err
	}
	if _, err := tensor.CheckShape([]int{p.n, p.c, p.oh, p.ow}); err != nil {
		return nil, fmt.Errorf("op %s: %w", op, err)
	}
	return g, nil
}

func (g *poolGeom) outShape() []int {
	if g.rank == 3 {
		return []int{g.n, g.c, g.ow}
	}
	return []int{g.n, g.c, g.oh, g.ow}
}

// at computes output (plane, y, x) where plane = n*C + c.
func (po *poolOp) at(g *poolGeom, x []float32, plane, y, xo int) float32 {
	base := plane * g.h * g.w
	m := float32(math.Inf(-1))
	var s float32
	cnt := 0
	for i := 0; i < g.kh; i++ {
		ih := y*g.sh - g.pt + i*g.dh
		for j := 0; j < g.kw; j++ {
			iw := xo*g.sw - g.pl + j*g.dw
			if ih < 0 || ih >= g.h || iw < 0 || iw >= g.w {
				if g.includePad && ih < g.h+g.pb && iw < g.w+g.pr {
					cnt++
				}
				continue
			}
			v := x[base+ih*g.w+iw]
			if po.max {
				if v > m || v != v {
					m = v
				}
				continue
			}
			s += v
			cnt++
		}
	}
	if po.max {
		return m
	}
	return s / float32(cnt)
}

func (po *poolOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	g, err := po.geom(in, a)
	if err != nil {
		return nil, err
	}
	return outMeta(tensor.Float32, g.outShape()), nil
}

func (po *poolOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	g, err := po.geom(metasOf(in), a)
	if err != nil {
		return nil, err
	}
	out, err := newOutDirty(tensor.Float32, g.outShape())
	if err != nil {
		return nil, err
	}
	x := in[0].F32
	P := g.oh * g.ow
	parallel(ctx, g.n*g.c, func(plane int) {
		o := out.F32[plane*P : (plane+1)*P]
		for y := 0; y < g.oh; y++ {
			for xo := 0; xo < g.ow; xo++ {
				o[y*g.ow+xo] = po.at(g, x, plane, y, xo)
			}
		}
	})
	return []*tensor.Tensor{out}, nil
}

func (po *poolOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	g, err := po.geom(in, a)
	if err != nil {
		return nil, err
	}
	if err := checkOut(po.name, out, flat, g.outShape()); err != nil {
		return nil, err
	}
	xo, y, plane := flat%g.ow, flat/g.ow%g.oh, flat/(g.ow*g.oh)
	base := plane * g.h * g.w
	var rs rangeSet
	for i := 0; i < g.kh; i++ {
		ih := y*g.sh - g.pt + i*g.dh
		for j := 0; j < g.kw; j++ {
			iw := xo*g.sw - g.pl + j*g.dw
			if ih >= 0 && ih < g.h && iw >= 0 && iw < g.w {
				rs.add(base+ih*g.w+iw, base+ih*g.w+iw+1)
			}
		}
	}
	return [][]Range{rs.norm()}, nil
}

func (po *poolOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	g, err := po.geom(metasOf(in), a)
	if err != nil {
		return 0, err
	}
	if err := checkOut(po.name, out, flat, g.outShape()); err != nil {
		return 0, err
	}
	xo, y, plane := flat%g.ow, flat/g.ow%g.oh, flat/(g.ow*g.oh)
	return f32bits(po.at(g, in[0].F32, plane, y, xo)), nil
}
