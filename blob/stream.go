package blob

import (
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/provena/provena/merkle"
)

// Builder lays out a blob while it is being written: the bytes are cut
// into runs of consecutive chunks (one chunk for NewBuilder), each run
// goes on to the destination and has its chunks' leaf hashes computed by a
// pool of workers, so encrypting, storing and hashing a blob is one pass
// over the data with a bounded number of run buffers (2 per worker, and
// those a Reserver seals into ahead) in memory, whatever the blob's size.
type Builder struct {
	dst    io.Writer
	max    int64
	size   int64
	runLen int // bytes per run: a whole number of chunks
	cur    []byte
	index  int // chunks handed to the workers so far
	leaves []merkle.Hash
	free   chan []byte
	work   chan builderChunk
	wg     sync.WaitGroup
	err    error
	done   bool

	// sink, when set, gets each run after its leaf hashes, on the worker
	// (an upload session's PUTs): data holds chunks i, i+1, ... back to
	// back, all ChunkSize long but the blob's last. Its first error stops
	// the Builder.
	sink    func(i int, data []byte) error
	sinkMu  sync.Mutex
	sinkErr error

	// Reserve and Commit (an encryptor sealing into the run buffers in
	// place, so its output is not copied here) run on two goroutines: mu
	// guards the run state then. pend holds the runs reserved to their
	// end but not yet written in full, in order; filled counts the bytes
	// written (size the bytes reserved). stop is closed when the Builder
	// fails or is finished, so a Reserve waiting for a free run gives up.
	mu       sync.Mutex
	pend     [][]byte
	filled   int64
	stop     chan struct{}
	stopOnce sync.Once
	unmade   int // run buffers not made yet
}

// builderChunk is a run: chunks i, i+1, ... back to back in data.
type builderChunk struct {
	i    int
	data []byte
}

// NewBuilder returns a Builder writing to dst a blob of at most maxSize
// bytes (at most MaxSize).
func NewBuilder(dst io.Writer, maxSize int64) *Builder {
	return newBuilder(dst, maxSize, runtime.GOMAXPROCS(0), 1, nil)
}

// newBuilder is NewBuilder with workers goroutines and runs of run chunks,
// each worker handing its hashed runs to sink when it is set. dst may be
// nil.
func newBuilder(dst io.Writer, maxSize int64, workers, run int, sink func(int, []byte) error) *Builder {
	maxSize = min(maxSize, MaxSize)
	// No run longer than the blob: a small blob keeps small buffers.
	run = max(1, min(run, NumChunks(maxSize)))
	b := &Builder{
		dst: dst, max: maxSize, sink: sink, runLen: run * ChunkSize,
		leaves: make([]merkle.Hash, NumChunks(maxSize)),
		work:   make(chan builderChunk, 2*workers),
		stop:   make(chan struct{}),
	}
	// Besides 2 runs per worker, enough runs for a Reserver to run
	// reserveAhead bytes ahead of its Commits: the encryptor seals that
	// much in parallel into them (it then keeps no buffers of its own for
	// the ciphertext), and with fewer runs it would wait for them instead.
	bufs := 2*workers + (reserveAhead()+b.runLen-1)/b.runLen
	// The runs are made as they are first needed: a small blob, or a
	// writer that never runs ahead, makes only a few.
	b.free = make(chan []byte, bufs)
	b.unmade = bufs
	for range workers {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			for c := range b.work {
				// Each worker writes distinct indices of the preallocated
				// slice, so no lock is needed.
				for k := 0; k == 0 || k*ChunkSize < len(c.data); k++ {
					b.leaves[c.i+k] = LeafHash(c.data[k*ChunkSize : min((k+1)*ChunkSize, len(c.data))])
				}
				if b.sink != nil && b.failed() == nil {
					if err := b.sink(c.i, c.data); err != nil {
						b.sinkMu.Lock()
						if b.sinkErr == nil {
							b.sinkErr = err
						}
						b.sinkMu.Unlock()
					}
				}
				b.free <- c.data[:0]
			}
		}()
	}
	b.cur = b.newRun()
	return b
}

// reserveAhead is how far vault's payload encryptor reserves ahead of its
// commits: 2 batches of 512 KiB per CPU and 2 more.
func reserveAhead() int { return (2*runtime.GOMAXPROCS(0) + 2) * (512 << 10) }

// Write implements io.Writer.
func (b *Builder) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, fmt.Errorf("build blob: write after Layout")
	}
	if b.filled != b.size {
		return 0, b.fail(fmt.Errorf("build blob: write while %d reserved bytes are not committed", b.size-b.filled))
	}
	if b.size+int64(len(p)) > b.max {
		return 0, b.fail(fmt.Errorf("build blob: over %d bytes: %w", b.max, ErrTooLarge))
	}
	n := len(p)
	for len(p) > 0 {
		if b.cur == nil {
			// No reservation is open, so no Reserve waits on free.
			if b.cur = b.newRun(); b.cur == nil {
				b.cur = <-b.free
			}
		}
		k := min(len(p), b.runLen-len(b.cur))
		b.cur = append(b.cur, p[:k]...)
		p = p[k:]
		b.size += int64(k)
		b.filled += int64(k)
		if len(b.cur) == b.runLen {
			if err := b.flush(b.cur); err != nil {
				return n - len(p), err
			}
			b.cur = nil
		}
	}
	return n, nil
}

// Reserve lends the next n bytes of the blob, in the run buffers
// themselves, as one or more pieces back to back, for the caller to fill
// and then Commit; it may be called again before the Commit (from another
// goroutine than Commit's), and Commits go in the order of the Reserves.
// It waits while every run buffer is in use. A sealing encryptor writes
// its ciphertext into them, so the Builder does not copy it.
func (b *Builder) Reserve(n int) ([][]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return nil, b.err
	}
	if b.done {
		return nil, fmt.Errorf("build blob: reserve after Layout")
	}
	if n < 0 || b.size+int64(n) > b.max {
		return nil, b.fail(fmt.Errorf("build blob: over %d bytes: %w", b.max, ErrTooLarge))
	}
	var pieces [][]byte
	for n > 0 {
		if b.cur == nil {
			buf := b.newRun()
			if buf == nil {
				// Commit frees runs meanwhile, so wait unlocked.
				b.mu.Unlock()
				select {
				case buf = <-b.free:
				case <-b.stop:
				}
				b.mu.Lock()
			}
			if buf == nil {
				if b.err != nil {
					return nil, b.err
				}
				return nil, fmt.Errorf("build blob: reserve after Layout")
			}
			b.cur = buf
		}
		k := min(n, b.runLen-len(b.cur))
		at := len(b.cur)
		b.cur = b.cur[:at+k]
		pieces = append(pieces, b.cur[at:at+k:at+k])
		n -= k
		b.size += int64(k)
		if len(b.cur) == b.runLen {
			b.pend = append(b.pend, b.cur)
			b.cur = nil
		}
	}
	return pieces, nil
}

// Commit says the next n reserved bytes are written: the runs they
// complete go on to be hashed and sent.
func (b *Builder) Commit(n int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	if n < 0 || b.filled+int64(n) > b.size {
		return b.fail(fmt.Errorf("build blob: commit of %d bytes, %d reserved", n, b.size-b.filled))
	}
	b.filled += int64(n)
	// The pending runs end, in order, before the current one.
	end := b.size - int64(len(b.cur)) - int64(len(b.pend))*int64(b.runLen)
	for len(b.pend) > 0 && b.filled >= end+int64(b.runLen) {
		if err := b.flush(b.pend[0]); err != nil {
			return err
		}
		b.pend = b.pend[1:]
		end += int64(b.runLen)
	}
	return nil
}

// newRun returns a free run buffer, or makes one while fewer than the
// Builder's quota exist; nil when all are in use. Called with mu held.
func (b *Builder) newRun() []byte {
	select {
	case buf := <-b.free:
		return buf
	default:
	}
	if b.unmade > 0 {
		b.unmade--
		return make([]byte, 0, b.runLen)
	}
	return nil
}

// fail records the Builder's first error and wakes a waiting Reserve.
// Called with mu held.
func (b *Builder) fail(err error) error {
	if b.err == nil {
		b.err = err
	}
	b.stopOnce.Do(func() { close(b.stop) })
	return b.err
}

func (b *Builder) failed() error {
	b.sinkMu.Lock()
	defer b.sinkMu.Unlock()
	return b.sinkErr
}

// flush hands a run on: to dst and to the workers. Called with mu held.
func (b *Builder) flush(run []byte) error {
	if err := b.failed(); err != nil {
		return b.fail(err)
	}
	if b.dst != nil {
		if _, err := b.dst.Write(run); err != nil {
			return b.fail(fmt.Errorf("build blob: write chunk %d: %w", b.index, err))
		}
	}
	b.work <- builderChunk{b.index, run}
	b.index += max(1, (len(run)+ChunkSize-1)/ChunkSize)
	return nil
}

// Layout finishes the blob (the last, shorter chunk; an empty blob is one
// empty chunk) and returns its layout. The Builder cannot be written after.
func (b *Builder) Layout() (*Layout, error) {
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		return nil, fmt.Errorf("build blob: Layout called twice")
	}
	b.done = true
	if b.err == nil && b.filled != b.size {
		b.fail(fmt.Errorf("build blob: %d reserved bytes not committed", b.size-b.filled))
	}
	if b.err == nil && (len(b.cur) > 0 || b.index == 0) {
		b.flush(b.cur)
	}
	b.stopOnce.Do(func() { close(b.stop) })
	b.mu.Unlock()
	close(b.work)
	b.wg.Wait()
	if b.err == nil {
		b.err = b.failed()
	}
	if b.err != nil {
		return nil, b.err
	}
	t, err := merkle.New(b.leaves[:b.index])
	if err != nil {
		return nil, fmt.Errorf("build blob: %w", err)
	}
	m := Manifest{Root: t.Root(), Size: b.size, Chunks: b.index}
	return &Layout{Manifest: m, tree: t}, nil
}
