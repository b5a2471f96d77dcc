//go:build goexperiment.simd && amd64 && !purego

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

// AVX-512 is not used: no AVX-512 machine was available to test it, and the
// AVX2 kernels run (with identical bits) on AVX-512 CPUs.
func selectImpl() {
	if archsimd.X86.AVX2() {
		gemmImpl, gemmPImpl, dwImpl, dwRowImpl, binImpl, clipImpl, expImpl, sigImpl, path = gemmAVX2, gemmPackedAVX2, dwAVX2, dwRowAVX2, binAVX2, clipAVX2, expAVX2, sigAVX2, "avx2"
		gemmPanelsImpl = gemmPanelsAVX2
		return
	}
	gemmImpl, gemmPImpl, dwImpl, dwRowImpl, binImpl, clipImpl, expImpl, sigImpl, path = gemmScalar, gemmPackedScalar, dwScalar, dwRowScalar, binScalar, clipScalar, expScalar, sigScalar, "purego"
	gemmPanelsImpl = gemmPanelsScalar
}

type f8 = archsimd.Float32x8

func load8(s []float32) f8 { return archsimd.LoadFloat32x8((*[8]float32)(s)) }
func bc8(v float32) f8     { return archsimd.BroadcastFloat32x8(v) }

// gemmAVX2 packs 16-column panels of b contiguously and runs a 6x16
// register tile (4x16 and 1x16 for the last rows) over them; leftover
// columns use 8-wide tiles on b in place, then the scalar loop. Each lane
// adds float32 products in the reference order.
func gemmAVX2(m, n, k int, a []float32, lda int, b []float32, ldb int, bias []float32, c []float32, ldc int) {
	// Rows in groups of six for the assembly tile, a packed once.
	var ap *[]float32
	var a6 []float32
	if n >= 16 && k > 0 && m >= 6 {
		m6 := m / 6 * 6
		ap = scratch(m6 * k)
		a6 = *ap
		packA6(a6, a, lda, m6, k)
	}
	gemmA6(m, n, k, a, lda, a6, b, ldb, bias, c, ldc)
	if ap != nil {
		putScratch(ap)
	}
}

// gemmPanelsAVX2 is gemmAVX2 with b's full panels already packed: the
// same row tiles over the same panel values, then gemmA6's tails on b.
func gemmPanelsAVX2(m, n, k int, a []float32, lda int, panels []float32, b []float32, ldb int, bias []float32, c []float32, ldc int) {
	if n < 16 || k == 0 {
		gemmAVX2(m, n, k, a, lda, b, ldb, bias, c, ldc)
		return
	}
	var ap *[]float32
	var a6 []float32
	if m >= 6 {
		m6 := m / 6 * 6
		ap = scratch(m6 * k)
		a6 = *ap
		packA6(a6, a, lda, m6, k)
	}
	j := 0
	for ; j+16 <= n; j += 16 {
		rowTiles(m, k, a, lda, a6, panels[j*k:(j+16)*k], 16, bias, c[j:], ldc)
	}
	gemmA6(m, n-j, k, a, lda, a6, b[j:], ldb, bias, c[j:], ldc)
	if ap != nil {
		putScratch(ap)
	}
}

func gemmPackedAVX2(pa *PackedA, n int, b []float32, ldb int, bias []float32, c []float32, ldc int) {
	if pa.a6 == nil {
		gemmAVX2(pa.m, n, pa.k, pa.a, pa.lda, b, ldb, bias, c, ldc)
		return
	}
	gemmA6(pa.m, n, pa.k, pa.a, pa.lda, pa.a6, b, ldb, bias, c, ldc)
}

// gemmA6 is gemmAVX2 with the six-row blocks a6 already built (nil when
// m < 6, n < 16 or k == 0).
func gemmA6(m, n, k int, a []float32, lda int, a6 []float32, b []float32, ldb int, bias []float32, c []float32, ldc int) {
	j := 0
	if n >= 16 && k > 0 {
		// Packing a panel pays off when several row tiles reuse it; for one
		// tile the kernel reads b in place.
		pack := m >= 8
		var pp *[]float32
		if pack {
			pp = scratch(k * 16)
		}
		for ; j+16 <= n; j += 16 {
			panel, ldp := b[j:], ldb
			if pack {
				panel, ldp = *pp, 16
				packPanel16(panel, b[j:], ldb, k)
			}
			rowTiles(m, k, a, lda, a6, panel, ldp, bias, c[j:], ldc)
		}
		if pack {
			putScratch(pp)
		}
	}
	for ; j+8 <= n; j += 8 {
		i := 0
		for ; i+4 <= m; i += 4 {
			tile4x8(k, a[i*lda:], lda, b[j:], ldb, biasAt(bias, i, 4), c[i*ldc+j:], ldc)
		}
		for ; i < m; i++ {
			tile1x8(k, a[i*lda:i*lda+k], b[j:], ldb, biasAt(bias, i, 1)[0], c[i*ldc+j:i*ldc+j+8])
		}
	}
	if j < n {
		gemmNarrow(m, n-j, k, a, lda, b[j:], ldb, bias, c[j:], ldc)
	}
}

// tile4x8 is tile1x8 for four rows: four chains of additions in flight
// instead of one (rec's 40-pixel convolutions and 120- and 360-column
// products leave 8 columns after the 16-column panels).
func tile4x8(k int, a []float32, lda int, b []float32, ldb int, bias [4]float32, c []float32, ldc int) {
	a0, a1, a2, a3 := a[:k], a[lda:lda+k], a[2*lda:2*lda+k], a[3*lda:3*lda+k]
	c0, c1, c2, c3 := bc8(bias[0]), bc8(bias[1]), bc8(bias[2]), bc8(bias[3])
	if k > 0 {
		b = b[:(k-1)*ldb+8] // bounds the unchecked loads below
	}
	bp := unsafe.Pointer(unsafe.SliceData(b))
	for p := 0; p < k; p++ {
		v := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(bp, 4*ldb*p)))
		c0 = c0.Add(bc8(a0[p]).Mul(v))
		c1 = c1.Add(bc8(a1[p]).Mul(v))
		c2 = c2.Add(bc8(a2[p]).Mul(v))
		c3 = c3.Add(bc8(a3[p]).Mul(v))
	}
	c0.StoreSlice(c[0:])
	c1.StoreSlice(c[ldc:])
	c2.StoreSlice(c[2*ldc:])
	c3.StoreSlice(c[3*ldc:])
}

// rowTiles runs the register tiles of all m rows over one 16-column panel
// (row stride ldp), writing columns 0-15 of c.
func rowTiles(m, k int, a []float32, lda int, a6 []float32, panel []float32, ldp int, bias []float32, c []float32, ldc int) {
	i := 0
	for ; i+6 <= m; i += 6 {
		tile6x16(k, a6[i*k:(i+6)*k], panel, ldp, bias, i, c[i*ldc:], ldc)
	}
	for ; i+4 <= m; i += 4 {
		tile4x16(k, a[i*lda:], lda, panel, ldp, biasAt(bias, i, 4), c[i*ldc:], ldc)
	}
	for ; i+2 <= m; i += 2 {
		tile2x16(k, a[i*lda:], lda, panel, ldp, biasAt(bias, i, 2), c[i*ldc:], ldc)
	}
	for ; i < m; i++ {
		tile1x16(k, a[i*lda:i*lda+k], panel, ldp, biasAt(bias, i, 1)[0], c[i*ldc:i*ldc+16])
	}
}

//go:noescape
func tile6x16asm(k int, a *float32, b *float32, ldb int, bias *float32, c *float32, ldc int)

// tile6x16 checks the bounds the assembly relies on, then runs it.
func tile6x16(k int, ablk []float32, panel []float32, ldp int, bias []float32, i int, c []float32, ldc int) {
	var bz [6]float32
	if bias != nil {
		copy(bz[:], bias[i:i+6])
	}
	ablk = ablk[:6*k]
	panel = panel[:(k-1)*ldp+16]
	c = c[:5*ldc+16]
	tile6x16asm(k, unsafe.SliceData(ablk), unsafe.SliceData(panel), ldp, &bz[0], unsafe.SliceData(c), ldc)
}

func biasAt(bias []float32, i, n int) [4]float32 {
	var r [4]float32
	if bias != nil {
		copy(r[:n], bias[i:i+n])
	}
	return r
}

// packPanel16 copies columns 0-15 of k rows of b (row stride ldb) into
// panel, 16 floats a row.
func packPanel16(panel, b []float32, ldb, k int) {
	panel = panel[:k*16]
	b = b[:(k-1)*ldb+16] // bounds the unchecked loads below
	src := unsafe.Pointer(unsafe.SliceData(b))
	dst := unsafe.Pointer(unsafe.SliceData(panel))
	for p := 0; p < k; p++ {
		s := unsafe.Add(src, 4*ldb*p)
		d := unsafe.Add(dst, 64*p)
		archsimd.LoadFloat32x8((*[8]float32)(s)).Store((*[8]float32)(d))
		archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(s, 32))).Store((*[8]float32)(unsafe.Add(d, 32)))
	}
}

// tile4x16 reads 16 columns of k rows of panel, row stride ldp (16 for a
// packed panel, ldb for b in place).
func tile4x16(k int, a []float32, lda int, panel []float32, ldp int, bias [4]float32, c []float32, ldc int) {
	a0, a1, a2, a3 := a[:k], a[lda:lda+k], a[2*lda:2*lda+k], a[3*lda:3*lda+k]
	c00, c10, c20, c30 := bc8(bias[0]), bc8(bias[1]), bc8(bias[2]), bc8(bias[3])
	c01, c11, c21, c31 := c00, c10, c20, c30
	panel = panel[:(k-1)*ldp+16] // bounds the unchecked loads below
	pp := unsafe.Pointer(unsafe.SliceData(panel))
	stride := 4 * ldp
	for p := 0; p < k; p++ {
		row := unsafe.Add(pp, stride*p)
		v0 := archsimd.LoadFloat32x8((*[8]float32)(row))
		v1 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(row, 32)))
		x := bc8(a0[p])
		c00 = c00.Add(x.Mul(v0))
		c01 = c01.Add(x.Mul(v1))
		x = bc8(a1[p])
		c10 = c10.Add(x.Mul(v0))
		c11 = c11.Add(x.Mul(v1))
		x = bc8(a2[p])
		c20 = c20.Add(x.Mul(v0))
		c21 = c21.Add(x.Mul(v1))
		x = bc8(a3[p])
		c30 = c30.Add(x.Mul(v0))
		c31 = c31.Add(x.Mul(v1))
	}
	c00.StoreSlice(c[0:])
	c01.StoreSlice(c[8:])
	c10.StoreSlice(c[ldc:])
	c11.StoreSlice(c[ldc+8:])
	c20.StoreSlice(c[2*ldc:])
	c21.StoreSlice(c[2*ldc+8:])
	c30.StoreSlice(c[3*ldc:])
	c31.StoreSlice(c[3*ldc+8:])
}

// tile2x16 is tile4x16 for two rows: four chains of additions in flight
// where tile1x16 has two (rows left over after the six- and four-row
// tiles: 32 and 128 output channels leave two).
func tile2x16(k int, a []float32, lda int, panel []float32, ldp int, bias [4]float32, c []float32, ldc int) {
	a0, a1 := a[:k], a[lda:lda+k]
	c00, c10 := bc8(bias[0]), bc8(bias[1])
	c01, c11 := c00, c10
	panel = panel[:(k-1)*ldp+16] // bounds the unchecked loads below
	pp := unsafe.Pointer(unsafe.SliceData(panel))
	stride := 4 * ldp
	for p := 0; p < k; p++ {
		row := unsafe.Add(pp, stride*p)
		v0 := archsimd.LoadFloat32x8((*[8]float32)(row))
		v1 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(row, 32)))
		x := bc8(a0[p])
		c00 = c00.Add(x.Mul(v0))
		c01 = c01.Add(x.Mul(v1))
		x = bc8(a1[p])
		c10 = c10.Add(x.Mul(v0))
		c11 = c11.Add(x.Mul(v1))
	}
	c00.StoreSlice(c[0:])
	c01.StoreSlice(c[8:])
	c10.StoreSlice(c[ldc:])
	c11.StoreSlice(c[ldc+8:])
}

func tile1x16(k int, a []float32, panel []float32, ldp int, bias float32, c []float32) {
	c0 := bc8(bias)
	c1 := c0
	panel = panel[:(k-1)*ldp+16]
	for p, av := range a {
		x := bc8(av)
		c0 = c0.Add(x.Mul(load8(panel[p*ldp:])))
		c1 = c1.Add(x.Mul(load8(panel[p*ldp+8:])))
	}
	c0.StoreSlice(c)
	c1.StoreSlice(c[8:])
}

func tile1x8(k int, a []float32, b []float32, ldb int, bias float32, c []float32) {
	c0 := bc8(bias)
	for p, av := range a {
		c0 = c0.Add(bc8(av).Mul(load8(b[p*ldb:])))
	}
	c0.StoreSlice(c)
}

func dwAVX2(out []float32, oh, ow int, xp []float32, wp int, w []float32, kh, kw, dh, dw int, bias float32) {
	vb := bc8(bias)
	// Broadcast weights once per call (a plane); the loads below then need
	// no shuffles.
	var wbuf [49]f8
	wv := wbuf[:0]
	if kh*kw > len(wbuf) {
		wv = make([]f8, 0, kh*kw)
	}
	for _, v := range w[:kh*kw] {
		wv = append(wv, bc8(v))
	}
	span := (kw - 1) * dw
	for y := 0; y < oh; y++ {
		orow := out[y*ow : y*ow+ow]
		x := 0
		// Six accumulators, then four: each output's additions form one
		// dependent chain, so a tile needs several chains in flight to keep
		// the adder busy (with two, a 5x5 kernel waits on latency; with four
		// the add latency still bounds a tap at 3 cycles for 4 vectors).
		for ; x+48 <= ow; x += 48 {
			acc0, acc1, acc2, acc3, acc4, acc5 := vb, vb, vb, vb, vb, vb
			for i := 0; i < kh; i++ {
				xrow := xp[(y+i*dh)*wp+x:]
				xrow = xrow[:span+48]
				base := unsafe.Pointer(&xrow[0])
				wr := wv[i*kw : i*kw+kw]
				for j, wj := range wr {
					p := unsafe.Add(base, 4*j*dw)
					acc0 = acc0.Add(wj.Mul(archsimd.LoadFloat32x8((*[8]float32)(p))))
					acc1 = acc1.Add(wj.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 32)))))
					acc2 = acc2.Add(wj.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 64)))))
					acc3 = acc3.Add(wj.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 96)))))
					acc4 = acc4.Add(wj.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 128)))))
					acc5 = acc5.Add(wj.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 160)))))
				}
			}
			acc0.Store(ptr8(orow, x))
			acc1.Store(ptr8(orow, x+8))
			acc2.Store(ptr8(orow, x+16))
			acc3.Store(ptr8(orow, x+24))
			acc4.Store(ptr8(orow, x+32))
			acc5.Store(ptr8(orow, x+40))
		}
		for ; x+32 <= ow; x += 32 {
			acc0, acc1, acc2, acc3 := vb, vb, vb, vb
			for i := 0; i < kh; i++ {
				// The row must hold every tap this tile reads; checking
				// that once lets the loop use unchecked pointer loads.
				xrow := xp[(y+i*dh)*wp+x:]
				xrow = xrow[:span+32]
				base := unsafe.Pointer(&xrow[0])
				wr := wv[i*kw : i*kw+kw]
				for j, wj := range wr {
					p := unsafe.Add(base, 4*j*dw)
					acc0 = acc0.Add(wj.Mul(archsimd.LoadFloat32x8((*[8]float32)(p))))
					acc1 = acc1.Add(wj.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 32)))))
					acc2 = acc2.Add(wj.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 64)))))
					acc3 = acc3.Add(wj.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 96)))))
				}
			}
			acc0.Store(ptr8(orow, x))
			acc1.Store(ptr8(orow, x+8))
			acc2.Store(ptr8(orow, x+16))
			acc3.Store(ptr8(orow, x+24))
		}
		for ; x+16 <= ow; x += 16 {
			acc0, acc1 := vb, vb
			for i := 0; i < kh; i++ {
				xrow := xp[(y+i*dh)*wp+x:]
				xrow = xrow[:span+16]
				base := unsafe.Pointer(&xrow[0])
				wr := wv[i*kw : i*kw+kw]
				for j, wj := range wr {
					p := unsafe.Add(base, 4*j*dw)
					acc0 = acc0.Add(wj.Mul(archsimd.LoadFloat32x8((*[8]float32)(p))))
					acc1 = acc1.Add(wj.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 32)))))
				}
			}
			acc0.Store(ptr8(orow, x))
			acc1.Store(ptr8(orow, x+8))
		}
		// The last 1 to 8 columns as one vector where the plane holds the
		// 8 lanes' taps (past the row's end they read the next padded
		// row; those lanes are computed and dropped).
		for x < ow {
			if (y+(kh-1)*dh)*wp+x+span+8 > len(xp) {
				break
			}
			acc := vb
			for i := 0; i < kh; i++ {
				xrow := xp[(y+i*dh)*wp+x:]
				xrow = xrow[:span+8]
				base := unsafe.Pointer(&xrow[0])
				wr := wv[i*kw : i*kw+kw]
				for j, wj := range wr {
					acc = acc.Add(wj.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(base, 4*j*dw)))))
				}
			}
			if x+8 <= ow {
				acc.Store(ptr8(orow, x))
				x += 8
				continue
			}
			acc.StoreSlicePart(orow[x:])
			x = ow
		}
		for ; x < ow; x++ {
			s := bias
			for i := 0; i < kh; i++ {
				for j := 0; j < kw; j++ {
					s += float32(w[i*kw+j] * xp[(y+i*dh)*wp+x+j*dw])
				}
			}
			orow[x] = s
		}
	}
}

// dwRowAVX2: DepthwiseRow has checked that every tap row covers out.
func dwRowAVX2(out []float32, taps [][]float32, w []float32, bias float32) {
	vb := bc8(bias)
	var wbuf [49]f8
	wv := wbuf[:0]
	if len(w) > len(wbuf) {
		wv = make([]f8, 0, len(w))
	}
	for _, v := range w {
		wv = append(wv, bc8(v))
	}
	ow := len(out)
	x := 0
	// six, then four chains of additions in flight, as in dwAVX2
	for ; x+48 <= ow; x += 48 {
		acc0, acc1, acc2, acc3, acc4, acc5 := vb, vb, vb, vb, vb, vb
		for t, wt := range wv {
			p := unsafe.Add(unsafe.Pointer(unsafe.SliceData(taps[t])), 4*x)
			acc0 = acc0.Add(wt.Mul(archsimd.LoadFloat32x8((*[8]float32)(p))))
			acc1 = acc1.Add(wt.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 32)))))
			acc2 = acc2.Add(wt.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 64)))))
			acc3 = acc3.Add(wt.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 96)))))
			acc4 = acc4.Add(wt.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 128)))))
			acc5 = acc5.Add(wt.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 160)))))
		}
		acc0.Store(ptr8(out, x))
		acc1.Store(ptr8(out, x+8))
		acc2.Store(ptr8(out, x+16))
		acc3.Store(ptr8(out, x+24))
		acc4.Store(ptr8(out, x+32))
		acc5.Store(ptr8(out, x+40))
	}
	for ; x+32 <= ow; x += 32 {
		acc0, acc1, acc2, acc3 := vb, vb, vb, vb
		for t, wt := range wv {
			p := unsafe.Add(unsafe.Pointer(unsafe.SliceData(taps[t])), 4*x)
			acc0 = acc0.Add(wt.Mul(archsimd.LoadFloat32x8((*[8]float32)(p))))
			acc1 = acc1.Add(wt.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 32)))))
			acc2 = acc2.Add(wt.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 64)))))
			acc3 = acc3.Add(wt.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 96)))))
		}
		acc0.Store(ptr8(out, x))
		acc1.Store(ptr8(out, x+8))
		acc2.Store(ptr8(out, x+16))
		acc3.Store(ptr8(out, x+24))
	}
	for ; x+16 <= ow; x += 16 {
		acc0, acc1 := vb, vb
		for t, wt := range wv {
			p := unsafe.Add(unsafe.Pointer(unsafe.SliceData(taps[t])), 4*x)
			acc0 = acc0.Add(wt.Mul(archsimd.LoadFloat32x8((*[8]float32)(p))))
			acc1 = acc1.Add(wt.Mul(archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(p, 32)))))
		}
		acc0.Store(ptr8(out, x))
		acc1.Store(ptr8(out, x+8))
	}
	for ; x+8 <= ow; x += 8 {
		acc := vb
		for t, wt := range wv {
			acc = acc.Add(wt.Mul(archsimd.LoadFloat32x8(ptr8(taps[t], x))))
		}
		acc.Store(ptr8(out, x))
	}
	for ; x < ow; x++ {
		s := bias
		for t, row := range taps {
			s += float32(w[t] * row[x])
		}
		out[x] = s
	}
}

// binAVX2 runs one tight loop per operator and stride pattern: a switch
// or a stride test inside the loop costs more than the arithmetic on rows
// that sit in cache.
func binAVX2(op int, o, a, b []float32, sa, sb int) {
	n := len(o) &^ 7
	if n > 0 {
		switch {
		case sa == 1 && sb == 1:
			binVV(op, o[:n], a[:n], b[:n])
		case sa == 1 && sb == 0:
			binVS(op, o[:n], a[:n], b[0])
		case sa == 0 && sb == 1:
			binSV(op, o[:n], a[0], b[:n])
		default:
			n = 0
		}
	}
	if n < len(o) {
		binScalar(op, o[n:], a[n*sa:], b[n*sb:], sa, sb)
	}
}

// ptr8 is the 8 floats at s[i:]; callers have checked i+8 <= len(s).
func ptr8(s []float32, i int) *[8]float32 {
	return (*[8]float32)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(s)), 4*i))
}

// binVV: len(o) == len(a) == len(b), a multiple of 8.
func binVV(op int, o, a, b []float32) {
	a, b = a[:len(o)], b[:len(o)]
	switch op {
	case OpAdd:
		for j := 0; j+8 <= len(o); j += 8 {
			archsimd.LoadFloat32x8(ptr8(a, j)).Add(archsimd.LoadFloat32x8(ptr8(b, j))).Store(ptr8(o, j))
		}
	case OpSub:
		for j := 0; j+8 <= len(o); j += 8 {
			archsimd.LoadFloat32x8(ptr8(a, j)).Sub(archsimd.LoadFloat32x8(ptr8(b, j))).Store(ptr8(o, j))
		}
	case OpMul:
		for j := 0; j+8 <= len(o); j += 8 {
			archsimd.LoadFloat32x8(ptr8(a, j)).Mul(archsimd.LoadFloat32x8(ptr8(b, j))).Store(ptr8(o, j))
		}
	case OpDiv:
		for j := 0; j+8 <= len(o); j += 8 {
			archsimd.LoadFloat32x8(ptr8(a, j)).Div(archsimd.LoadFloat32x8(ptr8(b, j))).Store(ptr8(o, j))
		}
	}
}

// binVS: o[j] = a[j] op y.
func binVS(op int, o, a []float32, y float32) {
	a = a[:len(o)]
	vy := bc8(y)
	switch op {
	case OpAdd:
		for j := 0; j+8 <= len(o); j += 8 {
			archsimd.LoadFloat32x8(ptr8(a, j)).Add(vy).Store(ptr8(o, j))
		}
	case OpSub:
		for j := 0; j+8 <= len(o); j += 8 {
			archsimd.LoadFloat32x8(ptr8(a, j)).Sub(vy).Store(ptr8(o, j))
		}
	case OpMul:
		for j := 0; j+8 <= len(o); j += 8 {
			archsimd.LoadFloat32x8(ptr8(a, j)).Mul(vy).Store(ptr8(o, j))
		}
	case OpDiv:
		for j := 0; j+8 <= len(o); j += 8 {
			archsimd.LoadFloat32x8(ptr8(a, j)).Div(vy).Store(ptr8(o, j))
		}
	}
}

// binSV: o[j] = x op b[j].
func binSV(op int, o []float32, x float32, b []float32) {
	b = b[:len(o)]
	vx := bc8(x)
	switch op {
	case OpAdd:
		for j := 0; j+8 <= len(o); j += 8 {
			vx.Add(archsimd.LoadFloat32x8(ptr8(b, j))).Store(ptr8(o, j))
		}
	case OpSub:
		for j := 0; j+8 <= len(o); j += 8 {
			vx.Sub(archsimd.LoadFloat32x8(ptr8(b, j))).Store(ptr8(o, j))
		}
	case OpMul:
		for j := 0; j+8 <= len(o); j += 8 {
			vx.Mul(archsimd.LoadFloat32x8(ptr8(b, j))).Store(ptr8(o, j))
		}
	case OpDiv:
		for j := 0; j+8 <= len(o); j += 8 {
			vx.Div(archsimd.LoadFloat32x8(ptr8(b, j))).Store(ptr8(o, j))
		}
	}
}

// clipAVX2 blends on compare masks (VCMPPS, VBLENDVPS) rather than using
// VMAXPS/VMINPS, whose NaN and signed-zero rules differ from the scalar
// comparisons.
func clipAVX2(o, x []float32, lo, hi float32) {
	n := len(o)
	x = x[:n]
	vlo, vhi := bc8(lo), bc8(hi)
	j := 0
	for ; j+8 <= n; j += 8 {
		v := load8(x[j:])
		v = vlo.Merge(v, v.Less(vlo))
		v = vhi.Merge(v, v.Greater(vhi))
		v.StoreSlice(o[j:])
	}
	if j < n {
		clipScalar(o[j:], x[j:], lo, hi)
	}
}
