package blob

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/provena/provena/merkle"
)

// getRunRaw asks url's node for chunk first of root with query (a run's
// ?count=n) and returns the status, the announced length, the body and the
// headers.
func getRunRaw(t *testing.T, url string, root merkle.Hash, first int, query string) (int, int64, []byte, http.Header) {
	t.Helper()
	resp, err := http.Get(url + Prefix + "/" + root.String() + "/chunks/" + strconv.Itoa(first) + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.ContentLength, b, resp.Header
}

// A run answer is the frames of the chunks asked for, one after the
// other, as many as the node can serve from the first: it stops at the
// blob's end and at a chunk found corrupt (which the node drops), and is
// an error only when not even the first chunk can be served.
func TestGetRun(t *testing.T) {
	data := randBytes(5*ChunkSize+99, 7)
	l, _ := BuildBytes(data)
	m := l.Manifest
	s, srv := newNode(t)
	var c Client
	if _, err := c.Upload(context.Background(), srv.URL, l, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	check := func(name string, first, count, want int, end string) {
		t.Helper()
		code, length, body, h := getRunRaw(t, srv.URL, m.Root, first, "?count="+strconv.Itoa(count))
		if got := h.Get(RunEndHeader); !strings.HasPrefix(got, end) || (end == "") != (got == "") {
			t.Fatalf("%s: %s %q, want %q...", name, RunEndHeader, got, end)
		}
		if code != http.StatusOK || length != int64(len(body)) {
			t.Fatalf("%s: HTTP %d, length %d for %d bytes", name, code, length, len(body))
		}
		frames, _, err := readRun(bytes.NewReader(body), m, first, min(count, m.Chunks-first), nil)
		if err != nil || len(frames) != want {
			t.Fatalf("%s: %d frames, want %d: %v", name, len(frames), want, err)
		}
		for k, f := range frames {
			if err := m.VerifyChunk(first+k, f.data, f.proof); err != nil {
				t.Fatalf("%s: frame %d: %v", name, k, err)
			}
		}
	}
	check("whole run", 0, 4, 4, "")
	check("one chunk", 5, 1, 1, "")
	check("past the end", 4, 8, 2, "not_found: ")
	check("every chunk", 0, MaxSessionRun, 6, "not_found: ")

	corruptChunk(t, s, m.Root, 2, 5)
	check("corrupt third", 0, 4, 2, "corrupt: chunk 2 of ")
	if st, _ := s.Status(m.Root); len(st.Missing) != 1 || st.Missing[0] != 2 {
		t.Fatalf("the corrupt chunk was not dropped: %+v", st)
	}
	if code, _, body, _ := getRunRaw(t, srv.URL, m.Root, 2, "?count=3"); code != http.StatusNotFound || !strings.Contains(string(body), "not_found") {
		t.Fatalf("run from a missing chunk: HTTP %d %s", code, body)
	}
	for _, q := range []string{"?count=0", "?count=65", "?count=x", "?count=02", "?count=2&count=3", "?count=2&x=1", "?x=1"} {
		if code, _, body, _ := getRunRaw(t, srv.URL, m.Root, 0, q); code != http.StatusBadRequest || !strings.Contains(string(body), "count") {
			t.Errorf("query %s: HTTP %d %s", q, code, body)
		}
	}
}

// readRun keeps the whole frames an answer starts with and says what is
// wrong with the rest.
func TestReadRun(t *testing.T) {
	data := randBytes(3*ChunkSize+10, 8)
	l, _ := BuildBytes(data)
	m := l.Manifest
	var run []byte
	for i := 1; i < 4; i++ {
		run = append(run, chunkFrame(t, l, data, i)...)
	}
	second := len(run) - len(chunkFrame(t, l, data, 3))
	cases := []struct {
		name   string
		body   []byte
		frames int
		err    string
	}{
		{"whole", run, 3, ""},
		{"ends at a frame", run[:second], 2, ""},
		{"cut in a frame", run[:second+10], 2, "chunk 3: read its frame"},
		{"empty", nil, 0, "chunk 1: read its frame: EOF"},
		{"bad magic", append([]byte("xxxx"), run[4:]...), 0, "missing pvc1"},
		{"long proof", append([]byte("pvc1\xff"), run[5:]...), 0, "proof of 255 hashes"},
		{"trailing byte", append(bytes.Clone(run), 0), 3, "more than 3 frames"},
	}
	for _, c := range cases {
		frames, _, err := readRun(bytes.NewReader(c.body), m, 1, 3, nil)
		if len(frames) != c.frames || (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %d frames, %v; want %d, %q", c.name, len(frames), err, c.frames, c.err)
		}
	}
	if _, _, err := readRun(bytes.NewReader(run), m, 2, 3, nil); err == nil {
		t.Error("a run past the blob's end was read")
	}
}

// chunkFrame is chunk i of data, laid out by l, framed with its proof.
func chunkFrame(t testing.TB, l *Layout, data []byte, i int) []byte {
	t.Helper()
	p, err := l.Proof(i)
	if err != nil {
		t.Fatal(err)
	}
	return EncodeChunk(p, data[i*ChunkSize:min((i+1)*ChunkSize, len(data))])
}

// FuzzReadRun: any answer is frames of the right lengths or an error,
// never a panic or a read past what was given.
func FuzzReadRun(f *testing.F) {
	data := randBytes(ChunkSize+40, 9)
	l, _ := BuildBytes(data)
	m := l.Manifest
	for i := range 2 {
		f.Add(chunkFrame(f, l, data, i), uint8(i), uint8(1))
	}
	f.Add(chunkFrame(f, l, data, 1)[:20], uint8(1), uint8(1))
	f.Add([]byte("pvc1\x00"), uint8(0), uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, first, count uint8) {
		frames, _, err := readRun(bytes.NewReader(b), m, int(first), int(count), nil)
		if int(first)+int(count) > m.Chunks || count == 0 {
			if err == nil {
				t.Fatal("run outside the blob read")
			}
			return
		}
		if len(frames) > int(count) {
			t.Fatalf("%d frames for a run of %d", len(frames), count)
		}
		for k, fr := range frames {
			if len(fr.data) != m.ChunkLen(int(first)+k) {
				t.Fatalf("frame %d of %d bytes", k, len(fr.data))
			}
		}
	})
}
