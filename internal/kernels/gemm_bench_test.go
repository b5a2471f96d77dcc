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

// BenchmarkDepthwiseS1 times one channel of a stride-1 depthwise
// convolution on the plane sizes of PP-OCRv4 rec and det.
func BenchmarkDepthwiseS1(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, sz := range [][3]int{{12, 80, 5}, {3, 80, 5}, {24, 160, 3}, {40, 40, 5}, {20, 20, 5}, {160, 160, 3}} {
		oh, ow, k := sz[0], sz[1], sz[2]
		hp, wp := oh+k-1, ow+k-1
		xp, w, out := randSlice(r, hp*wp), randSlice(r, k*k), make([]float32, oh*ow)
		b.Run(fmt.Sprintf("%dx%d-k%d", oh, ow, k), func(b *testing.B) {
			for b.Loop() {
				DepthwiseS1(out, oh, ow, xp, wp, w, k, k, 1, 1, 0.5)
			}
			b.ReportMetric(float64(2*oh*ow*k*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

// BenchmarkDepthwiseRow times one output row of a strided depthwise
// convolution (det's stride-2 blocks) from its taps' input rows.
func BenchmarkDepthwiseRow(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, sz := range [][2]int{{160, 9}, {80, 25}, {40, 25}} {
		ow, nt := sz[0], sz[1]
		taps := make([][]float32, nt)
		for i := range taps {
			taps[i] = randSlice(r, ow)
		}
		w, out := randSlice(r, nt), make([]float32, ow)
		b.Run(fmt.Sprintf("%d-taps%d", ow, nt), func(b *testing.B) {
			for b.Loop() {
				DepthwiseRow(out, taps, w, 0.5)
			}
		})
	}
}

// BenchmarkExpSubRow times a Softmax row of rec's classifier (6625
// classes).
func BenchmarkExpSubRow(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	x, o := randSlice(r, 6625), make([]float32, 6625)
	for b.Loop() {
		ExpSubRow(o, x, 3)
	}
}

// BenchmarkGemmRemainderRows times a product whose row count leaves two
// rows after the six-row tiles (32 output channels).
func BenchmarkGemmRemainderRows(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	m, n, k := 32, 256, 144
	a, bb, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	pa := PackA(m, k, a, k)
	for b.Loop() {
		GemmPacked(pa, n, bb, n, nil, c, n)
	}
	b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}
