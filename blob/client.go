package blob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/provena/provena/merkle"
)

// Client uploads to and fetches from nodes' blob handlers.
type Client struct {
	// HTTP is the client used; nil means a client like http.DefaultClient
	// that keeps enough idle connections per node for Parallel.
	HTTP *http.Client
	// Parallel is how many requests move chunks at once; 0 means
	// InFlight's default.
	Parallel int
	// Run is how many consecutive chunks one request carries, an
	// upload-session PUT or a fetch; 0 means DefaultRun.
	Run int
}

// DefaultRun is the chunks per upload-session PUT or fetch by default: a
// request costs about 0.1 ms of CPU on each side besides its bytes
// (measured on the 2-core development machine), a tenth of a 256 KiB
// chunk's hashing, sealing and copying, so one request per 1 MiB instead
// of per chunk takes most of that off; the uploader then holds 2 MiB per
// request in flight, the fetcher 1 MiB. Runs of 8 and 16 measured no
// faster there in either direction (bench data, alternated series) and
// hold 15-40 MiB more at the peak.
const DefaultRun = 4

// RunLen is how many consecutive chunks one request carries: Run, at
// most MaxSessionRun, or DefaultRun.
func (c Client) RunLen() int {
	if c.Run > 0 {
		return min(c.Run, MaxSessionRun)
	}
	return DefaultRun
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// defaultHTTP keeps enough idle connections per node for every chunk in
// flight: http.DefaultTransport keeps 2, so with 4 or more in flight each
// extra request would open (and leave in TIME_WAIT) a new connection.
var defaultHTTP = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return wholeBodyConn{c}, nil
	}
	return &http.Client{Transport: t}
}()

// wholeBodyConn writes a request body held in memory (a chunk run) with one
// write. net/http passes a body of known length to the connection inside
// an io.LimitedReader, which hides the body's WriterTo, so without this the
// connection copies it into a 32 KiB buffer and writes it piece by piece.
type wholeBodyConn struct{ net.Conn }

func (c wholeBodyConn) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		if br, ok := lr.R.(interface {
			io.WriterTo
			Len() int
		}); ok && int64(br.Len()) <= lr.N {
			n, err := br.WriteTo(c.Conn)
			lr.N -= n
			return n, err
		}
	}
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

func (c *Client) parallel() int { return c.InFlight() }

// InFlight is how many requests move chunks at once (one chunk each when
// fetching, up to Run chunks each when uploading to a session): Parallel,
// or by default one per CPU between 4 and 16, since each request in flight
// costs its latency plus leaf hashing and a file write on each side.
func (c Client) InFlight() int {
	if c.Parallel > 0 {
		return c.Parallel
	}
	return max(4, min(16, runtime.GOMAXPROCS(0)))
}

func baseURL(node string) string {
	if !strings.Contains(node, "://") {
		node = "http://" + node
	}
	return strings.TrimRight(node, "/") + Prefix
}

// do sends a request and decodes a JSON answer into out, or the body into
// raw when out is nil.
func (c *Client) do(ctx context.Context, method, url string, body []byte, out any) ([]byte, error) {
	return c.doInto(ctx, method, url, body, out, nil)
}

// doInto is do reading the answer into into's storage when it is large
// enough. (A request body is not pooled: the transport may still read it,
// or resend it on a fresh connection, after the answer came.)
func (c *Client) doInto(ctx context.Context, method, url string, body []byte, out any, into []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	return c.send(req, out, into)
}

// send is doInto for a prepared request.
func (c *Client) send(req *http.Request, out any, into []byte) ([]byte, error) {
	method, url := req.Method, req.URL.String()
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := readAllSized(into, resp.Body, resp.ContentLength, maxFramedChunk)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read response: %w", method, url, err)
	}
	if resp.StatusCode/100 != 2 {
		var e Error
		if json.Unmarshal(b, &e) == nil && e.Code != "" {
			return nil, fmt.Errorf("%s %s: %w", method, url, &e)
		}
		return nil, fmt.Errorf("%s %s: HTTP %d", method, url, resp.StatusCode)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return nil, fmt.Errorf("%s %s: decode response: %w", method, url, err)
		}
	}
	return b, nil
}

// Status asks node what it holds of blob root.
func (c *Client) Status(ctx context.Context, node string, root merkle.Hash) (Status, error) {
	var st Status
	_, err := c.do(ctx, http.MethodGet, baseURL(node)+"/"+root.String(), nil, &st)
	return st, err
}

// Upload sends the blob laid out by l, reading chunks from src, to node. It
// posts the manifest and sends only the chunks the node reports missing, so
// calling it again after an interruption resumes. It returns the number of
// chunks sent.
func (c *Client) Upload(ctx context.Context, node string, l *Layout, src io.ReaderAt) (int, error) {
	mb, _ := json.Marshal(l.Manifest)
	var st Status
	if _, err := c.do(ctx, http.MethodPost, baseURL(node), mb, &st); err != nil {
		return 0, fmt.Errorf("upload %s: %w", l.Manifest.Root, err)
	}
	if st.Manifest != l.Manifest {
		return 0, fmt.Errorf("upload %s: node answered for a different manifest", l.Manifest.Root)
	}
	var (
		mu    sync.Mutex
		sent  int
		first error
	)
	todo := make(chan int)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range c.parallel() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range todo {
				err := c.putChunk(ctx, node, l, src, i)
				mu.Lock()
				if err != nil && first == nil {
					first = err
					cancel()
				} else if err == nil {
					sent++
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, i := range st.Missing {
		select {
		case todo <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(todo)
	wg.Wait()
	if first != nil {
		return sent, fmt.Errorf("upload %s: %w", l.Manifest.Root, first)
	}
	if err := ctx.Err(); err != nil {
		return sent, fmt.Errorf("upload %s: %w", l.Manifest.Root, err)
	}
	return sent, nil
}

func (c *Client) putChunk(ctx context.Context, node string, l *Layout, src io.ReaderAt, i int) error {
	if i < 0 || i >= l.Manifest.Chunks {
		return fmt.Errorf("node asked for chunk %d of %d", i, l.Manifest.Chunks)
	}
	proof, err := l.Proof(i)
	if err != nil {
		return err
	}
	// Frame the proof, then read the chunk straight into the frame, in a
	// pooled buffer the request hands back when the transport is done.
	n := l.Manifest.ChunkLen(i)
	fb := newFrameBody()
	defer fb.release()
	head := len(chunkMagic) + 1 + 32*len(proof)
	frame := *fb.fp
	if cap(frame) < head+n {
		frame = make([]byte, 0, head+n)
	}
	frame = appendFrameHead(frame[:0], proof)[:head+n]
	*fb.fp = frame
	if _, err := src.ReadAt(frame[head:], int64(i)*ChunkSize); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return fmt.Errorf("read chunk %d: %w", i, err)
	}
	url := baseURL(node) + "/" + l.Manifest.Root.String() + "/chunks/" + strconv.Itoa(i)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, fb.body())
	if err != nil {
		return fmt.Errorf("PUT %s: %w", url, err)
	}
	req.ContentLength = int64(len(frame))
	req.GetBody = func() (io.ReadCloser, error) { return fb.body(), nil }
	_, err = c.send(req, nil, nil)
	return err
}

// frameBody lends a pooled frame to a request as its body. The transport
// may still read a body after the answer came, and may ask for it again
// (GetBody) to retry on a fresh connection, but it closes every body it
// got; the frame goes back to the pool once every body is closed and the
// sender has released it.
type frameBody struct {
	fp   *[]byte
	refs atomic.Int32
}

func newFrameBody() *frameBody {
	fb := &frameBody{fp: getFrame()}
	fb.refs.Store(1)
	return fb
}

func (fb *frameBody) body() io.ReadCloser {
	fb.refs.Add(1)
	return &frameReader{Reader: bytes.NewReader(*fb.fp), fb: fb}
}

func (fb *frameBody) release() {
	if fb.refs.Add(-1) == 0 {
		putFrame(fb.fp)
	}
}

type frameReader struct {
	*bytes.Reader
	fb     *frameBody
	closed atomic.Bool
}

func (r *frameReader) Close() error {
	if !r.closed.Swap(true) {
		r.fb.release()
	}
	return nil
}

// Fetch writes blob root to w, asking nodes for its manifest and chunks.
// Every chunk is verified against root; a chunk that fails, or a node that
// errs, is retried on the next node, so one corrupt or lying node costs
// only time.
func Fetch(ctx context.Context, root merkle.Hash, nodes []string, w io.Writer) error {
	var c Client
	return c.Fetch(ctx, root, nodes, w)
}

// Fetch is the package-level Fetch with c's settings.
func (c *Client) Fetch(ctx context.Context, root merkle.Hash, nodes []string, w io.Writer) error {
	if len(nodes) == 0 {
		return errors.New("fetch: no nodes given")
	}
	var errs []error
	for _, n := range nodes {
		st, err := c.Status(ctx, n, root)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st.Manifest.Root != root {
			errs = append(errs, fmt.Errorf("node %s answered for blob %s", n, st.Manifest.Root))
			continue
		}
		if err := st.Manifest.Validate(MaxSize); err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", n, err))
			continue
		}
		// A lying size cannot pass: chunk lengths and the proofs of the
		// chunks that exist under the root commit to the real layout.
		return c.FetchManifest(ctx, st.Manifest, nodes, w)
	}
	return fmt.Errorf("fetch %s: no node has it: %w", root, errors.Join(errs...))
}

// FetchManifest is Fetch for a blob whose manifest the caller already
// trusts (for instance from the ledger's asset record).
func (c *Client) FetchManifest(ctx context.Context, m Manifest, nodes []string, w io.Writer) error {
	if err := m.Validate(MaxSize); err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	if len(nodes) == 0 {
		return errors.New("fetch: no nodes given")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A sliding window of Parallel runs of Run chunks in flight, written
	// in order: run r+Parallel starts as soon as run r is written.
	run, win := c.RunLen(), c.parallel()
	runs := (m.Chunks + run - 1) / run
	results := make([]chan *fetchedRun, runs)
	for r := range results {
		results[r] = make(chan *fetchedRun, 1)
	}
	slots := make(chan struct{}, win)
	go func() {
		for r := 0; r < runs; r++ {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func(r int) {
				first := r * run
				results[r] <- c.fetchRun(ctx, m, r, first, min(run, m.Chunks-first), nodes)
			}(r)
		}
	}()
	for r := 0; r < runs; r++ {
		var f *fetchedRun
		select {
		case f = <-results[r]:
		case <-ctx.Done():
			return fmt.Errorf("fetch %s: %w", m.Root, ctx.Err())
		}
		<-slots
		if f.err != nil {
			return fmt.Errorf("fetch %s: %w", m.Root, f.err)
		}
		for _, d := range f.data {
			if _, err := w.Write(d); err != nil {
				return fmt.Errorf("fetch %s: write: %w", m.Root, err)
			}
		}
		f.release()
	}
	return nil
}

// fetchedRun is a run of consecutive chunks, verified: data[k] is chunk
// first+k, in the run's buffer or in one of the frames of chunks fetched
// one by one.
type fetchedRun struct {
	buf    *[]byte
	frames []*[]byte
	data   [][]byte
	err    error
}

// release returns the run's buffers; its data must no longer be used.
func (f *fetchedRun) release() {
	if f.buf != nil {
		putRunBuf(f.buf)
	}
	for _, fp := range f.frames {
		putFrame(fp)
	}
}

// fetchRun fetches count chunks from first, the r-th run: one request for
// the whole run to one node (another for each run, to spread the load),
// then chunk by chunk over every node for each chunk that answer did not
// bring verified (the node lacked it, found it corrupt, or lied).
func (c *Client) fetchRun(ctx context.Context, m Manifest, r, first, count int, nodes []string) *fetchedRun {
	f := &fetchedRun{data: make([][]byte, count)}
	got := 0
	var end error
	if count > 1 {
		f.buf = getRunBuf()
		got, end = c.getRun(ctx, nodes[r%len(nodes)], m, first, f)
	}
	for k := got; k < count; k++ {
		fp := getFrame()
		fr, d, err := c.fetchFramed(ctx, m, first+k, nodes, *fp)
		if fr != nil {
			*fp = fr
		}
		f.frames = append(f.frames, fp)
		if err != nil {
			if k == got && end != nil {
				// Why the run's answer ended at this chunk (corrupt on
				// that node, say) says more than what the nodes answer
				// for it since (not found).
				err = fmt.Errorf("%w; before that, %w", err, end)
			}
			f.err = err
			return f
		}
		f.data[k] = d
	}
	return f
}

// getRun asks node for the chunks of f from first in one request, reading
// the answer into f.buf, and keeps the verified frames it starts with: it
// returns how many chunks, from first, f.data now holds, and why the
// answer stopped short of the run where it says. Whatever goes wrong only
// shortens that prefix; the caller fetches the rest elsewhere.
func (c *Client) getRun(ctx context.Context, node string, m Manifest, first int, f *fetchedRun) (int, error) {
	count := len(f.data)
	url := baseURL(node) + "/" + m.Root.String() + "/chunks/" + strconv.Itoa(first) + "?count=" + strconv.Itoa(count)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// A small JSON error: read it so the connection can be reused.
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return 0, nil
	}
	var end error
	if h := resp.Header.Get(RunEndHeader); h != "" {
		code, msg, _ := strings.Cut(h, ": ")
		end = fmt.Errorf("node %s: %w", node, &Error{Code: code, Message: msg})
	}
	frames, buf, _ := readRun(resp.Body, m, first, count, *f.buf)
	*f.buf = buf
	for k, fr := range frames {
		if m.VerifyChunk(first+k, fr.data, fr.proof) != nil {
			return k, nil
		}
		f.data[k] = fr.data
	}
	if len(frames) < count {
		return len(frames), end
	}
	return len(frames), nil
}

// runFrame is one decoded frame of a run; data aliases the run's buffer.
type runFrame struct {
	proof []merkle.Hash
	data  []byte
}

// maxFrameHead is the longest frame header: magic, proof length, proof.
const maxFrameHead = len("pvc1") + 1 + 32*maxProofLen

// readRun reads from rd the frames of up to count consecutive chunks of m
// from first, as a node's run answer carries them, into buf's storage
// (grown to hold count frames when it cannot). Each frame's length comes
// from its proof length and the manifest's chunk length, so the answer
// needs no length of its own and may end early at a frame boundary. It
// returns the frames read whole, and an error for whatever followed them
// that was not a whole frame (nothing at all is an error too). Frames
// are decoded, not verified.
func readRun(rd io.Reader, m Manifest, first, count int, buf []byte) ([]runFrame, []byte, error) {
	if first < 0 || count < 1 || first+count > m.Chunks {
		return nil, buf, fmt.Errorf("run of %d chunks from %d, the blob has %d", count, first, m.Chunks)
	}
	need := 0
	for k := range count {
		need += maxFrameHead + m.ChunkLen(first+k)
	}
	if cap(buf) < need {
		buf = make([]byte, need)
	}
	buf = buf[:need]
	frames := make([]runFrame, 0, count)
	off := 0
	for k := range count {
		i := first + k
		head := buf[off : off+len(chunkMagic)+1]
		if _, err := io.ReadFull(rd, head); err != nil {
			if errors.Is(err, io.EOF) && k > 0 {
				return frames, buf, nil
			}
			return frames, buf, fmt.Errorf("chunk %d: read its frame: %w", i, err)
		}
		n := int(head[len(chunkMagic)])
		if n > maxProofLen {
			return frames, buf, fmt.Errorf("chunk %d: proof of %d hashes, limit %d", i, n, maxProofLen)
		}
		end := off + len(head) + 32*n + m.ChunkLen(i)
		if _, err := io.ReadFull(rd, buf[off+len(head):end]); err != nil {
			return frames, buf, fmt.Errorf("chunk %d: read its frame: %w", i, err)
		}
		proof, data, err := DecodeChunk(buf[off:end])
		if err != nil {
			return frames, buf, fmt.Errorf("chunk %d: %w", i, err)
		}
		frames = append(frames, runFrame{proof, data})
		off = end
	}
	var one [1]byte
	if n, _ := io.ReadFull(rd, one[:]); n > 0 {
		return frames, buf, fmt.Errorf("more than %d frames from chunk %d", count, first)
	}
	return frames, buf, nil
}

// fetchFramed tries the nodes in turn, starting at a different one per
// chunk to spread the load, until one serves a chunk that verifies. It
// returns the chunk in its verified wire framing (proof and data, as a
// node stores it, read into buf's storage when it is large enough) and the
// data within it.
func (c *Client) fetchFramed(ctx context.Context, m Manifest, i int, nodes []string, buf []byte) ([]byte, []byte, error) {
	var errs []error
	for k := range nodes {
		n := nodes[(i+k)%len(nodes)]
		url := baseURL(n) + "/" + m.Root.String() + "/chunks/" + strconv.Itoa(i)
		b, err := c.doInto(ctx, http.MethodGet, url, nil, nil, buf)
		if err == nil {
			var proof []merkle.Hash
			var data []byte
			if proof, data, err = DecodeChunk(b); err == nil {
				if err = m.VerifyChunk(i, data, proof); err == nil {
					return b, data, nil
				}
			}
			err = fmt.Errorf("node %s: %w", n, err)
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, nil, fmt.Errorf("chunk %d: every node failed: %w", i, errors.Join(errs...))
}

// OpenSessions prepares a one-pass upload of a blob of size bytes to
// every node: ids[k], when not empty, is a session an interrupted upload
// opened on nodes[k], resumed if the node still has it for that size;
// otherwise a new session is opened. It returns each node's session and
// the chunks it lacks.
func (c *Client) OpenSessions(ctx context.Context, nodes, ids []string, size int64) ([]SessionStatus, error) {
	if len(nodes) == 0 {
		return nil, errors.New("upload: no nodes given")
	}
	out := make([]SessionStatus, len(nodes))
	for k, n := range nodes {
		if k < len(ids) && ids[k] != "" {
			var st SessionStatus
			_, err := c.do(ctx, http.MethodGet, baseURL(n)+"/sessions/"+ids[k], nil, &st)
			var e *Error
			switch {
			case err == nil && st.Session == ids[k] && st.Size == size && st.Chunks == NumChunks(size):
				out[k] = st
				continue
			case err == nil, errors.As(err, &e) && e.Code == "not_found":
				// Gone (the node restarted, or dropped it) or for another
				// size: start over on this node.
			default:
				return nil, fmt.Errorf("upload to %s: %w", n, err)
			}
		}
		body, _ := json.Marshal(sessionRequest{Size: size})
		var st SessionStatus
		if _, err := c.do(ctx, http.MethodPost, baseURL(n)+"/sessions", body, &st); err != nil {
			return nil, fmt.Errorf("upload to %s: %w", n, err)
		}
		if st.Session == "" || st.Size != size || st.Chunks != NumChunks(size) {
			return nil, fmt.Errorf("upload to %s: node opened a session for %d bytes, not %d", n, st.Size, size)
		}
		out[k] = st
	}
	return out, nil
}

// UploadSessions is the one-pass upload: write writes the blob's bytes
// (exactly the sessions' size), each chunk is hashed and sent, as it is
// written, to every node whose session lacks it (Run chunks per request,
// Parallel requests at once), and at the end the manifest commits each
// session, whose node checks the chunks against its root. It returns the manifest (also with
// an error, once the bytes are all written, so a caller can keep it) and
// the chunks sent.
func (c *Client) UploadSessions(ctx context.Context, nodes []string, sessions []SessionStatus, write func(io.Writer) error) (Manifest, int, error) {
	if len(nodes) == 0 || len(sessions) != len(nodes) {
		return Manifest{}, 0, errors.New("upload: one session per node needed")
	}
	size := sessions[0].Size
	need := make([][]bool, len(nodes))
	for k, st := range sessions {
		if st.Size != size || st.Chunks != NumChunks(size) {
			return Manifest{}, 0, fmt.Errorf("upload: sessions for different sizes (%d, %d)", size, st.Size)
		}
		need[k] = make([]bool, st.Chunks)
		for _, i := range st.Missing {
			if i < 0 || i >= st.Chunks {
				return Manifest{}, 0, fmt.Errorf("upload to %s: node lists chunk %d of %d as missing", nodes[k], i, st.Chunks)
			}
			need[k][i] = true
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var sent atomic.Int64
	sink := func(i int, data []byte) error {
		n := max(1, (len(data)+ChunkSize-1)/ChunkSize)
		if i+n > len(need[0]) {
			return fmt.Errorf("upload: more than the %d bytes announced: %w", size, ErrTooLarge)
		}
		for k, node := range nodes {
			// Each stretch of chunks this node lacks is one request.
			for j := 0; j < n; {
				if !need[k][i+j] {
					j++
					continue
				}
				e := j + 1
				for e < n && need[k][i+e] {
					e++
				}
				run := data[j*ChunkSize : min(e*ChunkSize, len(data))]
				if err := c.putSessionChunks(ctx, node, sessions[k].Session, i+j, e-j, run); err != nil {
					cancel()
					return fmt.Errorf("upload to %s: %w", node, err)
				}
				sent.Add(int64(e - j))
				j = e
			}
		}
		return nil
	}
	b := newBuilder(nil, size, c.parallel(), c.RunLen(), sink)
	werr := write(b)
	l, lerr := b.Layout()
	switch {
	case lerr != nil:
		// The Builder's error (a failed PUT) explains a writer's too.
		return Manifest{}, int(sent.Load()), lerr
	case werr != nil:
		return Manifest{}, int(sent.Load()), werr
	case l.Manifest.Size != size:
		return Manifest{}, int(sent.Load()), fmt.Errorf("upload: %d bytes written, %d announced", l.Manifest.Size, size)
	}
	m := l.Manifest
	mb, _ := json.Marshal(m)
	for k, n := range nodes {
		var st Status
		if _, err := c.do(ctx, http.MethodPost, baseURL(n)+"/sessions/"+sessions[k].Session, mb, &st); err != nil {
			return m, int(sent.Load()), fmt.Errorf("upload %s to %s: commit: %w", m.Root, n, err)
		}
		if st.Manifest != m || !st.Complete {
			return m, int(sent.Load()), fmt.Errorf("upload %s to %s: node holds %d of %d chunks after the commit", m.Root, n, m.Chunks-len(st.Missing), m.Chunks)
		}
	}
	return m, int(sent.Load()), nil
}

// putSessionChunks sends count consecutive chunks, from first, to a
// session. data is the Builder's buffer, lent to the request: it returns
// only once the transport has closed every body it made of it.
func (c *Client) putSessionChunks(ctx context.Context, node, id string, first, count int, data []byte) error {
	url := baseURL(node) + "/sessions/" + id + "/chunks/" + strconv.Itoa(first)
	if count > 1 {
		url += "?count=" + strconv.Itoa(count)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, nil)
	if err != nil {
		return fmt.Errorf("PUT %s: %w", url, err)
	}
	lb := &lentBody{data: data}
	if len(data) > 0 {
		req.Body = lb.body()
		req.GetBody = func() (io.ReadCloser, error) { return lb.body(), nil }
		req.ContentLength = int64(len(data))
	}
	_, err = c.send(req, nil, nil)
	lb.wg.Wait()
	return err
}

// lentBody makes request bodies of a buffer its owner wants back, and
// tracks them until the transport has closed each one.
type lentBody struct {
	data []byte
	wg   sync.WaitGroup
}

func (l *lentBody) body() io.ReadCloser {
	l.wg.Add(1)
	return &lentReader{Reader: bytes.NewReader(l.data), l: l}
}

type lentReader struct {
	*bytes.Reader
	l    *lentBody
	once sync.Once
}

func (r *lentReader) Close() error {
	r.once.Do(r.l.wg.Done)
	return nil
}
