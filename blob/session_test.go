package blob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// writeAll is an UploadSessions writer of data in uneven pieces, as an
// encryptor writes.
func writeAll(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		for p := data; len(p) > 0; {
			n := min(len(p), 100_003)
			if _, err := w.Write(p[:n]); err != nil {
				return err
			}
			p = p[n:]
		}
		return nil
	}
}

// A one-pass upload to two nodes gives each the same blob as the
// two-step protocol, every chunk checked by the node; a reopened store
// serves it.
func TestSessionUpload(t *testing.T) {
	for _, size := range []int{0, 1, ChunkSize, 3*ChunkSize + 17} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			data := randBytes(size, uint64(size)+9)
			want, _ := BuildBytes(data)
			s1, srv1 := newNode(t)
			s2, srv2 := newNode(t)
			nodes := []string{srv1.URL, srv2.URL}
			c := Client{Parallel: 3}
			ss, err := c.OpenSessions(context.Background(), nodes, nil, int64(size))
			if err != nil {
				t.Fatal(err)
			}
			m, sent, err := c.UploadSessions(context.Background(), nodes, ss, writeAll(data))
			if err != nil || m != want.Manifest || sent != 2*m.Chunks {
				t.Fatalf("upload: %+v sent %d, %v; want %+v", m, sent, err, want.Manifest)
			}
			for k, s := range []*Store{s1, s2} {
				var out bytes.Buffer
				if err := Fetch(context.Background(), m.Root, []string{nodes[k]}, &out); err != nil || !bytes.Equal(out.Bytes(), data) {
					t.Fatalf("fetch: %v", err)
				}
				r, err := Open(s.Dir())
				if err != nil {
					t.Fatal(err)
				}
				if st, err := r.Status(m.Root); err != nil || !st.Complete {
					t.Fatalf("reopened: %+v %v", st, err)
				}
				if d, p, err := r.Chunk(m.Root, m.Chunks-1); err != nil || m.VerifyChunk(m.Chunks-1, d, p) != nil {
					t.Fatalf("reopened chunk: %v", err)
				}
			}
		})
	}
}

// A session resumed after an interruption is sent only the chunks it
// lacks; chunks from a different plaintext make the commit fail and are
// dropped; a committed session fills a blob the store already had in
// part.
func TestSessionResumeAndMismatch(t *testing.T) {
	data := randBytes(5*ChunkSize+3, 5)
	l, _ := BuildBytes(data)
	s, srv := newNode(t)
	nodes := []string{srv.URL}
	c := Client{Parallel: 1}
	ctx := context.Background()
	ss, err := c.OpenSessions(ctx, nodes, nil, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	id := ss[0].Session
	// Two chunks arrive, then the client stops.
	for i := range 2 {
		if err := s.PutSessionChunk(id, i, data[i*ChunkSize:(i+1)*ChunkSize]); err != nil {
			t.Fatal(err)
		}
	}
	ss, err = c.OpenSessions(ctx, nodes, []string{id}, int64(len(data)))
	if err != nil || ss[0].Session != id || len(ss[0].Missing) != l.Manifest.Chunks-2 {
		t.Fatalf("resumed session: %+v %v", ss, err)
	}
	m, sent, err := c.UploadSessions(ctx, nodes, ss, writeAll(data))
	if err != nil || m != l.Manifest || sent != l.Manifest.Chunks-2 {
		t.Fatalf("resume: sent %d, %v", sent, err)
	}
	if st, err := s.Status(m.Root); err != nil || !st.Complete {
		t.Fatalf("after resume: %+v %v", st, err)
	}
	// A committed session is gone: resuming it opens a new one.
	if ss, err := c.OpenSessions(ctx, nodes, []string{id}, int64(len(data))); err != nil || ss[0].Session == id || len(ss[0].Missing) != l.Manifest.Chunks {
		t.Fatalf("committed session reused: %+v %v", ss, err)
	}

	// The first chunk from one plaintext, the rest from another.
	other := bytes.Clone(data)
	other[0] ^= 1
	ss, _ = c.OpenSessions(ctx, nodes, nil, int64(len(data)))
	s.PutSessionChunk(ss[0].Session, 0, other[:ChunkSize])
	ss, _ = c.OpenSessions(ctx, nodes, []string{ss[0].Session}, int64(len(data)))
	_, _, err = c.UploadSessions(ctx, nodes, ss, writeAll(data))
	var e *Error
	if !errors.As(err, &e) || e.Code != "bad_proof" {
		t.Fatalf("mixed chunks committed: %v", err)
	}
	if _, err := s.SessionStatus(ss[0].Session); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused session kept: %v", err)
	}
	if blobs, _ := filepath.Glob(filepath.Join(s.Dir(), "[0-9a-f]*")); len(blobs) != 1 {
		t.Fatalf("%d blobs in the store, want 1", len(blobs))
	}

	// A blob posted and half uploaded the two-step way is completed by a
	// session.
	data2 := randBytes(3*ChunkSize, 6)
	l2, _ := BuildBytes(data2)
	if err := s.PutManifest(l2.Manifest); err != nil {
		t.Fatal(err)
	}
	p, _ := l2.Proof(1)
	if err := s.PutChunk(l2.Manifest.Root, 1, data2[ChunkSize:2*ChunkSize], p); err != nil {
		t.Fatal(err)
	}
	ss, _ = c.OpenSessions(ctx, nodes, nil, int64(len(data2)))
	if m, _, err := c.UploadSessions(ctx, nodes, ss, writeAll(data2)); err != nil || m != l2.Manifest {
		t.Fatalf("session into a partial blob: %v", err)
	}
	if st, err := s.Status(l2.Manifest.Root); err != nil || !st.Complete {
		t.Fatalf("partial blob after the session: %+v %v", st, err)
	}
}

// call sends a request to the blob routes and decodes an error body.
func call(t *testing.T, method, url string, body []byte) (int, Error) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e Error
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e
}

// Bad session input gets a clear error and stores nothing.
func TestSessionBadInput(t *testing.T) {
	s, srv := newNode(t)
	base := srv.URL + Prefix + "/sessions"
	data := randBytes(2*ChunkSize+5, 8)
	l, _ := BuildBytes(data)
	st, err := s.OpenSession(int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	u := base + "/" + st.Session
	mb, _ := json.Marshal(l.Manifest)
	big := l.Manifest
	big.Size, big.Chunks = big.Size+ChunkSize, big.Chunks+1
	bigb, _ := json.Marshal(big)
	for _, c := range []struct {
		name, method, url string
		body              []byte
		status            int
		code              string
	}{
		{"negative size", "POST", base, []byte(`{"size":-1}`), 400, "bad_request"},
		{"unknown field", "POST", base, []byte(`{"size":1,"root":"00"}`), 400, "bad_request"},
		{"over the limit", "POST", base, []byte(`{"size":1073741825}`), 413, "too_large"},
		{"unknown session", "GET", base + "/nope", nil, 404, "not_found"},
		{"chunk of unknown session", "PUT", base + "/nope/chunks/0", data[:ChunkSize], 404, "not_found"},
		{"short chunk", "PUT", u + "/chunks/0", data[:ChunkSize-1], 422, "bad_proof"},
		{"long last chunk", "PUT", u + "/chunks/2", data[:6], 422, "bad_proof"},
		{"chunk out of range", "PUT", u + "/chunks/3", data[:5], 404, "not_found"},
		{"chunk over the limit", "PUT", u + "/chunks/0", make([]byte, ChunkSize+1), 413, "too_large"},
		{"commit incomplete", "POST", u, mb, 409, "conflict"},
		{"commit another size", "POST", u, bigb, 409, "conflict"},
		{"commit bad manifest", "POST", u, []byte(`{"root":"zz"}`), 400, "bad_request"},
	} {
		status, e := call(t, c.method, c.url, c.body)
		if status != c.status || e.Code != c.code {
			t.Errorf("%s: %d %+v, want %d %s", c.name, status, e, c.status, c.code)
		}
	}
	// Nothing above stored a chunk or ended the session.
	if got, err := s.SessionStatus(st.Session); err != nil || len(got.Missing) != 3 {
		t.Fatalf("after bad input: %+v %v", got, err)
	}
	// A wrong root drops the session.
	for i := range 3 {
		if err := s.PutSessionChunk(st.Session, i, data[i*ChunkSize:min(len(data), (i+1)*ChunkSize)]); err != nil {
			t.Fatal(err)
		}
	}
	wrong := l.Manifest
	wrong.Root[0] ^= 1
	if _, err := s.CommitSession(st.Session, wrong); !errors.Is(err, ErrBadProof) {
		t.Fatalf("wrong root: %v", err)
	}
	if _, err := s.SessionStatus(st.Session); !errors.Is(err, ErrNotFound) {
		t.Fatalf("session kept after a wrong root: %v", err)
	}
	if blobs, _ := filepath.Glob(filepath.Join(s.Dir(), "[0-9a-f]*")); len(blobs) != 0 {
		t.Fatalf("blobs after a refused commit: %v", blobs)
	}
	// A writer that goes past the announced size fails.
	c := Client{}
	ss, _ := c.OpenSessions(context.Background(), []string{srv.URL}, nil, int64(len(data)-1))
	if _, _, err := c.UploadSessions(context.Background(), []string{srv.URL}, ss, writeAll(data)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("write past the size: %v", err)
	}
	ss, _ = c.OpenSessions(context.Background(), []string{srv.URL}, nil, int64(len(data)+1))
	if _, _, err := c.UploadSessions(context.Background(), []string{srv.URL}, ss, writeAll(data)); err == nil {
		t.Fatal("short write committed")
	}
}

// Past maxSessions, opening a session drops the least recently used one;
// a reopened store has none.
func TestSessionLimit(t *testing.T) {
	s, _ := newNode(t)
	var ids []string
	for range maxSessions {
		st, err := s.OpenSession(10)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, st.Session)
	}
	s.SessionStatus(ids[0]) // now the most recently used
	if _, err := s.OpenSession(10); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionStatus(ids[1]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("least recently used session kept: %v", err)
	}
	if _, err := s.SessionStatus(ids[0]); err != nil {
		t.Fatalf("recently used session dropped: %v", err)
	}
	r, err := Open(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.SessionStatus(ids[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("session survived a reopen: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(s.Dir(), sessionsDir, "*")); len(left) != 0 {
		t.Fatalf("session files left after a reopen: %v", left)
	}
}

func FuzzDecodeSessionRequest(f *testing.F) {
	for _, s := range []string{`{"size":0}`, `{"size":262144}`, `{"size":-1}`, `{"size":1}{}`, `{"root":"00"}`, `[]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := decodeSessionRequest(b)
		if err != nil {
			return
		}
		again, _ := json.Marshal(q)
		if q2, err := decodeSessionRequest(again); err != nil || q2 != q {
			t.Fatalf("%q decoded to %+v, which does not round-trip: %v", b, q, err)
		}
	})
}

// Chunks go to a session Run at a time, one request per stretch of
// consecutive chunks the node lacks; a request carrying several chunks is
// refused whole when its length cannot be theirs, and stores the chunks
// before a body that ends early.
func TestSessionRuns(t *testing.T) {
	data := randBytes(6*ChunkSize+9, 21)
	l, _ := BuildBytes(data)
	chunk := func(i int) []byte { return data[i*ChunkSize : min(len(data), (i+1)*ChunkSize)] }
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var puts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			mu.Lock()
			puts = append(puts, r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]+"?"+r.URL.RawQuery)
			mu.Unlock()
		}
		NewHandler(s).ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx := context.Background()
	for _, c := range []struct {
		run   int
		have  []int
		wants []string
	}{
		{1, nil, []string{"0?", "1?", "2?", "3?", "4?", "5?", "6?"}},
		{0, nil, []string{"0?count=4", "4?count=3"}},
		{3, nil, []string{"0?count=3", "3?count=3", "6?"}},
		{4, []int{1, 3}, []string{"0?", "2?", "4?count=3"}},
		{100, []int{6}, []string{"0?count=6"}},
	} {
		name := fmt.Sprintf("run %d, node has %v", c.run, c.have)
		cl := Client{Parallel: 1, Run: c.run}
		ss, err := cl.OpenSessions(ctx, []string{srv.URL}, nil, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range c.have {
			if err := s.PutSessionChunk(ss[0].Session, i, chunk(i)); err != nil {
				t.Fatal(err)
			}
		}
		ss, _ = cl.OpenSessions(ctx, []string{srv.URL}, []string{ss[0].Session}, int64(len(data)))
		mu.Lock()
		puts = nil
		mu.Unlock()
		m, sent, err := cl.UploadSessions(ctx, []string{srv.URL}, ss, writeAll(data))
		if err != nil || m != l.Manifest || sent != m.Chunks-len(c.have) {
			t.Fatalf("%s: %+v sent %d, %v", name, m, sent, err)
		}
		mu.Lock()
		got := slices.Clone(puts)
		mu.Unlock()
		if !slices.Equal(got, c.wants) {
			t.Errorf("%s: requests %v, want %v", name, got, c.wants)
		}
		var out bytes.Buffer
		if err := Fetch(ctx, m.Root, []string{srv.URL}, &out); err != nil || !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("%s: fetch: %v", name, err)
		}
	}

	// Bad runs: nothing stored, the session still open.
	st, _ := s.OpenSession(int64(len(data)))
	u := srv.URL + Prefix + "/sessions/" + st.Session + "/chunks/"
	for _, c := range []struct {
		name, path string
		body       []byte
		status     int
		code       string
	}{
		{"count 0", "0?count=0", nil, 400, "bad_request"},
		{"count over the limit", "0?count=65", nil, 400, "bad_request"},
		{"count not canonical", "0?count=02", data[:2*ChunkSize], 400, "bad_request"},
		{"count twice", "0?count=2&count=2", data[:2*ChunkSize], 400, "bad_request"},
		{"other query", "0?n=2", data[:2*ChunkSize], 400, "bad_request"},
		{"past the last chunk", "5?count=3", data[5*ChunkSize:], 404, "not_found"},
		{"one byte short", "0?count=2", data[:2*ChunkSize-1], 422, "bad_proof"},
		{"one byte long", "5?count=2", append(bytes.Clone(data[5*ChunkSize:]), 0), 422, "bad_proof"},
		{"over count chunks", "0?count=2", data[:2*ChunkSize+1], 413, "too_large"},
	} {
		status, e := call(t, http.MethodPut, u+c.path, c.body)
		if status != c.status || e.Code != c.code {
			t.Errorf("%s: %d %+v, want %d %s", c.name, status, e, c.status, c.code)
		}
	}
	if got, err := s.SessionStatus(st.Session); err != nil || len(got.Missing) != 7 {
		t.Fatalf("after bad runs: %+v %v", got, err)
	}
	// A body cut short without a length announced keeps the whole chunks
	// before the cut.
	_, err = s.PutSessionChunks(st.Session, 0, 3, bytes.NewReader(data[:2*ChunkSize+10]), -1, nil)
	if !errors.Is(err, ErrBadProof) || !strings.Contains(err.Error(), "ends within chunk 2") {
		t.Fatalf("short body: %v", err)
	}
	if got, _ := s.SessionStatus(st.Session); !slices.Equal(got.Missing, []int{2, 3, 4, 5, 6}) {
		t.Fatalf("after a short body: missing %v", got.Missing)
	}
	_, err = s.PutSessionChunks(st.Session, 5, 2, bytes.NewReader(append(bytes.Clone(data[5*ChunkSize:]), 1)), -1, nil)
	if !errors.Is(err, ErrBadProof) || !strings.Contains(err.Error(), "longer than chunks 5 to 6") {
		t.Fatalf("long body: %v", err)
	}
}
