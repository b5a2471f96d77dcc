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
// over the data with a bounded number of run buffers (2 per worker) in
// memory, whatever the blob's size.
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
		free:   make(chan []byte, 2*workers),
		work:   make(chan builderChunk, 2*workers),
	}
	for range 2 * workers {
		b.free <- make([]byte, 0, b.runLen)
	}
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
	b.cur = <-b.free
	return b
}

// Write implements io.Writer.
func (b *Builder) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, fmt.Errorf("build blob: write after Layout")
	}
	if b.size+int64(len(p)) > b.max {
		b.err = fmt.Errorf("build blob: over %d bytes: %w", b.max, ErrTooLarge)
		return 0, b.err
	}
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), b.runLen-len(b.cur))
		b.cur = append(b.cur, p[:k]...)
		p = p[k:]
		b.size += int64(k)
		if len(b.cur) == b.runLen {
			if err := b.flush(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

func (b *Builder) failed() error {
	b.sinkMu.Lock()
	defer b.sinkMu.Unlock()
	return b.sinkErr
}

func (b *Builder) flush() error {
	if err := b.failed(); err != nil {
		b.err = err
		return err
	}
	if b.dst != nil {
		if _, err := b.dst.Write(b.cur); err != nil {
			b.err = fmt.Errorf("build blob: write chunk %d: %w", b.index, err)
			return b.err
		}
	}
	b.work <- builderChunk{b.index, b.cur}
	b.index += max(1, (len(b.cur)+ChunkSize-1)/ChunkSize)
	b.cur = <-b.free
	return nil
}

// Layout finishes the blob (the last, shorter chunk; an empty blob is one
// empty chunk) and returns its layout. The Builder cannot be written after.
func (b *Builder) Layout() (*Layout, error) {
	if b.done {
		return nil, fmt.Errorf("build blob: Layout called twice")
	}
	b.done = true
	if b.err == nil && (len(b.cur) > 0 || b.index == 0) {
		b.flush()
	}
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
