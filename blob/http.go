package blob

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/provena/provena/merkle"
)

// Prefix is the URL path the handler serves under. Routes:
//
//	POST /v1/blobs                        manifest JSON -> Status
//	GET  /v1/blobs/{root}                 -> Status (which chunks are missing)
//	PUT  /v1/blobs/{root}/chunks/{index}  EncodeChunk(proof, data) -> Status of the chunk
//	GET  /v1/blobs/{root}/chunks/{index}[?count=n]
//	                                      -> EncodeChunk(proof, data) of chunk index; with count,
//	                                      the frames of chunks index..index+n-1 one after the
//	                                      other (n at most MaxSessionRun), fewer when this node
//	                                      cannot serve them all (missing, corrupt, past the end)
//
// Upload sessions (session.go), for chunks sent before the root is known:
//
//	POST /v1/blobs/sessions                        {"size": n} -> SessionStatus
//	GET  /v1/blobs/sessions/{id}                   -> SessionStatus
//	PUT  /v1/blobs/sessions/{id}/chunks/{index}[?count=n]
//	                                               the bytes of chunks index..index+n-1 (n = 1 by
//	                                               default, at most MaxSessionRun) -> {"stored": true}
//	POST /v1/blobs/sessions/{id}                   manifest JSON -> Status (the blob)
//
// Errors are JSON {"code", "message"} like the node's API, with codes
// bad_request, not_found, too_large, refused, conflict, bad_proof, corrupt,
// internal.
const Prefix = "/v1/blobs"

// Error is the JSON body of a failed request.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// NewHandler serves store over HTTP under Prefix. Mount it on both
// Prefix and Prefix+"/".
func NewHandler(store *Store) http.Handler {
	h := &handler{s: store}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+Prefix, h.postManifest)
	mux.HandleFunc("GET "+Prefix+"/{root}", h.status)
	mux.HandleFunc("PUT "+Prefix+"/{root}/chunks/{index}", h.putChunk)
	mux.HandleFunc("GET "+Prefix+"/{root}/chunks/{index}", h.getChunk)
	mux.HandleFunc("POST "+Prefix+"/sessions", h.openSession)
	mux.HandleFunc("GET "+Prefix+"/sessions/{id}", h.sessionStatus)
	mux.HandleFunc("PUT "+Prefix+"/sessions/{id}/chunks/{index}", h.putSessionChunk)
	mux.HandleFunc("POST "+Prefix+"/sessions/{id}", h.commitSession)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, "not_found", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// Wrap serves the blob routes from store and everything else from next:
// the one line a node needs to put the store on its API listener.
func Wrap(next http.Handler, store *Store) http.Handler {
	bh := NewHandler(store)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == Prefix || strings.HasPrefix(r.URL.Path, Prefix+"/") {
			bh.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type handler struct{ s *Store }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, Error{Code: code, Message: msg})
}

// fail maps a store error to an HTTP error.
func fail(w http.ResponseWriter, err error) {
	status, code := errorCode(err)
	writeErr(w, status, code, err.Error())
}

// errorCode is the HTTP status and error code of a store error.
func errorCode(err error) (int, string) {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, ErrRefused):
		return http.StatusForbidden, "refused"
	case errors.Is(err, ErrConflict):
		return http.StatusConflict, "conflict"
	case errors.Is(err, ErrBadProof):
		return http.StatusUnprocessableEntity, "bad_proof"
	case errors.Is(err, ErrCorrupt):
		return http.StatusInternalServerError, "corrupt"
	default:
		return http.StatusInternalServerError, "internal"
	}
}

// RunEndHeader, on a run answer that holds fewer chunks than asked for,
// says why it ends there ("code: message", as Error): the chunk after the
// last frame is missing, corrupt (and now dropped) or past the blob's end.
const RunEndHeader = "Provena-Run-End"

// readBody reads at most limit bytes; a longer body is ErrTooLarge.
func readBody(r *http.Request, limit int) ([]byte, error) { return readBodyInto(nil, r, limit) }

// readBodyInto is readBody reusing buf's storage when it is large enough.
func readBodyInto(buf []byte, r *http.Request, limit int) ([]byte, error) {
	if r.ContentLength > int64(limit) {
		return nil, fmt.Errorf("request body of %d bytes over %d: %w", r.ContentLength, limit, ErrTooLarge)
	}
	b, err := readAllSized(buf, r.Body, r.ContentLength, limit)
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("request body over %d bytes: %w", limit, ErrTooLarge)
	}
	return b, nil
}

// readManifest decodes the request's manifest, answering the request
// itself when it cannot.
func readManifest(w http.ResponseWriter, r *http.Request) (Manifest, bool) {
	b, err := readBody(r, maxManifestBytes)
	if err != nil {
		fail(w, err)
		return Manifest{}, false
	}
	m, err := DecodeManifest(b)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			fail(w, err)
		} else {
			writeErr(w, http.StatusBadRequest, "bad_request", err.Error())
		}
		return Manifest{}, false
	}
	return m, true
}

func (h *handler) postManifest(w http.ResponseWriter, r *http.Request) {
	m, ok := readManifest(w, r)
	if !ok {
		return
	}
	if err := h.s.PutManifest(m); err != nil {
		fail(w, err)
		return
	}
	st, err := h.s.Status(m.Root)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func parseRoot(w http.ResponseWriter, r *http.Request) (merkle.Hash, bool) {
	root, err := merkle.ParseHash(r.PathValue("root"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "bad_request", err.Error())
		return root, false
	}
	return root, true
}

func parseIndex(w http.ResponseWriter, r *http.Request) (int, bool) {
	s := r.PathValue("index")
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 || i >= MaxChunks || strconv.Itoa(i) != s {
		writeErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("chunk index %q is not an integer in [0,%d)", s, MaxChunks))
		return 0, false
	}
	return i, true
}

// parseCount reads the optional ?count=n of a request for a run of
// consecutive chunks: 1 without it.
func parseCount(w http.ResponseWriter, r *http.Request) (int, bool) {
	if r.URL.RawQuery == "" {
		return 1, true
	}
	q := r.URL.Query()
	c := q.Get("count")
	n, err := strconv.Atoi(c)
	if err != nil || n < 1 || n > MaxSessionRun || strconv.Itoa(n) != c || len(q) != 1 || len(q["count"]) != 1 {
		writeErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("query %q: want only count, an integer in [1,%d]", r.URL.RawQuery, MaxSessionRun))
		return 0, false
	}
	return n, true
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	root, ok := parseRoot(w, r)
	if !ok {
		return
	}
	st, err := h.s.Status(root)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (h *handler) putChunk(w http.ResponseWriter, r *http.Request) {
	root, ok := parseRoot(w, r)
	if !ok {
		return
	}
	i, ok := parseIndex(w, r)
	if !ok {
		return
	}
	fp := getFrame()
	defer putFrame(fp)
	b, err := readBodyInto(*fp, r, maxFramedChunk)
	if err != nil {
		fail(w, err)
		return
	}
	*fp = b
	if _, _, err := DecodeChunk(b); err != nil {
		writeErr(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if err := h.s.PutFramed(root, i, b); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"root": root.String(), "index": i, "stored": true})
}

func (h *handler) getChunk(w http.ResponseWriter, r *http.Request) {
	root, ok := parseRoot(w, r)
	if !ok {
		return
	}
	i, ok := parseIndex(w, r)
	if !ok {
		return
	}
	count, ok := parseCount(w, r)
	if !ok {
		return
	}
	// Every chunk of the run is checked against its CRC first (framedInto
	// drops one that fails), so the answer has a length and ends at the
	// first chunk this node cannot serve; the reader knows each frame's
	// length from the manifest and fetches the rest elsewhere. Then each
	// chunk's bytes go from the page cache to the socket by sendfile
	// (net/http does it for a file behind a LimitedReader), sparing a copy
	// per byte; the reader checks every chunk against the root anyway.
	fp := getFrame()
	defer putFrame(fp)
	var heads []byte
	var lens [MaxSessionRun]int
	n, total := 0, 0
	for j := i; j < i+count; j++ {
		b, err := h.s.framedInto(*fp, root, j)
		if err != nil {
			if j == i {
				fail(w, err)
				return
			}
			_, code := errorCode(err)
			w.Header().Set(RunEndHeader, code+": "+strings.ReplaceAll(err.Error(), "\n", " "))
			break
		}
		*fp = b
		head := len(chunkMagic) + 1 + 32*int(b[len(chunkMagic)])
		heads = append(heads, b[:head]...)
		lens[n] = len(b) - head
		n++
		total += len(b)
	}
	data, err := h.s.openData(root)
	if err != nil {
		fail(w, err)
		return
	}
	defer data.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(total))
	w.WriteHeader(http.StatusOK)
	for k := range n {
		head := len(chunkMagic) + 1 + 32*int(heads[len(chunkMagic)])
		if _, err := w.Write(heads[:head]); err != nil {
			return
		}
		heads = heads[head:]
		if _, err := data.Seek(int64(i+k)*ChunkSize, io.SeekStart); err != nil {
			// The answer comes out short of its length: net/http closes
			// the connection and the reader keeps the frames before.
			return
		}
		if _, err := io.Copy(w, io.LimitReader(data, int64(lens[k]))); err != nil {
			return
		}
	}
}

// sessionRequest opens an upload session.
type sessionRequest struct {
	Size int64 `json:"size"`
}

// decodeSessionRequest parses POST /v1/blobs/sessions's body.
func decodeSessionRequest(b []byte) (sessionRequest, error) {
	var q sessionRequest
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return q, fmt.Errorf("decode session request: %w", err)
	}
	if dec.More() {
		return q, errors.New("decode session request: trailing data")
	}
	return q, nil
}

func (h *handler) openSession(w http.ResponseWriter, r *http.Request) {
	b, err := readBody(r, maxManifestBytes)
	if err != nil {
		fail(w, err)
		return
	}
	q, err := decodeSessionRequest(b)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if q.Size < 0 {
		writeErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("negative size %d", q.Size))
		return
	}
	st, err := h.s.OpenSession(q.Size)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (h *handler) sessionStatus(w http.ResponseWriter, r *http.Request) {
	st, err := h.s.SessionStatus(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (h *handler) putSessionChunk(w http.ResponseWriter, r *http.Request) {
	i, ok := parseIndex(w, r)
	if !ok {
		return
	}
	count, ok := parseCount(w, r)
	if !ok {
		return
	}
	// Refused before a byte is read when the length announced cannot be
	// count chunks (the store checks each chunk's length as it reads).
	if r.ContentLength > int64(count)*ChunkSize {
		fail(w, fmt.Errorf("request body of %d bytes over %d chunks of %d: %w", r.ContentLength, count, ChunkSize, ErrTooLarge))
		return
	}
	fp := getFrame()
	defer putFrame(fp)
	id := r.PathValue("id")
	b, err := h.s.PutSessionChunks(id, i, count, r.Body, r.ContentLength, *fp)
	*fp = b[:0]
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"session": id, "index": i, "count": count, "stored": true})
}

func (h *handler) commitSession(w http.ResponseWriter, r *http.Request) {
	m, ok := readManifest(w, r)
	if !ok {
		return
	}
	st, err := h.s.CommitSession(r.PathValue("id"), m)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// readAllSized reads at most limit+1 bytes, into buf's storage when it is
// large enough and otherwise allocating once when the length is announced
// (a chunk is 256 KiB; io.ReadAll would grow and copy ten times).
func readAllSized(buf []byte, rd io.Reader, announced int64, limit int) ([]byte, error) {
	if announced < 0 || announced > int64(limit) {
		return io.ReadAll(io.LimitReader(rd, int64(limit)+1))
	}
	b := buf[:0]
	if int64(cap(b)) < announced {
		b = make([]byte, 0, announced+1)
	}
	b = b[:announced]
	if _, err := io.ReadFull(rd, b); err != nil {
		return nil, err
	}
	// A body longer than announced is an error in net/http; make sure.
	var one [1]byte
	if n, _ := rd.Read(one[:]); n > 0 {
		return nil, errors.New("body longer than its Content-Length")
	}
	return b, nil
}

// frames recycles chunk buffers on both sides of a transfer: at GB/s, a
// fresh 256 KiB buffer per request is hundreds of MiB/s for the GC to
// clear and collect. A bounded free list rather than a sync.Pool, which
// the GC empties every cycle (a few times per 256 MiB moved), after which
// every buffer is fresh memory to fault in again; 32 buffers (8 MiB) cover
// the chunks in flight of both directions of one transfer.
var frames = make(chan *[]byte, 32)

func getFrame() *[]byte {
	select {
	case b := <-frames:
		return b
	default:
		return new([]byte)
	}
}

// putFrame returns a buffer to the free list; its contents must no longer
// be referenced.
func putFrame(b *[]byte) {
	if cap(*b) > maxFramedChunk+1 {
		return
	}
	select {
	case frames <- b:
	default:
	}
}

// runBufs recycles the buffers of fetched runs, for the same reason as
// frames: 8 runs of DefaultRun chunks are 8 MiB.
var runBufs = make(chan *[]byte, 8)

func getRunBuf() *[]byte {
	select {
	case b := <-runBufs:
		return b
	default:
		return new([]byte)
	}
}

// putRunBuf returns a run buffer to the free list; its contents must no
// longer be referenced. A buffer grown for a longer run than DefaultRun's
// is left to the GC.
func putRunBuf(b *[]byte) {
	if cap(*b) > DefaultRun*(maxFrameHead+ChunkSize) {
		return
	}
	select {
	case runBufs <- b:
	default:
	}
}
