package ops

import (
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

// pooledF32 returns a zeroed float32 buffer of length n from the pool, or
// nil when none is free.
func pooledF32(n int) []float32 {
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
	clear(b)
	return b
}
