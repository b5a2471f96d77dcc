package ops

import (
	"runtime"
	"sync"
	"sync/atomic"
)

func threads(ctx *Ctx) int {
	if ctx == nil || ctx.Threads <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return ctx.Threads
}

// parallel runs fn(task) for task in [0, n) on up to threads(ctx) workers.
// Tasks must write disjoint outputs; which worker runs which task never
// affects the result.
func parallel(ctx *Ctx, n int, fn func(task int)) {
	w := min(threads(ctx), n)
	if w <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// parallelRange splits [0, n) into chunks of at least grain elements and runs
// fn(lo, hi) on each.
func parallelRange(ctx *Ctx, n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	chunks := min((n+grain-1)/grain, 4*threads(ctx))
	if chunks <= 1 {
		fn(0, n)
		return
	}
	size := (n + chunks - 1) / chunks
	parallel(ctx, (n+size-1)/size, func(c int) {
		fn(c*size, min(n, (c+1)*size))
	})
}

// errOnce keeps the first error reported by parallel workers.
type errOnce struct {
	mu  sync.Mutex
	err error
}

func (e *errOnce) set(err error) {
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}
