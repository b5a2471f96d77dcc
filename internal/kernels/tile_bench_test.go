package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkGemmPackedShapes times GemmPacked on PP-OCRv4 rec's and det's
// 1×1 convolution shapes (m output channels, n pixels of one block, k input
// channels), the weights prepared once as the convolution does.
func BenchmarkGemmPackedShapes(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, sz := range [][3]int{{480, 240, 480}, {240, 256, 240}, {6, 16, 256}, {24, 256, 864}} {
		m, n, k := sz[0], sz[1], sz[2]
		a, bb, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
		pa := PackA(m, k, a, k)
		b.Run(fmt.Sprintf("%dx%dx%d", m, n, k), func(b *testing.B) {
			for b.Loop() {
				GemmPacked(pa, n, bb, n, nil, c, n)
			}
			b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}
