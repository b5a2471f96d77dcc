package ops

import (
	"fmt"

	"github.com/provena/provena/internal/kernels"
	"github.com/provena/provena/tensor"
)

// matmulGeom is a validated (batched) matrix product A[.., m, k] x B[.., k, n].
type matmulGeom struct {
	m, k, n  int
	batch    []int // broadcast batch shape
	aSt, bSt []int // batch strides (in matrices) of A and B over batch
	out      []int
}

func matmulInfer(in []tensor.Meta) (*matmulGeom, error) {
	if err := checkInputs("MatMul", in, 2, 2); err != nil {
		return nil, err
	}
	for i := range 2 {
		if err := checkType("MatMul", in, i, tensor.Float32); err != nil {
			return nil, err
		}
		if len(in[i].Shape) == 0 {
			return nil, fmt.Errorf("op MatMul: input %d is a scalar", i)
		}
	}
	as, bs := in[0].Shape, in[1].Shape
	g := &matmulGeom{}
	var aBatch, bBatch []int
	if len(as) == 1 {
		g.m, g.k = 1, as[0]
	} else {
		g.m, g.k = as[len(as)-2], as[len(as)-1]
		aBatch = as[:len(as)-2]
	}
	kb := 0
	if len(bs) == 1 {
		kb, g.n = bs[0], 1
	} else {
		kb, g.n = bs[len(bs)-2], bs[len(bs)-1]
		bBatch = bs[:len(bs)-2]
	}
	if kb != g.k {
		return nil, fmt.Errorf("op MatMul: inner dimensions differ: %v x %v", as, bs)
	}
	batch, err := tensor.BroadcastShapes(aBatch, bBatch)
	if err != nil {
		return nil, fmt.Errorf("op MatMul: batch dimensions: %w", err)
	}
	g.batch = batch
	g.aSt = tensor.BroadcastStrides(aBatch, batch)
	g.bSt = tensor.BroadcastStrides(bBatch, batch)
	g.out = append([]int(nil), batch...)
	if len(as) > 1 {
		g.out = append(g.out, g.m)
	}
	if len(bs) > 1 {
		g.out = append(g.out, g.n)
	}
	if _, err := tensor.CheckShape(append(append([]int(nil), batch...), g.m, g.n)); err != nil {
		return nil, fmt.Errorf("op MatMul: output: %w", err)
	}
	return g, nil
}

// batchOffsets returns the flat offsets of batch element bi's matrices.
func (g *matmulGeom) batchOffsets(bi int) (int, int) {
	idx := make([]int, len(g.batch))
	unravel(bi, g.batch, idx)
	ao, bo := 0, 0
	for d := range idx {
		ao += idx[d] * g.aSt[d]
		bo += idx[d] * g.bSt[d]
	}
	return ao * g.m * g.k, bo * g.k * g.n
}

// matmulOp is MatMul with NumPy semantics. Canonical order for each output
// element: s = +0; for p < K { s += float32(A[i, p] * B[p, j]) }.
type matmulOp struct{}

func init() { Register("MatMul", matmulOp{}) }

func (matmulOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	g, err := matmulInfer(in)
	if err != nil {
		return nil, err
	}
	return outMeta(tensor.Float32, g.out), nil
}

const rowBlock = 64

// gemmBatched runs out[b] = A[b] x B[b] (+ per-row bias) for nb batches in
// row and column blocks across workers.
//
// panels, when not nil, is B (the same for every batch) as kernels.PackB
// panels, read instead of packing B's columns again in every block.
func gemmBatched(ctx *Ctx, nb, m, n, k int, aAt, bAt func(b int) []float32, bias []float32, out []float32, panels []float32) {
	rb, cb := (m+rowBlock-1)/rowBlock, (n+colBlock-1)/colBlock
	parallel(ctx, nb*rb*cb, func(task int) {
		c, r, b := task%cb, task/cb%rb, task/(cb*rb)
		i0, j0 := r*rowBlock, c*colBlock
		mr, nc := min(rowBlock, m-i0), min(colBlock, n-j0)
		A, B := aAt(b), bAt(b)
		var bs []float32
		if bias != nil {
			bs = bias[i0:]
		}
		if panels != nil {
			kernels.GemmPanels(mr, nc, k, A[i0*k:], k, panels[j0*k:], B[j0:], n, bs, out[b*m*n+i0*n+j0:], n)
			return
		}
		kernels.Gemm(mr, nc, k, A[i0*k:], k, B[j0:], n, bs, out[b*m*n+i0*n+j0:], n)
	})
}

func (matmulOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	g, err := matmulInfer(metasOf(in))
	if err != nil {
		return nil, err
	}
	out, err := newOutDirty(tensor.Float32, g.out)
	if err != nil {
		return nil, err
	}
	nb := tensor.NumElements(g.batch)
	if g.m*g.n == 0 || nb == 0 {
		return []*tensor.Tensor{out}, nil
	}
	A, B := in[0].F32, in[1].F32
	var panels []float32
	if len(in[1].Shape) == 2 {
		panels = matmulPanels(ctx, B, g.k, g.n)
	}
	gemmBatched(ctx, nb, g.m, g.n, g.k,
		func(b int) []float32 { ao, _ := g.batchOffsets(b); return A[ao:] },
		func(b int) []float32 { _, bo := g.batchOffsets(b); return B[bo:] },
		nil, out.F32, panels)
	return []*tensor.Tensor{out}, nil
}

func (matmulOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	g, err := matmulInfer(in)
	if err != nil {
		return nil, err
	}
	if err := checkOut("MatMul", out, flat, g.out); err != nil {
		return nil, err
	}
	j, i, b := flat%g.n, flat/g.n%g.m, flat/(g.m*g.n)
	ao, bo := g.batchOffsets(b)
	var bs rangeSet
	for p := 0; p < g.k; p++ {
		bs.add(bo+p*g.n+j, bo+p*g.n+j+1)
	}
	return [][]Range{{{ao + i*g.k, ao + (i+1)*g.k}}, bs.norm()}, nil
}

func (matmulOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	g, err := matmulInfer(metasOf(in))
	if err != nil {
		return 0, err
	}
	if err := checkOut("MatMul", out, flat, g.out); err != nil {
		return 0, err
	}
	j, i, b := flat%g.n, flat/g.n%g.m, flat/(g.m*g.n)
	ao, bo := g.batchOffsets(b)
	A, B := in[0].F32, in[1].F32
	var s float32
	for p := 0; p < g.k; p++ {
		s += float32(A[ao+i*g.k+p] * B[bo+p*g.n+j])
	}
	return f32bits(s), nil
}

// gemmOp is Gemm: Y = alpha*A'B' + beta*C. Canonical order per element:
// s = +0; for p < K { s += float32(A'[i, p] * B'[p, j]) }; if alpha != 1 {
// s = alpha*s }; if C is given { t = C[i, j] (broadcast); if beta != 1 { t =
// beta*t }; s = s + t }.
type gemmOp struct{}

func init() { Register("Gemm", gemmOp{}) }

type gemmGeom struct {
	m, k, n        int
	transA, transB bool
	alpha, beta    float32
	cShape         []int
}

func gemmInfer(in []tensor.Meta, a Attrs) (*gemmGeom, error) {
	if err := checkInputs("Gemm", in, 2, 3); err != nil {
		return nil, err
	}
	for i := range in {
		if present(in, i) {
			if err := checkType("Gemm", in, i, tensor.Float32); err != nil {
				return nil, err
			}
		}
	}
	g := &gemmGeom{}
	ta, err := attrInt("Gemm", a, "transA", 0)
	if err != nil {
		return nil, err
	}
	tb, err := attrInt("Gemm", a, "transB", 0)
	if err != nil {
		return nil, err
	}
	g.transA, g.transB = ta != 0, tb != 0
	if g.alpha, err = attrFloat("Gemm", a, "alpha", 1); err != nil {
		return nil, err
	}
	if g.beta, err = attrFloat("Gemm", a, "beta", 1); err != nil {
		return nil, err
	}
	as, bs := in[0].Shape, in[1].Shape
	if len(as) != 2 || len(bs) != 2 {
		return nil, fmt.Errorf("op Gemm: inputs must be matrices, got %v and %v", as, bs)
	}
	g.m, g.k = as[0], as[1]
	if g.transA {
		g.m, g.k = as[1], as[0]
	}
	kb, n := bs[0], bs[1]
	if g.transB {
		kb, n = bs[1], bs[0]
	}
	if kb != g.k {
		return nil, fmt.Errorf("op Gemm: inner dimensions differ: %v x %v", as, bs)
	}
	g.n = n
	if present(in, 2) {
		g.cShape = in[2].Shape
		if len(g.cShape) > 2 {
			return nil, fmt.Errorf("op Gemm: input 2: rank %d", len(g.cShape))
		}
		if bc, err := tensor.BroadcastShapes(g.cShape, []int{g.m, g.n}); err != nil || !equalShape(bc, []int{g.m, g.n}) {
			return nil, fmt.Errorf("op Gemm: input 2: shape %v does not broadcast to [%d %d]", g.cShape, g.m, g.n)
		}
	}
	return g, nil
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (gemmOp) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	g, err := gemmInfer(in, a)
	if err != nil {
		return nil, err
	}
	return outMeta(tensor.Float32, []int{g.m, g.n}), nil
}

func (g *gemmGeom) aIdx(i, p int) int {
	if g.transA {
		return p*g.m + i
	}
	return i*g.k + p
}

func (g *gemmGeom) bIdx(p, j int) int {
	if g.transB {
		return j*g.k + p
	}
	return p*g.n + j
}

func (g *gemmGeom) cIdx(i, j int) int {
	st := tensor.BroadcastStrides(g.cShape, []int{g.m, g.n})
	return i*st[0] + j*st[1]
}

func (g *gemmGeom) epilogue(s float32, C []float32, i, j int) float32 {
	if g.alpha != 1 {
		s = float32(g.alpha * s)
	}
	if C != nil {
		t := C[g.cIdx(i, j)]
		if g.beta != 1 {
			t = float32(g.beta * t)
		}
		s = s + t
	}
	return s
}

func (gemmOp) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	g, err := gemmInfer(metasOf(in), a)
	if err != nil {
		return nil, err
	}
	out, err := newOutDirty(tensor.Float32, []int{g.m, g.n})
	if err != nil {
		return nil, err
	}
	if g.m*g.n == 0 {
		return []*tensor.Tensor{out}, nil
	}
	A, B := in[0].F32, in[1].F32
	if g.transA {
		A = transpose2(A, g.k, g.m)
	}
	if g.transB {
		B = transpose2(B, g.n, g.k)
	}
	gemmBatched(ctx, 1, g.m, g.n, g.k, func(int) []float32 { return A }, func(int) []float32 { return B }, nil, out.F32, nil)
	var C []float32
	if presentT(in, 2) {
		C = in[2].F32
	}
	if g.alpha != 1 || C != nil {
		st := []int{0, 0}
		if C != nil {
			st = tensor.BroadcastStrides(g.cShape, []int{g.m, g.n})
		}
		for i := 0; i < g.m; i++ {
			for j := 0; j < g.n; j++ {
				s := out.F32[i*g.n+j]
				if g.alpha != 1 {
					s = float32(g.alpha * s)
				}
				if C != nil {
					t := C[i*st[0]+j*st[1]]
					if g.beta != 1 {
						t = float32(g.beta * t)
					}
					s = s + t
				}
				out.F32[i*g.n+j] = s
			}
		}
	}
	return []*tensor.Tensor{out}, nil
}

// transpose2 returns the transpose of the rows x cols matrix x.
func transpose2(x []float32, rows, cols int) []float32 {
	t := make([]float32, rows*cols)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			t[c*rows+r] = x[r*cols+c]
		}
	}
	return t
}

func (gemmOp) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	g, err := gemmInfer(in, a)
	if err != nil {
		return nil, err
	}
	if err := checkOut("Gemm", out, flat, []int{g.m, g.n}); err != nil {
		return nil, err
	}
	i, j := flat/g.n, flat%g.n
	var as, bs rangeSet
	for p := 0; p < g.k; p++ {
		as.add(g.aIdx(i, p), g.aIdx(i, p)+1)
		bs.add(g.bIdx(p, j), g.bIdx(p, j)+1)
	}
	deps := [][]Range{as.norm(), bs.norm()}
	if present(in, 2) {
		deps = append(deps, one(g.cIdx(i, j)))
	}
	return deps, nil
}

func (gemmOp) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	g, err := gemmInfer(metasOf(in), a)
	if err != nil {
		return 0, err
	}
	if err := checkOut("Gemm", out, flat, []int{g.m, g.n}); err != nil {
		return 0, err
	}
	i, j := flat/g.n, flat%g.n
	var s float32
	for p := 0; p < g.k; p++ {
		s += float32(in[0].F32[g.aIdx(i, p)] * in[1].F32[g.bIdx(p, j)])
	}
	var C []float32
	if presentT(in, 2) {
		C = in[2].F32
	}
	return f32bits(g.epilogue(s, C, i, j)), nil
}
