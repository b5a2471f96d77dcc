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
