package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: element %d = %g, want %g (bits differ)", what, i, got[i], want[i])
		}
	}
}

// TestGemmPathsAgree checks the dispatched kernel against the scalar
// reference bit for bit, on shapes that exercise every tile and tail.
func TestGemmPathsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	t.Logf("kernel path %s", Path())
	for _, sz := range [][3]int{{1, 1, 1}, {4, 16, 3}, {5, 17, 7}, {7, 40, 33}, {13, 8, 0}, {3, 100, 9}, {33, 67, 129}, {6, 16, 1}, {12, 32, 2}, {18, 48, 300}, {9, 24, 11}, {10, 7, 13}, {13, 1, 40}, {8, 8, 0}} {
		m, n, k := sz[0], sz[1], sz[2]
		lda, ldb, ldc := k+1, n+3, n+2
		a, b := randSlice(r, m*lda), randSlice(r, k*ldb+1)
		for _, bias := range [][]float32{nil, randSlice(r, m)} {
			got, want := make([]float32, m*ldc), make([]float32, m*ldc)
			Gemm(m, n, k, a, lda, b, ldb, bias, got, ldc)
			gemmScalar(m, n, k, a, lda, b, ldb, bias, want, ldc)
			sameBits(t, "gemm", got, want)
			// independent float64-free check of one element's order
			i, j := m-1, n-1
			s := float32(0)
			if bias != nil {
				s = bias[i]
			}
			for p := range k {
				s += float32(a[i*lda+p] * b[p*ldb+j])
			}
			if math.Float32bits(s) != math.Float32bits(want[i*ldc+j]) {
				t.Fatalf("gemm %v: element (%d,%d) = %g, want %g", sz, i, j, want[i*ldc+j], s)
			}
		}
	}
}

// TestGemmNarrowAgrees checks the register-sum tail kernel (every build
// has it) against the scalar reference, with and without bias and with
// rows left over after the four-row groups.
func TestGemmNarrowAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, sz := range [][3]int{{1, 1, 1}, {4, 1, 9}, {7, 3, 20}, {480, 1, 120}, {9, 7, 0}} {
		m, n, k := sz[0], sz[1], sz[2]
		lda, ldb, ldc := k+2, n+1, n+3
		a, b := randSlice(r, m*lda), randSlice(r, k*ldb+1)
		for _, bias := range [][]float32{nil, randSlice(r, m)} {
			got, want := make([]float32, m*ldc), make([]float32, m*ldc)
			gemmNarrow(m, n, k, a, lda, b, ldb, bias, got, ldc)
			gemmScalar(m, n, k, a, lda, b, ldb, bias, want, ldc)
			sameBits(t, fmt.Sprintf("gemm narrow %v", sz), got, want)
		}
	}
}

// TestGemmPanelsAgree checks GemmPanels with PackB's panels, for column
// ranges starting at a panel boundary, against the scalar reference.
func TestGemmPanelsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, sz := range [][3]int{{40, 100, 12}, {7, 16, 5}, {3, 37, 9}, {13, 48, 1}} {
		m, n, k := sz[0], sz[1], sz[2]
		lda, ldb, ldc := k+1, n+3, n+2
		a, b := randSlice(r, m*lda), randSlice(r, k*ldb)
		panels := PackB(k, n, b, ldb)
		if Path() == "avx2" && panels == nil {
			t.Fatalf("PackB %v: no panels on the avx2 path", sz)
		}
		for _, j0 := range []int{0, 16} {
			var pj []float32
			if panels != nil {
				pj = panels[j0*k:]
			}
			for _, bias := range [][]float32{nil, randSlice(r, m)} {
				got, want := make([]float32, m*ldc), make([]float32, m*ldc)
				GemmPanels(m, n-j0, k, a, lda, pj, b[j0:], ldb, bias, got, ldc)
				gemmScalar(m, n-j0, k, a, lda, b[j0:], ldb, bias, want, ldc)
				sameBits(t, fmt.Sprintf("gemm panels %v from %d", sz, j0), got, want)
			}
		}
	}
}

// TestGemmPackedPathsAgree checks GemmPacked (with the six-row blocks
// prebuilt and without) against the scalar reference.
func TestGemmPackedPathsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, sz := range [][3]int{{1, 1, 1}, {4, 16, 3}, {5, 17, 7}, {7, 40, 33}, {13, 8, 0}, {3, 100, 9}, {33, 67, 129}, {6, 16, 1}, {12, 32, 2}, {18, 48, 300}, {11, 5, 4}, {9, 24, 11}, {10, 7, 13}, {13, 1, 40}, {8, 8, 0}} {
		m, n, k := sz[0], sz[1], sz[2]
		lda, ldb, ldc := k+1, n+3, n+2
		a, b := randSlice(r, m*lda), randSlice(r, k*ldb+1)
		for _, pa := range []*PackedA{PackA(m, k, a, lda), {m: m, k: k, a: a, lda: lda}} {
			for _, bias := range [][]float32{nil, randSlice(r, m)} {
				want := make([]float32, m*ldc)
				gemmScalar(m, n, k, a, lda, b, ldb, bias, want, ldc)
				got := make([]float32, m*ldc)
				GemmPacked(pa, n, b, ldb, bias, got, ldc)
				sameBits(t, fmt.Sprintf("gemm packed %v", sz), got, want)
			}
		}
	}
}

func TestDepthwisePathsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct{ oh, ow, kh, kw, dh, dw int }{{1, 1, 1, 1, 1, 1}, {5, 37, 3, 3, 1, 1}, {4, 24, 5, 5, 2, 2}, {2, 9, 1, 3, 1, 1}, {6, 70, 5, 5, 1, 1}, {3, 64, 3, 3, 1, 2}, {7, 33, 1, 1, 1, 1}, {4, 40, 3, 3, 2, 1}, {2, 32, 2, 3, 1, 1}, {3, 85, 5, 5, 1, 1}, {2, 160, 3, 3, 1, 1}} {
		hp, wp := c.oh+(c.kh-1)*c.dh, c.ow+(c.kw-1)*c.dw+2
		xp, w := randSlice(r, hp*wp), randSlice(r, c.kh*c.kw)
		got, want := make([]float32, c.oh*c.ow), make([]float32, c.oh*c.ow)
		DepthwiseS1(got, c.oh, c.ow, xp, wp, w, c.kh, c.kw, c.dh, c.dw, 0.25)
		dwScalar(want, c.oh, c.ow, xp, wp, w, c.kh, c.kw, c.dh, c.dw, 0.25)
		sameBits(t, "depthwise", got, want)
	}
}

func TestDepthwiseRowPathsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct{ ow, taps int }{{1, 1}, {7, 9}, {8, 9}, {16, 25}, {37, 9}, {160, 25}, {20, 50}, {48, 9}, {85, 25}} {
		taps := make([][]float32, c.taps)
		for i := range taps {
			taps[i] = randSlice(r, c.ow+i%3)
		}
		w := randSlice(r, c.taps)
		got, want := make([]float32, c.ow), make([]float32, c.ow)
		DepthwiseRow(got, taps, w, -0.5)
		dwRowScalar(want, taps, w, -0.5)
		sameBits(t, "depthwise row", got, want)
		// the order of one element, written out
		x := c.ow - 1
		s := float32(-0.5)
		for i, row := range taps {
			s += float32(w[i] * row[x])
		}
		if math.Float32bits(s) != math.Float32bits(want[x]) {
			t.Fatalf("depthwise row %v: element %d = %g, want %g", c, x, want[x], s)
		}
	}
}

// TestClipPathsAgree covers the values where min/max instructions and
// comparisons part ways: NaN, signed zeros, infinities, the bounds.
func TestClipPathsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	negz := float32(math.Copysign(0, -1))
	special := []float32{nan, inf, -inf, 0, negz, 6, -6, 0, 3, 6.0000005, 5.9999995, -1e-30}
	for _, b := range [][2]float32{{0, 6}, {negz, 6}, {-1, 1}, {-inf, inf}, {0, 0}} {
		for _, n := range []int{0, 1, 7, 8, 9, 31, 100} {
			x := randSlice(r, n)
			for i := range x {
				x[i] *= 5
				if i%3 == 0 {
					x[i] = special[(i/3)%len(special)]
				}
			}
			got, want := make([]float32, n), make([]float32, n)
			ClipRow(got, x, b[0], b[1])
			clipScalar(want, x, b[0], b[1])
			sameBits(t, "clip", got, want)
			for i, v := range x {
				w := v
				if w < b[0] {
					w = b[0]
				}
				if w > b[1] {
					w = b[1]
				}
				if math.Float32bits(w) != math.Float32bits(want[i]) {
					t.Fatalf("clip reference element %d", i)
				}
			}
		}
	}
}

// TestBinaryPathsAgree compares BinaryRow with the scalar loop for every
// operator, stride pattern and tail length, including NaN, infinities,
// signed zeros and division by zero.
func TestBinaryPathsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), 1e-38, 3e38}
	for _, op := range []int{OpAdd, OpSub, OpMul, OpDiv} {
		for _, st := range [][2]int{{1, 1}, {1, 0}, {0, 1}} {
			for _, n := range []int{1, 7, 8, 9, 16, 37, 64} {
				a, b := randSlice(r, n), randSlice(r, n)
				for i := 0; i < n; i += 3 {
					a[i] = special[i%len(special)]
					b[(i+1)%n] = special[(i+2)%len(special)]
				}
				got, want := make([]float32, n), make([]float32, n)
				BinaryRow(op, got, a, b, st[0], st[1])
				binScalar(op, want, a, b, st[0], st[1])
				sameBits(t, fmt.Sprintf("op %d strides %v n %d", op, st, n), got, want)
			}
		}
	}
}

// TestGemmPackedRowsAgree splits GemmPacked by rows (PackedA.Rows, as Conv
// does across workers) and checks every split against the whole product.
func TestGemmPackedRowsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, sz := range [][3]int{{16, 40, 9}, {34, 33, 20}, {12, 16, 5}, {480, 48, 7}} {
		m, n, k := sz[0], sz[1], sz[2]
		a, b := randSlice(r, m*k), randSlice(r, k*n)
		bias := randSlice(r, m)
		pa := PackA(m, k, a, k)
		want := make([]float32, m*n)
		gemmScalar(m, n, k, a, k, b, n, bias, want, n)
		for _, rows := range []int{6, 12, 18, 6 * ((m + 11) / 12)} {
			got := make([]float32, m*n)
			for r0 := 0; r0 < m; r0 += rows {
				r1 := min(m, r0+rows)
				GemmPacked(pa.Rows(r0, r1), n, b, n, bias[r0:r1], got[r0*n:], n)
			}
			sameBits(t, fmt.Sprintf("gemm rows %v by %d", sz, rows), got, want)
		}
	}
}
