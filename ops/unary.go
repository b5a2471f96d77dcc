package ops

import (
	"fmt"
	"math"

	"github.com/provena/provena/internal/fmath"
	"github.com/provena/provena/internal/kernels"
	"github.com/provena/provena/tensor"
)

// unary is an elementwise operator of one input. Each output element is
// f(x) of the input element at the same index; f is the canonical formula.
type unary struct {
	name string
	// prep validates the attributes and returns the float32 function.
	prep func(a Attrs) (func(float32) float32, error)
	// fi, when set, defines the op on integer inputs too.
	fi func(int64) int64
	// row, when set, computes f over a row with a vector kernel that gives
	// f's bits element by element; Run and Elem both use it.
	row func(o, x []float32)
}

func plain(f func(float32) float32) func(Attrs) (func(float32) float32, error) {
	return func(Attrs) (func(float32) float32, error) { return f, nil }
}

func init() {
	for _, u := range []*unary{
		// Relu: x < 0 ? 0 : x (so -0 and NaN pass through).
		{name: "Relu", prep: plain(func(x float32) float32 {
			if x < 0 {
				return 0
			}
			return x
		}), row: func(o, x []float32) { kernels.ClipRow(o, x, 0, float32(math.Inf(1))) }}, // the same comparisons
		{name: "Neg", prep: plain(func(x float32) float32 { return -x }), fi: func(v int64) int64 { return -v }},
		{name: "Abs", prep: plain(func(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }),
			fi: func(v int64) int64 {
				if v < 0 {
					return -v
				}
				return v
			}},
		{name: "Sigmoid", prep: plain(fmath.Sigmoid), row: kernels.SigmoidRow},
		{name: "Tanh", prep: plain(fmath.Tanh)},
		{name: "Exp", prep: plain(fmath.Exp)},
		{name: "Log", prep: plain(fmath.Log)},
		{name: "Erf", prep: plain(fmath.Erf)},
		{name: "Sqrt", prep: plain(fmath.Sqrt)},
		{name: "Reciprocal", prep: plain(func(x float32) float32 { return 1 / x })},
		{name: "Floor", prep: plain(func(x float32) float32 { return float32(math.Floor(float64(x))) })},
		{name: "Ceil", prep: plain(func(x float32) float32 { return float32(math.Ceil(float64(x))) })},
		{name: "Gelu", prep: func(a Attrs) (func(float32) float32, error) {
			s, err := attrString("Gelu", a, "approximate", "none")
			if err != nil {
				return nil, err
			}
			switch s {
			case "none":
				return fmath.Gelu, nil
			case "tanh":
				return fmath.GeluTanh, nil
			}
			return nil, &UnsupportedError{Op: "Gelu", Attr: "approximate", What: fmt.Sprintf("%q", s)}
		}},
		// HardSigmoid: t = float32(alpha*x) + beta, then clamped to [0, 1].
		{name: "HardSigmoid", prep: func(a Attrs) (func(float32) float32, error) {
			alpha, err := attrFloat("HardSigmoid", a, "alpha", 0.2)
			if err != nil {
				return nil, err
			}
			beta, err := attrFloat("HardSigmoid", a, "beta", 0.5)
			if err != nil {
				return nil, err
			}
			return func(x float32) float32 {
				t := float32(alpha*x) + beta
				if t < 0 {
					return 0
				}
				if t > 1 {
					return 1
				}
				return t
			}, nil
		}},
		// LeakyRelu: x < 0 ? alpha*x : x.
		{name: "LeakyRelu", prep: func(a Attrs) (func(float32) float32, error) {
			alpha, err := attrFloat("LeakyRelu", a, "alpha", 0.01)
			if err != nil {
				return nil, err
			}
			return func(x float32) float32 {
				if x < 0 {
					return alpha * x
				}
				return x
			}, nil
		}},
	} {
		Register(u.name, u)
	}
}

func (u *unary) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	if err := checkInputs(u.name, in, 1, 1); err != nil {
		return nil, err
	}
	switch dt := in[0].DType; {
	case dt == tensor.Float32:
		if _, err := u.prep(a); err != nil {
			return nil, err
		}
	case u.fi != nil && (dt == tensor.Int64 || dt == tensor.Int32 || dt == tensor.Int8):
	default:
		return nil, fmt.Errorf("op %s: input 0: type %v not supported", u.name, dt)
	}
	return outMeta(in[0].DType, append([]int(nil), in[0].Shape...)), nil
}

func (u *unary) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	x := in[0]
	out, err := newOutDirty(x.DType, x.Shape)
	if err != nil {
		return nil, err
	}
	if x.DType != tensor.Float32 {
		for i := range out.Len() {
			setBits(out, i, intBits(x.DType, u.fi(intAt(x, i))))
		}
		return []*tensor.Tensor{out}, nil
	}
	f, err := u.prep(a)
	if err != nil {
		return nil, err
	}
	if u.row != nil {
		parallelRange(ctx, len(x.F32), 1<<15, func(lo, hi int) { u.row(out.F32[lo:hi], x.F32[lo:hi]) })
		return []*tensor.Tensor{out}, nil
	}
	parallelRange(ctx, len(x.F32), 1<<15, func(lo, hi int) {
		o, s := out.F32[lo:hi], x.F32[lo:hi]
		for i, v := range s {
			o[i] = f(v)
		}
	})
	return []*tensor.Tensor{out}, nil
}

func (u *unary) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	if _, err := u.Infer(in, a); err != nil {
		return nil, err
	}
	if err := checkOut(u.name, out, flat, in[0].Shape); err != nil {
		return nil, err
	}
	return [][]Range{one(flat)}, nil
}

func (u *unary) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	if _, err := u.Infer(metasOf(in), a); err != nil {
		return 0, err
	}
	x := in[0]
	if err := checkOut(u.name, out, flat, x.Shape); err != nil {
		return 0, err
	}
	if x.DType != tensor.Float32 {
		return intBits(x.DType, u.fi(intAt(x, flat))), nil
	}
	f, err := u.prep(a)
	if err != nil {
		return 0, err
	}
	if u.row != nil {
		var y [1]float32
		u.row(y[:], x.F32[flat:flat+1])
		return f32bits(y[0]), nil
	}
	return f32bits(f(x.F32[flat])), nil
}
