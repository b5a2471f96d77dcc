package blob

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestBuilderMatchesBuildBytes: laying a blob out while writing it in
// pieces of any size gives the same manifest and proofs as laying out the
// whole byte slice, and passes the bytes through unchanged.
func TestBuilderMatchesBuildBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 3*ChunkSize + 17} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		for k, piece := range []int{1 << 10, 64<<10 + 16, ChunkSize, 1 << 20} {
			var out bytes.Buffer
			b := NewBuilder(&out, MaxSize)
			if k%2 == 1 {
				// Runs of 3 chunks (an upload session's requests).
				b = newBuilder(&out, MaxSize, 2, 3, nil)
			}
			for p := data; len(p) > 0; {
				k := min(len(p), piece)
				if n, err := b.Write(p[:k]); n != k || err != nil {
					t.Fatalf("size %d piece %d: write %d, %v", size, piece, n, err)
				}
				p = p[k:]
			}
			got, err := b.Layout()
			if err != nil {
				t.Fatal(err)
			}
			want, _ := BuildBytes(data)
			if got.Manifest != want.Manifest || !bytes.Equal(out.Bytes(), data) {
				t.Fatalf("size %d piece %d: manifest %+v, want %+v (bytes equal %v)", size, piece, got.Manifest, want.Manifest, bytes.Equal(out.Bytes(), data))
			}
			last := got.Manifest.Chunks - 1
			pg, _ := got.Proof(last)
			if err := got.Manifest.VerifyChunk(last, data[last*ChunkSize:], pg); err != nil {
				t.Fatalf("size %d: last chunk proof: %v", size, err)
			}
		}
	}
}

func TestBuilderLimit(t *testing.T) {
	var out bytes.Buffer
	b := NewBuilder(&out, ChunkSize+5)
	if _, err := b.Write(make([]byte, ChunkSize)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write(make([]byte, 6)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	if _, err := b.Layout(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("layout after a refused write: %v", err)
	}
	if _, err := b.Write([]byte{1}); err == nil {
		t.Fatal("write after Layout accepted")
	}
}

// TestBuilderReserve: a writer that fills the Builder's own runs (Reserve
// ahead on one goroutine, fill and Commit in order on another, as vault's
// encryptor does) lays out and passes on the same blob as Write, wherever
// its reservations end, also after a Write.
func TestBuilderReserve(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{0, 1, ChunkSize, 3*ChunkSize + 17, 7*ChunkSize - 5} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		want, _ := BuildBytes(data)
		for _, c := range []struct{ head, piece, run int }{
			{0, 1000, 1}, {17, 64<<10 + 16, 3}, {0, ChunkSize, 2}, {100, 3 * ChunkSize, 1}, {0, 2<<20 + 3, 4},
		} {
			var out bytes.Buffer
			b := newBuilder(&out, MaxSize, 2, c.run, nil)
			head := min(c.head, size)
			if _, err := b.Write(data[:head]); err != nil {
				t.Fatal(err)
			}
			type resv struct {
				at     int
				pieces [][]byte
			}
			q := make(chan resv, 8)
			go func() {
				defer close(q)
				for at := head; at < size; at += c.piece {
					pieces, err := b.Reserve(min(c.piece, size-at))
					if err != nil {
						t.Errorf("reserve at %d: %v", at, err)
						return
					}
					q <- resv{at, pieces}
				}
			}()
			for rv := range q {
				at := rv.at
				for _, p := range rv.pieces {
					at += copy(p, data[at:])
				}
				if err := b.Commit(at - rv.at); err != nil {
					t.Fatal(err)
				}
			}
			got, err := b.Layout()
			if err != nil {
				t.Fatalf("size %d %+v: %v", size, c, err)
			}
			if got.Manifest != want.Manifest || !bytes.Equal(out.Bytes(), data) {
				t.Fatalf("size %d %+v: manifest %+v, want %+v (bytes equal %v)", size, c, got.Manifest, want.Manifest, bytes.Equal(out.Bytes(), data))
			}
		}
	}
}

// Misuse of Reserve and Commit is an error, never a wrong layout.
func TestBuilderReserveMisuse(t *testing.T) {
	for _, c := range []struct {
		name string
		do   func(b *Builder) error
	}{
		{"commit more than reserved", func(b *Builder) error {
			b.Reserve(10)
			return b.Commit(11)
		}},
		{"write with a reservation open", func(b *Builder) error {
			b.Reserve(10)
			_, err := b.Write([]byte{1})
			return err
		}},
		{"layout with a reservation open", func(b *Builder) error {
			b.Reserve(10)
			_, err := b.Layout()
			return err
		}},
		{"reserve over the limit", func(b *Builder) error {
			_, err := b.Reserve(ChunkSize + 6)
			if !errors.Is(err, ErrTooLarge) {
				return nil
			}
			return err
		}},
		{"reserve after layout", func(b *Builder) error {
			b.Layout()
			_, err := b.Reserve(1)
			return err
		}},
	} {
		b := newBuilder(nil, ChunkSize+5, 1, 1, nil)
		if err := c.do(b); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
		b.Layout()
	}
}

// A Reserve waiting for a free run gives up when the Builder fails.
func TestBuilderReserveWaitEnds(t *testing.T) {
	b := newBuilder(nil, MaxSize, 1, 1, nil)
	for range b.unmade + 1 {
		// Reserved, never committed: every run stays in use.
		if _, err := b.Reserve(ChunkSize); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error)
	go func() {
		_, err := b.Reserve(ChunkSize)
		done <- err
	}()
	b.mu.Lock()
	b.fail(errors.New("upload failed"))
	b.mu.Unlock()
	if err := <-done; err == nil {
		t.Fatal("reserve succeeded with every run in use")
	}
}
