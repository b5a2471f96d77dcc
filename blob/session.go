package blob

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/provena/provena/merkle"
)

// Upload sessions let a client send a blob's chunks before it knows the
// blob's root, so that encrypting, hashing and sending are one pass: the
// root depends on the last chunk, and a chunk PUT to a blob must be
// proved against the root. A session is opened with the blob's size only;
// the store computes each chunk's leaf hash as it arrives and keeps it;
// the manifest comes last (CommitSession), and the store builds the tree
// from its own leaf hashes, checks the root, derives every proof and only
// then makes the chunks a blob. Chunks of a session that is never
// committed, or whose chunks do not make the manifest's root, are never
// served and are dropped.
//
// Sessions live in the store's memory (their bytes under
// <dir>/.sessions/<id>/), so they do not survive a restart: a client that
// finds its session gone opens a new one. At most maxSessions are open;
// opening one more drops the least recently used.

const (
	sessionsDir = ".sessions"
	maxSessions = 16
)

// SessionStatus is what a store holds of an upload session.
type SessionStatus struct {
	Session string `json:"session"`
	Size    int64  `json:"size"`
	Chunks  int    `json:"chunks"`
	Missing []int  `json:"missing"`
}

type session struct {
	id   string
	m    Manifest // Root is unknown until the commit
	dir  string
	data *os.File

	mu     sync.Mutex
	leaves []merkle.Hash
	crcs   []uint32
	have   []bool
	busy   []bool
	done   bool // committed or dropped: no more chunks
	used   uint64
}

// OpenSession starts an upload session for a blob of size bytes. The
// node's Admit policy sees its manifest without a root.
func (s *Store) OpenSession(size int64) (SessionStatus, error) {
	m := Manifest{Size: size, Chunks: NumChunks(size)}
	if err := m.Validate(min(s.MaxSize, MaxSize)); err != nil {
		return SessionStatus{}, err
	}
	if s.Admit != nil {
		if err := s.Admit(m); err != nil {
			return SessionStatus{}, fmt.Errorf("upload session not admitted: %w", err)
		}
	}
	var rb [16]byte
	rand.Read(rb[:])
	id := hex.EncodeToString(rb[:])
	dir := filepath.Join(s.dir, sessionsDir, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return SessionStatus{}, fmt.Errorf("open upload session: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "data"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		if err = f.Truncate(size); err != nil {
			f.Close()
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return SessionStatus{}, fmt.Errorf("open upload session: %w", err)
	}
	ss := &session{
		id: id, m: m, dir: dir, data: f,
		leaves: make([]merkle.Hash, m.Chunks), crcs: make([]uint32, m.Chunks),
		have: make([]bool, m.Chunks), busy: make([]bool, m.Chunks),
	}
	var evict *session
	s.mu.Lock()
	if len(s.sessions) >= maxSessions {
		for _, o := range s.sessions {
			if evict == nil || o.used < evict.used {
				evict = o
			}
		}
		delete(s.sessions, evict.id)
	}
	s.clock++
	ss.used = s.clock
	s.sessions[id] = ss
	s.mu.Unlock()
	if evict != nil {
		evict.drop()
	}
	return ss.status(), nil
}

// drop discards a session's chunks. It must no longer be in the store's
// map.
func (ss *session) drop() {
	ss.mu.Lock()
	ss.done = true
	ss.mu.Unlock()
	if ss.data != nil {
		ss.data.Close()
	}
	os.RemoveAll(ss.dir)
}

func (ss *session) status() SessionStatus {
	st := SessionStatus{Session: ss.id, Size: ss.m.Size, Chunks: ss.m.Chunks, Missing: []int{}}
	ss.mu.Lock()
	for i, h := range ss.have {
		if !h {
			st.Missing = append(st.Missing, i)
		}
	}
	ss.mu.Unlock()
	return st
}

func (s *Store) session(id string) (*session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[id]
	if !ok {
		return nil, fmt.Errorf("upload session %q: %w", id, ErrNotFound)
	}
	s.clock++
	ss.used = s.clock
	return ss, nil
}

// SessionStatus lists the chunks a session has not received.
func (s *Store) SessionStatus(id string) (SessionStatus, error) {
	ss, err := s.session(id)
	if err != nil {
		return SessionStatus{}, err
	}
	return ss.status(), nil
}

// PutSessionChunk stores chunk i of a session, keeping its leaf hash. A
// chunk sent again replaces the earlier one.
func (s *Store) PutSessionChunk(id string, i int, data []byte) error {
	ss, err := s.session(id)
	if err != nil {
		return err
	}
	if i < 0 || i >= ss.m.Chunks {
		return fmt.Errorf("upload session %s has %d chunks, no chunk %d: %w", id, ss.m.Chunks, i, ErrNotFound)
	}
	if len(data) == ss.m.ChunkLen(i) {
		allocRange(ss.data, int64(i)*ChunkSize, int64(len(data)))
	}
	return ss.put(i, data)
}

// MaxSessionRun is the most consecutive chunks one request may carry to a
// session (PutSessionChunks): 16 MiB of body at most.
const MaxSessionRun = 64

// PutSessionChunks stores count consecutive chunks of a session from
// body, starting at chunk first: body holds exactly their bytes, one after
// the other; announced is its length when known in advance (else -1), and
// a length that cannot be theirs is refused before anything is read. Each chunk is read into buf (grown if it is too small;
// returned for reuse), checked and written before the next is read, so a
// request costs one chunk of memory whatever its count; the chunks before
// a failure stay stored, like chunks sent one by one.
func (s *Store) PutSessionChunks(id string, first, count int, body io.Reader, announced int64, buf []byte) ([]byte, error) {
	ss, err := s.session(id)
	if err != nil {
		return buf, err
	}
	if count < 1 || count > MaxSessionRun {
		return buf, fmt.Errorf("upload session %s: %d chunks in one request, want 1 to %d: %w", id, count, MaxSessionRun, ErrTooLarge)
	}
	if first < 0 || first+count > ss.m.Chunks {
		return buf, fmt.Errorf("upload session %s has %d chunks, no chunks %d to %d: %w", id, ss.m.Chunks, first, first+count-1, ErrNotFound)
	}
	if want := min(int64(first+count)*ChunkSize, ss.m.Size) - int64(first)*ChunkSize; announced >= 0 && announced != want {
		return buf, fmt.Errorf("upload session %s: %d bytes for chunks %d to %d, which are %d: %w", id, announced, first, first+count-1, want, ErrBadProof)
	}
	if cap(buf) < ChunkSize {
		buf = make([]byte, ChunkSize)
	}
	// One allocation for the run rather than one per chunk (see allocRange).
	allocRange(ss.data, int64(first)*ChunkSize, min(int64(first+count)*ChunkSize, ss.m.Size)-int64(first)*ChunkSize)
	for i := first; i < first+count; i++ {
		d := buf[:ss.m.ChunkLen(i)]
		if _, err := io.ReadFull(body, d); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return buf, fmt.Errorf("upload session %s: the body ends within chunk %d of %d to %d: %w", id, i, first, first+count-1, ErrBadProof)
			}
			return buf, fmt.Errorf("upload session %s: read chunk %d: %w", id, i, err)
		}
		if err := ss.put(i, d); err != nil {
			return buf, err
		}
	}
	var one [1]byte
	if n, _ := body.Read(one[:]); n > 0 {
		return buf, fmt.Errorf("upload session %s: the body is longer than chunks %d to %d: %w", id, first, first+count-1, ErrBadProof)
	}
	return buf, nil
}

// put stores chunk i (in range) of the session, whose disk blocks the
// caller has allocated.
func (ss *session) put(i int, data []byte) error {
	id := ss.id
	if len(data) != ss.m.ChunkLen(i) {
		return fmt.Errorf("upload session %s: chunk %d is %d bytes, want %d: %w", id, i, len(data), ss.m.ChunkLen(i), ErrBadProof)
	}
	ss.mu.Lock()
	switch {
	case ss.done:
		ss.mu.Unlock()
		return fmt.Errorf("upload session %s is closed: %w", id, ErrNotFound)
	case ss.busy[i]:
		ss.mu.Unlock()
		return fmt.Errorf("upload session %s: chunk %d is being written by another request: %w", id, i, ErrConflict)
	}
	// Out of the record until written, so the leaf hash kept is always
	// that of the bytes on the disk.
	ss.busy[i], ss.have[i] = true, false
	ss.mu.Unlock()
	leaf, crc := LeafHash(data), checksum(data)
	_, werr := ss.data.WriteAt(data, int64(i)*ChunkSize)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.busy[i] = false
	if werr != nil {
		return fmt.Errorf("upload session %s: store chunk %d: %w", id, i, werr)
	}
	ss.leaves[i], ss.crcs[i], ss.have[i] = leaf, crc, true
	return nil
}

// CommitSession makes a session's chunks the blob m: every chunk must
// have arrived and their leaf hashes must make m.Root (otherwise the
// session is dropped, ErrBadProof). Proofs are derived from the tree and
// written to the index like those of chunks PUT one by one. If the store
// already holds the blob, the session fills the chunks it lacks.
func (s *Store) CommitSession(id string, m Manifest) (Status, error) {
	ss, err := s.session(id)
	if err != nil {
		return Status{}, err
	}
	if err := m.Validate(min(s.MaxSize, MaxSize)); err != nil {
		return Status{}, err
	}
	if m.Size != ss.m.Size {
		return Status{}, fmt.Errorf("upload session %s is for %d bytes, the manifest says %d: %w", id, ss.m.Size, m.Size, ErrConflict)
	}
	// Closed and taken out of the map at once (the store's lock, then the
	// session's, as Close takes them), so that no eviction drops it while
	// it commits and no chunk lands after the check.
	s.mu.Lock()
	if s.sessions[id] != ss {
		s.mu.Unlock()
		return Status{}, fmt.Errorf("upload session %q: %w", id, ErrNotFound)
	}
	ss.mu.Lock()
	missing := 0
	for i := range ss.have {
		if !ss.have[i] || ss.busy[i] {
			missing++
		}
	}
	if missing > 0 {
		ss.mu.Unlock()
		s.mu.Unlock()
		return Status{}, fmt.Errorf("upload session %s lacks %d of %d chunks: %w", id, missing, ss.m.Chunks, ErrConflict)
	}
	ss.done = true
	ss.mu.Unlock()
	delete(s.sessions, id)
	s.mu.Unlock()
	// From here the session takes no chunks; any failure drops it.
	st, err := s.commit(ss, m)
	if err != nil {
		ss.drop()
		return Status{}, err
	}
	return st, nil
}

// commit turns a complete, closed session into blob m, or fills the
// chunks an existing blob m lacks. On success the session's files belong
// to the blob, or are removed.
func (s *Store) commit(ss *session, m Manifest) (Status, error) {
	t, err := merkle.New(ss.leaves)
	if err != nil {
		return Status{}, fmt.Errorf("commit upload session %s: %w", ss.id, err)
	}
	if t.Root() != m.Root {
		return Status{}, fmt.Errorf("upload session %s: its chunks make blob %s, not %s (the chunks were dropped): %w", ss.id, t.Root(), m.Root, ErrBadProof)
	}
	old, err := s.open(m.Root)
	if err == nil {
		if err := s.fillFrom(ss, t, old); err != nil {
			return Status{}, err
		}
		ss.drop()
		return s.Status(m.Root)
	}
	if !errors.Is(err, ErrNotFound) {
		return Status{}, err
	}
	if s.Admit != nil {
		if err := s.Admit(m); err != nil {
			return Status{}, fmt.Errorf("blob %s not admitted: %w", m.Root, err)
		}
	}
	idx := make([]byte, m.Chunks*indexRecordSize)
	b := &stored{m: m, data: ss.data, chunks: make([]chunkState, m.Chunks)}
	for i := range m.Chunks {
		proof, err := t.Prove(i)
		if err != nil {
			return Status{}, fmt.Errorf("commit upload session %s: %w", ss.id, err)
		}
		rec, err := encodeRecord(ss.crcs[i], proof)
		if err != nil {
			return Status{}, fmt.Errorf("commit upload session %s: %w", ss.id, err)
		}
		copy(idx[i*indexRecordSize:], rec)
		b.chunks[i] = chunkState{present: true, crc: ss.crcs[i]}
	}
	if err := os.WriteFile(filepath.Join(ss.dir, "index"), idx, 0o644); err != nil {
		return Status{}, fmt.Errorf("commit upload session %s: %w", ss.id, err)
	}
	if b.index, err = os.OpenFile(filepath.Join(ss.dir, "index"), os.O_RDWR, 0); err != nil {
		return Status{}, fmt.Errorf("commit upload session %s: %w", ss.id, err)
	}
	mb, _ := json.Marshal(m) // plain struct: cannot fail
	if err := writeAtomic(filepath.Join(ss.dir, "manifest.json"), mb); err != nil {
		b.index.Close()
		return Status{}, fmt.Errorf("commit upload session %s: %w", ss.id, err)
	}
	dir := s.blobDir(m.Root)
	s.mu.Lock()
	if _, ok := s.blobs[m.Root]; ok {
		// A manifest for the same blob was posted meanwhile: fill it.
		s.mu.Unlock()
		b.index.Close()
		old, err := s.open(m.Root)
		if err == nil {
			err = s.fillFrom(ss, t, old)
		}
		if err != nil {
			return Status{}, err
		}
		ss.drop()
		return s.Status(m.Root)
	}
	if oldLayout(dir) {
		s.mu.Unlock()
		b.index.Close()
		return Status{}, fmt.Errorf("%s: %w", dir, errOldLayout)
	}
	// The blob was not found, so a directory there holds no manifest: it
	// is what a crashed create left, and nothing in it is a blob.
	err = os.RemoveAll(dir)
	if err == nil {
		err = os.Rename(ss.dir, dir)
	}
	if err != nil {
		s.mu.Unlock()
		b.index.Close()
		return Status{}, fmt.Errorf("commit upload session %s: %w", ss.id, err)
	}
	s.blobs[m.Root] = b
	s.mu.Unlock()
	// The files are the blob's now: a later drop must not close them.
	ss.data = nil
	return s.Status(m.Root)
}

// fillFrom stores into the existing blob old the chunks it lacks, from a
// verified session whose tree is t.
func (s *Store) fillFrom(ss *session, t *merkle.Tree, old *stored) error {
	st, err := s.Status(old.m.Root)
	if err != nil {
		return err
	}
	buf := make([]byte, ChunkSize)
	for _, i := range st.Missing {
		d := buf[:old.m.ChunkLen(i)]
		if _, err := ss.data.ReadAt(d, int64(i)*ChunkSize); err != nil {
			return fmt.Errorf("commit upload session %s: read chunk %d: %w", ss.id, i, err)
		}
		proof, err := t.Prove(i)
		if err != nil {
			return err
		}
		if err := s.PutChunk(old.m.Root, i, d, proof); err != nil {
			return fmt.Errorf("commit upload session %s: %w", ss.id, err)
		}
	}
	return nil
}
