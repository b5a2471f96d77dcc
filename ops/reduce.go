package ops

import (
	"fmt"
	"math"

	"github.com/provena/provena/tensor"
)

// reduceGeom is a validated reduction: for output element o, the reduced
// input elements are visited in increasing flat index from base(o), over
// the reduced dimensions (adjacent ones merged) with sizes rsz and input
// strides rst, outer first.
type reduceGeom struct {
	out   []int
	kept  []int // input strides of the output dimensions (0 for reduced ones kept as 1)
	rsz   []int
	rst   []int
	count int
}

func newReduceGeom(op string, s []int, reduce []bool, keepdims bool) (*reduceGeom, error) {
	ist := tensor.Strides(s)
	g := &reduceGeom{count: 1}
	prev := -2
	for d, r := range reduce {
		if r {
			g.count *= s[d]
			if keepdims {
				g.out = append(g.out, 1)
				g.kept = append(g.kept, 0)
			}
			if n := len(g.rsz); n > 0 && prev == d-1 {
				g.rsz[n-1] *= s[d]
				g.rst[n-1] = ist[d]
			} else {
				g.rsz = append(g.rsz, s[d])
				g.rst = append(g.rst, ist[d])
			}
			prev = d
			continue
		}
		g.out = append(g.out, s[d])
		g.kept = append(g.kept, ist[d])
	}
	if len(g.rsz) == 0 {
		g.rsz, g.rst = []int{1}, []int{0}
	}
	if _, err := tensor.CheckShape(g.out); err != nil {
		return nil, fmt.Errorf("op %s: %w", op, err)
	}
	return g, nil
}

func (g *reduceGeom) base(flat int, idx []int) int {
	unravel(flat, g.out, idx)
	b := 0
	for d, i := range idx {
		b += i * g.kept[d]
	}
	return b
}

// runs calls fn(start, n, stride) for each innermost run of reduced
// elements, in increasing index order.
func (g *reduceGeom) runs(b int, fn func(start, n, stride int)) {
	if g.count == 0 {
		return
	}
	r := len(g.rsz)
	idx := make([]int, r)
	for {
		o := b
		for d := 0; d < r-1; d++ {
			o += idx[d] * g.rst[d]
		}
		fn(o, g.rsz[r-1], g.rst[r-1])
		d := r - 2
		for ; d >= 0; d-- {
			if idx[d]++; idx[d] < g.rsz[d] {
				break
			}
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

func (g *reduceGeom) deps(flat int) []Range {
	var rs rangeSet
	g.runs(g.base(flat, make([]int, len(g.out))), func(o, n, st int) {
		if st == 1 || n == 1 {
			rs.add(o, o+n)
			return
		}
		for k := 0; k < n; k++ {
			rs.add(o+k*st, o+k*st+1)
		}
	})
	return rs.norm()
}

// reduceOp is ReduceSum, ReduceMean, ReduceMax, ReduceMin and
// GlobalAveragePool/GlobalMaxPool (a reduction over every axis after the
// second, dimensions kept). Canonical order: elements in increasing input
// index. Sum: s = +0; s += x. Mean: Sum / float32(count). Max/Min: m = ∓Inf;
// if x > m (x < m) or x is NaN { m = x }.
type reduceOp struct {
	name   string
	kind   reduceKind
	global bool
	since  int // opset from which axes is an input
}

type reduceKind uint8

const (
	rSum reduceKind = iota
	rMean
	rMax
	rMin
)

func init() {
	for _, r := range []*reduceOp{
		{name: "ReduceSum", kind: rSum, since: 13},
		{name: "ReduceMean", kind: rMean, since: 18},
		{name: "ReduceMax", kind: rMax, since: 18},
		{name: "ReduceMin", kind: rMin, since: 18},
		{name: "GlobalAveragePool", kind: rMean, global: true},
		{name: "GlobalMaxPool", kind: rMax, global: true},
	} {
		Register(r.name, r)
	}
}

func (r *reduceOp) geom(in []tensor.Meta, a Attrs) (*reduceGeom, error) {
	if r.global {
		if err := checkInputs(r.name, in, 1, 1); err != nil {
			return nil, err
		}
	} else if err := checkInputs(r.name, in, 1, 2); err != nil {
		return nil, err
	}
	if err := checkType(r.name, in, 0, tensor.Float32); err != nil {
		return nil, err
	}
	s := in[0].Shape
	reduce := make([]bool, len(s))
	if r.global {
		if len(s) < 2 {
			return nil, fmt.Errorf("op %s: input 0 has rank %d, want at least 2", r.name, len(s))
		}
		for d := 2; d < len(s); d++ {
			reduce[d] = true
		}
		return newReduceGeom(r.name, s, reduce, true)
	}
	keep, err := attrInt(r.name, a, "keepdims", 1)
	if err != nil {
		return nil, err
	}
	noop, err := attrInt(r.name, a, "noop_with_empty_axes", 0)
	if err != nil {
		return nil, err
	}
	axes, ok, err := axesInput(r.name, in, a, r.since)
	if err != nil {
		return nil, err
	}
	if !ok || len(axes) == 0 {
		if noop != 0 {
			return newReduceGeom(r.name, s, reduce, true)
		}
		for d := range reduce {
			reduce[d] = true
		}
	}
	for _, ax := range axes {
		d, err := normAxis(r.name, ax, len(s))
		if err != nil {
			return nil, err
		}
		if reduce[d] {
			return nil, fmt.Errorf("op %s: axis %d repeated", r.name, ax)
		}
		reduce[d] = true
	}
	return newReduceGeom(r.name, s, reduce, keep != 0)
}

func (r *reduceOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	g, err := r.geom(in, a)
	if err != nil {
		return nil, err
	}
	return outMeta(tensor.Float32, g.out), nil
}

func (r *reduceOp) at(g *reduceGeom, x []float32, b int) float32 {
	switch r.kind {
	case rMax, rMin:
		m := float32(math.Inf(-1))
		if r.kind == rMin {
			m = float32(math.Inf(1))
		}
		g.runs(b, func(o, n, st int) {
			for k := 0; k < n; k++ {
				v := x[o+k*st]
				if (r.kind == rMax && v > m) || (r.kind == rMin && v < m) || v != v {
					m = v
				}
			}
		})
		return m
	}
	var s float32
	g.runs(b, func(o, n, st int) {
		if st == 1 {
			for _, v := range x[o : o+n] {
				s += v
			}
			return
		}
		for k := 0; k < n; k++ {
			s += x[o+k*st]
		}
	})
	if r.kind == rMean {
		s = s / float32(g.count)
	}
	return s
}

func (r *reduceOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	g, err := r.geom(metasOf(in), a)
	if err != nil {
		return nil, err
	}
	out, err := newOutDirty(tensor.Float32, g.out)
	if err != nil {
		return nil, err
	}
	x := in[0].F32
	// Sums whose reduced elements are one contiguous run per output
	// (GlobalAveragePool, a mean over the last axis) go four outputs at a
	// time: each sum is still the canonical sequence of additions, but the
	// four chains interleave instead of each waiting on its own latency.
	contig := (r.kind == rSum || r.kind == rMean) && len(g.rsz) == 1 && (g.rst[0] == 1 || g.rsz[0] == 1)
	parallelRange(ctx, out.Len(), max(1, 4096/max(1, g.count)), func(lo, hi int) {
		idx := make([]int, len(g.out))
		f := lo
		if contig {
			n := g.count
			for ; f+4 <= hi; f += 4 {
				var b [4]int
				for j := range b {
					b[j] = g.base(f+j, idx)
				}
				x0, x1, x2, x3 := x[b[0]:b[0]+n], x[b[1]:b[1]+n], x[b[2]:b[2]+n], x[b[3]:b[3]+n]
				var s0, s1, s2, s3 float32
				for k := range x0 {
					s0 += x0[k]
					s1 += x1[k]
					s2 += x2[k]
					s3 += x3[k]
				}
				if r.kind == rMean {
					c := float32(g.count)
					s0, s1, s2, s3 = s0/c, s1/c, s2/c, s3/c
				}
				out.F32[f], out.F32[f+1], out.F32[f+2], out.F32[f+3] = s0, s1, s2, s3
			}
		}
		for ; f < hi; f++ {
			out.F32[f] = r.at(g, x, g.base(f, idx))
		}
	})
	return []*tensor.Tensor{out}, nil
}

func (r *reduceOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	g, err := r.geom(in, a)
	if err != nil {
		return nil, err
	}
	if err := checkOut(r.name, out, flat, g.out); err != nil {
		return nil, err
	}
	deps := make([][]Range, len(in))
	deps[0] = g.deps(flat)
	if present(in, 1) && tensor.NumElements(in[1].Shape) > 0 {
		n := tensor.NumElements(in[1].Shape)
		deps[1] = []Range{{0, n}}
	}
	return deps, nil
}

func (r *reduceOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	g, err := r.geom(metasOf(in), a)
	if err != nil {
		return 0, err
	}
	if err := checkOut(r.name, out, flat, g.out); err != nil {
		return 0, err
	}
	return f32bits(r.at(g, in[0].F32, g.base(flat, make([]int, len(g.out))))), nil
}
