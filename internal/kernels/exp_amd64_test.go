//go:build goexperiment.simd && amd64 && !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"simd/archsimd"

	"github.com/provena/provena/internal/fmath"
)

// TestExp64x4MatchesExp64 compares the vector exp with fmath.Exp64 in
// float64, before the rounding to float32 that would hide a difference in
// the low bits.
func TestExp64x4MatchesExp64(t *testing.T) {
	if !archsimd.X86.AVX2() {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(11, 12))
	x := make([]float64, 0, 40004)
	for i := 0; i < 40000; i++ {
		switch i % 4 {
		case 0:
			x = append(x, r.NormFloat64())
		case 1:
			x = append(x, r.Float64()*1400-700)
		case 2:
			x = append(x, (float64(r.IntN(2000)-1000)+0.5)*math.Ln2+r.NormFloat64()*1e-9)
		default:
			x = append(x, r.NormFloat64()*1e-12)
		}
	}
	x = append(x, 700, -700, 0, math.Copysign(0, -1))
	var out [4]float64
	for i := 0; i+4 <= len(x); i += 4 {
		exp64x4(archsimd.LoadFloat64x4Slice(x[i : i+4])).Store(&out)
		for l := range 4 {
			if want := fmath.Exp64(x[i+l]); math.Float64bits(out[l]) != math.Float64bits(want) {
				t.Fatalf("exp(%g) = %g, want %g (bits differ)", x[i+l], out[l], want)
			}
		}
	}
}
