// Package fmath owns Provena's elementwise float32 functions: exp, log, tanh,
// erf, sigmoid, sqrt, pow and gelu, each bit-identical on every platform.
//
// The standard library's math.Exp, math.Tanh and math.Erf have assembly
// variants on some architectures that are not guaranteed to agree with the
// pure Go code, so every function here is built only from IEEE-754 basic
// operations (+, -, *, /, sqrt, float64<->float32 conversion) and exact bit
// manipulation (Frexp, Ldexp, Floor), which give the same bits everywhere.
// Intermediate work is done in float64 and rounded once to float32 at the
// end; the result is within one or two float32 ULP of the true value.
//
// Go may fuse x*y+z into one fused multiply-add on arm64, ppc64, s390x and
// amd64 with GOAMD64=v3, which changes the bits. An explicit conversion
// rounds and forbids that fusion, so every product that feeds an addition
// here is written float64(a*b).
package fmath

import "math"

const (
	ln2Hi  = 6.93147180369123816490e-01 // high bits of ln 2: k*ln2Hi is exact for |k| < 2^11
	ln2Lo  = 1.90821492927058770002e-10
	log2e  = 1.44269504088896338700e+00
	sqrt12 = 0.70710678118654752440 // sqrt(1/2)
)

// Exp64's constants, exported for vector kernels that must repeat its
// operations lane by lane (internal/kernels).
const (
	Ln2Hi = ln2Hi
	Ln2Lo = ln2Lo
	Log2E = log2e
)

// ExpCoefficients returns Exp64's Horner coefficients, highest degree
// first (a copy: the table itself must not change).
func ExpCoefficients() [13]float64 { return expTaylor }

// expTaylor holds 1/n! for n = 12 down to 0, the Horner coefficients of
// exp(r) on |r| <= ln2/2 (truncation error below 2e-16 relative).
var expTaylor = [...]float64{
	1.0 / 479001600, 1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880, 1.0 / 40320,
	1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1, 1,
}

// Exp64 is exp in float64 with the same fixed operation sequence on every
// platform: x = k*ln2 + r, |r| <= ln2/2, exp(r) by a degree-12 Taylor
// polynomial in Horner form, then an exact scaling by 2^k.
func Exp64(x float64) float64 {
	switch {
	case x != x:
		return x
	case x > 709.78:
		return math.Inf(1)
	case x < -745.2:
		return 0
	}
	k := math.Floor(float64(x*log2e) + 0.5)
	r := x - float64(k*ln2Hi)
	r = r - float64(k*ln2Lo)
	p := expTaylor[0]
	for _, c := range expTaylor[1:] {
		p = float64(p*r) + c
	}
	return math.Ldexp(p, int(k))
}

// Log64 is the natural logarithm in float64: x = f*2^e with f in
// [sqrt(1/2), sqrt(2)), log f = 2 atanh(s) with s = (f-1)/(f+1) by its odd
// series to s^23.
func Log64(x float64) float64 {
	switch {
	case x != x || x < 0:
		return math.NaN()
	case x == 0:
		return math.Inf(-1)
	case math.IsInf(x, 1):
		return x
	}
	f, e := math.Frexp(x)
	if f < sqrt12 {
		f *= 2
		e--
	}
	s := (f - 1) / (f + 1)
	z := float64(s * s)
	q := 1.0 / 23
	for n := 21; n >= 1; n -= 2 {
		q = float64(q*z) + 1/float64(n)
	}
	fe := float64(e)
	return float64(float64(2*s)*q) + float64(fe*ln2Lo) + float64(fe*ln2Hi)
}

// Exp returns e**x rounded to float32.
func Exp(x float32) float32 { return float32(Exp64(float64(x))) }

// Log returns the natural logarithm of x rounded to float32.
func Log(x float32) float32 { return float32(Log64(float64(x))) }

// Sqrt is the correctly rounded square root: float64 sqrt is exact to
// double precision and rounding to float32 afterwards cannot double-round
// a square root.
func Sqrt(x float32) float32 { return float32(math.Sqrt(float64(x))) }

// Sigmoid returns 1/(1+exp(-x)), computed in float64 and rounded once.
func Sigmoid(x float32) float32 {
	return float32(1 / (1 + Exp64(-float64(x))))
}

// Tanh returns tanh(x): x - x^3/3 for |x| < 1e-4, ±1 for |x| >= 9.5 (where
// float32 tanh rounds to ±1), otherwise (e-1)/(e+1) with e = exp(2|x|),
// sign restored.
func Tanh(x float32) float32 {
	a := math.Abs(float64(x))
	var t float64
	switch {
	case x != x:
		return x
	case a < 1e-4:
		t = a - float64(float64(a*a)*a)/3
	case a >= 9.5:
		t = 1
	default:
		e := Exp64(2 * a)
		t = (e - 1) / (e + 1)
	}
	if x < 0 || math.Signbit(float64(x)) {
		t = -t
	}
	return float32(t)
}

// Erf64 is the error function in float64 for the float32 range: its Taylor
// series 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)) for |x| < 4 (summed
// until the term drops below 1e-17 of the sum), ±1 beyond (erfc(4) is far
// below float32 resolution).
func Erf64(x float64) float64 {
	switch {
	case x != x:
		return x
	case x >= 4:
		return 1
	case x <= -4:
		return -1
	case x == 0:
		return x
	}
	x2 := float64(x * x)
	t := x
	sum := x
	for n := 1; n < 200; n++ {
		t = float64(t*-x2) / float64(n)
		d := t / float64(2*n+1)
		sum += d
		if math.Abs(d) < 1e-17*math.Abs(sum) {
			break
		}
	}
	return float64(sum * 1.12837916709551257390) // 2/sqrt(pi)
}

// Erfc64 is the complementary error function in float64: 1 - Erf64(x)
// for x < 2, otherwise exp(-x^2)/sqrt(pi) divided by the continued fraction
// x + (1/2)/(x + 1/(x + (3/2)/(x + ...))) evaluated bottom-up from a fixed
// depth of 60.
func Erfc64(x float64) float64 {
	switch {
	case x != x:
		return x
	case x < 2:
		return 1 - Erf64(x)
	case x > 27:
		return 0
	}
	k := x
	for n := 60; n >= 1; n-- {
		k = x + float64(n)/2/k
	}
	return Exp64(-float64(x*x)) / float64(k*1.77245385090551602730) // sqrt(pi)
}

// Erf returns erf(x) rounded to float32.
func Erf(x float32) float32 { return float32(Erf64(float64(x))) }

// Gelu returns 0.5*x*(1+erf(x/sqrt(2))) = 0.5*x*erfc(-x/sqrt(2)), computed
// in float64 as the latter (no cancellation for negative x) and rounded once.
func Gelu(x float32) float32 {
	v := float64(x)
	return float32(float64(0.5*v) * Erfc64(-float64(v*sqrt12)))
}

// GeluTanh returns the tanh approximation 0.5*x*(1+tanh(sqrt(2/pi)*(x +
// 0.044715*x^3))) computed in float64 and rounded once.
func GeluTanh(x float32) float32 {
	v := float64(x)
	inner := float64(0.7978845608028654 * (v + float64(0.044715*float64(float64(v*v)*v))))
	var th float64
	if a := math.Abs(inner); a >= 20 {
		th = math.Copysign(1, inner)
	} else if a < 1e-8 {
		th = inner
	} else {
		e := Exp64(2 * a)
		th = math.Copysign((e-1)/(e+1), inner)
	}
	return float32(float64(0.5*v) * (1 + th))
}

// Pow returns x**y. Exponents 0, 1, 2, 0.5 and -1 are exact special cases
// (1, x, x*x, Sqrt(x), 1/x: each correctly rounded); otherwise the result is
// exp(y*log|x|) in float64, negated for a negative base and odd integer
// exponent. Other special values follow C's pow: pow(x, 0) = 1, pow(1, y) =
// 1, a negative finite base with a non-integer exponent gives NaN.
func Pow(x, y float32) float32 {
	switch {
	case y == 0 || x == 1:
		return 1
	case y == 1:
		return x
	case y == 2:
		return x * x
	case y == 0.5 && x != 0 && !math.IsInf(float64(x), -1):
		return Sqrt(x)
	case y == -1:
		return 1 / x
	case x != x || y != y:
		return float32(math.NaN())
	}
	xd, yd := float64(x), float64(y)
	yInt := yd == math.Floor(yd)
	yOdd := yInt && math.Abs(yd) < 1<<53 && math.Mod(yd, 2) != 0
	neg := math.Signbit(xd)
	if neg && !yInt && !math.IsInf(xd, 0) && x != 0 {
		return float32(math.NaN())
	}
	a := math.Abs(xd)
	var r float64
	switch {
	case a == 0:
		if yd < 0 {
			r = math.Inf(1)
		} else {
			r = 0
		}
	case math.IsInf(yd, 0):
		switch {
		case a == 1:
			r = 1
		case (a > 1) == (yd > 0):
			r = math.Inf(1)
		default:
			r = 0
		}
		yOdd = false
	case math.IsInf(a, 1):
		if yd < 0 {
			r = 0
		} else {
			r = math.Inf(1)
		}
	default:
		r = Exp64(float64(yd * Log64(a)))
	}
	if neg && yOdd {
		r = -r
	}
	return float32(r)
}
