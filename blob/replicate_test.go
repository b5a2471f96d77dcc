package blob

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReplicate: node A holds the blob (with one chunk corrupted on its
// disk), B nothing, C half of it, and L serves A's chunks with a flipped
// byte. Replicate completes B and C with verified chunks only, and A's
// corrupted chunk is repaired from the others.
func TestReplicate(t *testing.T) {
	data := randBytes(6*ChunkSize+5, 9)
	l, _ := BuildBytes(data)
	m := l.Manifest
	sa, a := newNode(t)
	sb, b := newNode(t)
	sc, c := newNode(t)
	var cl Client
	if _, err := cl.Upload(context.Background(), a.URL, l, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := sc.PutManifest(m); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		p, _ := l.Proof(i)
		if err := sc.PutChunk(m.Root, i, data[i*ChunkSize:(i+1)*ChunkSize], p); err != nil {
			t.Fatal(err)
		}
	}
	// Corrupt chunk 4 on A's disk: A drops it when it next reads it.
	corruptChunk(t, sa, m.Root, 4, -1)
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		NewHandler(sa).ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/chunks/") && rec.Code == 200 {
			body[len(body)-1] ^= 1
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	}))
	defer liar.Close()

	// First pass: chunk 4 is intact nowhere (A's is corrupt, L lies, C
	// lacks it), so B and C stop there, having stored only verified chunks.
	nodes := []string{a.URL, liar.URL, b.URL, c.URL}
	_, err := cl.Replicate(context.Background(), m, nodes)
	if err == nil || !strings.Contains(err.Error(), "chunk 4") {
		t.Fatalf("replicate with chunk 4 nowhere intact: %v", err)
	}
	// Repair A from the original bytes, then replicate again: every node
	// completes, each sent only what it lacked.
	if n, err := cl.Upload(context.Background(), a.URL, l, bytes.NewReader(data)); err != nil || n != 1 {
		t.Fatalf("repair A: %d %v", n, err)
	}
	stB, _ := sb.Status(m.Root)
	stC, _ := sc.Status(m.Root)
	sent, err := cl.Replicate(context.Background(), m, nodes)
	if err != nil {
		t.Fatal(err)
	}
	if sent[0] != 0 || sent[1] != 0 || sent[2] != len(stB.Missing) || sent[3] != len(stC.Missing) || sent[2] == 0 || sent[3] == 0 {
		t.Fatalf("chunks sent per node %v, want 0, 0, %d, %d (what B and C lacked)", sent, len(stB.Missing), len(stC.Missing))
	}
	for name, s := range map[string]*Store{"A": sa, "B": sb, "C": sc} {
		st, err := s.Status(m.Root)
		if err != nil || !st.Complete {
			t.Fatalf("%s: %+v %v", name, st, err)
		}
	}
	var out bytes.Buffer
	if err := cl.FetchManifest(context.Background(), m, []string{b.URL}, &out); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("fetch from B alone: %v", err)
	}
	// One node and nothing to copy from.
	_, e := newNode(t)
	if _, err := cl.Replicate(context.Background(), m, []string{e.URL}); err == nil || !strings.Contains(err.Error(), "no other node") {
		t.Fatalf("lone node: %v", err)
	}
}
