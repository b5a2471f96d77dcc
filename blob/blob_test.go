package blob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/provena/provena/merkle"
)

func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// corruptChunk flips the byte of chunk i at offset at in the store's data
// file (counted from the chunk's end when negative), as a failing disk
// would, behind the store's back.
func corruptChunk(t *testing.T, s *Store, root merkle.Hash, i, at int) {
	t.Helper()
	m, err := s.Manifest(root)
	if err != nil {
		t.Fatal(err)
	}
	if at < 0 {
		at += m.ChunkLen(i)
	}
	f, err := os.OpenFile(filepath.Join(s.Dir(), root.String(), "data"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	off := int64(i)*ChunkSize + int64(at)
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func newNode(t *testing.T) (*Store, *httptest.Server) {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewHandler(s))
	t.Cleanup(srv.Close)
	return s, srv
}

func TestManifestValidate(t *testing.T) {
	cases := []struct {
		name string
		m    Manifest
		want error
		msg  string
	}{
		{"empty", Manifest{Size: 0, Chunks: 1}, nil, ""},
		{"exact chunk", Manifest{Size: ChunkSize, Chunks: 1}, nil, ""},
		{"one over", Manifest{Size: ChunkSize + 1, Chunks: 2}, nil, ""},
		{"max", Manifest{Size: MaxSize, Chunks: MaxChunks}, nil, ""},
		{"too large", Manifest{Size: MaxSize + 1, Chunks: MaxChunks + 1}, ErrTooLarge, "limit is 1073741824"},
		{"too many chunks", Manifest{Size: 10, Chunks: MaxChunks + 1}, ErrTooLarge, "4097 chunks"},
		{"wrong count", Manifest{Size: ChunkSize + 1, Chunks: 1}, nil, "manifest says 1"},
		{"zero chunks", Manifest{Size: 0, Chunks: 0}, nil, "manifest says 0"},
		{"negative", Manifest{Size: -1, Chunks: 1}, nil, "negative size"},
	}
	for _, c := range cases {
		err := c.m.Validate(MaxSize)
		switch {
		case c.msg == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.msg != "" && (err == nil || !strings.Contains(err.Error(), c.msg)):
			t.Errorf("%s: got %v, want %q", c.name, err, c.msg)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s: %v is not %v", c.name, err, c.want)
		}
	}
}

func TestDecodeManifest(t *testing.T) {
	root := strings.Repeat("ab", 32)
	cases := []struct {
		name, in, err string
		is            error
	}{
		{"ok", `{"format":2,"root":"` + root + `","size":5,"chunks":1}`, "", nil},
		{"field order", `{"chunks":1,"size":5,"root":"` + root + `","format":2}`, "", nil},
		{"unknown field", `{"format":2,"root":"` + root + `","size":5,"chunks":1,"x":1}`, "unknown field", nil},
		{"bad root", `{"format":2,"root":"zz","size":5,"chunks":1}`, "want 64 hex", nil},
		{"trailing", `{"format":2,"root":"` + root + `","size":5,"chunks":1}{}`, "trailing data", nil},
		{"oversize", `{"format":2,"root":"` + root + `","size":2000000000,"chunks":7630}`, "blob too large", ErrTooLarge},
		{"huge input", strings.Repeat(" ", 2000), "limit 1024", ErrTooLarge},
		{"not json", `nope`, "invalid character", nil},
		// Format 1 (SHA-256 leaves) had no format field.
		{"format 1", `{"root":"` + root + `","size":5,"chunks":1}`, "format 1 (SHA-256 chunk leaves)", ErrOldFormat},
		{"format 1 named", `{"format":1,"root":"` + root + `","size":5,"chunks":1}`, "reads format 2", ErrOldFormat},
		{"format 3", `{"format":3,"root":"` + root + `","size":5,"chunks":1}`, "blob format 3, this build reads format 2", nil},
	}
	for _, c := range cases {
		m, err := DecodeManifest([]byte(c.in))
		if c.err == "" {
			if err != nil || m.Size != 5 || m.Root.String() != root {
				t.Errorf("%s: %+v %v", c.name, m, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.err)
		}
		if c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("%s: %v is not %v", c.name, err, c.is)
		}
	}
	enc, _ := json.Marshal(Manifest{Size: 5, Chunks: 1})
	if want := `{"format":2,"root":"` + strings.Repeat("00", 32) + `","size":5,"chunks":1}`; string(enc) != want {
		t.Errorf("encoded %s, want %s", enc, want)
	}
}

// LeafHash is BLAKE3-256 of 0x00 || chunk. The official BLAKE3 test
// vectors hash the bytes i mod 251 (i < n), whose first byte is 0x00, so
// vector n is the leaf hash of that input without its first byte.
func TestLeafHashKnownAnswer(t *testing.T) {
	pattern := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i % 251)
		}
		return b
	}
	cases := []struct {
		n    int
		want string
	}{
		{1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213"},
		{1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444"},
		{31744, "62b6960e1a44bcc1eb1a611a8d6235b6b4b78f32e7abc4fb4c6cdcce94895c47"},
	}
	for _, c := range cases {
		if got := LeafHash(pattern(c.n)[1:]).String(); got != c.want {
			t.Errorf("leaf of %d bytes: %s, want %s", c.n-1, got, c.want)
		}
	}
	// A full chunk, through the pooled hasher twice (a reused state must
	// not leak into the next hash), against the one-shot function.
	chunk := randBytes(ChunkSize, 5)
	want := blake3.Sum256(append([]byte{0}, chunk...))
	for range 2 {
		if got := LeafHash(chunk); got != merkle.Hash(want) {
			t.Fatalf("leaf of a full chunk %s, want %x", got, want)
		}
	}
	if LeafHash(chunk) == merkle.LeafHash(chunk) {
		t.Fatal("blob leaves are still merkle's SHA-256 leaves")
	}
}

func FuzzDecodeManifest(f *testing.F) {
	f.Add([]byte(`{"format":2,"root":"` + strings.Repeat("ab", 32) + `","size":5,"chunks":1}`))
	f.Add([]byte(`{"format":2,"root":"` + strings.Repeat("00", 32) + `","size":0,"chunks":1}`))
	f.Add([]byte(`{"format":2,"root":"` + strings.Repeat("00", 32) + `","size":-1,"chunks":1}`))
	f.Add([]byte(`{"format":2,"root":"` + strings.Repeat("00", 32) + `","size":1e3,"chunks":1}`))
	f.Add([]byte(`{"root":"` + strings.Repeat("ab", 32) + `","size":5,"chunks":1}`))
	f.Add([]byte(`{"format":2.0,"root":"` + strings.Repeat("ab", 32) + `","size":5,"chunks":1}`))
	f.Add([]byte(`{"format":-1,"size":9223372036854775807,"chunks":-1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeManifest(b)
		if err != nil {
			return
		}
		if err := m.Validate(MaxSize); err != nil {
			t.Fatalf("decoded an invalid manifest %+v: %v", m, err)
		}
		enc, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := DecodeManifest(enc)
		if err != nil || m2 != m {
			t.Fatalf("round trip: %+v -> %s -> %+v %v", m, enc, m2, err)
		}
	})
}

func FuzzDecodeChunk(f *testing.F) {
	f.Add(EncodeChunk([]merkle.Hash{{1}, {2}}, []byte("data")))
	f.Add(EncodeChunk(nil, nil))
	f.Add([]byte("pvc1\xff"))
	f.Add([]byte("pvc1\x02short"))
	f.Fuzz(func(t *testing.T, b []byte) {
		proof, data, err := DecodeChunk(b)
		if err != nil {
			return
		}
		if !bytes.Equal(EncodeChunk(proof, data), b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func TestStoreAndFetch(t *testing.T) {
	for _, size := range []int{0, 1, ChunkSize, 3*ChunkSize + 17} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			data := randBytes(size, uint64(size))
			l, err := BuildBytes(data)
			if err != nil {
				t.Fatal(err)
			}
			var leaves []merkle.Hash
			for i := 0; i == 0 || i*ChunkSize < size; i++ {
				leaves = append(leaves, LeafHash(data[i*ChunkSize:min((i+1)*ChunkSize, size)]))
			}
			if want, _ := merkle.New(leaves); want.Root() != l.Manifest.Root {
				t.Fatalf("root %s, the merkle tree over the chunks' leaf hashes says %s", l.Manifest.Root, want.Root())
			}
			s, srv := newNode(t)
			var c Client
			n, err := c.Upload(context.Background(), srv.URL, l, bytes.NewReader(data))
			if err != nil || n != l.Manifest.Chunks {
				t.Fatalf("upload: sent %d, %v", n, err)
			}
			st, err := s.Status(l.Manifest.Root)
			if err != nil || !st.Complete {
				t.Fatalf("status %+v %v", st, err)
			}
			var out bytes.Buffer
			if err := Fetch(context.Background(), l.Manifest.Root, []string{srv.URL}, &out); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), data) {
				t.Fatal("fetched bytes differ")
			}
			// Uploading again sends nothing.
			if n, err := c.Upload(context.Background(), srv.URL, l, bytes.NewReader(data)); err != nil || n != 0 {
				t.Fatalf("re-upload sent %d, %v", n, err)
			}
			// A reopened store (a node restart) still serves the blob.
			s2, err := Open(s.Dir())
			if err != nil {
				t.Fatal(err)
			}
			if st, err := s2.Status(l.Manifest.Root); err != nil || !st.Complete || st.Manifest != l.Manifest {
				t.Fatalf("reopened status %+v %v", st, err)
			}
			if d, _, err := s2.Chunk(l.Manifest.Root, l.Manifest.Chunks-1); err != nil || !bytes.Equal(d, data[(l.Manifest.Chunks-1)*ChunkSize:]) {
				t.Fatalf("reopened chunk: %v", err)
			}
		})
	}
}

// put sends raw framed bytes for chunk i.
func put(t *testing.T, url string, root merkle.Hash, i int, body []byte) (int, Error) {
	t.Helper()
	return call(t, http.MethodPut, url+Prefix+"/"+root.String()+"/chunks/"+strconv.Itoa(i), body)
}

func TestBadUploadsRefused(t *testing.T) {
	data := randBytes(2*ChunkSize+5, 7)
	l, _ := BuildBytes(data)
	root := l.Manifest.Root
	s, srv := newNode(t)
	mb, _ := json.Marshal(l.Manifest)
	if resp, err := http.Post(srv.URL+Prefix, "application/json", bytes.NewReader(mb)); err != nil || resp.StatusCode != 200 {
		t.Fatalf("post manifest: %v %v", resp, err)
	}
	p0, _ := l.Proof(0)
	p1, _ := l.Proof(1)
	evil := append([]byte(nil), data[:ChunkSize]...)
	evil[100] ^= 1
	cases := []struct {
		name   string
		i      int
		body   []byte
		status int
		code   string
	}{
		{"substituted chunk", 0, EncodeChunk(p0, evil), 422, "bad_proof"},
		{"proof of another chunk", 0, EncodeChunk(p1, data[:ChunkSize]), 422, "bad_proof"},
		{"chunk at wrong index", 1, EncodeChunk(p0, data[:ChunkSize]), 422, "bad_proof"},
		{"short chunk", 0, EncodeChunk(p0, data[:100]), 422, "bad_proof"},
		{"out of range", 3, EncodeChunk(p0, data[:ChunkSize]), 422, "bad_proof"},
		{"no frame", 0, data[:ChunkSize], 400, "bad_request"},
		{"too big", 0, make([]byte, maxFramedChunk+1), 413, "too_large"},
	}
	for _, c := range cases {
		st, e := put(t, srv.URL, root, c.i, c.body)
		if st != c.status || e.Code != c.code {
			t.Errorf("%s: %d %+v, want %d %s", c.name, st, e, c.status, c.code)
		}
	}
	if st, _ := s.Status(root); len(st.Missing) != 3 {
		t.Fatalf("refused chunks were stored: %+v", st)
	}
	if st, e := put(t, srv.URL, merkle.Hash{9}, 0, EncodeChunk(p0, data[:ChunkSize])); st != 404 || e.Code != "not_found" {
		t.Errorf("unknown blob: %d %+v", st, e)
	}
	big, _ := json.Marshal(Manifest{Root: root, Size: MaxSize + 1, Chunks: MaxChunks + 1})
	resp, _ := http.Post(srv.URL+Prefix, "application/json", bytes.NewReader(big))
	if resp.StatusCode != 413 {
		t.Errorf("oversize manifest: HTTP %d", resp.StatusCode)
	}
	other, _ := json.Marshal(Manifest{Root: root, Size: 5, Chunks: 1})
	resp, _ = http.Post(srv.URL+Prefix, "application/json", bytes.NewReader(other))
	if resp.StatusCode != 409 {
		t.Errorf("conflicting manifest: HTTP %d", resp.StatusCode)
	}
	s.MaxSize = ChunkSize
	l2, _ := BuildBytes(randBytes(ChunkSize+1, 8))
	var c Client
	if _, err := c.Upload(context.Background(), srv.URL, l2, bytes.NewReader(nil)); err == nil || !strings.Contains(err.Error(), "too_large") {
		t.Errorf("node limit: %v", err)
	}
}

// failAfter fails every chunk PUT after the first n.
type failAfter struct {
	n    int64
	puts atomic.Int64
}

func (f *failAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut && f.puts.Add(1) > f.n {
		return nil, errors.New("connection reset (test)")
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestUploadResumes(t *testing.T) {
	data := randBytes(9*ChunkSize+3, 3)
	l, _ := BuildBytes(data)
	s, srv := newNode(t)
	ft := &failAfter{n: 4}
	c := Client{HTTP: &http.Client{Transport: ft}, Parallel: 1}
	sent, err := c.Upload(context.Background(), srv.URL, l, bytes.NewReader(data))
	if err == nil || !strings.Contains(err.Error(), "connection reset") || sent != 4 {
		t.Fatalf("interrupted upload: sent %d, %v", sent, err)
	}
	st, err := (&Client{}).Status(context.Background(), srv.URL, l.Manifest.Root)
	if err != nil || st.Complete || len(st.Missing) != 6 {
		t.Fatalf("status after interruption: %+v %v", st, err)
	}
	ft.n = 1 << 30
	ft.puts.Store(0)
	sent, err = c.Upload(context.Background(), srv.URL, l, bytes.NewReader(data))
	if err != nil || sent != 6 || ft.puts.Load() != 6 {
		t.Fatalf("resume: sent %d (%d PUTs), %v", sent, ft.puts.Load(), err)
	}
	if st, _ := s.Status(l.Manifest.Root); !st.Complete {
		t.Fatalf("not complete after resume: %+v", st)
	}
}

func TestFetchRecoversFromBadNode(t *testing.T) {
	data := randBytes(5*ChunkSize+99, 4)
	l, _ := BuildBytes(data)
	root := l.Manifest.Root
	sa, a := newNode(t)
	_, b := newNode(t)
	var c Client
	for _, n := range []string{a.URL, b.URL} {
		if _, err := c.Upload(context.Background(), n, l, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	// Corrupt chunk 3 on A's disk: chunk 3 is asked from A first.
	corruptChunk(t, sa, root, 3, -10)
	// Node L lies: it flips a byte of every chunk it serves.
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		NewHandler(sa).ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if strings.Contains(r.URL.Path, "/chunks/") && len(body) > 0 && rec.Code == 200 {
			body[len(body)-1] ^= 1
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	}))
	defer liar.Close()
	var out bytes.Buffer
	if err := Fetch(context.Background(), root, []string{a.URL, liar.URL, b.URL}, &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatal("fetched bytes differ")
	}
	// A detected the corruption and now lists the chunk as missing; a
	// resumed upload repairs it.
	st, _ := sa.Status(root)
	if len(st.Missing) != 1 || st.Missing[0] != 3 {
		t.Fatalf("A status %+v", st)
	}
	if n, err := c.Upload(context.Background(), a.URL, l, bytes.NewReader(data)); err != nil || n != 1 {
		t.Fatalf("repair: %d %v", n, err)
	}
	// With only bad sources the fetch fails and says why.
	out.Reset()
	err := Fetch(context.Background(), root, []string{liar.URL}, &out)
	if err == nil || !errors.Is(err, ErrBadProof) {
		t.Fatalf("liar only: %v", err)
	}
	if err := Fetch(context.Background(), merkle.Hash{1}, []string{a.URL}, &out); err == nil || !strings.Contains(err.Error(), "no node has it") {
		t.Fatalf("unknown blob: %v", err)
	}
}

func BenchmarkUploadFetch(b *testing.B) {
	data := randBytes(64<<20, 1)
	l, _ := BuildBytes(data)
	for b.Loop() {
		s, _ := Open(b.TempDir())
		srv := httptest.NewServer(NewHandler(s))
		var c Client
		if _, err := c.Upload(context.Background(), srv.URL, l, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		out.Grow(len(data))
		if err := c.FetchManifest(context.Background(), l.Manifest, []string{srv.URL}, &out); err != nil {
			b.Fatal(err)
		}
		srv.Close()
	}
	b.SetBytes(int64(len(data)))
}

func TestWrapAndAdmit(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.Admit = func(m Manifest) error {
		if m.Size > 10 {
			return fmt.Errorf("quota is 10 bytes: %w", ErrRefused)
		}
		return nil
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	srv := httptest.NewServer(Wrap(api, s))
	defer srv.Close()
	var c Client
	small, _ := BuildBytes([]byte("0123456789"))
	if _, err := c.Upload(context.Background(), srv.URL, small, bytes.NewReader([]byte("0123456789"))); err != nil {
		t.Fatal(err)
	}
	big, _ := BuildBytes([]byte("0123456789a"))
	if _, err := c.Upload(context.Background(), srv.URL, big, bytes.NewReader([]byte("0123456789a"))); err == nil || !strings.Contains(err.Error(), "refused: blob") {
		t.Fatalf("admission: %v", err)
	}
	for path, want := range map[string]int{"/v1/status": http.StatusTeapot, "/v1/blobsx": http.StatusTeapot, Prefix + "/" + small.Manifest.Root.String(): 200} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: HTTP %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// BenchmarkLeafHash compares a chunk's leaf hash with the SHA-256 leaf of
// package merkle that blob format 1 used (docs/data.md has the figures).
func BenchmarkLeafHash(b *testing.B) {
	chunk := randBytes(ChunkSize, 3)
	for _, c := range []struct {
		name string
		leaf func([]byte) merkle.Hash
	}{{"blake3", LeafHash}, {"sha256", merkle.LeafHash}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(ChunkSize)
			for b.Loop() {
				c.leaf(chunk)
			}
		})
	}
}
