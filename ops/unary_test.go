package ops

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestUnaryRowsMatchScalar checks every unary operator that has a vector
// row kernel against its scalar canonical formula, bit for bit, on values
// that include NaN, infinities, signed zeros and the edges of the kernels'
// vector ranges.
func TestUnaryRowsMatchScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	x := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
		700, -700, 701, -701, 88.8, -104, 1e-40, -1e-40, math.MaxFloat32, -math.MaxFloat32}
	for i := 0; i < 3000; i++ {
		x = append(x, float32(r.NormFloat64()*math.Pow(10, float64(i%5-2))))
	}
	for _, name := range []string{"Relu", "Sigmoid"} {
		op, ok := Lookup(name)
		if !ok {
			t.Fatalf("%s not registered", name)
		}
		u := op.(*unary)
		if u.row == nil {
			t.Fatalf("%s has no row kernel", name)
		}
		f, err := u.prep(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 7, 8, 9, 33, len(x)} {
			got := make([]float32, n)
			u.row(got, x[:n])
			for j := range got {
				if w := f(x[j]); math.Float32bits(got[j]) != math.Float32bits(w) {
					t.Fatalf("%s(%g) = %g (%#x), want %g (%#x)", name, x[j], got[j], math.Float32bits(got[j]), w, math.Float32bits(w))
				}
			}
		}
	}
}
