package ops

import (
	"math/bits"
	"sync"
)

// scratchPools[c] holds buffers of capacity at least 1<<c: one pool per
// size class, so that a request never draws a buffer that is too small
// (which a single pool does whenever kernels of different sizes share it,
// and which then costs a fresh, zeroed allocation and garbage).
var scratchPools [64]sync.Pool

// getScratch returns a float32 buffer of length n (contents undefined).
func getScratch(n int) *[]float32 {
	c := bits.Len(uint(max(n, 1) - 1))
	if p, ok := scratchPools[c].Get().(*[]float32); ok {
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
	scratchPools[bits.Len(uint(cap(*p)))-1].Put(p)
}
