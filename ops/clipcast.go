package ops

import (
	"fmt"
	"math"

	"github.com/provena/provena/internal/kernels"
	"github.com/provena/provena/tensor"
)

// clipOp is Clip: y = x; if y < lo { y = lo }; if y > hi { y = hi } (NaN
// passes through). Bounds come from attributes min/max before opset 11 and
// from optional scalar inputs 1 and 2 from opset 11.
type clipOp struct{}

func init() { Register("Clip", clipOp{}) }

func (clipOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	if err := checkInputs("Clip", in, 1, 3); err != nil {
		return nil, err
	}
	dt := in[0].DType
	if err := checkType("Clip", in, 0, tensor.Float32, tensor.Int64, tensor.Int32); err != nil {
		return nil, err
	}
	if opset(a) < 11 {
		if len(in) > 1 {
			return nil, fmt.Errorf("op Clip: opset %d takes 1 input, got %d", opset(a), len(in))
		}
		if dt != tensor.Float32 {
			return nil, fmt.Errorf("op Clip: opset %d: input 0 must be float32", opset(a))
		}
		if _, err := attrFloat("Clip", a, "min", 0); err != nil {
			return nil, err
		}
		if _, err := attrFloat("Clip", a, "max", 0); err != nil {
			return nil, err
		}
	}
	for i := 1; i < len(in); i++ {
		if !present(in, i) {
			continue
		}
		if in[i].DType != dt {
			return nil, fmt.Errorf("op Clip: input %d: type %v differs from input 0's %v", i, in[i].DType, dt)
		}
		if tensor.NumElements(in[i].Shape) != 1 {
			return nil, fmt.Errorf("op Clip: input %d: want a scalar, got shape %v", i, in[i].Shape)
		}
	}
	return outMeta(dt, append([]int(nil), in[0].Shape...)), nil
}

type clipBounds struct {
	lo, hi   float32
	ilo, ihi int64
}

func clipBoundsOf(in []*tensor.Tensor, a Attrs) clipBounds {
	b := clipBounds{lo: float32(math.Inf(-1)), hi: float32(math.Inf(1)), ilo: math.MinInt64, ihi: math.MaxInt64}
	if opset(a) < 11 {
		b.lo, _ = attrFloat("Clip", a, "min", b.lo)
		b.hi, _ = attrFloat("Clip", a, "max", b.hi)
		return b
	}
	if presentT(in, 1) {
		if in[1].DType == tensor.Float32 {
			b.lo = in[1].F32[0]
		} else {
			b.ilo = intAt(in[1], 0)
		}
	}
	if presentT(in, 2) {
		if in[2].DType == tensor.Float32 {
			b.hi = in[2].F32[0]
		} else {
			b.ihi = intAt(in[2], 0)
		}
	}
	return b
}

func clipF32(x, lo, hi float32) float32 {
	if x < lo {
		x = lo
	}
	if x > hi {
		x = hi
	}
	return x
}

func (c clipOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	x := in[0]
	out, err := newOutDirty(x.DType, x.Shape)
	if err != nil {
		return nil, err
	}
	b := clipBoundsOf(in, a)
	if x.DType == tensor.Float32 {
		parallelRange(ctx, len(x.F32), 1<<15, func(lo, hi int) {
			kernels.ClipRow(out.F32[lo:hi], x.F32[lo:hi], b.lo, b.hi)
		})
		return []*tensor.Tensor{out}, nil
	}
	for i := range out.Len() {
		setBits(out, i, intBits(x.DType, min(max(intAt(x, i), b.ilo), b.ihi)))
	}
	return []*tensor.Tensor{out}, nil
}

func (c clipOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	if _, err := c.Infer(in, a); err != nil {
		return nil, err
	}
	if err := checkOut("Clip", out, flat, in[0].Shape); err != nil {
		return nil, err
	}
	deps := make([][]Range, len(in))
	deps[0] = one(flat)
	for i := 1; i < len(in); i++ {
		if present(in, i) {
			deps[i] = one(0)
		}
	}
	return deps, nil
}

func (c clipOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	if _, err := c.Infer(metasOf(in), a); err != nil {
		return 0, err
	}
	x := in[0]
	if err := checkOut("Clip", out, flat, x.Shape); err != nil {
		return 0, err
	}
	b := clipBoundsOf(in, a)
	if x.DType == tensor.Float32 {
		return f32bits(clipF32(x.F32[flat], b.lo, b.hi)), nil
	}
	return intBits(x.DType, min(max(intAt(x, flat), b.ilo), b.ihi)), nil
}

// castOp is Cast. Float to integer truncates toward zero and saturates at
// the target range, NaN becomes 0; integer to float rounds to nearest even;
// anything to bool is x != 0 (NaN is true).
type castOp struct{}

func init() { Register("Cast", castOp{}) }

func castTarget(a Attrs) (tensor.DType, error) {
	to, err := attrInt("Cast", a, "to", 0)
	if err != nil {
		return 0, err
	}
	switch dt := tensor.DType(to); {
	case to < 0 || to > 255:
	case dt == tensor.Float32 || dt == tensor.Int64 || dt == tensor.Int32 || dt == tensor.Int8 || dt == tensor.Uint8 || dt == tensor.Bool:
		return dt, nil
	}
	if _, ok := a["to"]; !ok {
		return 0, fmt.Errorf("op Cast: attribute to is required")
	}
	return 0, &UnsupportedError{Op: "Cast", Attr: "to", What: fmt.Sprintf("data type %d", to)}
}

func (castOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	if err := checkInputs("Cast", in, 1, 1); err != nil {
		return nil, err
	}
	if err := checkType("Cast", in, 0, tensor.Float32, tensor.Int64, tensor.Int32, tensor.Int8, tensor.Uint8, tensor.Bool); err != nil {
		return nil, err
	}
	dt, err := castTarget(a)
	if err != nil {
		return nil, err
	}
	return outMeta(dt, append([]int(nil), in[0].Shape...)), nil
}

func castBits(x *tensor.Tensor, i int, to tensor.DType) uint64 {
	if x.DType == tensor.Float32 {
		v := x.F32[i]
		switch to {
		case tensor.Float32:
			return f32bits(v)
		case tensor.Bool:
			return intBits(to, b2i(v != 0))
		case tensor.Int64:
			return intBits(to, f2i(v, math.MinInt64, math.MaxInt64))
		case tensor.Int32:
			return intBits(to, f2i(v, math.MinInt32, math.MaxInt32))
		case tensor.Int8:
			return intBits(to, f2i(v, math.MinInt8, math.MaxInt8))
		case tensor.Uint8:
			return intBits(to, f2i(v, 0, math.MaxUint8))
		}
	}
	v := intAt(x, i)
	if to == tensor.Float32 {
		return f32bits(float32(v))
	}
	return intBits(to, v)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func f2i(v float32, lo, hi int64) int64 {
	if v != v {
		return 0
	}
	t := math.Trunc(float64(v))
	if t <= float64(lo) {
		return lo
	}
	if t >= float64(hi) {
		return hi
	}
	return int64(t)
}

func (c castOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	to, err := castTarget(a)
	if err != nil {
		return nil, err
	}
	x := in[0]
	out, err := newOut(to, x.Shape)
	if err != nil {
		return nil, err
	}
	if x.DType == to {
		copyElems(out, 0, x, 0, x.Len())
		return []*tensor.Tensor{out}, nil
	}
	parallelRange(ctx, x.Len(), 1<<15, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			setBits(out, i, castBits(x, i, to))
		}
	})
	return []*tensor.Tensor{out}, nil
}

func (c castOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	if _, err := c.Infer(in, a); err != nil {
		return nil, err
	}
	if err := checkOut("Cast", out, flat, in[0].Shape); err != nil {
		return nil, err
	}
	return [][]Range{one(flat)}, nil
}

func (c castOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	m, err := c.Infer(metasOf(in), a)
	if err != nil {
		return 0, err
	}
	if err := checkOut("Cast", out, flat, in[0].Shape); err != nil {
		return 0, err
	}
	return castBits(in[0], flat, m[0].DType), nil
}
