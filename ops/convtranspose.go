package ops

import (
	"github.com/provena/provena/internal/kernels"
	"github.com/provena/provena/tensor"
)

// convTransposeOp is ConvTranspose (1-D and 2-D, groups, dilations,
// output_padding; output_shape and SAME auto_pad unsupported). Canonical
// order for output (n, m, y, x), m in group g, mg = M/group, cg = C/group:
//
//	s = B[m] (or +0)
//	for ic < cg { for i < kH { for j < kW {
//	    ty, tx = y + padTop - i*dH, x + padLeft - j*dW
//	    if ty, tx are multiples of the strides and ty/sH, tx/sW are inside X:
//	        s += float32(X[n, g*cg+ic, ty/sH, tx/sW] * W[g*cg+ic, m-g*mg, i, j])
//	}}}
//
// Taps that hit no input element are skipped.
type convTransposeOp struct{}

func init() { Register("ConvTranspose", convTransposeOp{}) }

func (convTransposeOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	p, err := convGeom("ConvTranspose", in, a, true)
	if err != nil {
		return nil, err
	}
	return outMeta(tensor.Float32, p.outShape(len(in[0].Shape))), nil
}

type ctTap struct{ i, j, ih, iw int }

// taps lists the (i, j) taps of output (y, x) that read an input element, in
// canonical order; they do not depend on the channel.
func (p *convParams) ctTaps(y, x int, buf []ctTap) []ctTap {
	buf = buf[:0]
	for i := 0; i < p.kh; i++ {
		ty := y + p.pt - i*p.dh
		if ty < 0 || ty%p.sh != 0 || ty/p.sh >= p.h {
			continue
		}
		for j := 0; j < p.kw; j++ {
			tx := x + p.pl - j*p.dw
			if tx < 0 || tx%p.sw != 0 || tx/p.sw >= p.w {
				continue
			}
			buf = append(buf, ctTap{i, j, ty / p.sh, tx / p.sw})
		}
	}
	return buf
}

func (p *convParams) ctAt(x, w []float32, bias []float32, n, m, y, xo int, taps []ctTap) float32 {
	cg, mg := p.c/p.g, p.m/p.g
	g := m / mg
	var s float32
	if bias != nil {
		s = bias[m]
	}
	for ic := 0; ic < cg; ic++ {
		c := g*cg + ic
		xb := (n*p.c + c) * p.h * p.w
		wb := (c*mg + m - g*mg) * p.kh * p.kw
		for _, t := range taps {
			s += float32(x[xb+t.ih*p.w+t.iw] * w[wb+t.i*p.kw+t.j])
		}
	}
	return s
}

func (c convTransposeOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	p, err := convGeom("ConvTranspose", metasOf(in), a, true)
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
	x, w := in[0].F32, in[1].F32
	if p.g == 1 && p.kh == p.sh && p.kw == p.sw && p.dh == 1 && p.dw == 1 &&
		p.pt == 0 && p.pl == 0 && p.pb == 0 && p.pr == 0 && p.oph == 0 && p.opw == 0 {
		ctTiled(ctx, p, x, w, bias, out.F32)
		return []*tensor.Tensor{out}, nil
	}
	P := p.oh * p.ow
	parallel(ctx, p.n*p.oh, func(task int) {
		n, y := task/p.oh, task%p.oh
		var buf []ctTap
		for xo := 0; xo < p.ow; xo++ {
			buf = p.ctTaps(y, xo, buf)
			for m := 0; m < p.m; m++ {
				out.F32[(n*p.m+m)*P+y*p.ow+xo] = p.ctAt(x, w, bias, n, m, y, xo, buf)
			}
		}
	})
	return []*tensor.Tensor{out}, nil
}

func (c convTransposeOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	p, err := convGeom("ConvTranspose", in, a, true)
	if err != nil {
		return nil, err
	}
	if err := checkOut("ConvTranspose", out, flat, []int{p.n, p.m, p.oh, p.ow}); err != nil {
		return nil, err
	}
	xo, y, m, n := flat%p.ow, flat/p.ow%p.oh, flat/(p.ow*p.oh)%p.m, flat/(p.ow*p.oh*p.m)
	cg, mg := p.c/p.g, p.m/p.g
	g := m / mg
	taps := p.ctTaps(y, xo, nil)
	var xs, ws rangeSet
	for ic := 0; ic < cg; ic++ {
		ch := g*cg + ic
		xb := (n*p.c + ch) * p.h * p.w
		wb := (ch*mg + m - g*mg) * p.kh * p.kw
		for _, t := range taps {
			xs = append(xs, Range{xb + t.ih*p.w + t.iw, xb + t.ih*p.w + t.iw + 1})
			ws = append(ws, Range{wb + t.i*p.kw + t.j, wb + t.i*p.kw + t.j + 1})
		}
	}
	deps := [][]Range{xs.norm(), ws.norm()}
	if present(in, 2) {
		deps = append(deps, one(m))
	}
	return deps, nil
}

func (c convTransposeOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	p, err := convGeom("ConvTranspose", metasOf(in), a, true)
	if err != nil {
		return 0, err
	}
	if err := checkOut("ConvTranspose", out, flat, []int{p.n, p.m, p.oh, p.ow}); err != nil {
		return 0, err
	}
	xo, y, m, n := flat%p.ow, flat/p.ow%p.oh, flat/(p.ow*p.oh)%p.m, flat/(p.ow*p.oh*p.m)
	var bias []float32
	if presentT(in, 2) {
		bias = in[2].F32
	}
	return f32bits(p.ctAt(in[0].F32, in[1].F32, bias, n, m, y, xo, p.ctTaps(y, xo, nil))), nil
}

// ctTiled handles kernel == stride without padding or groups (the FPN
// upsampling in PP-OCR det). Every output pixel then has exactly one tap,
// (i, j) = (y mod sH, x mod sW), so for each tap the outputs form a GEMM
// out_ij[m, q] = B[m] + sum over c in order of W[c, m, i, j] * X[c, q] over
// input pixels q: the canonical order (bias, then channels ascending) with
// the fast kernel. The result is scattered to (q/W*sH+i, q%W*sW+j).
func ctTiled(ctx *Ctx, p *convParams, x, w, bias, out []float32) {
	hw := p.h * p.w
	if hw == 0 || p.m == 0 {
		return
	}
	taps := p.kh * p.kw
	wt := make([]float32, taps*p.m*p.c) // per tap, [m][c]
	for c := 0; c < p.c; c++ {
		for m := 0; m < p.m; m++ {
			for t := 0; t < taps; t++ {
				wt[(t*p.m+m)*p.c+c] = w[(c*p.m+m)*taps+t]
			}
		}
	}
	// All taps in one product (rows t*M+m of wt): each block of input
	// pixels is read once instead of once per tap, and det's one-channel
	// upsampling gets a four-row tile instead of four one-row ones. Every
	// element is still its own row of wt times its column, in order.
	var bt []float32
	if bias != nil {
		bt = make([]float32, taps*p.m)
		for t := 0; t < taps; t++ {
			copy(bt[t*p.m:], bias[:p.m])
		}
	}
	rows := taps * p.m
	blocks := (hw + colBlock - 1) / colBlock
	parallel(ctx, p.n*blocks, func(task int) {
		blk, n := task%blocks, task/blocks
		j0 := blk * colBlock
		bw := min(colBlock, hw-j0)
		sp := getScratch(rows * bw)
		all := *sp
		kernels.Gemm(rows, bw, p.c, wt, p.c, x[n*p.c*hw+j0:], hw, bt, all, bw)
		for t := 0; t < taps; t++ {
			i, j := t/p.kw, t%p.kw
			tmp := all[t*p.m*bw:]
			// Scatter by runs of one input row, without a division per element.
			for m := 0; m < p.m; m++ {
				ob := (n*p.m + m) * p.oh * p.ow
				src := tmp[m*bw : m*bw+bw]
				for q := 0; q < bw; {
					iy, ix := (j0+q)/p.w, (j0+q)%p.w
					run := min(bw-q, p.w-ix)
					dst := out[ob+(iy*p.sh+i)*p.ow+ix*p.sw+j:]
					for r, v := range src[q : q+run] {
						dst[r*p.sw] = v
					}
					q += run
				}
			}
		}
		putScratch(sp)
	})
}
