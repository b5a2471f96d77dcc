package ops

import (
	"cmp"
	"math"
	"slices"
	"sync"

	"github.com/provena/provena/tensor"
)

// Fresh output buffers are the largest single cost of running a small model
// (page faults, zeroing and garbage collection: about a third of PP-OCRv4
// rec's CPU time). While a run is in progress (between BeginRecycling and
// EndRecycling) the executor therefore hands dead float32 activations back
// with Recycle, and newOut hands them out again for outputs of the same
// length or a little more (at most twice: best fit, so that the pool acts
// as an allocator over the run's activations instead of a per-shape cache
// whose unused sizes would pile up). A reused buffer is zeroed first, so every kernel still starts from
// the zero tensor that tensor.New gives and no bit of any result can depend
// on reuse. The pool is emptied when the last run ends: kept between runs
// it would count as live heap, raise the garbage collector's target and
// with it the peak memory by more than it saves.
var outPool struct {
	mu    sync.Mutex
	free  [][]float32 // full-capacity buffers, by capacity ascending
	bytes int
	runs  int
}

// maxPooled bounds the memory the pool holds at once. Pooled buffers count
// as live heap for the garbage collector's target, so the pool raises the
// peak memory (PP-OCRv4 det at 640: about 370 MiB at 64 MiB, 550 MiB at
// 512 MiB, 220 MiB without recycling) while most of the speed comes from
// the first tens of megabytes.
const maxPooled = 64 << 20

// BeginRecycling opens a period in which Recycle keeps buffers; runs may
// overlap, and the pool lives until the last one calls EndRecycling.
func BeginRecycling() {
	outPool.mu.Lock()
	outPool.runs++
	outPool.mu.Unlock()
}

// EndRecycling closes a BeginRecycling period; the last one drops the pool.
func EndRecycling() {
	outPool.mu.Lock()
	defer outPool.mu.Unlock()
	if outPool.runs > 0 {
		outPool.runs--
	}
	if outPool.runs == 0 {
		outPool.free, outPool.bytes = nil, 0
	}
}

// Recycle gives t's float32 buffer to later outputs. The caller guarantees
// that nothing references t's data any more; other dtypes, and buffers
// recycled outside a BeginRecycling period, are left to the garbage
// collector.
func Recycle(t *tensor.Tensor) {
	if t == nil || t.DType != tensor.Float32 || len(t.F32) == 0 {
		return
	}
	b := t.F32[:cap(t.F32)]
	t.F32 = nil
	outPool.mu.Lock()
	defer outPool.mu.Unlock()
	if outPool.runs == 0 || outPool.bytes+4*len(b) > maxPooled {
		return
	}
	i, _ := slices.BinarySearchFunc(outPool.free, len(b), func(e []float32, n int) int { return cmp.Compare(len(e), n) })
	outPool.free = slices.Insert(outPool.free, i, b)
	outPool.bytes += 4 * len(b)
}

// pooledF32 returns a float32 buffer of length n from the pool, zeroed when
// zero is set, or nil when none is free.
func pooledF32(n int, zero bool) []float32 {
	outPool.mu.Lock()
	i, _ := slices.BinarySearchFunc(outPool.free, n, func(e []float32, n int) int { return cmp.Compare(len(e), n) })
	if i == len(outPool.free) || len(outPool.free[i]) > 2*n {
		outPool.mu.Unlock()
		return nil
	}
	b := outPool.free[i]
	outPool.free = slices.Delete(outPool.free, i, i+1)
	outPool.bytes -= 4 * len(b)
	outPool.mu.Unlock()
	b = b[:n]
	if zero {
		clear(b)
	}
	return b
}

// newOutDirty is newOut for kernels that write every element of their
// output: a recycled buffer comes as it is, which saves zeroing it (about a
// tenth of PP-OCRv4 det's time). Reading an element before writing it would
// make results depend on earlier runs; TestDirtyOutputsFullyWritten fills
// these buffers with NaN to prove that no kernel does.
func newOutDirty(dt tensor.DType, shape []int) (*tensor.Tensor, error) {
	if dt != tensor.Float32 {
		return newOut(dt, shape)
	}
	n, err := tensor.CheckShape(shape)
	if err != nil {
		return nil, err
	}
	b := pooledF32(n, false)
	if b == nil {
		b = make([]float32, n)
	}
	if poisonDirty {
		for i := range b {
			b[i] = poisonNaN
		}
	}
	return &tensor.Tensor{DType: dt, Shape: append([]int(nil), shape...), F32: b}, nil
}

// PoisonDirtyOutputs (for tests) makes every output of a kernel that claims
// to write all its elements start as a NaN no kernel computes, so that a
// forgotten element changes the results (and a trace root) instead of
// silently holding an earlier activation.
func PoisonDirtyOutputs(on bool) { poisonDirty = on }

// poisonDirty (tests only) fills dirty outputs with a NaN that no kernel
// computes, so an element a kernel forgot to write shows in the results.
var (
	poisonDirty bool
	poisonNaN   = math.Float32frombits(0x7fc0bad0)
)
