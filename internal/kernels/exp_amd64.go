//go:build goexperiment.simd && amd64 && !purego

package kernels

import (
	"simd/archsimd"

	"github.com/provena/provena/internal/fmath"
)

type f4d = archsimd.Float64x4

var expC = fmath.ExpCoefficients()

// exp64x4 is fmath.Exp64 for four lanes whose arguments lie in [-700, 700]
// (so that neither its special cases nor a subnormal or infinite result can
// occur): k = floor(x*log2e + 0.5), r = (x - k*ln2Hi) - k*ln2Lo, the Horner
// steps p = p*r + c with every product rounded before the addition, and
// p*2^k, which is exact for a normal result and so equals math.Ldexp(p, k).
// 2^k is built by adding k to 2^52+1023 (exact: k is an integer of at most
// 11 bits) and shifting the low bits into the exponent field.
func exp64x4(x f4d) f4d {
	k := x.Mul(archsimd.BroadcastFloat64x4(fmath.Log2E)).Add(archsimd.BroadcastFloat64x4(0.5)).Floor()
	r := x.Sub(k.Mul(archsimd.BroadcastFloat64x4(fmath.Ln2Hi)))
	r = r.Sub(k.Mul(archsimd.BroadcastFloat64x4(fmath.Ln2Lo)))
	p := archsimd.BroadcastFloat64x4(expC[0])
	for _, cv := range expC[1:] {
		p = p.Mul(r).Add(archsimd.BroadcastFloat64x4(cv))
	}
	e := k.Add(archsimd.BroadcastFloat64x4(1<<52 + 1023)).AsUint64x4().ShiftAllLeft(52).AsFloat64x4()
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
