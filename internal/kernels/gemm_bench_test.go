package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkGemmShapes times Gemm on convolution-like shapes (m output
// channels, n pixels, k = channels x taps) in GFLOPS.
func BenchmarkGemmShapes(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][3]int{{64, 256, 64}, {128, 256, 576}, {16, 256, 144}} {
		m, n, k := sz[0], sz[1], sz[2]
		a, bb, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
		b.Run(fmt.Sprintf("%dx%dx%d", m, n, k), func(b *testing.B) {
			for b.Loop() {
				Gemm(m, n, k, a, k, bb, n, nil, c, n)
			}
			b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

// BenchmarkBinaryRow times the elementwise row kernel on an L2-resident row
// (same-shape operands and a broadcast scalar).
func BenchmarkBinaryRow(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	x, y, o := randSlice(r, 8192), randSlice(r, 8192), make([]float32, 8192)
	for _, sb := range []int{1, 0} {
		b.Run(fmt.Sprintf("mul-sb%d", sb), func(b *testing.B) {
			b.SetBytes(4 * 8192)
			for b.Loop() {
				BinaryRow(OpMul, o, x, y, 1, sb)
			}
		})
	}
}
