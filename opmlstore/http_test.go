package opmlstore

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/provena/provena/model"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/opml"
	"github.com/provena/provena/opml/opmltest"
)

func hx(h [32]byte) string { return hex.EncodeToString(h[:]) }

func do(t *testing.T, h http.Handler, method, path string, body []byte) (int, Error) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, bytes.NewReader(body)))
	var e Error
	if rec.Code != http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" {
			t.Fatalf("%s %s: status %d with body %q, want a JSON {code, message}", method, path, rec.Code, rec.Body.String())
		}
	}
	return rec.Code, e
}

func TestHandlerRoundTripAndBadUploads(t *testing.T) {
	m, err := opmltest.Model()
	if err != nil {
		t.Skip(err)
	}
	h := NewHandler(Dir(t.TempDir()))
	id := m.ID()
	pkg := m.Encode()
	in := opmltest.Input(4)
	root, err := opml.InputsRoot(m, in)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := EncodeInputs(id, in)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := json.Marshal(doc)
	otherIn := opmltest.Input(5)
	otherDoc, _ := EncodeInputs(id, otherIn)
	other, _ := json.Marshal(otherDoc)
	badNpy, _ := json.Marshal(InputsDoc{Model: hx(id), Inputs: map[string][]byte{"x": []byte("not npy")}})
	badName, _ := json.Marshal(InputsDoc{Model: hx(id), Inputs: map[string][]byte{"../x": doc.Inputs["x"]}})
	unknown, _ := json.Marshal(InputsDoc{Model: hx([32]byte{7}), Inputs: doc.Inputs})
	flipped := append([]byte(nil), pkg...)
	flipped[len(flipped)/2] ^= 0xff

	// Inputs before the model are refused: the root depends on the model.
	if code, e := do(t, h, "PUT", Prefix+"inputs/"+hx(root), good); code != http.StatusConflict || e.Code != "unknown_model" {
		t.Fatalf("inputs before model: %d %+v", code, e)
	}
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		status             int
		code               string
	}{
		{"garbage package", "PUT", Prefix + "models/" + hx(id), []byte("garbage"), 400, "bad_model"},
		{"empty package", "PUT", Prefix + "models/" + hx(id), nil, 400, "bad_model"},
		{"truncated package", "PUT", Prefix + "models/" + hx(id), pkg[:len(pkg)/3], 400, "bad_model"},
		{"package under another id", "PUT", Prefix + "models/" + hx([32]byte{1}), pkg, 400, "id_mismatch"},
		{"bad hex", "PUT", Prefix + "models/zz", pkg, 400, "bad_request"},
		{"short id", "GET", Prefix + "models/abcd", nil, 400, "bad_request"},
		{"missing model", "GET", Prefix + "models/" + hx([32]byte{2}), nil, 404, "not_found"},
		{"unknown kind", "GET", Prefix + "things/" + hx(id), nil, 404, "not_found"},
		{"no key", "GET", Prefix + "models", nil, 404, "not_found"},
		{"bad method", "DELETE", Prefix + "models/" + hx(id), nil, 405, "method_not_allowed"},
		{"put output with wrong root", "PUT", Prefix + "outputs/" + hx([32]byte{3}), doc.Inputs["x"], 400, "root_mismatch"},
		{"put output garbage", "PUT", Prefix + "outputs/" + hx([32]byte{3}), []byte{0x93, 'N'}, 400, "bad_output"},
	} {
		code, e := do(t, h, tc.method, tc.path, tc.body)
		if code != tc.status || e.Code != tc.code {
			t.Errorf("%s: got %d %+v, want %d %s", tc.name, code, e, tc.status, tc.code)
		}
	}
	if len(flipped) > 0 {
		if code, _ := do(t, h, "PUT", Prefix+"models/"+hx(id), flipped); code == http.StatusOK {
			t.Error("a package with a flipped byte was stored under the original id")
		}
	}
	if code, e := do(t, h, "PUT", Prefix+"models/"+hx(id), pkg); code != 200 {
		t.Fatalf("put model: %d %+v", code, e)
	}
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
		code   string
	}{
		{"not json", []byte("{"), 400, "bad_request"},
		{"other input under this root", other, 400, "root_mismatch"},
		{"bad npy", badNpy, 400, "bad_inputs"},
		{"path-like name", badName, 400, "bad_inputs"},
		{"unknown model", unknown, 409, "unknown_model"},
	} {
		code, e := do(t, h, "PUT", Prefix+"inputs/"+hx(root), tc.body)
		if code != tc.status || e.Code != tc.code {
			t.Errorf("inputs %s: got %d %+v, want %d %s", tc.name, code, e, tc.status, tc.code)
		}
	}
	if code, e := do(t, h, "GET", Prefix+"inputs/"+hx(root), nil); code != 404 {
		t.Fatalf("rejected inputs were stored: %d %+v", code, e)
	}
	if code, e := do(t, h, "PUT", Prefix+"inputs/"+hx(root), good); code != 200 {
		t.Fatalf("put inputs: %d %+v", code, e)
	}

	srv := httptest.NewServer(h)
	defer srv.Close()
	f := &Fetcher{Store: Dir(t.TempDir()), Sources: []string{"http://127.0.0.1:1", srv.URL}}
	ctx := context.Background()
	got, err := f.Inputs(ctx, root)
	if err != nil {
		t.Fatalf("fetch inputs: %v", err)
	}
	if r, err := opml.InputsRoot(m, got); err != nil || r != root {
		t.Fatalf("fetched inputs root %x, want %x (%v)", r, root, err)
	}
	// Both are cached now, model included.
	if _, err := f.Store.Model(id); err != nil {
		t.Fatalf("model not cached: %v", err)
	}
	if _, err := f.Store.Inputs(root); err != nil {
		t.Fatalf("inputs not cached: %v", err)
	}
	out := in["x"]
	oroot := model.ValueRoot(out, 0)
	if err := UploadOutput(ctx, srv.Client(), srv.URL, oroot, out); err != nil {
		t.Fatalf("upload output: %v", err)
	}
	if _, err := f.Output(ctx, oroot); err != nil {
		t.Fatalf("fetch output: %v", err)
	}
}

// tamperServer serves whatever body the test sets for any path.
func tamperServer(t *testing.T, body func(path string) []byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(body(r.URL.Path))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetcherRejectsTamperedContent(t *testing.T) {
	m, err := opmltest.Model()
	if err != nil {
		t.Skip(err)
	}
	id := m.ID()
	ctx := context.Background()
	pkg := m.Encode()

	// A node that serves a different (but valid) package under the id.
	other, err := opmltest.Model()
	if err != nil {
		t.Fatal(err)
	}
	other.Name += "-tampered"
	if other.ID() == id {
		t.Fatal("renaming did not change the id; pick another tamper")
	}
	srv := tamperServer(t, func(string) []byte { return other.Encode() })
	f := &Fetcher{Store: Dir(t.TempDir()), Sources: []string{srv.URL}}
	if _, err := f.Model(ctx, id); err == nil || !strings.Contains(err.Error(), "rejected") {
		t.Fatalf("tampered package: err %v, want a rejection", err)
	}
	if _, err := f.Store.Model(id); err == nil {
		t.Fatal("a tampered package was cached")
	}

	// A node that serves another input under the root.
	in := opmltest.Input(4)
	root, err := opml.InputsRoot(m, in)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := EncodeInputs(id, opmltest.Input(6))
	bad, _ := json.Marshal(doc)
	srv = tamperServer(t, func(p string) []byte {
		if strings.Contains(p, "/models/") {
			return pkg
		}
		return bad
	})
	f = &Fetcher{Store: Dir(t.TempDir()), Sources: []string{srv.URL}}
	if _, err := f.Inputs(ctx, root); err == nil || !strings.Contains(err.Error(), "rejected") {
		t.Fatalf("tampered inputs: err %v, want a rejection", err)
	}
	if _, err := f.Store.Inputs(root); err == nil {
		t.Fatal("tampered inputs were cached")
	}

	// A node that serves another output under the root.
	var buf bytes.Buffer
	if err := npy.Write(&buf, opmltest.Input(6)["x"]); err != nil {
		t.Fatal(err)
	}
	srv = tamperServer(t, func(string) []byte { return buf.Bytes() })
	f = &Fetcher{Store: Dir(t.TempDir()), Sources: []string{srv.URL}}
	if _, err := f.Output(ctx, model.ValueRoot(in["x"], 0)); err == nil || !strings.Contains(err.Error(), "rejected") {
		t.Fatalf("tampered output: err %v, want a rejection", err)
	}
}

func FuzzHandlerPut(f *testing.F) {
	f.Add([]byte("garbage"))
	f.Add([]byte(`{"model":"00","inputs":{"x":"AA=="}}`))
	f.Add([]byte{0x93, 'N', 'U', 'M', 'P', 'Y'})
	dir := Dir(f.TempDir())
	h := NewHandler(dir)
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("PUT", Prefix+"models/"+hx([32]byte{9}), bytes.NewReader(body)))
		if rec.Code == http.StatusOK {
			t.Fatalf("fuzzed package stored under a made-up id")
		}
		for _, k := range []string{"inputs", "outputs"} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("PUT", Prefix+k+"/"+hx([32]byte{9}), bytes.NewReader(body)))
			if rec.Code == http.StatusOK {
				t.Fatalf("fuzzed %s stored under a made-up root", k)
			}
		}
	})
}
