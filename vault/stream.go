package vault

import (
	"bufio"
	"bytes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sync"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

// Asset payloads are age v1 files, byte for byte what age.Encrypt writes,
// but their STREAM payload is sealed and opened on every CPU: age seals
// its 64 KiB chunks one after the other in one goroutine (650-940 MiB/s),
// yet each chunk depends only on the payload key and its own counter.
// age itself still writes and checks the header (recipient stanzas, MAC);
// this file only takes over the payload, so files from age, or from
// earlier builds that used age's own stream, open here and the other way
// round.
//
// age v1 payload (age-encryption.org/v1 spec): a 16-byte nonce, then
// chunks of 64 KiB plaintext each sealed with ChaCha20-Poly1305 under
// HKDF-SHA256(ikm = file key, salt = nonce, info = "payload"), nonce =
// 11-byte big-endian counter || 0x00, or 0x01 for the last chunk; the last
// chunk may be short, and empty only when it is the only one.
const (
	streamChunk    = 64 << 10
	streamEncChunk = streamChunk + chacha20poly1305.Overhead
	// batchChunks chunks go to a worker at once: 512 KiB keeps the
	// per-batch handoff negligible next to the sealing work while two
	// batches per CPU stay a few tens of MiB on a 16-core machine.
	batchChunks    = 8
	payloadNonceSz = 16
	// maxHeader bounds an asset file's age header when decrypting: one
	// X25519 stanza is about 200 bytes; Seal's multi-recipient messages do
	// not go through here.
	maxHeader = 16 << 10
)

// captureKey is an age.Recipient that hands the file key age generates to
// the real recipient and keeps a copy, so the payload can be sealed here.
type captureKey struct {
	to      age.Recipient
	fileKey []byte
}

func (c *captureKey) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	c.fileKey = bytes.Clone(fileKey)
	return c.to.Wrap(fileKey)
}

func payloadAEAD(fileKey, nonce []byte) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, fileKey, nonce, "payload", chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	return chacha20poly1305.New(k)
}

func chunkNonce(n *[chacha20poly1305.NonceSize]byte, counter uint64, last bool) {
	*n = [chacha20poly1305.NonceSize]byte{}
	for i := 10; i >= 3; i-- {
		n[i] = byte(counter)
		counter >>= 8
	}
	if last {
		n[11] = 1
	}
}

// Payload is an asset file's encryption fixed in advance: its age header
// (the file key wrapped to the asset key), its payload nonce and its file
// key. Encrypt with the same Payload and the same plaintext writes the
// same bytes every time, so an interrupted upload can re-encrypt instead
// of keeping the ciphertext: only Head (public: it is the file's first
// bytes) and the asset key need to be kept. Each Payload must encrypt one
// plaintext only; reusing it for another would reuse the keystream.
type Payload struct {
	head []byte
	aead cipher.AEAD
}

// NewPayload starts a new asset file for key: age generates a fresh file
// key and nonce and writes the header.
func NewPayload(key *age.X25519Identity) (*Payload, error) {
	return newPayload(key.Recipient())
}

func newPayload(to age.Recipient) (*Payload, error) {
	var head bytes.Buffer
	ck := &captureKey{to: to}
	// age writes the header and the payload nonce at once; its stream
	// writer is never used (closing it would append an empty last chunk).
	if _, err := age.Encrypt(&head, ck); err != nil {
		return nil, fmt.Errorf("new payload: %w", err)
	}
	if ck.fileKey == nil || head.Len() < payloadNonceSz {
		return nil, errors.New("new payload: age did not hand over the file key")
	}
	aead, err := payloadAEAD(ck.fileKey, head.Bytes()[head.Len()-payloadNonceSz:])
	if err != nil {
		return nil, fmt.Errorf("new payload: %w", err)
	}
	return &Payload{head: head.Bytes(), aead: aead}, nil
}

// ParsePayload restores a Payload from its Head and the asset key, which
// unwraps the file key from the header (age checks the header's MAC).
func ParsePayload(head []byte, key *age.X25519Identity) (*Payload, error) {
	if len(head) > maxHeader {
		return nil, fmt.Errorf("parse payload: header of %d bytes, limit %d", len(head), maxHeader)
	}
	hdr, err := age.ExtractHeader(bytes.NewReader(head))
	if err != nil {
		return nil, fmt.Errorf("parse payload: %w", err)
	}
	if len(head) != len(hdr)+payloadNonceSz || !bytes.HasPrefix(head, hdr) {
		return nil, errors.New("parse payload: not a canonical age header followed by a 16-byte nonce")
	}
	fileKey, err := age.DecryptHeader(hdr, key)
	if err != nil {
		return nil, fmt.Errorf("parse payload: %w", err)
	}
	aead, err := payloadAEAD(fileKey, head[len(hdr):])
	if err != nil {
		return nil, fmt.Errorf("parse payload: %w", err)
	}
	return &Payload{head: bytes.Clone(head), aead: aead}, nil
}

// Head is the file's header and payload nonce, the first bytes Encrypt
// writes. It holds no secret.
func (p *Payload) Head() []byte { return bytes.Clone(p.head) }

// Size is the length of the file Encrypt writes for a plaintext of plain
// bytes: the head, the plaintext, and a 16-byte tag per 64 KiB chunk (one
// chunk, empty, for an empty plaintext).
func (p *Payload) Size(plain int64) int64 {
	chunks := max(1, (plain+streamChunk-1)/streamChunk)
	return int64(len(p.head)) + plain + chunks*chacha20poly1305.Overhead
}

// EncryptFile is Encrypt of the first size bytes of f, read through a
// read-only memory map where the platform and the file allow one: the
// plaintext is sealed straight from the page cache, without the copy a
// read makes (0.05-0.06 s of an upload's ~0.8 s of CPU per 256 MiB on
// the development machine). A file that is shorter than size, or is cut short
// while it is read, fails with an error, not a crash; where f cannot be
// mapped it is read.
func (p *Payload) EncryptFile(dst io.Writer, f *os.File, size int64) error {
	if fi, err := f.Stat(); err != nil {
		return err
	} else if fi.Mode().IsRegular() && fi.Size() < size {
		return fmt.Errorf("%s is %d bytes, not the %d expected: it changed", f.Name(), fi.Size(), size)
	}
	m, err := mapFile(f, size)
	if err != nil {
		return p.Encrypt(dst, io.LimitReader(f, size))
	}
	defer m.unmap()
	return p.Encrypt(dst, &mappedSource{b: m.b, name: f.Name(), done: m.release})
}

// Encrypt writes the age file of src to dst.
func (p *Payload) Encrypt(dst io.Writer, src io.Reader) error {
	if _, err := dst.Write(p.head); err != nil {
		return err
	}
	seal := func(out, in []byte, first uint64, last bool) ([]byte, error) {
		var nonce [chacha20poly1305.NonceSize]byte
		for k := 0; k == 0 || len(in) > 0; k++ {
			n := min(len(in), streamChunk)
			chunkNonce(&nonce, first+uint64(k), last && n == len(in))
			out = p.aead.Seal(out, nonce[:], in[:n], nil)
			in = in[n:]
		}
		return out, nil
	}
	if r, ok := dst.(Reserver); ok {
		return runBatches(dst, src, streamChunk, seal, &intoReserver{r, sealedSize, p.sealInto})
	}
	return runBatches(dst, src, streamChunk, seal, nil)
}

// A Reserver is a writer that lends its own buffer: Reserve(n) returns the
// next n bytes of its output as pieces back to back, which the caller
// fills and then Commits; Reserves may run ahead of Commits (on another
// goroutine), and Commits come in the same order. Encrypt seals straight
// into a Reserver's buffer, so the ciphertext is not copied there
// (blob.Builder is one: its runs are hashed and uploaded from there).
type Reserver interface {
	io.Writer
	Reserve(n int) ([][]byte, error)
	Commit(n int) error
}

// sealedSize is the ciphertext length of a batch of plain bytes: a tag per
// chunk, and an empty plaintext is one empty chunk.
func sealedSize(plain int) int {
	return plain + max(1, (plain+streamChunk-1)/streamChunk)*chacha20poly1305.Overhead
}

// sealInto seals a batch into pieces (exactly sealedSize(len(in)) bytes in
// all). A chunk that straddles two pieces is sealed into scratch and
// copied; the others are sealed in place. It returns scratch, grown.
func (p *Payload) sealInto(pieces [][]byte, scratch, in []byte, first uint64, last bool) ([]byte, error) {
	var nonce [chacha20poly1305.NonceSize]byte
	pi, off := 0, 0
	for k := 0; k == 0 || len(in) > 0; k++ {
		n := min(len(in), streamChunk)
		chunkNonce(&nonce, first+uint64(k), last && n == len(in))
		enc := n + chacha20poly1305.Overhead
		for pi < len(pieces) && off == len(pieces[pi]) {
			pi, off = pi+1, 0
		}
		if pi < len(pieces) && len(pieces[pi])-off >= enc {
			// The piece's capacity ends at its length, so Seal writes
			// in place and never past it.
			p.aead.Seal(pieces[pi][off:off], nonce[:], in[:n], nil)
			off += enc
		} else {
			scratch = p.aead.Seal(scratch[:0], nonce[:], in[:n], nil)
			for s := scratch; len(s) > 0; {
				if pi == len(pieces) {
					return scratch, errors.New("seal: the reserved space is too short")
				}
				c := copy(pieces[pi][off:], s)
				s, off = s[c:], off+c
				if off == len(pieces[pi]) {
					pi, off = pi+1, 0
				}
			}
		}
		in = in[n:]
	}
	for ; pi < len(pieces); pi, off = pi+1, 0 {
		if off != len(pieces[pi]) {
			return scratch, errors.New("seal: the reserved space is too long")
		}
	}
	return scratch, nil
}

// encryptParallel writes to dst the age file of src for one recipient.
func encryptParallel(dst io.Writer, src io.Reader, to age.Recipient) error {
	p, err := newPayload(to)
	if err != nil {
		return err
	}
	return p.Encrypt(dst, src)
}

// decryptParallel writes to dst the plaintext of the age file src.
func decryptParallel(dst io.Writer, src io.Reader, id age.Identity) error {
	br := bufio.NewReaderSize(src, maxHeader)
	peek, err := br.Peek(maxHeader)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return err
	}
	hdr, err := age.ExtractHeader(bytes.NewReader(peek))
	if err != nil {
		return err
	}
	// Only a canonical header has the length of its re-encoding; age
	// writes canonical headers, so anything else is refused rather than
	// guessed at.
	if !bytes.HasPrefix(peek, hdr) {
		return errors.New("age header is not in canonical form")
	}
	fileKey, err := age.DecryptHeader(hdr, id)
	if err != nil {
		return err
	}
	br.Discard(len(hdr))
	var nonce [payloadNonceSz]byte
	if _, err := io.ReadFull(br, nonce[:]); err != nil {
		return fmt.Errorf("read payload nonce: %w", err)
	}
	aead, err := payloadAEAD(fileKey, nonce[:])
	if err != nil {
		return err
	}
	return runBatches(dst, br, streamEncChunk, func(out, in []byte, first uint64, last bool) ([]byte, error) {
		if last && len(in) == 0 && first == 0 {
			return nil, errors.New("payload is empty: the file is truncated")
		}
		var nonce [chacha20poly1305.NonceSize]byte
		for k := 0; len(in) > 0; k++ {
			n := min(len(in), streamEncChunk)
			isLast := last && n == len(in)
			c := first + uint64(k)
			if isLast && n == chacha20poly1305.Overhead && c != 0 {
				// age refuses an empty last chunk after others; so do we,
				// so that one file has one plaintext in both.
				return nil, errors.New("last payload chunk is empty")
			}
			chunkNonce(&nonce, c, isLast)
			var err error
			if out, err = aead.Open(out, nonce[:], in[:n], nil); err != nil {
				return nil, fmt.Errorf("payload chunk %d: failed to decrypt and authenticate, the file is corrupted, truncated or tampered with", c)
			}
			in = in[n:]
		}
		return out, nil
	}, nil)
}

// mappedSource is a plaintext already in memory (a mapped file), handed
// to runBatches' workers in place instead of read into batch buffers. Its
// reads never block; touching a page the file no longer has faults.
type mappedSource struct {
	b    []byte
	name string
	// done, when set, is told of each batch once it is sealed.
	done func([]byte)
}

// Read makes mappedSource an io.Reader, so it can go through Encrypt;
// runBatches takes its batches in place with next instead.
func (m *mappedSource) Read(p []byte) (int, error) {
	if len(m.b) == 0 {
		return 0, io.EOF
	}
	var n int
	err := catchFault(m.name, func() { n = copy(p, m.b) })
	m.b = m.b[n:]
	return n, err
}

// next hands out up to n bytes in place.
func (m *mappedSource) next(n int) []byte {
	n = min(n, len(m.b))
	b := m.b[:n:n]
	m.b = m.b[n:]
	return b
}

// errStopped marks a batch left undone because an earlier one failed.
var errStopped = errors.New("stopped")

// errFileShrank is a mapped file cut short while it was read.
var errFileShrank = errors.New("it was cut short while it was read")

// catchFault runs fn, which reads a mapped file, turning the fault of a
// page the file no longer has (it was truncated) into an error.
func catchFault(name string, fn func()) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(interface{ Addr() uintptr }); !ok {
				panic(r)
			}
			err = fmt.Errorf("read %s: %w", name, errFileShrank)
		}
	}()
	fn()
	return nil
}

// batch is one unit of work: up to batchChunks chunks starting at chunk
// counter first. in is buf's bytes, or in place in a mappedSource. With a
// Reserver its output goes to pieces, out being only scratch.
type batch struct {
	buf     []byte
	in, out []byte
	pieces  [][]byte
	first   uint64
	last    bool
	err     error
	done    chan struct{}
}

// intoReserver has runBatches transform into a Reserver's buffer: size is
// a batch's output length for its input length, fn the transform.
type intoReserver struct {
	r    Reserver
	size func(in int) int
	fn   func(pieces [][]byte, scratch, in []byte, first uint64, last bool) ([]byte, error)
}

// runBatches reads src in batches of batchChunks chunks of chunk bytes,
// transforms them on every CPU with fn (given the batch's first chunk
// counter and whether it ends the stream) and writes the results to dst in
// order. The last batch is the one after which src is at EOF, so src is
// read one batch ahead; an empty src is one empty last batch. With into,
// each batch's output space is reserved in order as it is handed out,
// transformed into by into.fn and committed in order instead of written.
func runBatches(dst io.Writer, src io.Reader, chunk int, fn func(out, in []byte, first uint64, last bool) ([]byte, error), into *intoReserver) error {
	workers := runtime.GOMAXPROCS(0)
	inflight := 2*workers + 2
	mapped, _ := src.(*mappedSource)
	size := batchChunks * chunk
	// A free list, not a sync.Pool: a pool is emptied at every GC, and
	// each refill is a MiB of fresh memory to fault in (at GB/s a GC
	// comes every few hundred MiB). At most inflight+2 batches are out.
	free := make(chan *batch, inflight+2)
	getBatch := func() *batch {
		select {
		case b := <-free:
			return b
		default:
			b := &batch{done: make(chan struct{}, 1)}
			if mapped == nil {
				b.buf = make([]byte, size)
			}
			if into == nil {
				// With into, out is only the scratch of a straddling
				// chunk, grown on first use.
				b.out = make([]byte, 0, batchChunks*streamEncChunk)
			}
			return b
		}
	}
	work := make(chan *batch, inflight)
	order := make(chan *batch, inflight)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reading sync.RWMutex
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				run := func() {
					if into != nil {
						b.out, b.err = into.fn(b.pieces, b.out, b.in, b.first, b.last)
					} else {
						b.out, b.err = fn(b.out[:0], b.in, b.first, b.last)
					}
				}
				if mapped != nil {
					// Under reading, so that runBatches can wait for the
					// mapping's readers before it returns (and the caller
					// unmaps it); after stop, nothing reads it.
					reading.RLock()
					select {
					case <-stop:
						b.err = errStopped
					default:
						if err := catchFault(mapped.name, run); err != nil {
							b.err = err
						}
						if mapped.done != nil {
							mapped.done(b.in)
						}
					}
					reading.RUnlock()
				} else {
					run()
				}
				b.done <- struct{}{}
			}
		}()
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(order)
		defer close(work)
		read := func() (*batch, error) {
			b := getBatch()
			if mapped != nil {
				b.in = mapped.next(size)
				return b, nil
			}
			n, err := io.ReadFull(src, b.buf)
			b.in = b.buf[:n]
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				err = nil
			}
			if err != nil {
				err = fmt.Errorf("read: %w", err)
			}
			return b, err
		}
		cur, err := read()
		for counter := uint64(0); err == nil; counter += batchChunks {
			cur.first = counter
			var next *batch
			if len(cur.in) == size {
				if next, err = read(); err != nil {
					break
				}
			}
			cur.last = next == nil || len(next.in) == 0
			if into != nil {
				if cur.pieces, err = into.r.Reserve(into.size(len(cur.in))); err != nil {
					break
				}
			}
			select {
			case order <- cur:
			case <-stop:
				return
			}
			work <- cur
			if cur.last {
				return
			}
			cur = next
		}
		readErr <- err
	}()
	for b := range order {
		<-b.done
		err := b.err
		switch {
		case err != nil:
		case into != nil:
			b.pieces = nil
			err = into.r.Commit(into.size(len(b.in)))
		default:
			_, err = dst.Write(b.out)
		}
		if err != nil {
			// The reader stops at its next batch and the workers when it
			// closes their queue; nothing waits for a src that may block.
			// A mapped source is unmapped once this returns: the workers
			// reading it are waited for.
			close(stop)
			if mapped != nil {
				reading.Lock()
				defer reading.Unlock()
			}
			return err
		}
		select {
		case free <- b:
		default:
		}
	}
	wg.Wait()
	select {
	case err := <-readErr:
		return err
	default:
		return nil
	}
}
