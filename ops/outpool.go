package ops

import (
	"math"
	"sync"

	"github.com/provena/provena/tensor"
)

// Fresh output buffers are the largest single cost of running a small model
// (page faults, zeroing and garbage collection: about a third of PP-OCRv4
// rec's CPU time). The executor therefore hands dead float32 activations
// back with Recycle and newOut hands them out again for outputs of the same
// length. A reused buffer is zeroed first, so every kernel still starts from
// the zero tensor that tensor.New gives and no bit of any result can depend
// on reuse.
var outPool struct {
	mu    sync.Mutex
	free  map[int][][]float32
	bytes int
}

// maxPooled bounds the memory the pool keeps between runs.
const maxPooled = 128 << 20

// Recycle gives t's float32 buffer to later outputs. The caller guarantees
// that nothing references t's data any more; other dtypes are left to the
// garbage collector.
func Recycle(t *tensor.Tensor) {
	if t == nil || t.DType != tensor.Float32 || len(t.F32) == 0 {
		return
	}
	b := t.F32[:len(t.F32):len(t.F32)]
	t.F32 = nil
	outPool.mu.Lock()
	defer outPool.mu.Unlock()
	if outPool.bytes+4*len(b) > maxPooled {
		return
	}
	if outPool.free == nil {
		outPool.free = map[int][][]float32{}
	}
	outPool.free[len(b)] = append(outPool.free[len(b)], b)
	outPool.bytes += 4 * len(b)
}

// pooledF32 returns a float32 buffer of length n from the pool, zeroed when
// zero is set, or nil when none is free.
func pooledF32(n int, zero bool) []float32 {
	outPool.mu.Lock()
	l := outPool.free[n]
	if len(l) == 0 {
		outPool.mu.Unlock()
		return nil
	}
	b := l[len(l)-1]
	l[len(l)-1] = nil
	outPool.free[n] = l[:len(l)-1]
	outPool.bytes -= 4 * n
	outPool.mu.Unlock()
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
