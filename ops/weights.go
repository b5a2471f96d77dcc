package ops

import (
	"sync"

	"github.com/provena/provena/internal/kernels"
)

// WeightCache holds Conv weights packed for the GEMM tiles, so that a model
// run many times packs them once (about 5% of PP-OCRv4 rec's time when
// repeated every run). An entry keeps the weight data it was built from
// alive, so its address cannot be reused by other data while cached.
type WeightCache struct {
	mu sync.Mutex
	m  map[packKey][]*kernels.PackedA
	b  map[packKey][]float32 // MatMul right operands as kernels.PackB panels
}

type packKey struct {
	data       *float32
	n, groups  int
	rows, cols int
}

// NewWeightCache returns an empty cache.
func NewWeightCache() *WeightCache {
	return &WeightCache{m: map[packKey][]*kernels.PackedA{}, b: map[packKey][]float32{}}
}

// convPacked returns w (g groups of mg x k matrices) packed per group,
// from ctx's cache when input 1 is marked constant.
func convPacked(ctx *Ctx, w []float32, g, mg, k int) []*kernels.PackedA {
	build := func() []*kernels.PackedA {
		packed := make([]*kernels.PackedA, g)
		for i := range packed {
			packed[i] = kernels.PackA(mg, k, w[i*mg*k:(i+1)*mg*k], k)
		}
		return packed
	}
	if ctx == nil || ctx.Weights == nil || len(ctx.Const) < 2 || !ctx.Const[1] || len(w) == 0 {
		return build()
	}
	// (a PackedA built on either kernel path works on both)
	key := packKey{data: &w[0], n: len(w), groups: g, rows: mg, cols: k}
	c := ctx.Weights
	c.mu.Lock()
	packed, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return packed
	}
	packed = build()
	c.mu.Lock()
	c.m[key] = packed
	c.mu.Unlock()
	return packed
}

// matmulPanels returns the 2-D right operand b (k x n) as kernels.PackB
// panels from ctx's cache when input 1 is marked constant, else nil (the
// GEMM then packs its panels per call, as before).
func matmulPanels(ctx *Ctx, b []float32, k, n int) []float32 {
	if ctx == nil || ctx.Weights == nil || len(ctx.Const) < 2 || !ctx.Const[1] || len(b) == 0 {
		return nil
	}
	key := packKey{data: &b[0], n: len(b), groups: -1, rows: k, cols: n}
	c := ctx.Weights
	c.mu.Lock()
	panels, ok := c.b[key]
	c.mu.Unlock()
	if ok {
		return panels
	}
	panels = kernels.PackB(k, n, b, n)
	c.mu.Lock()
	c.b[key] = panels
	c.mu.Unlock()
	return panels
}
