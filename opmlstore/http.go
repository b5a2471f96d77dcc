package opmlstore

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/provena/provena/model"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/opml"
	"github.com/provena/provena/tensor"
)

// The routes, all under Prefix:
//
//	PUT/GET /v1/opml/models/{model id}    the encoded package (.pvm bytes)
//	PUT/GET /v1/opml/inputs/{inputs root} InputsDoc as JSON
//	PUT/GET /v1/opml/outputs/{value root} the output tensor as .npy
//
// A PUT is stored only after the payload is checked against the id or root
// in its path. Errors are JSON {"code", "message"} like the node's API.
const Prefix = "/v1/opml/"

// Upload limits.
const (
	MaxModelBytes  = 512 << 20
	MaxInputsBytes = 64 << 20
)

// InputsDoc is the wire form of a job input: the model it is for (the
// inputs root depends on the model's input declarations) and each input
// tensor as .npy bytes.
type InputsDoc struct {
	Model  string            `json:"model"`
	Inputs map[string][]byte `json:"inputs"`
}

// Error is the JSON body of a failed request.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(Error{Code: code, Message: msg})
}

// Wrap serves the opML routes from store and everything else from next.
func Wrap(next http.Handler, store Dir) http.Handler {
	h := NewHandler(store)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, Prefix) {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// NewHandler serves the opML routes from store.
func NewHandler(store Dir) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
		kind, key, ok2 := strings.Cut(rest, "/")
		if !ok || !ok2 {
			writeErr(w, http.StatusNotFound, "not_found", "no route "+r.URL.Path)
			return
		}
		var h [32]byte
		if b, err := hex.DecodeString(key); err != nil || len(b) != 32 {
			writeErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("%q is not a 64-character hex hash", key))
			return
		} else {
			copy(h[:], b)
		}
		switch {
		case kind == "models" && r.Method == http.MethodGet:
			getModel(w, store, h)
		case kind == "models" && r.Method == http.MethodPut:
			putModel(w, r, store, h)
		case kind == "inputs" && r.Method == http.MethodGet:
			getInputs(w, store, h)
		case kind == "inputs" && r.Method == http.MethodPut:
			putInputs(w, r, store, h)
		case kind == "outputs" && r.Method == http.MethodGet:
			getOutput(w, store, h)
		case kind == "outputs" && r.Method == http.MethodPut:
			putOutput(w, r, store, h)
		case kind == "sealed" && r.Method == http.MethodGet:
			getSealed(w, store, h)
		case kind == "sealed" && r.Method == http.MethodPut:
			putSealed(w, r, store, h)
		case kind == "models" || kind == "inputs" || kind == "outputs" || kind == "sealed":
			writeErr(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" "+r.URL.Path)
		default:
			writeErr(w, http.StatusNotFound, "not_found", "no route "+r.URL.Path)
		}
	})
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeErr(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body over %d bytes", limit))
		} else {
			writeErr(w, http.StatusBadRequest, "bad_request", "read body: "+err.Error())
		}
		return nil, false
	}
	return b, true
}

func notFound(w http.ResponseWriter, err error) {
	if errors.Is(err, os.ErrNotExist) {
		writeErr(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	writeErr(w, http.StatusInternalServerError, "internal", err.Error())
}

func getModel(w http.ResponseWriter, s Dir, id [32]byte) {
	m, err := s.Model(id)
	if err != nil {
		notFound(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(m.Encode())
}

func putModel(w http.ResponseWriter, r *http.Request, s Dir, id [32]byte) {
	b, ok := readBody(w, r, MaxModelBytes)
	if !ok {
		return
	}
	m, err := decodeModel(b)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "bad_model", err.Error())
		return
	}
	if got := m.ID(); got != id {
		writeErr(w, http.StatusBadRequest, "id_mismatch", fmt.Sprintf("package has id %x, path says %x", got, id))
		return
	}
	if err := s.PutModel(m); err != nil {
		writeErr(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"model_id": hex.EncodeToString(id[:])})
}

// decodeModel is model.Decode made panic-safe for untrusted bytes.
func decodeModel(b []byte) (m *model.Model, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("decode model package: %v", r)
		}
	}()
	m, err = model.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("decode model package: %w", err)
	}
	return m, nil
}

func getInputs(w http.ResponseWriter, s Dir, root [32]byte) {
	id, err := s.InputsModel(root)
	if err != nil {
		notFound(w, err)
		return
	}
	in, err := s.Inputs(root)
	if err != nil {
		notFound(w, err)
		return
	}
	doc, err := EncodeInputs(id, in)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(doc)
}

func putInputs(w http.ResponseWriter, r *http.Request, s Dir, root [32]byte) {
	b, ok := readBody(w, r, MaxInputsBytes)
	if !ok {
		return
	}
	var doc InputsDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		writeErr(w, http.StatusBadRequest, "bad_request", "inputs document: "+err.Error())
		return
	}
	id, in, err := doc.Decode()
	if err != nil {
		writeErr(w, http.StatusBadRequest, "bad_inputs", err.Error())
		return
	}
	m, err := s.Model(id)
	if err != nil {
		writeErr(w, http.StatusConflict, "unknown_model", fmt.Sprintf("upload model %x before its inputs: %v", id, err))
		return
	}
	got, err := opml.InputsRoot(m, in)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "bad_inputs", err.Error())
		return
	}
	if got != root {
		writeErr(w, http.StatusBadRequest, "root_mismatch", fmt.Sprintf("inputs have root %x, path says %x", got, root))
		return
	}
	if _, err := s.PutInputs(m, in); err != nil {
		writeErr(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"inputs_root": hex.EncodeToString(root[:])})
}

func getOutput(w http.ResponseWriter, s Dir, root [32]byte) {
	t, err := s.Output(root)
	if err != nil {
		notFound(w, err)
		return
	}
	var buf bytes.Buffer
	if err := npy.Write(&buf, t); err != nil {
		writeErr(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(buf.Bytes())
}

func putOutput(w http.ResponseWriter, r *http.Request, s Dir, root [32]byte) {
	b, ok := readBody(w, r, MaxInputsBytes)
	if !ok {
		return
	}
	t, err := decodeNpy(b)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "bad_output", err.Error())
		return
	}
	if got := model.ValueRoot(t, 0); got != root {
		writeErr(w, http.StatusBadRequest, "root_mismatch", fmt.Sprintf("output has root %x, path says %x", got, root))
		return
	}
	if err := s.PutOutput(root, t); err != nil {
		writeErr(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"value_root": hex.EncodeToString(root[:])})
}

// decodeNpy reads one untrusted .npy tensor without panicking.
func decodeNpy(b []byte) (t *tensor.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("decode tensor: %v", r)
		}
	}()
	t, err = npy.Read(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decode tensor: %w", err)
	}
	return t, nil
}

// EncodeInputs builds the wire form of a job input for model id.
func EncodeInputs(id [32]byte, in map[string]*tensor.Tensor) (*InputsDoc, error) {
	doc := &InputsDoc{Model: hex.EncodeToString(id[:]), Inputs: map[string][]byte{}}
	for name, t := range in {
		var buf bytes.Buffer
		if err := npy.Write(&buf, t); err != nil {
			return nil, fmt.Errorf("encode input %s: %w", name, err)
		}
		doc.Inputs[name] = buf.Bytes()
	}
	return doc, nil
}

// Decode parses the model id and tensors of a wire input; it does not check
// them against a root.
func (d *InputsDoc) Decode() (id [32]byte, in map[string]*tensor.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decode inputs: %v", r)
		}
	}()
	b, err := hex.DecodeString(d.Model)
	if err != nil || len(b) != 32 {
		return id, nil, fmt.Errorf("inputs model %q is not a 64-character hex id", d.Model)
	}
	copy(id[:], b)
	if len(d.Inputs) == 0 {
		return id, nil, errors.New("inputs document has no inputs")
	}
	in = map[string]*tensor.Tensor{}
	for name, raw := range d.Inputs {
		if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
			return id, nil, fmt.Errorf("input name %q is not a plain name", name)
		}
		t, err := decodeNpy(raw)
		if err != nil {
			return id, nil, fmt.Errorf("input %s: %w", name, err)
		}
		in[name] = t
	}
	return id, in, nil
}

// Fetcher reads from a local store and, for what it lacks, from the opML
// routes of other nodes (API base URLs), checking every fetched package
// against its id and every fetched input against its root before caching it
// locally.
type Fetcher struct {
	Store   Dir
	Sources []string
	HTTP    *http.Client
}

func (f *Fetcher) client() *http.Client {
	if f.HTTP != nil {
		return f.HTTP
	}
	return http.DefaultClient
}

func (f *Fetcher) get(ctx context.Context, base, path string, limit int64) ([]byte, error) {
	u := strings.TrimRight(base, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("GET %s: body over %d bytes", u, limit)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, respErr(resp.Status, b))
	}
	return b, nil
}

func respErr(status string, b []byte) error {
	var e Error
	if json.Unmarshal(b, &e) == nil && e.Code != "" {
		return &e
	}
	return fmt.Errorf("%s: %s", status, bytes.TrimSpace(b))
}

// Model returns the package with id from the local store or, failing that,
// from the first source that serves a package with that id.
func (f *Fetcher) Model(ctx context.Context, id [32]byte) (*model.Model, error) {
	m, lerr := f.Store.Model(id)
	if lerr == nil {
		return m, nil
	}
	errs := []error{lerr}
	for _, src := range f.Sources {
		b, err := f.get(ctx, src, Prefix+"models/"+hex.EncodeToString(id[:]), MaxModelBytes)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m, err := decodeModel(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("model %x from %s: %w", id, src, err))
			continue
		}
		if got := m.ID(); got != id {
			errs = append(errs, fmt.Errorf("model from %s has id %x, want %x: rejected", src, got, id))
			continue
		}
		if err := f.Store.PutModel(m); err != nil {
			return nil, fmt.Errorf("cache model %x: %w", id, err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("model %x: %w", id, errors.Join(errs...))
}

// Inputs returns the job input with root from the local store or, failing
// that, from the first source that serves inputs with that root.
func (f *Fetcher) Inputs(ctx context.Context, root [32]byte) (map[string]*tensor.Tensor, error) {
	in, lerr := f.Store.Inputs(root)
	if lerr == nil {
		return in, nil
	}
	errs := []error{lerr}
	for _, src := range f.Sources {
		b, err := f.get(ctx, src, Prefix+"inputs/"+hex.EncodeToString(root[:]), MaxInputsBytes)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var doc InputsDoc
		if err := json.Unmarshal(b, &doc); err != nil {
			errs = append(errs, fmt.Errorf("inputs %x from %s: %w", root, src, err))
			continue
		}
		id, in, err := doc.Decode()
		if err != nil {
			errs = append(errs, fmt.Errorf("inputs %x from %s: %w", root, src, err))
			continue
		}
		m, err := f.Model(ctx, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("inputs %x from %s: %w", root, src, err))
			continue
		}
		got, err := opml.InputsRoot(m, in)
		if err != nil {
			errs = append(errs, fmt.Errorf("inputs %x from %s: %w", root, src, err))
			continue
		}
		if got != root {
			errs = append(errs, fmt.Errorf("inputs from %s have root %x, want %x: rejected", src, got, root))
			continue
		}
		if _, err := f.Store.PutInputs(m, in); err != nil {
			return nil, fmt.Errorf("cache inputs %x: %w", root, err)
		}
		return in, nil
	}
	return nil, fmt.Errorf("inputs %x: %w", root, errors.Join(errs...))
}

// Output returns the job output with value root from the local store or,
// failing that, from the first source whose copy has that root.
func (f *Fetcher) Output(ctx context.Context, root [32]byte) (*tensor.Tensor, error) {
	t, lerr := f.Store.Output(root)
	if lerr == nil {
		return t, nil
	}
	errs := []error{lerr}
	for _, src := range f.Sources {
		b, err := f.get(ctx, src, Prefix+"outputs/"+hex.EncodeToString(root[:]), MaxInputsBytes)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t, err := decodeNpy(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("output %x from %s: %w", root, src, err))
			continue
		}
		if got := model.ValueRoot(t, 0); got != root {
			errs = append(errs, fmt.Errorf("output from %s has root %x, want %x: rejected", src, got, root))
			continue
		}
		if err := f.Store.PutOutput(root, t); err != nil {
			return nil, fmt.Errorf("cache output %x: %w", root, err)
		}
		return t, nil
	}
	return nil, fmt.Errorf("output %x: %w", root, errors.Join(errs...))
}

// UploadOutput stores a job output under its value root on the node at base.
func UploadOutput(ctx context.Context, c *http.Client, base string, root [32]byte, t *tensor.Tensor) error {
	var buf bytes.Buffer
	if err := npy.Write(&buf, t); err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	return put(ctx, c, strings.TrimRight(base, "/")+Prefix+"outputs/"+hex.EncodeToString(root[:]), "application/octet-stream", buf.Bytes())
}

func put(ctx context.Context, c *http.Client, u, ctype string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT %s: %w", u, respErr(resp.Status, b))
	}
	return nil
}

// UploadModel stores m on the node at base.
func UploadModel(ctx context.Context, c *http.Client, base string, m *model.Model) error {
	id := m.ID()
	return put(ctx, c, strings.TrimRight(base, "/")+Prefix+"models/"+hex.EncodeToString(id[:]), "application/octet-stream", m.Encode())
}

// UploadInputs stores a job input of m on the node at base (which must
// hold m) and returns its root.
func UploadInputs(ctx context.Context, c *http.Client, base string, m *model.Model, in map[string]*tensor.Tensor) ([32]byte, error) {
	root, err := opml.InputsRoot(m, in)
	if err != nil {
		return root, err
	}
	doc, err := EncodeInputs(m.ID(), in)
	if err != nil {
		return root, err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return root, err
	}
	return root, put(ctx, c, strings.TrimRight(base, "/")+Prefix+"inputs/"+hex.EncodeToString(root[:]), "application/json", b)
}
