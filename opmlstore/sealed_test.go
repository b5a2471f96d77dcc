package opmlstore

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestSealedRoutes(t *testing.T) {
	dir := Dir(t.TempDir())
	h := NewHandler(dir)
	blob := []byte("age-encryption.org/v1 pretend ciphertext")
	sum := sha256.Sum256(blob)
	other := sha256.Sum256([]byte("other"))
	cases := []struct {
		name, method, path string
		body               []byte
		status             int
		code               string
	}{
		{"absent", http.MethodGet, Prefix + "sealed/" + hx(sum), nil, http.StatusNotFound, "not_found"},
		{"wrong hash", http.MethodPut, Prefix + "sealed/" + hx(other), blob, http.StatusBadRequest, "hash_mismatch"},
		{"good", http.MethodPut, Prefix + "sealed/" + hx(sum), blob, http.StatusOK, ""},
		{"read back", http.MethodGet, Prefix + "sealed/" + hx(sum), nil, http.StatusOK, ""},
		{"bad hash text", http.MethodGet, Prefix + "sealed/xyz", nil, http.StatusBadRequest, "bad_request"},
		{"method", http.MethodPost, Prefix + "sealed/" + hx(sum), nil, http.StatusMethodNotAllowed, "method_not_allowed"},
	}
	for _, c := range cases {
		status, e := do(t, h, c.method, c.path, c.body)
		if status != c.status || e.Code != c.code {
			t.Errorf("%s: %d %q, want %d %q", c.name, status, e.Code, c.status, c.code)
		}
	}

	// A fetcher with an empty store gets it from the node, checks and
	// caches it; a source serving other bytes under the name is rejected.
	srv := httptest.NewServer(h)
	defer srv.Close()
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("substituted")) }))
	defer liar.Close()
	f := &Fetcher{Store: Dir(t.TempDir()), Sources: []string{liar.URL, srv.URL}}
	got, err := f.Sealed(context.Background(), sum)
	if err != nil || string(got) != string(blob) {
		t.Fatalf("fetch: %q %v", got, err)
	}
	if b, err := f.Store.Sealed(sum); err != nil || string(b) != string(blob) {
		t.Fatalf("not cached: %v", err)
	}
	if _, err := (&Fetcher{Store: Dir(t.TempDir()), Sources: []string{liar.URL}}).Sealed(context.Background(), sum); err == nil {
		t.Fatal("a substituted blob was accepted")
	}
	up, err := UploadSealed(context.Background(), http.DefaultClient, srv.URL, []byte("second"))
	if err != nil || up != sha256.Sum256([]byte("second")) {
		t.Fatalf("upload: %x %v", up, err)
	}
}
