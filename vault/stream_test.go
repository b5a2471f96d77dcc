package vault

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"
)

func ageEncrypt(t testing.TB, plain []byte, id *age.X25519Identity) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ageDecrypt(ct []byte, id *age.X25519Identity) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(ct), id)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func pseudoRandom(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// The parallel payload must be exactly age's format: each direction is
// checked against age's own stream, at the sizes where chunk and batch
// boundaries fall, and with one and several workers.
func TestStreamMatchesAge(t *testing.T) {
	id, _ := AccountIdentity(key(1))
	batch := batchChunks * streamChunk
	sizes := []int{0, 1, streamChunk - 1, streamChunk, streamChunk + 1, batch - 1, batch, batch + 1, 2 * batch, 3*batch + 12345}
	for _, procs := range []int{1, 3} {
		old := runtime.GOMAXPROCS(procs)
		for _, n := range sizes {
			plain := pseudoRandom(n, uint64(n))
			var ct bytes.Buffer
			if err := Encrypt(&ct, bytes.NewReader(plain), id); err != nil {
				t.Fatalf("procs %d size %d: encrypt: %v", procs, n, err)
			}
			if got, err := ageDecrypt(ct.Bytes(), id); err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("procs %d size %d: age cannot read our file: %v", procs, n, err)
			}
			var pt bytes.Buffer
			if err := Decrypt(&pt, bytes.NewReader(ageEncrypt(t, plain, id)), id); err != nil || !bytes.Equal(pt.Bytes(), plain) {
				t.Fatalf("procs %d size %d: we cannot read age's file: %v", procs, n, err)
			}
			// The plaintext overhead is age's: 16 bytes per 64 KiB chunk.
			wantLen := len(ageEncrypt(t, plain, id))
			if ct.Len() != wantLen {
				t.Fatalf("procs %d size %d: %d ciphertext bytes, age writes %d", procs, n, ct.Len(), wantLen)
			}
		}
		runtime.GOMAXPROCS(old)
	}
}

// Every damaged file is refused, as age refuses it.
func TestStreamTampered(t *testing.T) {
	id, _ := AccountIdentity(key(1))
	other, _ := AccountIdentity(key(2))
	plain := pseudoRandom(3*batchChunks*streamChunk+999, 1)
	ct := ageEncrypt(t, plain, id)
	hdr, _ := age.ExtractHeader(bytes.NewReader(ct))
	payload := len(hdr) + payloadNonceSz
	chunk := func(i int) int { return payload + i*streamEncChunk }
	swap := bytes.Clone(ct)
	copy(swap[chunk(1):chunk(2)], ct[chunk(2):chunk(3)])
	copy(swap[chunk(2):chunk(3)], ct[chunk(1):chunk(2)])
	flip := func(at int) []byte { b := bytes.Clone(ct); b[at] ^= 1; return b }
	// A file whose length is a whole number of chunks, cut after one.
	whole := ageEncrypt(t, pseudoRandom(2*streamChunk, 2), id)
	cases := []struct {
		name string
		ct   []byte
		id   *age.X25519Identity
	}{
		{"wrong key", ct, other},
		{"empty", nil, id},
		{"header only", ct[:len(hdr)], id},
		{"no payload", ct[:payload], id},
		{"cut mid-chunk", ct[:chunk(5)+100], id},
		{"cut at a chunk boundary", ct[:chunk(8)], id},
		{"cut at a batch boundary", ct[:chunk(batchChunks)], id},
		{"whole chunks cut after one", whole[:payload+streamEncChunk], id},
		{"trailing byte", append(bytes.Clone(ct), 0), id},
		{"trailing chunk", append(bytes.Clone(ct), ct[chunk(0):chunk(1)]...), id},
		{"chunks swapped", swap, id},
		{"payload bit", flip(chunk(20) + 7), id},
		{"last chunk bit", flip(len(ct) - 1), id},
		{"nonce bit", flip(len(hdr) + 3), id},
		{"header MAC bit", flip(len(hdr) - 5), id},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ageDecrypt(c.ct, c.id); err == nil {
				t.Fatal("age itself accepts the case: the test is wrong")
			}
			if err := Decrypt(io.Discard, bytes.NewReader(c.ct), c.id); err == nil {
				t.Fatal("damaged file decrypted")
			}
		})
	}
}

type failAfter struct {
	r io.Reader
	n int
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errors.New("no space left")
	}
	return len(p), nil
}

// Read and write errors come back (and nothing hangs) in both directions.
func TestStreamIOErrors(t *testing.T) {
	id, _ := AccountIdentity(key(1))
	plain := pseudoRandom(5*batchChunks*streamChunk, 3)
	ct := ageEncrypt(t, plain, id)
	if err := Encrypt(io.Discard, &failAfter{bytes.NewReader(plain), 1 << 20}, id); err == nil {
		t.Fatal("encrypt: read error lost")
	}
	if err := Encrypt(&failWriter{1 << 20}, bytes.NewReader(plain), id); err == nil {
		t.Fatal("encrypt: write error lost")
	}
	if err := Decrypt(io.Discard, &failAfter{bytes.NewReader(ct), 1 << 20}, id); err == nil {
		t.Fatal("decrypt: read error lost")
	}
	if err := Decrypt(&failWriter{1 << 20}, bytes.NewReader(ct), id); err == nil {
		t.Fatal("decrypt: write error lost")
	}
}

// FuzzDecrypt checks the parallel decryptor against age's own on arbitrary
// files for one key: same plaintext when age accepts, an error when age
// refuses.
func FuzzDecrypt(f *testing.F) {
	id, _ := AccountIdentity(key(1))
	for _, n := range []int{0, 1, streamChunk, streamChunk + 5} {
		f.Add(ageEncrypt(f, pseudoRandom(n, uint64(n)), id))
	}
	ct := ageEncrypt(f, pseudoRandom(2*streamChunk, 9), id)
	f.Add(ct[:len(ct)-streamEncChunk])
	f.Add([]byte("age-encryption.org/v1\n-> X25519 abc\n\n--- 123\n"))
	f.Fuzz(func(t *testing.T, ct []byte) {
		want, werr := ageDecrypt(ct, id)
		var got bytes.Buffer
		gerr := Decrypt(&got, bytes.NewReader(ct), id)
		switch {
		case werr == nil && gerr != nil:
			t.Fatalf("age decrypts, we refuse: %v", gerr)
		case werr != nil && gerr == nil:
			t.Fatalf("age refuses (%v), we decrypt", werr)
		case werr == nil && !bytes.Equal(got.Bytes(), want):
			t.Fatal("plaintexts differ")
		}
	})
}

// BenchmarkPayload compares age's own one-goroutine stream with the
// parallel one, both ways, on 64 MiB (go test -bench Payload -cpu 1,2,16).
func BenchmarkPayload(b *testing.B) {
	id, _ := AccountIdentity(key(1))
	plain := pseudoRandom(64<<20, 5)
	ct := ageEncrypt(b, plain, id)
	b.Run("encrypt/age", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			w, _ := age.Encrypt(io.Discard, id.Recipient())
			w.Write(plain)
			w.Close()
		}
	})
	b.Run("encrypt/parallel", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			if err := Encrypt(io.Discard, bytes.NewReader(plain), id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decrypt/age", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			r, _ := age.Decrypt(bytes.NewReader(ct), id)
			io.Copy(io.Discard, r)
		}
	})
	b.Run("decrypt/parallel", func(b *testing.B) {
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			if err := Decrypt(io.Discard, bytes.NewReader(ct), id); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A Payload re-encrypts to the same bytes (what a resumed upload relies
// on), restored from its head and the asset key alone; Size predicts the
// length; the file is still one age opens; a wrong key or a damaged head
// is refused.
func TestPayloadDeterministic(t *testing.T) {
	id, _ := AccountIdentity(key(1))
	other, _ := AccountIdentity(key(2))
	batch := batchChunks * streamChunk
	for _, n := range []int{0, 1, streamChunk, streamChunk + 1, batch, 2*batch + 77} {
		plain := pseudoRandom(n, uint64(n)+3)
		p, err := NewPayload(id)
		if err != nil {
			t.Fatal(err)
		}
		var a, b bytes.Buffer
		if err := p.Encrypt(&a, bytes.NewReader(plain)); err != nil {
			t.Fatal(err)
		}
		q, err := ParsePayload(p.Head(), id)
		if err != nil {
			t.Fatalf("size %d: parse: %v", n, err)
		}
		if err := q.Encrypt(&b, bytes.NewReader(plain)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("size %d: re-encryption differs", n)
		}
		if int64(a.Len()) != p.Size(int64(n)) {
			t.Fatalf("size %d: wrote %d bytes, Size says %d", n, a.Len(), p.Size(int64(n)))
		}
		if got, err := ageDecrypt(a.Bytes(), id); err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("size %d: age decrypt: %v", n, err)
		}
		if _, err := ParsePayload(p.Head(), other); err == nil {
			t.Fatalf("size %d: head parsed with the wrong key", n)
		}
		head := p.Head()
		for _, bad := range [][]byte{head[:len(head)-1], append(head, 0), nil} {
			if _, err := ParsePayload(bad, id); err == nil {
				t.Fatalf("size %d: damaged head of %d bytes parsed", n, len(bad))
			}
		}
	}
	p1, _ := NewPayload(id)
	p2, _ := NewPayload(id)
	if bytes.Equal(p1.Head(), p2.Head()) {
		t.Fatal("two new payloads share a head")
	}
}

// ParsePayload reads a head back from the disk: arbitrary bytes must give
// an error, or a payload whose files start with exactly those bytes and
// decrypt with the key.
func FuzzParsePayload(f *testing.F) {
	id, _ := AccountIdentity(key(1))
	p, _ := NewPayload(id)
	head := p.Head()
	f.Add(head)
	f.Add(head[:len(head)-16])
	f.Add([]byte("age-encryption.org/v1\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParsePayload(b, id)
		if err != nil {
			return
		}
		var ct, pt bytes.Buffer
		if err := q.Encrypt(&ct, bytes.NewReader([]byte("fuzz"))); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(ct.Bytes(), b) {
			t.Fatal("file does not start with the parsed head")
		}
		if err := Decrypt(&pt, &ct, id); err != nil || pt.String() != "fuzz" {
			t.Fatalf("file of a parsed head does not decrypt: %v", err)
		}
	})
}

// pieceReserver is a Reserver over a byte slice of fixed capacity (space
// once lent must not move) that lends it in pieces of at most piece bytes
// (so sealed chunks straddle pieces), and checks that commits follow the
// reserves in order. Reserve and Commit run on different goroutines.
type pieceReserver struct {
	mu       sync.Mutex
	piece    int
	buf      []byte
	reserved int
	commits  []int // sizes reserved, not yet committed, in order
	failAt   int   // Reserve fails once this many bytes are reserved; 0: never
}

var errReserve = errors.New("reserve refused")

func (r *pieceReserver) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.commits) > 0 || len(r.buf)+len(p) > cap(r.buf) {
		return 0, errors.New("write with reservations open")
	}
	r.buf = append(r.buf, p...)
	r.reserved += len(p)
	return len(p), nil
}

func (r *pieceReserver) Reserve(n int) ([][]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failAt > 0 && r.reserved+n > r.failAt {
		return nil, errReserve
	}
	if len(r.buf)+n > cap(r.buf) {
		return nil, errors.New("reserve past the end")
	}
	r.buf = r.buf[:len(r.buf)+n]
	var pieces [][]byte
	for at := r.reserved; at < r.reserved+n; {
		k := min(r.piece-at%r.piece, r.reserved+n-at)
		pieces = append(pieces, r.buf[at:at+k:at+k])
		at += k
	}
	r.reserved += n
	r.commits = append(r.commits, n)
	return pieces, nil
}

func (r *pieceReserver) Commit(n int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.commits) == 0 || r.commits[0] != n {
		return errors.New("commit out of order")
	}
	r.commits = r.commits[1:]
	return nil
}

// Encrypt into a Reserver seals in place; the file must be the same bytes
// as through a plain writer, wherever the pieces of the lent space end.
func TestEncryptIntoReserver(t *testing.T) {
	id, _ := AccountIdentity(key(1))
	p, err := NewPayload(id)
	if err != nil {
		t.Fatal(err)
	}
	batch := batchChunks * streamChunk
	for _, n := range []int{0, 1, streamChunk, streamChunk + 1, batch - 1, batch, batch + 1, 3*batch + 12345} {
		plain := pseudoRandom(n, uint64(n)+5)
		var want bytes.Buffer
		if err := p.Encrypt(&want, bytes.NewReader(plain)); err != nil {
			t.Fatal(err)
		}
		for _, piece := range []int{1000, streamEncChunk, 256 << 10, 1 << 30} {
			r := &pieceReserver{piece: piece, buf: make([]byte, 0, want.Len())}
			if err := p.Encrypt(r, bytes.NewReader(plain)); err != nil {
				t.Fatalf("size %d piece %d: %v", n, piece, err)
			}
			if len(r.commits) != 0 || !bytes.Equal(r.buf, want.Bytes()) {
				t.Fatalf("size %d piece %d: %d bytes, %d uncommitted reservations; differs from the plain writer's", n, piece, len(r.buf), len(r.commits))
			}
		}
	}
	// A refused reservation ends Encrypt with that error.
	r := &pieceReserver{piece: 1000, failAt: 2 * batch, buf: make([]byte, 0, 5*batch)}
	if err := p.Encrypt(r, bytes.NewReader(pseudoRandom(4*batch, 9))); !errors.Is(err, errReserve) {
		t.Fatalf("refused reservation: %v", err)
	}
}

// sealInto refuses lent space of the wrong length rather than writing
// past it or leaving part of it unwritten.
func TestSealIntoWrongSpace(t *testing.T) {
	id, _ := AccountIdentity(key(1))
	p, _ := NewPayload(id)
	in := pseudoRandom(streamChunk+10, 1)
	n := sealedSize(len(in))
	for _, size := range []int{n - 1, n + 1} {
		space := make([]byte, size)
		for _, pieces := range [][][]byte{{space}, {space[:100:100], space[100:]}} {
			if _, err := p.sealInto(pieces, nil, in, 0, true); err == nil {
				t.Fatalf("space of %d bytes for %d accepted", size, n)
			}
		}
	}
}

// EncryptFile seals a mapped file to the same bytes as Encrypt reading it,
// into a plain writer and into a Reserver.
func TestEncryptFileMatchesEncrypt(t *testing.T) {
	id, _ := AccountIdentity(key(1))
	p, err := NewPayload(id)
	if err != nil {
		t.Fatal(err)
	}
	batch := batchChunks * streamChunk
	dir := t.TempDir()
	// 17 MiB: past two of the windows the map is released by.
	for _, n := range []int{0, 1, streamChunk, streamChunk + 1, batch, 3*batch + 12345, 17<<20 + 3} {
		plain := pseudoRandom(n, uint64(n)+11)
		path := filepath.Join(dir, fmt.Sprintf("plain-%d", n))
		if err := os.WriteFile(path, plain, 0o600); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := p.Encrypt(&want, bytes.NewReader(plain)); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := p.EncryptFile(&got, f, int64(n)); err != nil {
			t.Fatalf("size %d: %v", n, err)
		}
		r := &pieceReserver{piece: 1000, buf: make([]byte, 0, want.Len())}
		if err := p.EncryptFile(r, f, int64(n)); err != nil {
			t.Fatalf("size %d into a reserver: %v", n, err)
		}
		f.Close()
		if !bytes.Equal(got.Bytes(), want.Bytes()) || !bytes.Equal(r.buf, want.Bytes()) {
			t.Fatalf("size %d: EncryptFile's bytes differ from Encrypt's", n)
		}
	}
}

// A file shorter than announced is refused before anything is read; one
// cut short under the map (after the check) fails with an error, not a
// fault that kills the process; a pipe, which cannot be mapped, is read.
func TestEncryptFileChanged(t *testing.T) {
	id, _ := AccountIdentity(key(1))
	p, _ := NewPayload(id)
	batch := batchChunks * streamChunk
	path := filepath.Join(t.TempDir(), "plain")
	plain := pseudoRandom(4*batch, 3)
	if err := os.WriteFile(path, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := p.EncryptFile(io.Discard, f, int64(len(plain))+1); err == nil || !strings.Contains(err.Error(), "it changed") {
		t.Fatalf("longer size than the file: %v", err)
	}

	m, err := mapFile(f, int64(len(plain)))
	if err != nil {
		t.Skipf("no memory map here: %v", err)
	}
	defer m.unmap()
	if err := f.Truncate(int64(batch)); err != nil {
		t.Fatal(err)
	}
	err = p.Encrypt(&bytes.Buffer{}, &mappedSource{b: m.b, name: path})
	if !errors.Is(err, errFileShrank) {
		t.Fatalf("file cut short under the map: %v", err)
	}

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		pw.Write(plain[:batch+5])
		pw.Close()
	}()
	var got, want bytes.Buffer
	if err := p.EncryptFile(&got, pr, int64(batch+5)); err != nil {
		t.Fatalf("pipe: %v", err)
	}
	pr.Close()
	p.Encrypt(&want, bytes.NewReader(plain[:batch+5]))
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatal("pipe: bytes differ from Encrypt's")
	}
}
