// Package kernels owns the float32 compute kernels behind Conv, MatMul and
// Gemm: a portable scalar reference and, when built with GOEXPERIMENT=simd on
// amd64 (and without the purego tag), AVX2 versions chosen at run time
// (simd/archsimd, and one GEMM tile in assembly where the compiler would
// spill).
//
// Every kernel vectorizes across independent outputs only: each SIMD lane
// performs exactly the scalar reference's sequence of float32 operations for
// its output element (a separate multiply, rounded, then an add; never a
// fused multiply-add), so all paths produce identical bits.
package kernels

import (
	"fmt"
	"math/bits"
	"sync"
)

// Gemm computes, for i < m and j < n,
//
//	c[i*ldc+j] = bias[i] (or +0 when bias is nil)
//	for p := 0; p < k; p++ { c[i*ldc+j] += float32(a[i*lda+p] * b[p*ldb+j]) }
//
// in exactly that order. Rows of b are read from column 0 to n-1.
func Gemm(m, n, k int, a []float32, lda int, b []float32, ldb int, bias []float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	gemmImpl(m, n, k, a, lda, b, ldb, bias, c, ldc)
}

// PackedA is Gemm's left operand prepared once for many calls with the same
// a (a convolution's weights, reused by every block of output pixels).
type PackedA struct {
	m, k int
	a    []float32
	lda  int
	a6   []float32 // rows 0..m/6*6-1 in six-row blocks (packA6); nil when not built
}

// PackA prepares the m x k matrix a (row stride lda) for GemmPacked. The six-row blocks are built only for the AVX2 kernels; a
// PackedA built on either path works on both.
func PackA(m, k int, a []float32, lda int) *PackedA {
	pa := &PackedA{m: m, k: k, a: a, lda: lda}
	if m > 0 && k > 0 {
		_ = a[(m-1)*lda+k-1]
		if path == "avx2" && m >= 6 {
			m6 := m / 6 * 6
			pa.a6 = make([]float32, m6*k)
			packA6(pa.a6, a, lda, m6, k)
		}
	}
	return pa
}

// Rows returns rows [r0, r1) of pa as a PackedA of its own (sharing pa's
// storage), so that workers can split one product by rows; r0 must be a
// multiple of 6, and so must r1 unless it is pa's last row.
func (pa *PackedA) Rows(r0, r1 int) *PackedA {
	if r0 < 0 || r0 > r1 || r1 > pa.m || r0%6 != 0 || (r1%6 != 0 && r1 != pa.m) {
		panic(fmt.Sprintf("kernels: rows [%d, %d) of a %d-row PackedA", r0, r1, pa.m))
	}
	v := &PackedA{m: r1 - r0, k: pa.k, lda: pa.lda}
	if r1 > r0 {
		v.a = pa.a[r0*pa.lda:]
	}
	if m6 := (r1 - r0) / 6 * 6; pa.a6 != nil && m6 > 0 {
		v.a6 = pa.a6[r0*pa.k : (r0+m6)*pa.k]
	}
	return v
}

// GemmPacked is Gemm with a prepared left operand: same order, same bits.
func GemmPacked(pa *PackedA, n int, b []float32, ldb int, bias []float32, c []float32, ldc int) {
	if pa.m <= 0 || n <= 0 {
		return
	}
	gemmPImpl(pa, n, b, ldb, bias, c, ldc)
}

// packA6 writes rows 0..m6-1 of a (m6 a multiple of 6) as blocks of six
// rows, each block k groups of the six rows' values at one p.
func packA6(dst, a []float32, lda, m6, k int) {
	for i := 0; i < m6; i += 6 {
		blk := dst[i*k : (i+6)*k]
		for r := 0; r < 6; r++ {
			row := a[(i+r)*lda : (i+r)*lda+k]
			for p, v := range row {
				blk[p*6+r] = v
			}
		}
	}
}

func gemmPackedScalar(pa *PackedA, n int, b []float32, ldb int, bias []float32, c []float32, ldc int) {
	gemmScalar(pa.m, n, pa.k, pa.a, pa.lda, b, ldb, bias, c, ldc)
}

// DepthwiseS1 computes one channel of a stride-1 depthwise convolution over
// an already zero-padded plane xp of row length wp:
//
//	out[y*ow+x] = bias
//	for i < kh { for j < kw { out[y*ow+x] += float32(w[i*kw+j] * xp[(y+i*dh)*wp + x+j*dw]) } }
func DepthwiseS1(out []float32, oh, ow int, xp []float32, wp int, w []float32, kh, kw, dh, dw int, bias float32) {
	dwImpl(out, oh, ow, xp, wp, w, kh, kw, dh, dw, bias)
}

// DepthwiseRow computes one output row of a depthwise convolution from one
// input row per tap, already offset to the tap's first read:
//
//	out[x] = bias
//	for t < len(w) { out[x] += float32(w[t] * taps[t][x]) }
//
// Strided convolutions pass rows of stride-deinterleaved planes, so that every
// tap reads contiguously. Each taps[t] must hold at least len(out) values.
func DepthwiseRow(out []float32, taps [][]float32, w []float32, bias float32) {
	w = w[:len(taps)]
	for _, t := range taps {
		_ = t[:len(out)]
	}
	dwRowImpl(out, taps, w, bias)
}

// Path names the kernel implementation in use: "avx2" or "purego".
func Path() string { return path }

var (
	gemmImpl       = gemmScalar
	dwImpl         = dwScalar
	dwRowImpl      = dwRowScalar
	gemmPImpl      = gemmPackedScalar
	gemmPanelsImpl = gemmPanelsScalar
	path           = "purego"
)

// SetPurego forces the portable kernels (true) or restores run-time
// dispatch (false). Tests use it to compare paths in one binary.
func SetPurego(force bool) {
	if force {
		gemmImpl, gemmPImpl, dwImpl, dwRowImpl, binImpl, clipImpl, expImpl, sigImpl, path = gemmScalar, gemmPackedScalar, dwScalar, dwRowScalar, binScalar, clipScalar, expScalar, sigScalar, "purego"
		gemmPanelsImpl = gemmPanelsScalar
		return
	}
	selectImpl()
}

func init() { selectImpl() }

func gemmScalar(m, n, k int, a []float32, lda int, b []float32, ldb int, bias []float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		crow := c[i*ldc : i*ldc+n]
		var init float32
		if bias != nil {
			init = bias[i]
		}
		for j := range crow {
			crow[j] = init
		}
		arow := a[i*lda : i*lda+k]
		for p, av := range arow {
			brow := b[p*ldb : p*ldb+n]
			for j, bv := range brow {
				crow[j] += float32(av * bv)
			}
		}
	}
}

// PackB lays out the k x n matrix b (row stride ldb) as the AVX2 GEMM's
// 16-column panels, n/16 of them, panel q at [q*16*k, (q+1)*16*k) with
// row p's 16 values at offset p*16, for GemmPanels to reuse across calls
// (a MatMul's constant right operand). It returns nil where the kernels
// would not use them (the portable path, n < 16 or k == 0).
func PackB(k, n int, b []float32, ldb int) []float32 {
	if path != "avx2" || n < 16 || k <= 0 {
		return nil
	}
	_ = b[(k-1)*ldb+n-1]
	q := n / 16
	panels := make([]float32, q*16*k)
	for j := 0; j < q; j++ {
		dst := panels[j*16*k : (j+1)*16*k]
		for p := 0; p < k; p++ {
			copy(dst[p*16:p*16+16], b[p*ldb+j*16:])
		}
	}
	return panels
}

// GemmPanels is Gemm with b's full 16-column panels taken from panels (a
// PackB result, sliced at the first column's panel: panels[j0*k:] for
// columns from j0, a multiple of 16) instead of packed again; b itself is
// still read for the columns after the last full panel. Same tiles on the
// same values, so the same bits as Gemm; with panels nil it is Gemm.
func GemmPanels(m, n, k int, a []float32, lda int, panels []float32, b []float32, ldb int, bias []float32, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if panels == nil {
		gemmImpl(m, n, k, a, lda, b, ldb, bias, c, ldc)
		return
	}
	gemmPanelsImpl(m, n, k, a, lda, panels, b, ldb, bias, c, ldc)
}

func gemmPanelsScalar(m, n, k int, a []float32, lda int, _ []float32, b []float32, ldb int, bias []float32, c []float32, ldc int) {
	gemmScalar(m, n, k, a, lda, b, ldb, bias, c, ldc)
}

// gemmNarrow is gemmScalar for the last few (< 8) columns: four rows at a
// time with their sums in registers, so that four chains of additions are
// in flight instead of one sum stored and reloaded per product (1×1
// convolutions of one pixel in squeeze-excitation blocks are all tail).
// Each sum is the same sequence of rounded products and additions.
func gemmNarrow(m, n, k int, a []float32, lda int, b []float32, ldb int, bias []float32, c []float32, ldc int) {
	i := 0
	for ; i+4 <= m; i += 4 {
		a0, a1, a2, a3 := a[i*lda:i*lda+k], a[(i+1)*lda:(i+1)*lda+k], a[(i+2)*lda:(i+2)*lda+k], a[(i+3)*lda:(i+3)*lda+k]
		var i0, i1, i2, i3 float32
		if bias != nil {
			i0, i1, i2, i3 = bias[i], bias[i+1], bias[i+2], bias[i+3]
		}
		for j := 0; j < n; j++ {
			s0, s1, s2, s3 := i0, i1, i2, i3
			for p := 0; p < k; p++ {
				bv := b[p*ldb+j]
				s0 += float32(a0[p] * bv)
				s1 += float32(a1[p] * bv)
				s2 += float32(a2[p] * bv)
				s3 += float32(a3[p] * bv)
			}
			c[i*ldc+j], c[(i+1)*ldc+j], c[(i+2)*ldc+j], c[(i+3)*ldc+j] = s0, s1, s2, s3
		}
	}
	if i < m {
		gemmScalar(m-i, n, k, a[i*lda:], lda, b, ldb, bias[min(i, len(bias)):], c[i*ldc:], ldc)
	}
}

func dwScalar(out []float32, oh, ow int, xp []float32, wp int, w []float32, kh, kw, dh, dw int, bias float32) {
	for y := 0; y < oh; y++ {
		orow := out[y*ow : y*ow+ow]
		for x := range orow {
			orow[x] = bias
		}
		for i := 0; i < kh; i++ {
			for j := 0; j < kw; j++ {
				wv := w[i*kw+j]
				xrow := xp[(y+i*dh)*wp+j*dw:]
				xrow = xrow[:ow]
				for x, xv := range xrow {
					orow[x] += float32(wv * xv)
				}
			}
		}
	}
}

func dwRowScalar(out []float32, taps [][]float32, w []float32, bias float32) {
	for x := range out {
		out[x] = bias
	}
	for t, row := range taps {
		wv := w[t]
		row = row[:len(out)]
		for x, v := range row {
			out[x] += float32(wv * v)
		}
	}
}

// pools[c] holds buffers of capacity at least 1<<c, one pool per size
// class, so that a request never draws a buffer that is too small.
var pools [64]sync.Pool

// scratch returns a float32 buffer of length n from a pool; release it with
// putScratch.
func scratch(n int) *[]float32 {
	c := bits.Len(uint(max(n, 1) - 1))
	if p, ok := pools[c].Get().(*[]float32); ok {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n, 1<<c)
	return &s
}

func putScratch(p *[]float32) {
	if cap(*p) == 0 {
		return
	}
	pools[bits.Len(uint(cap(*p)))-1].Put(p)
}

// Binary ops for BinaryRow.
const (
	OpAdd = iota
	OpSub
	OpMul
	OpDiv
)

// BinaryRow computes o[j] = a[j*sa] op b[j*sb] for strides sa, sb in {0, 1}
// (not both 0): one IEEE operation per element, so every path agrees.
func BinaryRow(op int, o, a, b []float32, sa, sb int) { binImpl(op, o, a, b, sa, sb) }

var binImpl = binScalar

func binScalar(op int, o, a, b []float32, sa, sb int) {
	for j := range o {
		x, y := a[j*sa], b[j*sb]
		switch op {
		case OpAdd:
			o[j] = x + y
		case OpSub:
			o[j] = x - y
		case OpMul:
			o[j] = x * y
		case OpDiv:
			o[j] = x / y
		}
	}
}

// ClipRow computes o[j] = x[j] raised to lo if x[j] < lo, then lowered to hi
// if it is > hi: comparisons, not min/max instructions, so a NaN passes
// through and -0 stays -0 against a bound of +0 on every path.
func ClipRow(o, x []float32, lo, hi float32) { clipImpl(o, x, lo, hi) }

var clipImpl = clipScalar

func clipScalar(o, x []float32, lo, hi float32) {
	x = x[:len(o)]
	for j, v := range x {
		if v < lo {
			v = lo
		}
		if v > hi {
			v = hi
		}
		o[j] = v
	}
}
