package fmath

import (
	"math"
	"testing"
)

// ulps is the distance between a and b in float32 units in the last place;
// NaN matches only NaN.
func ulps(a, b float32) float64 {
	if a != a || b != b {
		if a != a && b != b {
			return 0
		}
		return math.Inf(1)
	}
	if a == b {
		return 0
	}
	ia, ib := int64(math.Float32bits(a)), int64(math.Float32bits(b))
	if ia < 0 {
		ia = -(ia & 0x7fffffff)
	}
	if ib < 0 {
		ib = -(ib & 0x7fffffff)
	}
	return math.Abs(float64(ia - ib))
}

// inputs covers edge cases plus a dense sweep of float32 bit patterns.
func inputs() []float32 {
	xs := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.5, -0.5, 2, 1e-45, -1e-45, 1e-38, 1e-30, 1e-10, 1e-5, 3.9, 4, 9.5, 20, 88.7, 88.8, -87.3, -103.9, -104, 1e30, -1e30,
		math.MaxFloat32, -math.MaxFloat32, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for b := uint32(0); b < 1<<32-1<<18; b += 1 << 18 {
		xs = append(xs, math.Float32frombits(b+12345))
	}
	for x := float32(-12); x < 12; x += 0.0137 {
		xs = append(xs, x)
	}
	return xs
}

func TestAccuracy(t *testing.T) {
	tests := []struct {
		name    string
		got     func(float32) float32
		want    func(float64) float64
		maxULP  float64
		absTiny float64 // absolute error allowed where the true value is tiny
	}{
		{"Exp", Exp, math.Exp, 1, 0},
		{"Log", Log, math.Log, 1, 0},
		{"Tanh", Tanh, math.Tanh, 1, 0},
		{"Erf", Erf, math.Erf, 2, 0},
		{"Sigmoid", Sigmoid, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }, 1, 0},
		{"Sqrt", Sqrt, math.Sqrt, 0, 0},
		{"Gelu", Gelu, func(x float64) float64 { return 0.5 * x * math.Erfc(-x/math.Sqrt2) }, 2, 1e-40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			worst := 0.0
			for _, x := range inputs() {
				got := tc.got(x)
				want := float32(tc.want(float64(x)))
				u := ulps(got, want)
				if u > tc.maxULP && math.Abs(float64(got)-float64(want)) > tc.absTiny {
					t.Errorf("%s(%g [%#08x]) = %g, want %g (%v ulp)", tc.name, x, math.Float32bits(x), got, want, u)
				}
				if !math.IsInf(u, 0) {
					worst = max(worst, u)
				}
			}
			t.Logf("worst %v ulp", worst)
		})
	}
}

func TestPow(t *testing.T) {
	ys := []float32{0, 1, 2, 0.5, -1, 3, -2, 1.5, -0.5, 0.3333, 10, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for _, y := range ys {
		for _, x := range inputs() {
			got := Pow(x, y)
			want := float32(math.Pow(float64(x), float64(y)))
			if y == 0.5 && x == float32(math.Inf(-1)) {
				want = float32(math.Inf(1))
			}
			if u := ulps(got, want); u > 2 {
				t.Errorf("Pow(%g, %g) = %g, want %g (%v ulp)", x, y, got, want, u)
			}
		}
	}
}

func TestSignedZeroAndSpecials(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	tests := []struct {
		name string
		got  float32
		want float32
	}{
		{"tanh(-0)", Tanh(negZero), negZero},
		{"erf(-0)", Erf(negZero), negZero},
		{"exp(-inf)", Exp(float32(math.Inf(-1))), 0},
		{"exp(inf)", Exp(float32(math.Inf(1))), float32(math.Inf(1))},
		{"log(0)", Log(0), float32(math.Inf(-1))},
		{"sigmoid(-inf)", Sigmoid(float32(math.Inf(-1))), 0},
		{"sigmoid(inf)", Sigmoid(float32(math.Inf(1))), 1},
		{"pow(-2,3)", Pow(-2, 3), -8},
		{"pow(-0,-1)", Pow(negZero, -1), float32(math.Inf(-1))},
	}
	for _, tc := range tests {
		if math.Float32bits(tc.got) != math.Float32bits(tc.want) {
			t.Errorf("%s = %g, want %g", tc.name, tc.got, tc.want)
		}
	}
	if v := Log(-1); v == v {
		t.Errorf("log(-1) = %g, want NaN", v)
	}
}
