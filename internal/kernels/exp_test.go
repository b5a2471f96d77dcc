package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/provena/provena/internal/fmath"
)

// expInputs mixes ordinary values with the edges of the vector path's range
// (±700), float32 results that underflow to subnormals or zero, overflow,
// NaN, infinities and signed zeros, spread so that every 8-lane group of a
// row sees some of them and some groups see none.
func expInputs(r *rand.Rand) []float32 {
	special := []float32{0, float32(math.Copysign(0, -1)), 700, -700, 700.0001, -700.0001, 88.7, 88.73, -87.3, -103.9, -104, -150,
		float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), math.MaxFloat32, -math.MaxFloat32, 1e-30, -1e-30,
		float32(math.Ln2 / 2), float32(-math.Ln2 / 2), float32(math.Ln2 * 1.5), 709, -745, 1e-45}
	var x []float32
	for i := 0; i < 4000; i++ {
		switch {
		case i%97 == 5:
			x = append(x, special[(i/97)%len(special)])
		case i < 1000:
			x = append(x, float32(r.NormFloat64()))
		case i < 2000:
			x = append(x, float32(r.Float64()*1400-700))
		case i < 3000:
			x = append(x, float32(r.Float64()*200-150))
		default:
			// near the points where x*log2e+0.5 crosses an integer
			k := float64(r.IntN(2000) - 1000)
			x = append(x, float32((k+0.5)*math.Ln2)+float32(r.NormFloat64()*1e-6))
		}
	}
	return append(x, special...)
}

func TestExpSubRowMatchesFmath(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := expInputs(r)
	for _, s := range []float32{0, 3.25, -12, 700, float32(math.Inf(1)), float32(math.NaN())} {
		for _, n := range []int{0, 1, 7, 8, 9, 17, len(x)} {
			got := make([]float32, n)
			ExpSubRow(got, x[:n], s)
			want := make([]float32, n)
			for j := range want {
				want[j] = fmath.Exp(x[j] - s)
			}
			sameBits(t, "exp", got, want)
		}
	}
	// in place, as Softmax uses it
	y := append([]float32(nil), x...)
	ExpSubRow(y, y, 1.5)
	for j := range x {
		if w := fmath.Exp(x[j] - 1.5); math.Float32bits(y[j]) != math.Float32bits(w) {
			t.Fatalf("in place: element %d (x=%g) = %g, want %g", j, x[j], y[j], w)
		}
	}
}

func TestSigmoidRowMatchesFmath(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	x := expInputs(r)
	got := make([]float32, len(x))
	SigmoidRow(got, x)
	for j := range x {
		if w := fmath.Sigmoid(x[j]); math.Float32bits(got[j]) != math.Float32bits(w) {
			t.Fatalf("sigmoid: element %d (x=%g) = %g, want %g", j, x[j], got[j], w)
		}
	}
}
