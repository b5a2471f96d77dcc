package ops

import (
	"fmt"

	"github.com/provena/provena/internal/kernels"
	"github.com/provena/provena/tensor"
)

// convParams is a validated 2-D convolution geometry. Inputs of rank 3 (1-D
// convolution) are treated as H = 1.
type convParams struct {
	n, c, h, w     int
	m, g           int
	kh, kw         int
	sh, sw, dh, dw int
	pt, pl, pb, pr int
	oh, ow         int
	oph, opw       int // ConvTranspose output_padding
}

const maxGeom = 1 << 20 // bound on strides, dilations, pads and kernel sizes

func geomInts(op string, a Attrs, name string, n int, def int64, lo int64) ([]int, error) {
	v, ok, err := attrInts(op, a, name)
	if err != nil {
		return nil, err
	}
	out := make([]int, n)
	if !ok {
		for i := range out {
			out[i] = int(def)
		}
		return out, nil
	}
	if len(v) != n {
		return nil, fmt.Errorf("op %s: attribute %s: %d values, want %d", op, name, len(v), n)
	}
	for i, x := range v {
		if x < lo || x > maxGeom {
			return nil, fmt.Errorf("op %s: attribute %s: value %d out of range", op, name, x)
		}
		out[i] = int(x)
	}
	return out, nil
}

// convGeom validates Conv (transpose=false) or ConvTranspose inputs.
func convGeom(op string, in []tensor.Meta, a Attrs, transpose bool) (*convParams, error) {
	if err := checkInputs(op, in, 2, 3); err != nil {
		return nil, err
	}
	for i := range in {
		if present(in, i) {
			if err := checkType(op, in, i, tensor.Float32); err != nil {
				return nil, err
			}
		}
	}
	xs, ws := in[0].Shape, in[1].Shape
	if len(xs) != 4 && len(xs) != 3 {
		return nil, &UnsupportedError{Op: op, What: fmt.Sprintf("input 0 of rank %d (only 1-D and 2-D convolutions)", len(xs))}
	}
	if len(ws) != len(xs) {
		return nil, fmt.Errorf("op %s: input 1: rank %d, want %d", op, len(ws), len(xs))
	}
	sp := len(xs) - 2
	expand := func(v []int, def int) []int {
		if sp == 1 {
			return append([]int{def}, v...)
		}
		return v
	}
	p := &convParams{n: xs[0], c: xs[1], h: 1, w: xs[len(xs)-1], kh: 1, kw: ws[len(ws)-1]}
	if sp == 2 {
		p.h, p.kh = xs[2], ws[2]
	}
	g, err := attrInt(op, a, "group", 1)
	if err != nil {
		return nil, err
	}
	if g < 1 || g > int64(max(p.c, 1)) {
		return nil, fmt.Errorf("op %s: attribute group: %d out of range", op, g)
	}
	p.g = int(g)
	if p.c%p.g != 0 {
		return nil, fmt.Errorf("op %s: input 0: %d channels not divisible by group %d", op, p.c, p.g)
	}
	if transpose {
		if ws[0] != p.c {
			return nil, fmt.Errorf("op %s: input 1: %d input channels, want %d", op, ws[0], p.c)
		}
		p.m = ws[1] * p.g
	} else {
		p.m = ws[0]
		if ws[1] != p.c/p.g {
			return nil, fmt.Errorf("op %s: input 1: %d channels per group, want %d", op, ws[1], p.c/p.g)
		}
		if p.m%p.g != 0 {
			return nil, fmt.Errorf("op %s: input 1: %d output channels not divisible by group %d", op, p.m, p.g)
		}
	}
	if p.kh < 1 || p.kw < 1 {
		return nil, fmt.Errorf("op %s: input 1: empty kernel %v", op, ws)
	}
	if present(in, 2) && (len(in[2].Shape) != 1 || in[2].Shape[0] != p.m) {
		return nil, fmt.Errorf("op %s: input 2: shape %v, want [%d]", op, in[2].Shape, p.m)
	}
	if ks, ok, err := attrInts(op, a, "kernel_shape"); err != nil {
		return nil, err
	} else if ok {
		if len(ks) != sp || (sp == 2 && ks[0] != int64(p.kh)) || ks[sp-1] != int64(p.kw) {
			return nil, fmt.Errorf("op %s: attribute kernel_shape %v does not match weights %v", op, ks, ws)
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
	st, dl = expand(st, 1), expand(dl, 1)
	if sp == 1 {
		pads = []int{0, pads[0], 0, pads[1]}
	}
	p.sh, p.sw, p.dh, p.dw = st[0], st[1], dl[0], dl[1]
	p.pt, p.pl, p.pb, p.pr = pads[0], pads[1], pads[2], pads[3]
	if p.kh > maxGeom || p.kw > maxGeom {
		return nil, fmt.Errorf("op %s: kernel %v too large", op, ws)
	}
	ekh, ekw := (p.kh-1)*p.dh+1, (p.kw-1)*p.dw+1
	autoPad, err := attrString(op, a, "auto_pad", "NOTSET")
	if err != nil {
		return nil, err
	}
	if transpose {
		if _, ok := a["output_shape"]; ok {
			return nil, &UnsupportedError{Op: op, Attr: "output_shape", What: "explicit output shape (give pads instead)"}
		}
		op2, err := geomInts(op, a, "output_padding", sp, 0, 0)
		if err != nil {
			return nil, err
		}
		op2 = expand(op2, 0)
		p.oph, p.opw = op2[0], op2[1]
		if p.oph >= max(p.sh, p.dh) || p.opw >= max(p.sw, p.dw) {
			return nil, fmt.Errorf("op %s: attribute output_padding %v must be smaller than stride or dilation", op, op2)
		}
		switch autoPad {
		case "NOTSET":
		case "VALID":
			p.pt, p.pl, p.pb, p.pr = 0, 0, 0, 0
		default:
			return nil, &UnsupportedError{Op: op, Attr: "auto_pad", What: autoPad}
		}
		p.oh = p.sh*(p.h-1) + p.oph + ekh - p.pt - p.pb
		p.ow = p.sw*(p.w-1) + p.opw + ekw - p.pl - p.pr
		if p.h == 0 || p.w == 0 {
			p.oh, p.ow = 0, 0
		}
	} else {
		switch autoPad {
		case "NOTSET":
		case "VALID":
			p.pt, p.pl, p.pb, p.pr = 0, 0, 0, 0
		case "SAME_UPPER", "SAME_LOWER":
			same := func(in, s, ek int) (int, int) {
				out := (in + s - 1) / s
				total := max(0, (out-1)*s+ek-in)
				if autoPad == "SAME_UPPER" {
					return total / 2, total - total/2
				}
				return total - total/2, total / 2
			}
			p.pt, p.pb = same(p.h, p.sh, ekh)
			p.pl, p.pr = same(p.w, p.sw, ekw)
		default:
			return nil, &UnsupportedError{Op: op, Attr: "auto_pad", What: autoPad}
		}
		hp, wp := p.h+p.pt+p.pb, p.w+p.pl+p.pr
		if hp < ekh || wp < ekw {
			return nil, fmt.Errorf("op %s: padded input %dx%d smaller than dilated kernel %dx%d", op, hp, wp, ekh, ekw)
		}
		p.oh = (hp-ekh)/p.sh + 1
		p.ow = (wp-ekw)/p.sw + 1
	}
	if p.oh < 0 || p.ow < 0 {
		return nil, fmt.Errorf("op %s: negative output size %dx%d", op, p.oh, p.ow)
	}
	if _, err := tensor.CheckShape([]int{p.n, p.m, p.oh, p.ow}); err != nil {
		return nil, fmt.Errorf("op %s: output: %w", op, err)
	}
	if _, err := tensor.CheckShape([]int{p.c, p.kh, p.kw, p.m}); err != nil {
		return nil, fmt.Errorf("op %s: weights: %w", op, err)
	}
	return p, nil
}

func (p *convParams) outShape(rank int) []int {
	if rank == 3 {
		return []int{p.n, p.m, p.ow}
	}
	return []int{p.n, p.m, p.oh, p.ow}
}

// convOp is Conv. Canonical order for output (n, m, y, x) in group g:
//
//	s = B[m] (or +0 without bias)
//	for ic < C/group { for i < kH { for j < kW {
//	    s += float32(W[m, ic, i, j] * X[n, g*C/group+ic, y*sH-padTop+i*dH, x*sW-padLeft+j*dW])
//	}}}
//
// where X reads as +0 in the padding: padded taps are added too (as
// float32(w*0)), so every path (im2col+GEMM, direct depthwise, Elem) does the
// same fixed number of additions.
type convOp struct{}

func init() { Register("Conv", convOp{}) }

func (convOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	p, err := convGeom("Conv", in, a, false)
	if err != nil {
		return nil, err
	}
	return outMeta(tensor.Float32, p.outShape(len(in[0].Shape))), nil
}

// colBlock is the number of output pixels one im2col+GEMM task covers.
const colBlock = 256

func (c convOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	p, err := convGeom("Conv", metasOf(in), a, false)
	if err != nil {
		return nil, err
	}
	out, err := newOutDirty(tensor.Float32, p.outShape(len(in[0].Shape)))
	if err != nil {
		return nil, err
	}
	var bias []float32
	if presentT(in, 2) {
		bias = in[2].F32
	}
	convRun(ctx, p, in[0].F32, in[1].F32, bias, out.F32)
	return []*tensor.Tensor{out}, nil
}

func convRun(ctx *Ctx, p *convParams, x, w, bias, out []float32) {
	cg, mg := p.c/p.g, p.m/p.g
	k := cg * p.kh * p.kw
	P := p.oh * p.ow
	hw := p.h * p.w
	if P == 0 || p.n == 0 || p.m == 0 {
		return
	}
	if cg == 1 && mg == 1 {
		convDepthwise(ctx, p, x, w, bias, out)
		return
	}
	pointwise := p.kh == 1 && p.kw == 1 && p.sh == 1 && p.sw == 1 && p.pt == 0 && p.pl == 0 && p.pb == 0 && p.pr == 0
	blocks := (P + colBlock - 1) / colBlock
	// The weights are laid out for the GEMM tiles once, not once per block.
	packed := convPacked(ctx, w, p.g, mg, k)
	// With fewer pixel blocks than workers can share (rec's late layers
	// have a single block of 240 pixels), the output channels are split
	// too, in groups of six rows for the GEMM tile. Every element is still
	// computed whole by one tile, in the canonical order.
	tasks, rows := p.n*p.g*blocks, mg
	if th := threads(ctx); th > 1 && tasks < 4*th && mg >= 12 {
		groups := min((4*th+tasks-1)/tasks, mg/6)
		rows = ((mg+groups-1)/groups + 5) / 6 * 6
	}
	rgs := (mg + rows - 1) / rows
	parallel(ctx, tasks*rgs, func(task int) {
		rg := task % rgs
		task /= rgs
		blk := task % blocks
		g := (task / blocks) % p.g
		n := task / blocks / p.g
		j0 := blk * colBlock
		bw := min(colBlock, P-j0)
		r0, r1 := rg*rows, min(mg, (rg+1)*rows)
		pa := packed[g]
		if rgs > 1 {
			pa = pa.Rows(r0, r1)
		}
		var bg []float32
		if bias != nil {
			bg = bias[g*mg+r0 : g*mg+r1]
		}
		og := out[(n*p.m+g*mg+r0)*P+j0:]
		xg := x[(n*p.c+g*cg)*hw : (n*p.c+(g+1)*cg)*hw]
		if pointwise {
			kernels.GemmPacked(pa, bw, xg[j0:], hw, bg, og, P)
			return
		}
		sp := getScratch(k * bw)
		col := *sp
		im2col(p, xg, col, j0, bw)
		kernels.GemmPacked(pa, bw, col, bw, bg, og, P)
		putScratch(sp)
	})
}

// im2col fills col[r*bw+q] for kernel row r = (ic*kH+i)*kW+j and output
// pixel j0+q with the input value that tap reads, or +0 in the padding. It
// works one output row segment at a time: the in-bounds taps of a segment
// form a strided run of one input row, the rest is zero.
func im2col(p *convParams, xg, col []float32, j0, bw int) {
	cg := p.c / p.g
	for ic := 0; ic < cg; ic++ {
		plane := xg[ic*p.h*p.w : (ic+1)*p.h*p.w]
		for i := 0; i < p.kh; i++ {
			for j := 0; j < p.kw; j++ {
				row := col[((ic*p.kh+i)*p.kw+j)*bw:][:bw]
				for q := 0; q < bw; {
					y, x0 := (j0+q)/p.ow, (j0+q)%p.ow
					n := min(p.ow-x0, bw-q)
					seg := row[q : q+n]
					q += n
					ih := y*p.sh - p.pt + i*p.dh
					if ih < 0 || ih >= p.h {
						clear(seg)
						continue
					}
					src := plane[ih*p.w : (ih+1)*p.w]
					// output x reads iw = x*sW - pL + j*dW; valid for x in [lo, hi)
					off := j*p.dw - p.pl
					lo := 0
					if off < 0 {
						lo = (-off + p.sw - 1) / p.sw
					}
					hi := 0
					if p.w-off > 0 {
						hi = (p.w - off + p.sw - 1) / p.sw
					}
					lo, hi = min(max(lo-x0, 0), n), min(max(hi-x0, 0), n)
					if hi < lo {
						hi = lo
					}
					clear(seg[:lo])
					clear(seg[hi:])
					if p.sw == 1 {
						copy(seg[lo:hi], src[x0+lo+off:])
						continue
					}
					for k := lo; k < hi; k++ {
						seg[k] = src[(x0+k)*p.sw+off]
					}
				}
			}
		}
	}
}

// convDepthwise handles group == C == M: each channel is zero-padded into a
// scratch plane, then stride 1 runs the vector kernel directly. A horizontal
// stride first splits the padded plane into sW planes of the columns
// congruent mod sW, so that each tap of an output row reads one contiguous
// run; every path adds the taps in the canonical (i, j) order.
func convDepthwise(ctx *Ctx, p *convParams, x, w, bias, out []float32) {
	hp, wp := p.h+p.pt+p.pb, p.w+p.pl+p.pr
	// the padded plane must also cover every tap a strided window reads
	hp = max(hp, (p.oh-1)*p.sh+(p.kh-1)*p.dh+1)
	wp = max(wp, (p.ow-1)*p.sw+(p.kw-1)*p.dw+1)
	kk := p.kh * p.kw
	if p.sw > 1 {
		convDepthwiseStrided(ctx, p, x, w, bias, out, hp, wp)
		return
	}
	parallel(ctx, p.n*p.c, func(task int) {
		ch := task % p.c
		sp := getScratch(hp * wp)
		xp := *sp
		// zero only the padding: the interior is overwritten anyway
		clear(xp[:p.pt*wp])
		src := x[task*p.h*p.w : (task+1)*p.h*p.w]
		for y := 0; y < p.h; y++ {
			row := xp[(y+p.pt)*wp : (y+p.pt+1)*wp]
			clear(row[:p.pl])
			copy(row[p.pl:], src[y*p.w:(y+1)*p.w])
			clear(row[p.pl+p.w:])
		}
		clear(xp[(p.pt+p.h)*wp:])
		var b float32
		if bias != nil {
			b = bias[ch]
		}
		wc := w[ch*kk : (ch+1)*kk]
		o := out[task*p.oh*p.ow : (task+1)*p.oh*p.ow]
		if p.sh == 1 {
			kernels.DepthwiseS1(o, p.oh, p.ow, xp, wp, wc, p.kh, p.kw, p.dh, p.dw, b)
		} else {
			// A vertical stride (rec's (2, 1)) is the stride-1 kernel on one
			// output row at a time, starting at input row y*sH.
			for y := 0; y < p.oh; y++ {
				kernels.DepthwiseS1(o[y*p.ow:(y+1)*p.ow], 1, p.ow, xp[y*p.sh*wp:], wp, wc, p.kh, p.kw, p.dh, p.dw, b)
			}
		}
		putScratch(sp)
	})
}

// convDepthwiseStrided is convDepthwise for sW > 1 on a padded plane of
// hp x wp. Plane r holds padded columns r, r+sW, ... (wq of them), so tap
// (i, j) of output (y, x) reads plane (j*dW)%sW, row y*sH+i*dH, column
// x+(j*dW)/sW.
func convDepthwiseStrided(ctx *Ctx, p *convParams, x, w, bias, out []float32, hp, wp int) {
	kk := p.kh * p.kw
	wq := (wp + p.sw - 1) / p.sw
	pl := hp * wq
	parallel(ctx, p.n*p.c, func(task int) {
		ch := task % p.c
		sp := getScratch(p.sw * pl)
		xq := *sp
		clear(xq)
		src := x[task*p.h*p.w : (task+1)*p.h*p.w]
		for y := 0; y < p.h; y++ {
			row := src[y*p.w : (y+1)*p.w]
			base := (y + p.pt) * wq
			for r := 0; r < p.sw; r++ {
				// input columns c with (c+pL) % sW == r, from the first
				c0 := ((r-p.pl)%p.sw + p.sw) % p.sw
				if c0 >= p.w {
					continue
				}
				dst := xq[r*pl+base+(c0+p.pl)/p.sw:]
				dst = dst[:(p.w-c0+p.sw-1)/p.sw]
				for t := range dst {
					dst[t] = row[c0+t*p.sw]
				}
			}
		}
		var b float32
		if bias != nil {
			b = bias[ch]
		}
		wc := w[ch*kk : (ch+1)*kk]
		o := out[task*p.oh*p.ow : (task+1)*p.oh*p.ow]
		var tbuf [49][]float32
		taps := tbuf[:0]
		if kk > len(tbuf) {
			taps = make([][]float32, 0, kk)
		}
		for y := 0; y < p.oh; y++ {
			taps = taps[:0]
			for i := 0; i < p.kh; i++ {
				r0 := (y*p.sh + i*p.dh) * wq
				for j := 0; j < p.kw; j++ {
					c := j * p.dw
					taps = append(taps, xq[(c%p.sw)*pl+r0+c/p.sw:])
				}
			}
			kernels.DepthwiseRow(o[y*p.ow:(y+1)*p.ow], taps, wc, b)
		}
		putScratch(sp)
	})
}

func (convOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	p, err := convGeom("Conv", in, a, false)
	if err != nil {
		return nil, err
	}
	if err := checkOut("Conv", out, flat, []int{p.n, p.m, p.oh, p.ow}); err != nil {
		return nil, err
	}
	xo, y, m, n := flat%p.ow, flat/p.ow%p.oh, flat/(p.ow*p.oh)%p.m, flat/(p.ow*p.oh*p.m)
	cg, mg := p.c/p.g, p.m/p.g
	g := m / mg
	var xs rangeSet
	for ic := 0; ic < cg; ic++ {
		base := (n*p.c + g*cg + ic) * p.h * p.w
		for i := 0; i < p.kh; i++ {
			ih := y*p.sh - p.pt + i*p.dh
			if ih < 0 || ih >= p.h {
				continue
			}
			for j := 0; j < p.kw; j++ {
				iw := xo*p.sw - p.pl + j*p.dw
				if iw >= 0 && iw < p.w {
					xs.add(base+ih*p.w+iw, base+ih*p.w+iw+1)
				}
			}
		}
	}
	k := cg * p.kh * p.kw
	deps := [][]Range{xs.norm(), {{m * k, (m + 1) * k}}}
	if present(in, 2) {
		deps = append(deps, one(m))
	}
	return deps, nil
}

func (convOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	p, err := convGeom("Conv", metasOf(in), a, false)
	if err != nil {
		return 0, err
	}
	if err := checkOut("Conv", out, flat, []int{p.n, p.m, p.oh, p.ow}); err != nil {
		return 0, err
	}
	xo, y, m, n := flat%p.ow, flat/p.ow%p.oh, flat/(p.ow*p.oh)%p.m, flat/(p.ow*p.oh*p.m)
	cg, mg := p.c/p.g, p.m/p.g
	g := m / mg
	x, w := in[0].F32, in[1].F32
	var s float32
	if presentT(in, 2) {
		s = in[2].F32[m]
	}
	for ic := 0; ic < cg; ic++ {
		base := (n*p.c + g*cg + ic) * p.h * p.w
		for i := 0; i < p.kh; i++ {
			ih := y*p.sh - p.pt + i*p.dh
			for j := 0; j < p.kw; j++ {
				iw := xo*p.sw - p.pl + j*p.dw
				var v float32
				if ih >= 0 && ih < p.h && iw >= 0 && iw < p.w {
					v = x[base+ih*p.w+iw]
				}
				s += float32(w[((m*cg+ic)*p.kh+i)*p.kw+j] * v)
			}
		}
	}
	return f32bits(s), nil
}
