//go:build goexperiment.simd && amd64 && !purego

package kernels

import (
	"simd/archsimd"

	"github.com/provena/provena/internal/fmath"
)

type f4d = archsimd.Float64x4

var expC = fmath.ExpCoefficients()

// expV holds exp64x4's constants as four equal lanes in memory: a vector
// load of each (folded into the multiply or add) instead of a broadcast
// per use, which took a shuffle slot for every Horner step. Plain float64
// copies, so that init runs no vector instruction.
var expV = func() (v struct {
	log2e, half, ln2Hi, ln2Lo, bias [4]float64
	c                               [][4]float64
}) {
	four := func(x float64) [4]float64 { return [4]float64{x, x, x, x} }
	v.log2e, v.half, v.ln2Hi, v.ln2Lo, v.bias = four(fmath.Log2E), four(0.5), four(fmath.Ln2Hi), four(fmath.Ln2Lo), four(1<<52+1023)
	for _, c := range expC {
		v.c = append(v.c, four(c))
	}
	return v
}()

// exp64x4 is fmath.Exp64 for four lanes whose arguments lie in [-700, 700]
// (so that neither its special cases nor a subnormal or infinite result can
// occur): k = floor(x*log2e + 0.5), r = (x - k*ln2Hi) - k*ln2Lo, the Horner
// steps p = p*r + c with every product rounded before the addition, and
// p*2^k, which is exact for a normal result and so equals math.Ldexp(p, k).
// 2^k is built by adding k to 2^52+1023 (exact: k is an integer of at most
// 11 bits) and shifting the low bits into the exponent field.
func exp64x4(x f4d) f4d {
	k := x.Mul(archsimd.LoadFloat64x4(&expV.log2e)).Add(archsimd.LoadFloat64x4(&expV.half)).Floor()
	r := x.Sub(k.Mul(archsimd.LoadFloat64x4(&expV.ln2Hi)))
	r = r.Sub(k.Mul(archsimd.LoadFloat64x4(&expV.ln2Lo)))
	c := expV.c
	p := archsimd.LoadFloat64x4(&c[0])
	for i := 1; i < len(c); i++ {
		p = p.Mul(r).Add(archsimd.LoadFloat64x4(&c[i]))
	}
	e := k.Add(archsimd.LoadFloat64x4(&expV.bias)).AsUint64x4().ShiftAllLeft(52).AsFloat64x4()
	return p.Mul(e)
}

// expInRange reports whether all eight lanes lie in [-700, 700] (false for
// NaN).
func expInRange(d f8) bool {
	return d.GreaterEqual(bc8(-700)).And(d.LessEqual(bc8(700))).ToBits() == 0xff
}

func expAVX2(o, x []float32, s float32) {
	n := len(o) &^ 7
	sv := bc8(s)
	for j := 0; j < n; j += 8 {
		d := load8(x[j : j+8]).Sub(sv)
		if !expInRange(d) {
			expScalar(o[j:j+8], x[j:j+8], s)
			continue
		}
		lo := exp64x4(d.GetLo().ConvertToFloat64()).ConvertToFloat32()
		hi := exp64x4(d.GetHi().ConvertToFloat64()).ConvertToFloat32()
		archsimd.Float32x8{}.SetLo(lo).SetHi(hi).Store(ptr8(o, j))
	}
	expScalar(o[n:], x[n:], s)
}

// sigAVX2: exp64x4(-x) as above, then 1/(1+e) in float64 and one rounding
// to float32, as fmath.Sigmoid. Negation is a multiply by -1 (exact).
func sigAVX2(o, x []float32) {
	n := len(o) &^ 7
	one := archsimd.BroadcastFloat64x4(1)
	neg := archsimd.BroadcastFloat64x4(-1)
	for j := 0; j < n; j += 8 {
		d := load8(x[j : j+8])
		if !expInRange(d) {
			sigScalar(o[j:j+8], x[j:j+8])
			continue
		}
		lo := one.Div(one.Add(exp64x4(d.GetLo().ConvertToFloat64().Mul(neg)))).ConvertToFloat32()
		hi := one.Div(one.Add(exp64x4(d.GetHi().ConvertToFloat64().Mul(neg)))).ConvertToFloat32()
		archsimd.Float32x8{}.SetLo(lo).SetHi(hi).Store(ptr8(o, j))
	}
	sigScalar(o[n:], x[n:])
}
