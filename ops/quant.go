package ops

import (
	"fmt"
	"math"

	"github.com/provena/provena/tensor"
)

// Quantized operators (zkML, issue 6). A quantized model is
// QQuantize -> integer core -> QDequantize, where the core is made of QGemm,
// QConv, QMaxPool, QAdd and the layout ops Flatten and Reshape on int8. Every
// core operator is exact integer arithmetic on int64 intermediates, so its
// bits do not depend on the machine, the thread count or the summation
// order; circuits (package zk) re-express exactly these formulas.
//
// Shared definitions:
//
//	rshift(v, s)       = (v + 2^(s-1)) >> s     (arithmetic shift, s in 1..62:
//	                                              rounds half towards +Inf)
//	clamp(v, lo, hi)   with -128 <= lo <= hi <= 127
//	requant(acc, n)    = clamp(rshift(acc*mult[n], shift[n]), lo, hi)
//
// mult is in 1..2^31-1 and a core accumulator must stay in int32 range, so
// acc*mult stays below 2^62 in magnitude and the rounding add cannot
// overflow int64. Kernels report an accumulator outside int32 range as an
// error rather than wrapping: the quantizer (package quant) proves the bound
// statically from the weights, so this only fires on a hand-built model.

const (
	// QMultMax is the largest requantization multiplier.
	QMultMax = 1<<31 - 1
	// QShiftMax is the largest requantization shift.
	QShiftMax = 62
)

// QRoundShift is rshift(v, s) = (v + 2^(s-1)) >> s for s in 1..62.
func QRoundShift(v int64, s int64) int64 { return (v + 1<<(s-1)) >> s }

// QRequant is clamp(rshift(acc*mult, shift), lo, hi), the requantization
// every quantized operator ends with. The caller guarantees |acc| < 2^31,
// 1 <= mult < 2^31 and 1 <= shift <= 62.
func QRequant(acc, mult, shift, lo, hi int64) int64 {
	return clampInt(QRoundShift(acc*mult, shift), lo, hi)
}

// QQuantizeValue is QQuantize for one element: clamp(round half away from
// zero(x/scale), -127, 127) with x/scale one float32 division; NaN maps to 0.
func QQuantizeValue(x, scale float32) int8 {
	q := x / scale
	if q != q {
		return 0
	}
	// float32 -> float64 is exact, so math.Round rounds the float32 quotient
	// itself; clamping before the conversion keeps Inf and huge values safe.
	r := math.Round(float64(q))
	if r > 127 {
		return 127
	}
	if r < -127 {
		return -127
	}
	return int8(r)
}

func clampInt(v, lo, hi int64) int64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// qScale reads the required float attribute scale (finite, > 0).
func qScale(op string, a Attrs) (float32, error) {
	v, ok := a["scale"]
	if !ok {
		return 0, fmt.Errorf("op %s: attribute scale is required", op)
	}
	if v.Kind != AttrFloat {
		return 0, fmt.Errorf("op %s: attribute scale: want a float", op)
	}
	s := v.Float
	if !(s > 0) || math.IsInf(float64(s), 0) {
		return 0, fmt.Errorf("op %s: attribute scale %g must be finite and > 0", op, s)
	}
	return s, nil
}

// qReqInt reads a required integer attribute within [lo, hi].
func qReqInt(op string, a Attrs, name string, lo, hi int64) (int64, error) {
	if _, ok := a[name]; !ok {
		return 0, fmt.Errorf("op %s: attribute %s is required", op, name)
	}
	v, err := attrInt(op, a, name, 0)
	if err != nil {
		return 0, err
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("op %s: attribute %s: %d out of range [%d, %d]", op, name, v, lo, hi)
	}
	return v, nil
}

// qReqInts reads a required ints attribute of n values, each within [lo, hi].
func qReqInts(op string, a Attrs, name string, n int, lo, hi int64) ([]int64, error) {
	v, ok, err := attrInts(op, a, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("op %s: attribute %s is required", op, name)
	}
	if len(v) != n {
		return nil, fmt.Errorf("op %s: attribute %s: %d values, want %d (one per output channel)", op, name, len(v), n)
	}
	for i, x := range v {
		if x < lo || x > hi {
			return nil, fmt.Errorf("op %s: attribute %s[%d]: %d out of range [%d, %d]", op, name, i, x, lo, hi)
		}
	}
	return v, nil
}

// qRequant is the validated output stage of QGemm and QConv.
type qRequant struct {
	out32       bool
	mult, shift []int64
	lo, hi      int64
}

// qRequantAttrs validates out_int32, mult, shift, lo and hi for n output
// channels. With out_int32 = 1 the output is the raw int32 accumulator and
// the other four are optional (validated when present, otherwise unused).
func qRequantAttrs(op string, a Attrs, n int) (*qRequant, error) {
	o32, err := attrInt(op, a, "out_int32", 0)
	if err != nil {
		return nil, err
	}
	if o32 != 0 && o32 != 1 {
		return nil, fmt.Errorf("op %s: attribute out_int32: %d, want 0 or 1", op, o32)
	}
	r := &qRequant{out32: o32 == 1, lo: -128, hi: 127}
	need := func(name string) bool {
		_, ok := a[name]
		return ok || !r.out32
	}
	if need("mult") {
		if r.mult, err = qReqInts(op, a, "mult", n, 1, QMultMax); err != nil {
			return nil, err
		}
	}
	if need("shift") {
		if r.shift, err = qReqInts(op, a, "shift", n, 1, QShiftMax); err != nil {
			return nil, err
		}
	}
	if need("lo") {
		if r.lo, err = qReqInt(op, a, "lo", -128, 127); err != nil {
			return nil, err
		}
	}
	if need("hi") {
		if r.hi, err = qReqInt(op, a, "hi", -128, 127); err != nil {
			return nil, err
		}
	}
	if r.lo > r.hi {
		return nil, fmt.Errorf("op %s: attributes lo %d > hi %d", op, r.lo, r.hi)
	}
	return r, nil
}

func (r *qRequant) dtype() tensor.DType {
	if r.out32 {
		return tensor.Int32
	}
	return tensor.Int8
}

// apply turns accumulator acc of output channel ch into the output value.
func (r *qRequant) apply(op string, acc int64, ch int) (int64, error) {
	if acc < math.MinInt32 || acc > math.MaxInt32 {
		return 0, fmt.Errorf("op %s: accumulator %d of output channel %d leaves int32 range", op, acc, ch)
	}
	if r.out32 {
		return acc, nil
	}
	return QRequant(acc, r.mult[ch], r.shift[ch], r.lo, r.hi), nil
}

func setInt(t *tensor.Tensor, i int, v int64) {
	if t.DType == tensor.Int32 {
		t.I32[i] = int32(v)
		return
	}
	t.I8[i] = int8(v)
}

// qBias checks optional input 2 (int32 [n]).
func qBias(op string, in []tensor.Meta, n int) error {
	if !present(in, 2) {
		return nil
	}
	if err := checkType(op, in, 2, tensor.Int32); err != nil {
		return err
	}
	if len(in[2].Shape) != 1 || in[2].Shape[0] != n {
		return fmt.Errorf("op %s: input 2: shape %v, want [%d]", op, in[2].Shape, n)
	}
	return nil
}

func biasAt(in []*tensor.Tensor, ch int) int64 {
	if presentT(in, 2) {
		return int64(in[2].I32[ch])
	}
	return 0
}

// ---------------------------------------------------------------------------

// qQuantizeOp is QQuantize: float32 X -> int8, q = QQuantizeValue(x, scale).
type qQuantizeOp struct{}

// qDequantizeOp is QDequantize: int8 or int32 X -> float32,
// y = float32(x) * scale (one float32 multiplication).
type qDequantizeOp struct{}

func init() {
	Register("QQuantize", qQuantizeOp{})
	Register("QDequantize", qDequantizeOp{})
	Register("QGemm", qGemmOp{})
	Register("QConv", qConvOp{})
	Register("QMaxPool", qMaxPoolOp{})
	Register("QAdd", qAddOp{})
}

func (qQuantizeOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	if err := checkInputs("QQuantize", in, 1, 1); err != nil {
		return nil, err
	}
	if err := checkType("QQuantize", in, 0, tensor.Float32); err != nil {
		return nil, err
	}
	if _, err := qScale("QQuantize", a); err != nil {
		return nil, err
	}
	return outMeta(tensor.Int8, append([]int(nil), in[0].Shape...)), nil
}

func (q qQuantizeOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	if _, err := q.Infer(metasOf(in), a); err != nil {
		return nil, err
	}
	s, _ := qScale("QQuantize", a)
	out, err := newOut(tensor.Int8, in[0].Shape)
	if err != nil {
		return nil, err
	}
	x := in[0].F32
	parallelRange(ctx, len(x), 1<<14, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out.I8[i] = QQuantizeValue(x[i], s)
		}
	})
	return []*tensor.Tensor{out}, nil
}

func (q qQuantizeOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	if _, err := q.Infer(in, a); err != nil {
		return nil, err
	}
	if err := checkOut("QQuantize", out, flat, in[0].Shape); err != nil {
		return nil, err
	}
	return [][]Range{one(flat)}, nil
}

func (q qQuantizeOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	if _, err := q.Infer(metasOf(in), a); err != nil {
		return 0, err
	}
	if err := checkOut("QQuantize", out, flat, in[0].Shape); err != nil {
		return 0, err
	}
	s, _ := qScale("QQuantize", a)
	return intBits(tensor.Int8, int64(QQuantizeValue(in[0].F32[flat], s))), nil
}

func (qDequantizeOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	if err := checkInputs("QDequantize", in, 1, 1); err != nil {
		return nil, err
	}
	if err := checkType("QDequantize", in, 0, tensor.Int8, tensor.Int32); err != nil {
		return nil, err
	}
	if _, err := qScale("QDequantize", a); err != nil {
		return nil, err
	}
	return outMeta(tensor.Float32, append([]int(nil), in[0].Shape...)), nil
}

func dequantAt(x *tensor.Tensor, i int, s float32) float32 {
	if x.DType == tensor.Int32 {
		return float32(x.I32[i]) * s
	}
	return float32(x.I8[i]) * s
}

func (q qDequantizeOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	if _, err := q.Infer(metasOf(in), a); err != nil {
		return nil, err
	}
	s, _ := qScale("QDequantize", a)
	out, err := newOut(tensor.Float32, in[0].Shape)
	if err != nil {
		return nil, err
	}
	parallelRange(ctx, out.Len(), 1<<14, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out.F32[i] = dequantAt(in[0], i, s)
		}
	})
	return []*tensor.Tensor{out}, nil
}

func (q qDequantizeOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	if _, err := q.Infer(in, a); err != nil {
		return nil, err
	}
	if err := checkOut("QDequantize", out, flat, in[0].Shape); err != nil {
		return nil, err
	}
	return [][]Range{one(flat)}, nil
}

func (q qDequantizeOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	if _, err := q.Infer(metasOf(in), a); err != nil {
		return 0, err
	}
	if err := checkOut("QDequantize", out, flat, in[0].Shape); err != nil {
		return 0, err
	}
	s, _ := qScale("QDequantize", a)
	return f32bits(dequantAt(in[0], flat, s)), nil
}

// ---------------------------------------------------------------------------

// qGemmOp is QGemm: X int8 [M,K], W int8 [N,K] (row n is output channel n),
// optional B int32 [N];
//
//	acc[m,n] = B[n] + sum_k X[m,k]*W[n,k]     (exact in int64)
//	y[m,n]   = out_int32 ? int32(acc) : requant(acc, n)
type qGemmOp struct{}

type qGemmGeom struct {
	m, k, n int
	rq      *qRequant
}

func qGemmInfer(in []tensor.Meta, a Attrs) (*qGemmGeom, error) {
	const op = "QGemm"
	if err := checkInputs(op, in, 2, 3); err != nil {
		return nil, err
	}
	for i := range 2 {
		if err := checkType(op, in, i, tensor.Int8); err != nil {
			return nil, err
		}
		if len(in[i].Shape) != 2 {
			return nil, fmt.Errorf("op %s: input %d: rank %d, want 2", op, i, len(in[i].Shape))
		}
	}
	g := &qGemmGeom{m: in[0].Shape[0], k: in[0].Shape[1], n: in[1].Shape[0]}
	if in[1].Shape[1] != g.k {
		return nil, fmt.Errorf("op %s: input 1: shape %v, want [N, %d] (K of input 0)", op, in[1].Shape, g.k)
	}
	if err := qBias(op, in, g.n); err != nil {
		return nil, err
	}
	if _, err := tensor.CheckShape([]int{g.m, g.n}); err != nil {
		return nil, fmt.Errorf("op %s: output: %w", op, err)
	}
	rq, err := qRequantAttrs(op, a, g.n)
	if err != nil {
		return nil, err
	}
	g.rq = rq
	return g, nil
}

func (qGemmOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	g, err := qGemmInfer(in, a)
	if err != nil {
		return nil, err
	}
	return outMeta(g.rq.dtype(), []int{g.m, g.n}), nil
}

func (g *qGemmGeom) at(in []*tensor.Tensor, i, j int) (int64, error) {
	x := in[0].I8[i*g.k : (i+1)*g.k]
	w := in[1].I8[j*g.k : (j+1)*g.k]
	acc := biasAt(in, j)
	for p, xv := range x {
		acc += int64(xv) * int64(w[p])
	}
	return g.rq.apply("QGemm", acc, j)
}

func (qGemmOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	g, err := qGemmInfer(metasOf(in), a)
	if err != nil {
		return nil, err
	}
	out, err := newOut(g.rq.dtype(), []int{g.m, g.n})
	if err != nil {
		return nil, err
	}
	var fail errOnce
	parallelRange(ctx, g.m*g.n, max(1, 1<<15/max(g.k, 1)), func(lo, hi int) {
		for f := lo; f < hi; f++ {
			v, err := g.at(in, f/g.n, f%g.n)
			if err != nil {
				fail.set(err)
				return
			}
			setInt(out, f, v)
		}
	})
	if fail.err != nil {
		return nil, fail.err
	}
	return []*tensor.Tensor{out}, nil
}

func (qGemmOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	g, err := qGemmInfer(in, a)
	if err != nil {
		return nil, err
	}
	if err := checkOut("QGemm", out, flat, []int{g.m, g.n}); err != nil {
		return nil, err
	}
	i, j := flat/g.n, flat%g.n
	deps := [][]Range{{{i * g.k, (i + 1) * g.k}}, {{j * g.k, (j + 1) * g.k}}}
	if g.k == 0 {
		deps = [][]Range{{}, {}}
	}
	if present(in, 2) {
		deps = append(deps, one(j))
	}
	return deps, nil
}

func (qGemmOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	g, err := qGemmInfer(metasOf(in), a)
	if err != nil {
		return 0, err
	}
	if err := checkOut("QGemm", out, flat, []int{g.m, g.n}); err != nil {
		return 0, err
	}
	v, err := g.at(in, flat/g.n, flat%g.n)
	if err != nil {
		return 0, err
	}
	return intBits(g.rq.dtype(), v), nil
}

// ---------------------------------------------------------------------------

// qConvOp is QConv: X int8 [N,C,H,W], W int8 [Co,C,kh,kw], optional B int32
// [Co]; attributes strides (2, default 1), pads (top, left, bottom, right,
// default 0; padded values are 0) and the requantization attributes of
// QGemm per output channel. group and dilations, when given, must be 1.
//
//	acc[n,o,y,x] = B[o] + sum_{c,i,j} W[o,c,i,j] * X[n,c,y*sH-pT+i,x*sW-pL+j]
//
// (c, then i, then j ascending; the sum is exact so every order agrees).
type qConvOp struct{}

type qConvGeom struct {
	n, c, h, w     int
	co, kh, kw     int
	sh, sw, pt, pl int
	oh, ow         int
	rq             *qRequant
}

func qConvInfer(in []tensor.Meta, a Attrs) (*qConvGeom, error) {
	const op = "QConv"
	if err := checkInputs(op, in, 2, 3); err != nil {
		return nil, err
	}
	for i := range 2 {
		if err := checkType(op, in, i, tensor.Int8); err != nil {
			return nil, err
		}
		if len(in[i].Shape) != 4 {
			return nil, fmt.Errorf("op %s: input %d: rank %d, want 4", op, i, len(in[i].Shape))
		}
	}
	xs, ws := in[0].Shape, in[1].Shape
	g := &qConvGeom{n: xs[0], c: xs[1], h: xs[2], w: xs[3], co: ws[0], kh: ws[2], kw: ws[3]}
	if ws[1] != g.c {
		return nil, fmt.Errorf("op %s: input 1: %d input channels, want %d", op, ws[1], g.c)
	}
	if g.kh < 1 || g.kw < 1 || g.kh > maxGeom || g.kw > maxGeom {
		return nil, fmt.Errorf("op %s: input 1: kernel %dx%d out of range", op, g.kh, g.kw)
	}
	if err := qBias(op, in, g.co); err != nil {
		return nil, err
	}
	if v, err := attrInt(op, a, "group", 1); err != nil {
		return nil, err
	} else if v != 1 {
		return nil, &UnsupportedError{Op: op, Attr: "group", What: fmt.Sprintf("%d (only 1)", v)}
	}
	dl, err := geomInts(op, a, "dilations", 2, 1, 1)
	if err != nil {
		return nil, err
	}
	if dl[0] != 1 || dl[1] != 1 {
		return nil, &UnsupportedError{Op: op, Attr: "dilations", What: fmt.Sprintf("%v (only 1)", dl)}
	}
	if ks, ok, err := attrInts(op, a, "kernel_shape"); err != nil {
		return nil, err
	} else if ok && (len(ks) != 2 || ks[0] != int64(g.kh) || ks[1] != int64(g.kw)) {
		return nil, fmt.Errorf("op %s: attribute kernel_shape %v does not match weights %v", op, ks, ws)
	}
	st, err := geomInts(op, a, "strides", 2, 1, 1)
	if err != nil {
		return nil, err
	}
	pads, err := geomInts(op, a, "pads", 4, 0, 0)
	if err != nil {
		return nil, err
	}
	g.sh, g.sw, g.pt, g.pl = st[0], st[1], pads[0], pads[1]
	hp, wp := g.h+pads[0]+pads[2], g.w+pads[1]+pads[3]
	if hp < g.kh || wp < g.kw {
		return nil, fmt.Errorf("op %s: padded input %dx%d smaller than kernel %dx%d", op, hp, wp, g.kh, g.kw)
	}
	g.oh, g.ow = (hp-g.kh)/g.sh+1, (wp-g.kw)/g.sw+1
	if _, err := tensor.CheckShape(g.outShape()); err != nil {
		return nil, fmt.Errorf("op %s: output: %w", op, err)
	}
	if g.rq, err = qRequantAttrs(op, a, g.co); err != nil {
		return nil, err
	}
	return g, nil
}

func (g *qConvGeom) outShape() []int { return []int{g.n, g.co, g.oh, g.ow} }

func (qConvOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	g, err := qConvInfer(in, a)
	if err != nil {
		return nil, err
	}
	return outMeta(g.rq.dtype(), g.outShape()), nil
}

// plane computes output plane (b, o) into dst: accumulate the whole plane
// tap by tap, then requantize.
func (g *qConvGeom) plane(in []*tensor.Tensor, b, o int, acc []int64, dst *tensor.Tensor) error {
	bias := biasAt(in, o)
	for i := range acc {
		acc[i] = bias
	}
	x, w := in[0].I8, in[1].I8
	for c := 0; c < g.c; c++ {
		xp := x[(b*g.c+c)*g.h*g.w:][:g.h*g.w]
		for i := 0; i < g.kh; i++ {
			for j := 0; j < g.kw; j++ {
				wv := int64(w[((o*g.c+c)*g.kh+i)*g.kw+j])
				if wv == 0 {
					continue
				}
				// output columns [x0, x1) read iw = xo*sW - pL + j inside the row
				off := j - g.pl
				x0, x1 := 0, 0
				if off < 0 {
					x0 = (-off + g.sw - 1) / g.sw
				}
				if g.w-off > 0 {
					x1 = min(g.ow, (g.w-off+g.sw-1)/g.sw)
				}
				if x1 <= x0 {
					continue
				}
				for y := 0; y < g.oh; y++ {
					ih := y*g.sh - g.pt + i
					if ih < 0 || ih >= g.h {
						continue
					}
					row := xp[ih*g.w : (ih+1)*g.w]
					ar := acc[y*g.ow+x0 : y*g.ow+x1]
					if g.sw == 1 {
						src := row[x0+off : x1+off]
						for k, v := range src {
							ar[k] += wv * int64(v)
						}
						continue
					}
					for k := range ar {
						ar[k] += wv * int64(row[(x0+k)*g.sw+off])
					}
				}
			}
		}
	}
	base := (b*g.co + o) * g.oh * g.ow
	for p, v := range acc {
		r, err := g.rq.apply("QConv", v, o)
		if err != nil {
			return err
		}
		setInt(dst, base+p, r)
	}
	return nil
}

func (qConvOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	g, err := qConvInfer(metasOf(in), a)
	if err != nil {
		return nil, err
	}
	out, err := newOut(g.rq.dtype(), g.outShape())
	if err != nil {
		return nil, err
	}
	var fail errOnce
	parallel(ctx, g.n*g.co, func(task int) {
		acc := make([]int64, g.oh*g.ow)
		if err := g.plane(in, task/g.co, task%g.co, acc, out); err != nil {
			fail.set(err)
		}
	})
	if fail.err != nil {
		return nil, fail.err
	}
	return []*tensor.Tensor{out}, nil
}

func (g *qConvGeom) unflat(flat int) (b, o, y, xo int) {
	return flat / (g.ow * g.oh * g.co), flat / (g.ow * g.oh) % g.co, flat / g.ow % g.oh, flat % g.ow
}

func (qConvOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	g, err := qConvInfer(in, a)
	if err != nil {
		return nil, err
	}
	if err := checkOut("QConv", out, flat, g.outShape()); err != nil {
		return nil, err
	}
	b, o, y, xo := g.unflat(flat)
	var xs rangeSet
	for c := 0; c < g.c; c++ {
		base := (b*g.c + c) * g.h * g.w
		for i := 0; i < g.kh; i++ {
			ih := y*g.sh - g.pt + i
			if ih < 0 || ih >= g.h {
				continue
			}
			for j := 0; j < g.kw; j++ {
				if iw := xo*g.sw - g.pl + j; iw >= 0 && iw < g.w {
					xs.add(base+ih*g.w+iw, base+ih*g.w+iw+1)
				}
			}
		}
	}
	k := g.c * g.kh * g.kw
	deps := [][]Range{xs.norm(), {{o * k, (o + 1) * k}}}
	if k == 0 {
		deps[1] = []Range{}
	}
	if present(in, 2) {
		deps = append(deps, one(o))
	}
	return deps, nil
}

func (qConvOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	g, err := qConvInfer(metasOf(in), a)
	if err != nil {
		return 0, err
	}
	if err := checkOut("QConv", out, flat, g.outShape()); err != nil {
		return 0, err
	}
	b, o, y, xo := g.unflat(flat)
	x, w := in[0].I8, in[1].I8
	acc := biasAt(in, o)
	for c := 0; c < g.c; c++ {
		base := (b*g.c + c) * g.h * g.w
		for i := 0; i < g.kh; i++ {
			ih := y*g.sh - g.pt + i
			for j := 0; j < g.kw; j++ {
				iw := xo*g.sw - g.pl + j
				if ih >= 0 && ih < g.h && iw >= 0 && iw < g.w {
					acc += int64(w[((o*g.c+c)*g.kh+i)*g.kw+j]) * int64(x[base+ih*g.w+iw])
				}
			}
		}
	}
	v, err := g.rq.apply("QConv", acc, o)
	if err != nil {
		return 0, err
	}
	return intBits(g.rq.dtype(), v), nil
}

// ---------------------------------------------------------------------------

// qMaxPoolOp is QMaxPool: X int8 [N,C,H,W] -> int8, the maximum over each
// kernel_shape window at strides (default 1), no padding, no dilation.
type qMaxPoolOp struct{}

type qPoolGeom struct {
	n, c, h, w, kh, kw, sh, sw, oh, ow int
}

func qPoolInfer(in []tensor.Meta, a Attrs) (*qPoolGeom, error) {
	const op = "QMaxPool"
	if err := checkInputs(op, in, 1, 1); err != nil {
		return nil, err
	}
	if err := checkType(op, in, 0, tensor.Int8); err != nil {
		return nil, err
	}
	s := in[0].Shape
	if len(s) != 4 {
		return nil, fmt.Errorf("op %s: input 0: rank %d, want 4", op, len(s))
	}
	ks, ok, err := attrInts(op, a, "kernel_shape")
	if err != nil {
		return nil, err
	}
	if !ok || len(ks) != 2 {
		return nil, fmt.Errorf("op %s: attribute kernel_shape must have 2 values", op)
	}
	if ks[0] < 1 || ks[1] < 1 || ks[0] > maxGeom || ks[1] > maxGeom {
		return nil, fmt.Errorf("op %s: attribute kernel_shape %v out of range", op, ks)
	}
	st, err := geomInts(op, a, "strides", 2, 1, 1)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"pads", "dilations"} {
		def := int64(0)
		if name == "dilations" {
			def = 1
		}
		v, ok, err := attrInts(op, a, name)
		if err != nil {
			return nil, err
		}
		for _, x := range v {
			if ok && x != def {
				return nil, &UnsupportedError{Op: op, Attr: name, What: fmt.Sprintf("%v", v)}
			}
		}
	}
	if v, err := attrInt(op, a, "ceil_mode", 0); err != nil {
		return nil, err
	} else if v != 0 {
		return nil, &UnsupportedError{Op: op, Attr: "ceil_mode", What: "ceil"}
	}
	g := &qPoolGeom{n: s[0], c: s[1], h: s[2], w: s[3], kh: int(ks[0]), kw: int(ks[1]), sh: st[0], sw: st[1]}
	if g.h < g.kh || g.w < g.kw {
		return nil, fmt.Errorf("op %s: input 0: %dx%d smaller than window %dx%d", op, g.h, g.w, g.kh, g.kw)
	}
	g.oh, g.ow = (g.h-g.kh)/g.sh+1, (g.w-g.kw)/g.sw+1
	if _, err := tensor.CheckShape(g.outShape()); err != nil {
		return nil, fmt.Errorf("op %s: output: %w", op, err)
	}
	return g, nil
}

func (g *qPoolGeom) outShape() []int { return []int{g.n, g.c, g.oh, g.ow} }

func (g *qPoolGeom) at(x []int8, plane, y, xo int) int8 {
	base := plane * g.h * g.w
	m := int8(math.MinInt8)
	for i := 0; i < g.kh; i++ {
		row := x[base+(y*g.sh+i)*g.w+xo*g.sw:][:g.kw]
		for _, v := range row {
			m = max(m, v)
		}
	}
	return m
}

func (qMaxPoolOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	g, err := qPoolInfer(in, a)
	if err != nil {
		return nil, err
	}
	return outMeta(tensor.Int8, g.outShape()), nil
}

func (qMaxPoolOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	g, err := qPoolInfer(metasOf(in), a)
	if err != nil {
		return nil, err
	}
	out, err := newOut(tensor.Int8, g.outShape())
	if err != nil {
		return nil, err
	}
	P := g.oh * g.ow
	parallel(ctx, g.n*g.c, func(plane int) {
		o := out.I8[plane*P : (plane+1)*P]
		for y := 0; y < g.oh; y++ {
			for xo := 0; xo < g.ow; xo++ {
				o[y*g.ow+xo] = g.at(in[0].I8, plane, y, xo)
			}
		}
	})
	return []*tensor.Tensor{out}, nil
}

func (qMaxPoolOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	g, err := qPoolInfer(in, a)
	if err != nil {
		return nil, err
	}
	if err := checkOut("QMaxPool", out, flat, g.outShape()); err != nil {
		return nil, err
	}
	xo, y, plane := flat%g.ow, flat/g.ow%g.oh, flat/(g.ow*g.oh)
	base := plane * g.h * g.w
	var rs rangeSet
	for i := 0; i < g.kh; i++ {
		lo := base + (y*g.sh+i)*g.w + xo*g.sw
		rs.add(lo, lo+g.kw)
	}
	return [][]Range{rs.norm()}, nil
}

func (qMaxPoolOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	g, err := qPoolInfer(metasOf(in), a)
	if err != nil {
		return 0, err
	}
	if err := checkOut("QMaxPool", out, flat, g.outShape()); err != nil {
		return 0, err
	}
	xo, y, plane := flat%g.ow, flat/g.ow%g.oh, flat/(g.ow*g.oh)
	return intBits(tensor.Int8, int64(g.at(in[0].I8, plane, y, xo))), nil
}

// ---------------------------------------------------------------------------

// qAddOp is QAdd: A, B int8 of the same shape (no broadcasting) -> int8,
// y = clamp(rshift(a*mult_a + b*mult_b, shift), lo, hi) with mult_a, mult_b
// in 1..2^31-1 and shift in 1..62 (|a*mult_a + b*mult_b| < 2^39).
type qAddOp struct{}

type qAddParams struct{ ma, mb, shift, lo, hi int64 }

func qAddInfer(in []tensor.Meta, a Attrs) (*qAddParams, error) {
	const op = "QAdd"
	if err := checkInputs(op, in, 2, 2); err != nil {
		return nil, err
	}
	for i := range 2 {
		if err := checkType(op, in, i, tensor.Int8); err != nil {
			return nil, err
		}
	}
	if !equalShape(in[0].Shape, in[1].Shape) {
		return nil, fmt.Errorf("op %s: input 1: shape %v differs from input 0's %v (no broadcasting)", op, in[1].Shape, in[0].Shape)
	}
	p := &qAddParams{}
	var err error
	if p.ma, err = qReqInt(op, a, "mult_a", 1, QMultMax); err != nil {
		return nil, err
	}
	if p.mb, err = qReqInt(op, a, "mult_b", 1, QMultMax); err != nil {
		return nil, err
	}
	if p.shift, err = qReqInt(op, a, "shift", 1, QShiftMax); err != nil {
		return nil, err
	}
	if p.lo, err = qReqInt(op, a, "lo", -128, 127); err != nil {
		return nil, err
	}
	if p.hi, err = qReqInt(op, a, "hi", -128, 127); err != nil {
		return nil, err
	}
	if p.lo > p.hi {
		return nil, fmt.Errorf("op %s: attributes lo %d > hi %d", op, p.lo, p.hi)
	}
	return p, nil
}

func (p *qAddParams) at(a, b int8) int8 {
	return int8(clampInt(QRoundShift(int64(a)*p.ma+int64(b)*p.mb, p.shift), p.lo, p.hi))
}

func (qAddOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	if _, err := qAddInfer(in, a); err != nil {
		return nil, err
	}
	return outMeta(tensor.Int8, append([]int(nil), in[0].Shape...)), nil
}

func (qAddOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	p, err := qAddInfer(metasOf(in), a)
	if err != nil {
		return nil, err
	}
	out, err := newOut(tensor.Int8, in[0].Shape)
	if err != nil {
		return nil, err
	}
	x, y := in[0].I8, in[1].I8
	parallelRange(ctx, out.Len(), 1<<14, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out.I8[i] = p.at(x[i], y[i])
		}
	})
	return []*tensor.Tensor{out}, nil
}

func (qAddOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	if _, err := qAddInfer(in, a); err != nil {
		return nil, err
	}
	if err := checkOut("QAdd", out, flat, in[0].Shape); err != nil {
		return nil, err
	}
	return [][]Range{one(flat), one(flat)}, nil
}

func (qAddOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	p, err := qAddInfer(metasOf(in), a)
	if err != nil {
		return 0, err
	}
	if err := checkOut("QAdd", out, flat, in[0].Shape); err != nil {
		return 0, err
	}
	return intBits(tensor.Int8, int64(p.at(in[0].I8[flat], in[1].I8[flat]))), nil
}
