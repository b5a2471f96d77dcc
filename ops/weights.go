package ops

import (
	"sync"

	"github.com/provena/provena/internal/kernels"
)

// WeightCache holds Conv weights and MatMul constant operands packed for the GEMM tiles, so that a model
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
	return cachedPack(&ctx.Weights.mu, ctx.Weights.m, packKey{data: &w[0], n: len(w), groups: g, rows: mg, cols: k}, build)
}

// cachedPack returns m[key], building and storing it on a miss. The lock
// is not held while building: two runs may both build an entry, which is
// the same value either way.
func cachedPack[T any](mu *sync.Mutex, m map[packKey]T, key packKey, build func() T) T {
	mu.Lock()
	v, ok := m[key]
	mu.Unlock()
	if ok {
		return v
	}
	v = build()
	mu.Lock()
	m[key] = v
	mu.Unlock()
	return v
}

// matmulPanels returns the 2-D right operand b (k x n) as kernels.PackB
// panels from ctx's cache when input 1 is marked constant, else nil (the
// GEMM then packs its panels per call, as before).
func matmulPanels(ctx *Ctx, b []float32, k, n int) []float32 {
	if ctx == nil || ctx.Weights == nil || len(ctx.Const) < 2 || !ctx.Const[1] || len(b) == 0 {
		return nil
	}
	return cachedPack(&ctx.Weights.mu, ctx.Weights.b, packKey{data: &b[0], n: len(b), groups: -1, rows: k, cols: n},
		func() []float32 { return kernels.PackB(k, n, b, n) })
}
