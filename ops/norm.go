package ops

import (
	"fmt"

	"github.com/provena/provena/internal/fmath"
	"github.com/provena/provena/internal/kernels"
	"github.com/provena/provena/tensor"
)

// batchNormOp is BatchNormalization in inference mode. Canonical order for x
// in channel c: y = float32(float32((x - mean[c]) / Sqrt(var[c] + eps)) *
// scale[c]) + B[c], each operation rounded to float32.
type batchNormOp struct{}

func init() { Register("BatchNormalization", batchNormOp{}) }

func (batchNormOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	if err := checkInputs("BatchNormalization", in, 5, 5); err != nil {
		return nil, err
	}
	for i := range in {
		if err := checkType("BatchNormalization", in, i, tensor.Float32); err != nil {
			return nil, err
		}
	}
	s := in[0].Shape
	if len(s) < 2 {
		return nil, fmt.Errorf("op BatchNormalization: input 0 has rank %d, want at least 2", len(s))
	}
	for i := 1; i < 5; i++ {
		if len(in[i].Shape) != 1 || in[i].Shape[0] != s[1] {
			return nil, fmt.Errorf("op BatchNormalization: input %d: shape %v, want [%d]", i, in[i].Shape, s[1])
		}
	}
	if tm, _ := attrInt("BatchNormalization", a, "training_mode", 0); tm != 0 {
		return nil, &UnsupportedError{Op: "BatchNormalization", Attr: "training_mode", What: "training"}
	}
	if n, _ := attrInt("BatchNormalization", a, OutputsAttr, 1); n > 1 {
		return nil, &UnsupportedError{Op: "BatchNormalization", What: "running mean/variance outputs (training only)"}
	}
	if _, err := attrFloat("BatchNormalization", a, "epsilon", 1e-5); err != nil {
		return nil, err
	}
	return outMeta(tensor.Float32, append([]int(nil), s...)), nil
}

func bnAt(in []*tensor.Tensor, eps float32, c int, x float32) float32 {
	sd := fmath.Sqrt(in[4].F32[c] + eps)
	t := (x - in[3].F32[c]) / sd
	return float32(t*in[1].F32[c]) + in[2].F32[c]
}

func (b batchNormOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	x := in[0]
	out, err := newOutDirty(tensor.Float32, x.Shape)
	if err != nil {
		return nil, err
	}
	eps, _ := attrFloat("BatchNormalization", a, "epsilon", 1e-5)
	C := x.Shape[1]
	plane := tensor.NumElements(x.Shape[2:])
	parallel(ctx, x.Shape[0]*C, func(task int) {
		c := task % C
		sd := fmath.Sqrt(in[4].F32[c] + eps)
		mean, scale, bias := in[3].F32[c], in[1].F32[c], in[2].F32[c]
		o, s := out.F32[task*plane:(task+1)*plane], x.F32[task*plane:(task+1)*plane]
		for i, v := range s {
			t := (v - mean) / sd
			o[i] = float32(t*scale) + bias
		}
	})
	return []*tensor.Tensor{out}, nil
}

func (b batchNormOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	if _, err := b.Infer(in, a); err != nil {
		return nil, err
	}
	if err := checkOut("BatchNormalization", out, flat, in[0].Shape); err != nil {
		return nil, err
	}
	c := flat / tensor.NumElements(in[0].Shape[2:]) % in[0].Shape[1]
	return [][]Range{one(flat), one(c), one(c), one(c), one(c)}, nil
}

func (b batchNormOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	if _, err := b.Infer(metasOf(in), a); err != nil {
		return 0, err
	}
	if err := checkOut("BatchNormalization", out, flat, in[0].Shape); err != nil {
		return 0, err
	}
	eps, _ := attrFloat("BatchNormalization", a, "epsilon", 1e-5)
	c := flat / tensor.NumElements(in[0].Shape[2:]) % in[0].Shape[1]
	return f32bits(bnAt(in, eps, c, in[0].F32[flat])), nil
}

// layerNormOp is LayerNormalization over the axes from axis on. Canonical
// order for a row x[0..n): mean = (sum x_i from +0, in order) / float32(n);
// d_i = x_i - mean; var = (sum float32(d_i*d_i) from +0, in order) /
// float32(n); sd = Sqrt(var + eps); y_i = float32(float32(d_i / sd) *
// scale_i) + B_i.
type layerNormOp struct{}

func init() { Register("LayerNormalization", layerNormOp{}) }

type lnGeom struct {
	rows, n int
	sSt     []int // broadcast strides of Scale over the normalized block
	bSt     []int
	inner   []int
	eps     float32
}

func lnInfer(in []tensor.Meta, a Attrs) (*lnGeom, error) {
	if err := checkInputs("LayerNormalization", in, 2, 3); err != nil {
		return nil, err
	}
	for i := range in {
		if present(in, i) {
			if err := checkType("LayerNormalization", in, i, tensor.Float32); err != nil {
				return nil, err
			}
		}
	}
	if n, _ := attrInt("LayerNormalization", a, OutputsAttr, 1); n > 1 {
		return nil, &UnsupportedError{Op: "LayerNormalization", What: "Mean and InvStdDev outputs"}
	}
	if st, _ := attrInt("LayerNormalization", a, "stash_type", 1); st != 1 {
		return nil, &UnsupportedError{Op: "LayerNormalization", Attr: "stash_type", What: fmt.Sprint(st)}
	}
	s := in[0].Shape
	ax, err := attrInt("LayerNormalization", a, "axis", -1)
	if err != nil {
		return nil, err
	}
	axis, err := normAxis("LayerNormalization", ax, len(s))
	if err != nil {
		return nil, err
	}
	g := &lnGeom{rows: tensor.NumElements(s[:axis]), n: tensor.NumElements(s[axis:]), inner: s[axis:]}
	if g.eps, err = attrFloat("LayerNormalization", a, "epsilon", 1e-5); err != nil {
		return nil, err
	}
	for i := 1; i < 3; i++ {
		if !present(in, i) {
			continue
		}
		bc, err := tensor.BroadcastShapes(in[i].Shape, g.inner)
		if err != nil || !equalShape(bc, g.inner) {
			return nil, fmt.Errorf("op LayerNormalization: input %d: shape %v does not broadcast to %v", i, in[i].Shape, g.inner)
		}
		st := tensor.BroadcastStrides(in[i].Shape, g.inner)
		if i == 1 {
			g.sSt = st
		} else {
			g.bSt = st
		}
	}
	return g, nil
}

func (lnGeom) idx(st []int, inner []int, k int) int {
	f := 0
	for d := len(inner) - 1; d >= 0; d-- {
		f += (k % inner[d]) * st[d]
		k /= inner[d]
	}
	return f
}

// stats returns a row's mean and Sqrt(var + eps) in the canonical order.
func (g *lnGeom) stats(x []float32) (mean, sd float32) {
	var s float32
	for _, v := range x {
		s += v
	}
	mean = s / float32(g.n)
	var vs float32
	for _, v := range x {
		d := v - mean
		vs += float32(d * d)
	}
	return mean, fmath.Sqrt(vs/float32(g.n) + g.eps)
}

// finish is y_k from the row statistics.
func (g *lnGeom) finish(v, mean, sd float32, scale, bias []float32, k int) float32 {
	t := float32(float32((v-mean)/sd) * scale[g.idx(g.sSt, g.inner, k)])
	if bias != nil {
		t = t + bias[g.idx(g.bSt, g.inner, k)]
	}
	return t
}

// row normalizes one row into y (len n).
func (g *lnGeom) row(x, scale, bias, y []float32) {
	mean, sd := g.stats(x)
	for k, v := range x {
		y[k] = g.finish(v, mean, sd, scale, bias, k)
	}
}

func (layerNormOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	if _, err := lnInfer(in, a); err != nil {
		return nil, err
	}
	return outMeta(tensor.Float32, append([]int(nil), in[0].Shape...)), nil
}

func (layerNormOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	g, err := lnInfer(metasOf(in), a)
	if err != nil {
		return nil, err
	}
	out, err := newOut(tensor.Float32, in[0].Shape)
	if err != nil {
		return nil, err
	}
	var bias []float32
	if presentT(in, 2) {
		bias = in[2].F32
	}
	parallel(ctx, g.rows, func(r int) {
		g.row(in[0].F32[r*g.n:(r+1)*g.n], in[1].F32, bias, out.F32[r*g.n:(r+1)*g.n])
	})
	return []*tensor.Tensor{out}, nil
}

func (layerNormOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	g, err := lnInfer(in, a)
	if err != nil {
		return nil, err
	}
	if err := checkOut("LayerNormalization", out, flat, in[0].Shape); err != nil {
		return nil, err
	}
	r, k := flat/g.n, flat%g.n
	deps := [][]Range{{{r * g.n, (r + 1) * g.n}}, one(g.idx(g.sSt, g.inner, k))}
	if present(in, 2) {
		deps = append(deps, one(g.idx(g.bSt, g.inner, k)))
	}
	return deps, nil
}

func (layerNormOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	g, err := lnInfer(metasOf(in), a)
	if err != nil {
		return 0, err
	}
	if err := checkOut("LayerNormalization", out, flat, in[0].Shape); err != nil {
		return 0, err
	}
	r, k := flat/g.n, flat%g.n
	var bias []float32
	if presentT(in, 2) {
		bias = in[2].F32
	}
	x := in[0].F32[r*g.n : (r+1)*g.n]
	mean, sd := g.stats(x)
	t := g.finish(x[k], mean, sd, in[1].F32, bias, k)
	return f32bits(t), nil
}

// softmaxOp is Softmax and LogSoftmax. From opset 13 a row is the elements
// along axis (default -1); before 13 the input is coerced to 2-D at axis
// (default 1) and a row is everything from axis on. Canonical order per row:
// m = x_0, then m = x_i where x_i > m; e_i = Exp(x_i - m); s = sum e_i from
// +0 in order; Softmax y_i = e_i / s, LogSoftmax y_i = (x_i - m) - Log(s).
type softmaxOp struct {
	name string
	log  bool
}

func init() {
	Register("Softmax", &softmaxOp{name: "Softmax"})
	Register("LogSoftmax", &softmaxOp{name: "LogSoftmax", log: true})
}

// smGeom: row r's element k is at (r/inner)*n*inner + k*inner + r%inner.
type smGeom struct{ rows, n, inner int }

func (s *softmaxOp) geom(in []tensor.Meta, a Attrs) (*smGeom, error) {
	if err := checkInputs(s.name, in, 1, 1); err != nil {
		return nil, err
	}
	if err := checkType(s.name, in, 0, tensor.Float32); err != nil {
		return nil, err
	}
	sh := in[0].Shape
	def := int64(-1)
	if opset(a) < 13 {
		def = 1
	}
	ax, err := attrInt(s.name, a, "axis", def)
	if err != nil {
		return nil, err
	}
	if len(sh) == 0 {
		return &smGeom{rows: 1, n: 1, inner: 1}, nil
	}
	axis, err := normAxis(s.name, ax, len(sh))
	if err != nil {
		return nil, err
	}
	if opset(a) < 13 {
		return &smGeom{rows: tensor.NumElements(sh[:axis]), n: tensor.NumElements(sh[axis:]), inner: 1}, nil
	}
	inner := tensor.NumElements(sh[axis+1:])
	return &smGeom{rows: tensor.NumElements(sh[:axis]) * inner, n: sh[axis], inner: inner}, nil
}

func (g *smGeom) at(r, k int) int {
	return (r/max(g.inner, 1))*g.n*g.inner + k*g.inner + r%max(g.inner, 1)
}

// row computes row r into y (g.n values, in the row's own order); e is
// scratch of g.n values, used to gather a strided row. Run and Elem both
// come here, so the one-step verifier repeats the vector exp and division
// (kernels.ExpSubRow and BinaryRow do the canonical scalar operations lane
// by lane).
func (s *softmaxOp) row(g *smGeom, x, y []float32, r int, e []float32) {
	var xr []float32
	if g.inner == 1 {
		xr = x[r*g.n : (r+1)*g.n]
	} else {
		xr = e[:g.n]
		for k := range xr {
			xr[k] = x[g.at(r, k)]
		}
	}
	m := xr[0]
	for _, v := range xr[1:] {
		if v > m {
			m = v
		}
	}
	y = y[:g.n]
	kernels.ExpSubRow(y, xr, m)
	var sum float32
	for _, v := range y {
		sum += v
	}
	if s.log {
		ls := fmath.Log(sum)
		for k, v := range xr {
			y[k] = (v - m) - ls
		}
		return
	}
	kernels.BinaryRow(kernels.OpDiv, y, y, []float32{sum}, 1, 0)
}

func (s *softmaxOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	if _, err := s.geom(in, a); err != nil {
		return nil, err
	}
	return outMeta(tensor.Float32, append([]int(nil), in[0].Shape...)), nil
}

func (s *softmaxOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	g, err := s.geom(metasOf(in), a)
	if err != nil {
		return nil, err
	}
	out, err := newOutDirty(tensor.Float32, in[0].Shape)
	if err != nil {
		return nil, err
	}
	if g.n == 0 {
		return []*tensor.Tensor{out}, nil
	}
	parallelRange(ctx, g.rows, max(1, 4096/g.n), func(lo, hi int) {
		if g.inner == 1 {
			for r := lo; r < hi; r++ {
				s.row(g, in[0].F32, out.F32[r*g.n:(r+1)*g.n], r, nil)
			}
			return
		}
		e, y := make([]float32, g.n), make([]float32, g.n)
		for r := lo; r < hi; r++ {
			s.row(g, in[0].F32, y, r, e)
			for k, v := range y {
				out.F32[g.at(r, k)] = v
			}
		}
	})
	return []*tensor.Tensor{out}, nil
}

func (s *softmaxOp) locate(g *smGeom, flat int) (int, int) {
	// invert at(): flat = (r/inner)*n*inner + k*inner + r%inner
	outer, rest := flat/(g.n*g.inner), flat%(g.n*g.inner)
	k, i := rest/g.inner, rest%g.inner
	return outer*g.inner + i, k
}

func (s *softmaxOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	g, err := s.geom(in, a)
	if err != nil {
		return nil, err
	}
	if err := checkOut(s.name, out, flat, in[0].Shape); err != nil {
		return nil, err
	}
	r, _ := s.locate(g, flat)
	var rs rangeSet
	for k := 0; k < g.n; k++ {
		rs.add(g.at(r, k), g.at(r, k)+1)
	}
	return [][]Range{rs.norm()}, nil
}

func (s *softmaxOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	g, err := s.geom(metasOf(in), a)
	if err != nil {
		return 0, err
	}
	if err := checkOut(s.name, out, flat, in[0].Shape); err != nil {
		return 0, err
	}
	r, k := s.locate(g, flat)
	e, y := make([]float32, g.n), make([]float32, g.n)
	s.row(g, in[0].F32, y, r, e)
	return f32bits(y[k]), nil
}
