package ops

import (
	"fmt"
	"math"

	"github.com/provena/provena/tensor"
)

// resizeOp is Resize (opset 10 to 17) and Upsample, modes nearest and
// linear (bilinear over the last two dimensions; other dimensions must keep
// their size). Coordinates are computed per dimension in float32 exactly as
// the transform's formula reads (for example half_pixel: (x + 0.5) / scale -
// 0.5), with scale = out/in when sizes are given. Linear clamps the source
// coordinate to [0, in-1], takes x0 = floor, x1 = min(x0+1, in-1), w1 = c -
// x0, w0 = 1 - w1 and computes top = float32(v00*w0x) + float32(v01*w1x),
// bottom likewise, y = float32(top*w0y) + float32(bottom*w1y).
type resizeOp struct{ name string }

func init() {
	Register("Resize", &resizeOp{"Resize"})
	Register("Upsample", &resizeOp{"Upsample"})
}

type resizeGeom struct {
	in, out  []int
	scale    []float32
	linear   bool
	coord    string
	nearest  string
	params   []int // inputs read whole
	rank     int
	identity []bool
}

func (r *resizeOp) geom(in []tensor.Meta, a Attrs) (*resizeGeom, error) {
	op := r.name
	if err := checkInputs(op, in, 1, 4); err != nil {
		return nil, err
	}
	if err := checkType(op, in, 0, tensor.Float32); err != nil {
		return nil, err
	}
	g := &resizeGeom{in: in[0].Shape, rank: len(in[0].Shape)}
	mode, err := attrString(op, a, "mode", "nearest")
	if err != nil {
		return nil, err
	}
	switch mode {
	case "nearest":
	case "linear", "bilinear":
		g.linear = true
	default:
		return nil, &UnsupportedError{Op: op, Attr: "mode", What: mode}
	}
	os := opset(a)
	defCoord, defNearest := "half_pixel", "round_prefer_floor"
	if os < 11 || op == "Upsample" {
		defCoord, defNearest = "asymmetric", "floor"
	}
	if g.coord, err = attrString(op, a, "coordinate_transformation_mode", defCoord); err != nil {
		return nil, err
	}
	switch g.coord {
	case "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nearest":
	default:
		return nil, &UnsupportedError{Op: op, Attr: "coordinate_transformation_mode", What: g.coord}
	}
	if g.nearest, err = attrString(op, a, "nearest_mode", defNearest); err != nil {
		return nil, err
	}
	switch g.nearest {
	case "round_prefer_floor", "round_prefer_ceil", "floor", "ceil":
	default:
		return nil, &UnsupportedError{Op: op, Attr: "nearest_mode", What: g.nearest}
	}
	if v, _ := attrInt(op, a, "exclude_outside", 0); v != 0 {
		return nil, &UnsupportedError{Op: op, Attr: "exclude_outside", What: "1"}
	}
	if v, _ := attrInt(op, a, "antialias", 0); v != 0 {
		return nil, &UnsupportedError{Op: op, Attr: "antialias", What: "1"}
	}
	if _, ok := a["axes"]; ok && op == "Resize" {
		return nil, &UnsupportedError{Op: op, Attr: "axes", What: "axes subset"}
	}
	if v, _ := attrString(op, a, "keep_aspect_ratio_policy", "stretch"); v != "stretch" {
		return nil, &UnsupportedError{Op: op, Attr: "keep_aspect_ratio_policy", What: v}
	}
	// Inputs: Upsample and Resize-10 (X, scales); from 11 (X, roi, scales, sizes).
	var scales []float32
	var sizes []int64
	if op == "Upsample" && os < 9 {
		if v, ok := a["scales"]; ok && v.Kind == AttrFloats {
			scales = v.Floats
		} else {
			return nil, fmt.Errorf("op %s: attribute scales is required", op)
		}
	} else if op == "Upsample" || os < 11 {
		if !present(in, 1) || len(in) > 2 {
			return nil, fmt.Errorf("op %s: want inputs X and scales", op)
		}
		if scales, err = constFloats(op, in[1], "input 1 (scales)"); err != nil {
			return nil, err
		}
		g.params = []int{1}
	} else {
		g.params = []int{1, 2, 3}
		if present(in, 2) && tensor.NumElements(in[2].Shape) > 0 {
			if scales, err = constFloats(op, in[2], "input 2 (scales)"); err != nil {
				return nil, err
			}
		}
		if present(in, 3) && tensor.NumElements(in[3].Shape) > 0 {
			if sizes, err = constInts(op, in[3], "input 3 (sizes)"); err != nil {
				return nil, err
			}
		}
		if (scales == nil) == (sizes == nil) {
			return nil, fmt.Errorf("op %s: exactly one of scales and sizes must be given", op)
		}
	}
	n := g.rank
	g.out = make([]int, n)
	g.scale = make([]float32, n)
	g.identity = make([]bool, n)
	if scales != nil {
		if len(scales) != n {
			return nil, fmt.Errorf("op %s: %d scales for rank %d", op, len(scales), n)
		}
		for d, s := range scales {
			if !(s > 0) || s > 1<<20 {
				return nil, fmt.Errorf("op %s: scale %g out of range", op, s)
			}
			o := math.Floor(float64(s * float32(g.in[d])))
			if o > tensor.MaxElements {
				return nil, fmt.Errorf("op %s: output too large", op)
			}
			g.out[d], g.scale[d] = int(o), s
		}
	} else {
		if len(sizes) != n {
			return nil, fmt.Errorf("op %s: %d sizes for rank %d", op, len(sizes), n)
		}
		for d, s := range sizes {
			if s < 0 || s > tensor.MaxElements {
				return nil, fmt.Errorf("op %s: size %d out of range", op, s)
			}
			g.out[d] = int(s)
			if g.in[d] > 0 {
				g.scale[d] = float32(s) / float32(g.in[d])
			}
		}
	}
	if _, err := tensor.CheckShape(g.out); err != nil {
		return nil, fmt.Errorf("op %s: %w", op, err)
	}
	for d := range n {
		if g.out[d] > 0 && g.in[d] == 0 {
			return nil, fmt.Errorf("op %s: cannot resize an empty dimension %d", op, d)
		}
		g.identity[d] = g.out[d] == g.in[d] && g.scale[d] == 1
		if g.linear && d < n-2 && g.out[d] != g.in[d] {
			return nil, &UnsupportedError{Op: op, Attr: "mode", What: "linear resize of a dimension other than the last two"}
		}
	}
	return g, nil
}

// orig is the source coordinate of output index x along dimension d.
func (g *resizeGeom) orig(d, x int) float32 {
	s := g.scale[d]
	xf := float32(x)
	switch g.coord {
	case "half_pixel":
		return (xf+0.5)/s - 0.5
	case "pytorch_half_pixel":
		if g.out[d] > 1 {
			return (xf+0.5)/s - 0.5
		}
		return 0
	case "align_corners":
		if g.out[d] == 1 {
			return 0
		}
		return xf * float32(g.in[d]-1) / float32(g.out[d]-1)
	case "tf_half_pixel_for_nearest":
		return (xf + 0.5) / s
	}
	return xf / s // asymmetric
}

// nearestIdx is the nearest source index of output index x along d.
func (g *resizeGeom) nearestIdx(d, x int) int {
	if g.identity[d] {
		return x
	}
	c := float64(g.orig(d, x))
	var k float64
	switch g.nearest {
	case "round_prefer_floor":
		k = math.Ceil(c - 0.5)
	case "round_prefer_ceil":
		k = math.Floor(c + 0.5)
	case "floor":
		k = math.Floor(c)
	case "ceil":
		k = math.Ceil(c)
	}
	return int(min(max(k, 0), float64(g.in[d]-1)))
}

// lin returns the two source indices and weights along d.
func (g *resizeGeom) lin(d, x int) (int, int, float32, float32) {
	if g.identity[d] {
		return x, x, 1, 0
	}
	c := g.orig(d, x)
	if c < 0 || c != c {
		c = 0
	}
	if top := float32(g.in[d] - 1); c > top {
		c = top
	}
	x0 := int(math.Floor(float64(c)))
	x1 := min(x0+1, g.in[d]-1)
	w1 := c - float32(x0)
	return x0, x1, 1 - w1, w1
}

func (r *resizeOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	g, err := r.geom(in, a)
	if err != nil {
		return nil, err
	}
	return outMeta(tensor.Float32, g.out), nil
}

// linearAt computes one bilinear output from plane base b.
func (g *resizeGeom) linearAt(x []float32, b, y, xo int) float32 {
	h, w := 1, g.in[g.rank-1]
	var y0, y1 int
	var wy0, wy1 float32 = 1, 0
	if g.rank >= 2 {
		h = g.in[g.rank-2]
		y0, y1, wy0, wy1 = g.lin(g.rank-2, y)
	}
	_ = h
	x0, x1, wx0, wx1 := g.lin(g.rank-1, xo)
	top := float32(x[b+y0*w+x0]*wx0) + float32(x[b+y0*w+x1]*wx1)
	bot := float32(x[b+y1*w+x0]*wx0) + float32(x[b+y1*w+x1]*wx1)
	return float32(top*wy0) + float32(bot*wy1)
}

func (g *resizeGeom) planeDims() (int, int, int, int) {
	oh, ow, ih, iw := 1, g.out[g.rank-1], 1, g.in[g.rank-1]
	if g.rank >= 2 {
		oh, ih = g.out[g.rank-2], g.in[g.rank-2]
	}
	return oh, ow, ih, iw
}

func (r *resizeOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	g, err := r.geom(metasOf(in), a)
	if err != nil {
		return nil, err
	}
	out, err := newOutDirty(tensor.Float32, g.out)
	if err != nil {
		return nil, err
	}
	if out.Len() == 0 || g.rank == 0 {
		copy(out.F32, in[0].F32)
		return []*tensor.Tensor{out}, nil
	}
	x := in[0].F32
	if g.linear {
		oh, ow, ih, iw := g.planeDims()
		planes := out.Len() / (oh * ow)
		parallel(ctx, planes, func(p int) {
			o := out.F32[p*oh*ow : (p+1)*oh*ow]
			for y := 0; y < oh; y++ {
				for xo := 0; xo < ow; xo++ {
					o[y*ow+xo] = g.linearAt(x, p*ih*iw, y, xo)
				}
			}
		})
		return []*tensor.Tensor{out}, nil
	}
	// nearest: per-dimension source index tables, then one gather per row.
	tables := make([][]int, g.rank)
	for d := range g.rank {
		tables[d] = make([]int, g.out[d])
		for i := range tables[d] {
			tables[d][i] = g.nearestIdx(d, i)
		}
	}
	ist := tensor.Strides(g.in)
	ow := g.out[g.rank-1]
	last := tables[g.rank-1]
	rows := out.Len() / ow
	parallelRange(ctx, rows, max(1, 4096/ow), func(lo, hi int) {
		idx := make([]int, g.rank)
		prev := -1
		for rw := lo; rw < hi; rw++ {
			unravel(rw*ow, g.out, idx)
			b := 0
			for d := 0; d < g.rank-1; d++ {
				b += tables[d][idx[d]] * ist[d]
			}
			o := out.F32[rw*ow : (rw+1)*ow]
			if b == prev {
				// an upsampled row repeats the one before it
				copy(o, out.F32[(rw-1)*ow:rw*ow])
				continue
			}
			prev = b
			for j, k := range last {
				o[j] = x[b+k]
			}
		}
	})
	return []*tensor.Tensor{out}, nil
}

func (g *resizeGeom) sources(flat int) []int {
	idx := make([]int, g.rank)
	unravel(flat, g.out, idx)
	ist := tensor.Strides(g.in)
	if !g.linear {
		f := 0
		for d := range g.rank {
			f += g.nearestIdx(d, idx[d]) * ist[d]
		}
		return []int{f}
	}
	b := 0
	for d := 0; d < g.rank-2; d++ {
		b += idx[d] * ist[d]
	}
	w := g.in[g.rank-1]
	x0, x1, _, _ := g.lin(g.rank-1, idx[g.rank-1])
	y0, y1 := 0, 0
	if g.rank >= 2 {
		y0, y1, _, _ = g.lin(g.rank-2, idx[g.rank-2])
	}
	return []int{b + y0*w + x0, b + y0*w + x1, b + y1*w + x0, b + y1*w + x1}
}

func (r *resizeOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	g, err := r.geom(in, a)
	if err != nil {
		return nil, err
	}
	if err := checkOut(r.name, out, flat, g.out); err != nil {
		return nil, err
	}
	deps := make([][]Range, len(in))
	var rs rangeSet
	for _, f := range g.sources(flat) {
		rs = append(rs, Range{f, f + 1})
	}
	deps[0] = rs.norm()
	for _, i := range g.params {
		if present(in, i) && tensor.NumElements(in[i].Shape) > 0 {
			n := tensor.NumElements(in[i].Shape)
			deps[i] = []Range{{0, n}}
		}
	}
	return deps, nil
}

func (r *resizeOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	g, err := r.geom(metasOf(in), a)
	if err != nil {
		return 0, err
	}
	if err := checkOut(r.name, out, flat, g.out); err != nil {
		return 0, err
	}
	x := in[0].F32
	if !g.linear || g.rank == 0 {
		return f32bits(x[g.sources(flat)[0]]), nil
	}
	oh, ow, ih, iw := g.planeDims()
	p, rest := flat/(oh*ow), flat%(oh*ow)
	return f32bits(g.linearAt(x, p*ih*iw, rest/ow, rest%ow)), nil
}
