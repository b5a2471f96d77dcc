package blob

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/provena/provena/merkle"
)

// Store keeps verified chunks on disk, one directory and three files per
// blob:
//
//	<dir>/<root hex>/data            the blob's bytes: chunk i at offset i*ChunkSize
//	<dir>/<root hex>/index           one indexRecordSize-byte record per chunk (encodeRecord)
//	<dir>/<root hex>/manifest.json   written last, when the blob is created
//
// A chunk is written in place into data, then its record (which says it is
// present, holds its proof and the CRC-32C of its bytes, and is sealed by
// a CRC-32C of its own) into index. Nothing is fsynced, so after a crash
// the disk may hold a record whose chunk bytes never reached it, or half a
// record. Neither is trusted: a record that does not decode is absent, and
// when a process first opens a blob it re-reads every chunk whose record
// is present and drops those whose bytes do not match the record's CRC, so
// Status lists them missing and a resumed upload repairs them. Every read
// checks the chunk's CRC again, so disk corruption is detected, the chunk
// dropped (ErrCorrupt) and never served.
//
// One file per blob instead of one per chunk: creating a file costs about
// as much CPU as writing the 256 KiB chunk into it on ext4. The CRC, not
// SHA-256, guards a stored chunk: it only has to catch the disk, since the
// chunk was checked against the root when it arrived and every reader
// checks it against the root again; CRC-32C costs a tenth of SHA-256.
//
// A Store is safe for concurrent use.
type Store struct {
	dir string
	// MaxSize is this node's blob size limit, at most MaxSize.
	MaxSize int64
	// Admit, when set, decides whether a new manifest may be stored: the
	// node's policy hook (a disk quota, or only blobs the ledger knows).
	// Its error is returned to the uploader; wrap ErrRefused for HTTP 403.
	Admit func(Manifest) error

	mu    sync.Mutex
	blobs map[merkle.Hash]*stored
	// loading holds the blobs being opened from the disk, closed when
	// done: opening reads every chunk, so it runs outside mu and other
	// requests for the same blob wait for it.
	loading map[merkle.Hash]chan struct{}
	// sessions are the open upload sessions (session.go); clock orders
	// their use, to drop the least recently used.
	sessions map[string]*session
	clock    uint64
}

// stored is an open blob: its files, and which chunks are present with
// their CRCs. Proofs stay on the disk (a GET reads its chunk's record), so
// an open blob costs 8 bytes of memory per chunk and two descriptors.
type stored struct {
	m     Manifest
	data  *os.File
	index *os.File

	mu     sync.Mutex
	chunks []chunkState
}

type chunkState struct {
	present bool
	crc     uint32
}

// record is what the index says of one chunk.
type record struct {
	present bool
	crc     uint32
	proof   []merkle.Hash
}

const (
	// indexRecordSize is the size of one index record: 512 bytes holds
	// the longest proof of a MaxChunks-leaf tree and keeps records aligned
	// to disk sectors, so a crash tears at most the record being written.
	indexRecordSize = 512
	// maxStoredProof is the longest proof of a tree of MaxChunks leaves.
	maxStoredProof = 12
)

var (
	recordMagic = []byte("pvi1")
	castagnoli  = crc32.MakeTable(crc32.Castagnoli)
	// errOldLayout: a directory written by a store of one file per chunk.
	errOldLayout = errors.New("the directory has the old one-file-per-chunk layout (<index>.chunk files), which this store does not read; remove it and upload the blob again")
)

// oldLayout reports whether dir holds chunk files of the earlier layout.
func oldLayout(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.chunk"))
	return len(m) > 0
}

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// encodeRecord is the index record of a present chunk: "pvi1", the CRC-32C
// of the chunk (big endian), the proof length (one byte), the proof
// hashes, zeros, and the CRC-32C of the preceding 508 bytes.
func encodeRecord(crc uint32, proof []merkle.Hash) ([]byte, error) {
	if len(proof) > maxStoredProof {
		return nil, fmt.Errorf("proof of %d hashes, a stored proof has at most %d", len(proof), maxStoredProof)
	}
	b := make([]byte, indexRecordSize)
	copy(b, recordMagic)
	binary.BigEndian.PutUint32(b[4:], crc)
	b[8] = byte(len(proof))
	for k, h := range proof {
		copy(b[9+32*k:], h[:])
	}
	binary.BigEndian.PutUint32(b[indexRecordSize-4:], checksum(b[:indexRecordSize-4]))
	return b, nil
}

// decodeRecord parses an index record from the disk. An all-zero record
// (never written, or dropped) is absent without error; anything else that
// is not a well-formed sealed record is absent with the reason.
func decodeRecord(b []byte) (record, error) {
	if len(b) != indexRecordSize {
		return record{}, fmt.Errorf("index record of %d bytes, want %d", len(b), indexRecordSize)
	}
	if !bytes.Equal(b[:len(recordMagic)], recordMagic) {
		if bytes.Count(b, []byte{0}) == len(b) {
			return record{}, nil
		}
		return record{}, errors.New("index record without its pvi1 header")
	}
	if got, want := checksum(b[:indexRecordSize-4]), binary.BigEndian.Uint32(b[indexRecordSize-4:]); got != want {
		return record{}, fmt.Errorf("index record checksum %08x, sealed %08x (torn write)", got, want)
	}
	k := int(b[8])
	if k > maxStoredProof {
		return record{}, fmt.Errorf("index record with a proof of %d hashes, limit %d", k, maxStoredProof)
	}
	r := record{present: true, crc: binary.BigEndian.Uint32(b[4:]), proof: make([]merkle.Hash, k)}
	for j := range r.proof {
		copy(r.proof[j][:], b[9+32*j:])
	}
	return r, nil
}

// Open opens (creating) the store in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open blob store: %w", err)
	}
	// Upload sessions live in memory: the chunks of those a previous
	// process had open were never verified, and are dropped.
	if err := os.RemoveAll(filepath.Join(dir, sessionsDir)); err != nil {
		return nil, fmt.Errorf("open blob store: drop old upload sessions: %w", err)
	}
	return &Store{dir: dir, MaxSize: MaxSize, blobs: map[merkle.Hash]*stored{}, loading: map[merkle.Hash]chan struct{}{}, sessions: map[string]*session{}}, nil
}

// Dir is the store's root directory.
func (s *Store) Dir() string { return s.dir }

// Close closes the files of the blobs this Store has opened and drops its
// upload sessions; requests in flight on them fail. The Store may be used
// after: it opens the blobs again.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, ss := range s.sessions {
		delete(s.sessions, id)
		ss.drop()
	}
	var errs []error
	for root, b := range s.blobs {
		errs = append(errs, b.data.Close(), b.index.Close())
		delete(s.blobs, root)
	}
	return errors.Join(errs...)
}

func (s *Store) blobDir(root merkle.Hash) string { return filepath.Join(s.dir, root.String()) }

// writeAtomic writes b to path through a temporary file and a rename.
func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// PutManifest records a blob to be uploaded. Posting the same manifest again
// is a no-op (that is how an upload resumes); a different one for the same
// root is ErrConflict.
func (s *Store) PutManifest(m Manifest) error {
	if err := m.Validate(min(s.MaxSize, MaxSize)); err != nil {
		return err
	}
	old, err := s.open(m.Root)
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.blobs[m.Root]; ok {
		// Created by a concurrent PutManifest since.
		old, err = b, nil
	}
	switch {
	case err == nil && old.m == m:
		return nil
	case err == nil:
		return fmt.Errorf("blob %s: have size %d, got %d: %w", m.Root, old.m.Size, m.Size, ErrConflict)
	case !errors.Is(err, ErrNotFound):
		return err
	}
	if s.Admit != nil {
		if err := s.Admit(m); err != nil {
			return fmt.Errorf("blob %s not admitted: %w", m.Root, err)
		}
	}
	b, err := s.create(m)
	if err != nil {
		return fmt.Errorf("put manifest %s: %w", m.Root, err)
	}
	s.blobs[m.Root] = b
	return nil
}

// create makes a blob's files, data and index at their full sizes but
// sparse (a chunk's blocks are allocated when it arrives, so posting a
// manifest costs no disk), then the manifest, which is what makes the blob
// exist. Files left by a create that crashed before its
// manifest are truncated: no chunk can have been stored without it.
func (s *Store) create(m Manifest) (*stored, error) {
	dir := s.blobDir(m.Root)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if oldLayout(dir) {
		return nil, fmt.Errorf("%s: %w", dir, errOldLayout)
	}
	b := &stored{m: m, chunks: make([]chunkState, m.Chunks)}
	var err error
	open := func(name string, size int64) *os.File {
		if err != nil {
			return nil
		}
		var f *os.File
		if f, err = os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
			return nil
		}
		if err = f.Truncate(size); err != nil {
			f.Close()
			return nil
		}
		return f
	}
	b.data = open("data", m.Size)
	b.index = open("index", int64(m.Chunks)*indexRecordSize)
	if err == nil {
		mb, _ := json.Marshal(m) // plain struct: cannot fail
		err = writeAtomic(filepath.Join(dir, "manifest.json"), mb)
	}
	if err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *stored) close() {
	if b.data != nil {
		b.data.Close()
	}
	if b.index != nil {
		b.index.Close()
	}
}

// Manifest returns a blob's manifest, or ErrNotFound.
func (s *Store) Manifest(root merkle.Hash) (Manifest, error) {
	b, err := s.open(root)
	if err != nil {
		return Manifest{}, err
	}
	return b.m, nil
}

// open returns the open blob root, opening it from the disk the first
// time (openDisk).
func (s *Store) open(root merkle.Hash) (*stored, error) {
	s.mu.Lock()
	for {
		if b, ok := s.blobs[root]; ok {
			s.mu.Unlock()
			return b, nil
		}
		ch, ok := s.loading[root]
		if !ok {
			break
		}
		s.mu.Unlock()
		<-ch
		s.mu.Lock()
	}
	ch := make(chan struct{})
	s.loading[root] = ch
	s.mu.Unlock()
	b, err := s.openDisk(root)
	s.mu.Lock()
	delete(s.loading, root)
	if cur, ok := s.blobs[root]; ok {
		// A PutManifest created it while this read the disk: one open
		// blob per root, so that every request sees the same index.
		if b != nil {
			b.close()
		}
		b, err = cur, nil
	} else if err == nil {
		s.blobs[root] = b
	}
	s.mu.Unlock()
	close(ch)
	return b, err
}

// openDisk opens blob root from the disk: its index is read and every
// chunk it lists as present is checked against its CRC, so that a crash's
// leftovers are not trusted.
func (s *Store) openDisk(root merkle.Hash) (*stored, error) {
	dir := s.blobDir(root)
	mb, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", root, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", root, err)
	}
	m, err := DecodeManifest(mb)
	if errors.Is(err, ErrOldFormat) {
		return nil, fmt.Errorf("open blob %s in %s: %w (remove the directory)", root, dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", root, err)
	}
	if m.Root != root {
		return nil, fmt.Errorf("read manifest %s: file is for blob %s", root, m.Root)
	}
	b := &stored{m: m, chunks: make([]chunkState, m.Chunks)}
	if b.index, err = os.OpenFile(filepath.Join(dir, "index"), os.O_RDWR, 0); err != nil {
		if oldLayout(dir) {
			return nil, fmt.Errorf("open blob %s in %s: %w", root, dir, errOldLayout)
		}
		return nil, fmt.Errorf("open blob %s: %w", root, err)
	}
	if b.data, err = os.OpenFile(filepath.Join(dir, "data"), os.O_RDWR, 0); err != nil {
		b.close()
		return nil, fmt.Errorf("open blob %s: %w", root, err)
	}
	if err := b.load(); err != nil {
		b.close()
		return nil, fmt.Errorf("open blob %s: %w", root, err)
	}
	return b, nil
}

// load reads the index and keeps the records whose chunk matches its CRC;
// the others are zeroed on the disk too.
func (b *stored) load() error {
	idx := make([]byte, int64(b.m.Chunks)*indexRecordSize)
	n, err := b.index.ReadAt(idx, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read index: %w", err)
	}
	buf := make([]byte, ChunkSize)
	for i := range b.chunks {
		if (i+1)*indexRecordSize > n {
			break // a short index holds no more records
		}
		r, err := decodeRecord(idx[i*indexRecordSize : (i+1)*indexRecordSize])
		if err == nil && r.present {
			d := buf[:b.m.ChunkLen(i)]
			if _, rerr := b.data.ReadAt(d, int64(i)*ChunkSize); rerr == nil && checksum(d) == r.crc {
				b.chunks[i] = chunkState{present: true, crc: r.crc}
				continue
			}
		}
		if err != nil || r.present {
			if err := b.clearRecord(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// clearRecord zeroes record i on the disk. The caller holds b.mu or owns b.
func (b *stored) clearRecord(i int) error {
	b.chunks[i] = chunkState{}
	if _, err := b.index.WriteAt(make([]byte, indexRecordSize), int64(i)*indexRecordSize); err != nil {
		return fmt.Errorf("drop chunk %d from the index: %w", i, err)
	}
	return nil
}

// PutChunk verifies chunk i of blob root against its manifest and stores it.
func (s *Store) PutChunk(root merkle.Hash, i int, data []byte, proof []merkle.Hash) error {
	return s.PutFramed(root, i, EncodeChunk(proof, data))
}

// PutFramed is PutChunk for a chunk framed by EncodeChunk, as it arrives
// over HTTP.
func (s *Store) PutFramed(root merkle.Hash, i int, framed []byte) error {
	proof, data, err := DecodeChunk(framed)
	if err != nil {
		return err
	}
	b, err := s.open(root)
	if err != nil {
		return err
	}
	if err := b.m.VerifyChunk(i, data, proof); err != nil {
		return fmt.Errorf("blob %s: %w", root, err)
	}
	crc := checksum(data)
	rec, err := encodeRecord(crc, proof)
	if err != nil {
		return fmt.Errorf("store chunk %d of %s: %w", i, root, err)
	}
	// The bytes first, then the record that says they are there. Writing
	// into allocated blocks costs ext4 markedly less CPU than filling a
	// hole (see allocRange).
	allocRange(b.data, int64(i)*ChunkSize, int64(len(data)))
	if _, err := b.data.WriteAt(data, int64(i)*ChunkSize); err != nil {
		return fmt.Errorf("store chunk %d of %s: %w", i, root, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, err := b.index.WriteAt(rec, int64(i)*indexRecordSize); err != nil {
		return fmt.Errorf("store chunk %d of %s: index: %w", i, root, err)
	}
	b.chunks[i] = chunkState{present: true, crc: crc}
	return nil
}

// Chunk reads chunk i of blob root and its proof, verifying both: a chunk
// corrupted on disk is dropped and reported as ErrCorrupt.
func (s *Store) Chunk(root merkle.Hash, i int) (data []byte, proof []merkle.Hash, err error) {
	b, err := s.Framed(root, i)
	if err != nil {
		return nil, nil, err
	}
	proof, data, err = DecodeChunk(b)
	return data, proof, err
}

// Framed is Chunk returning the chunk in its EncodeChunk framing, as
// served.
func (s *Store) Framed(root merkle.Hash, i int) ([]byte, error) { return s.framedInto(nil, root, i) }

// framedInto is Framed building the frame in buf's storage when it is
// large enough. The chunk's bytes are checked against the CRC recorded
// when it was stored (the reader checks them against the root); a chunk
// that fails is dropped, so it is missing again and a re-upload or
// another node's copy repairs it.
func (s *Store) framedInto(buf []byte, root merkle.Hash, i int) ([]byte, error) {
	b, err := s.open(root)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= b.m.Chunks {
		return nil, fmt.Errorf("blob %s has %d chunks, no chunk %d: %w", root, b.m.Chunks, i, ErrNotFound)
	}
	// The record is read under the lock, so a concurrent PutFramed of the
	// same chunk cannot be seen half written.
	b.mu.Lock()
	c := b.chunks[i]
	var rb [indexRecordSize]byte
	var err2 error
	if c.present {
		_, err2 = b.index.ReadAt(rb[:], int64(i)*indexRecordSize)
	}
	b.mu.Unlock()
	if !c.present {
		return nil, fmt.Errorf("chunk %d of %s: %w", i, root, ErrNotFound)
	}
	if err2 != nil {
		return nil, fmt.Errorf("chunk %d of %s: read its index record: %w", i, root, err2)
	}
	f, err := b.readFramed(buf, i, c.crc, rb[:])
	if err == nil {
		return f, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.chunks[i] == c {
		if cerr := b.clearRecord(i); cerr != nil {
			return nil, fmt.Errorf("chunk %d of %s: %w: %v (and dropping it failed: %v)", i, root, ErrCorrupt, err, cerr)
		}
	}
	return nil, fmt.Errorf("chunk %d of %s: %w: %v", i, root, ErrCorrupt, err)
}

// openData opens blob root's chunk bytes for reading, with a file offset
// of its own.
func (s *Store) openData(root merkle.Hash) (*os.File, error) {
	if _, err := s.open(root); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(s.blobDir(root), "data"))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", root, err)
	}
	return f, nil
}

// readFramed frames chunk i from its index record rec and its bytes, both
// checked against crc, the chunk's CRC when it was stored or loaded.
func (b *stored) readFramed(buf []byte, i int, crc uint32, rec []byte) ([]byte, error) {
	r, err := decodeRecord(rec)
	if err == nil && (!r.present || r.crc != crc) {
		err = errors.New("the record changed on the disk")
	}
	if err != nil {
		return nil, fmt.Errorf("its index record: %w", err)
	}
	n := b.m.ChunkLen(i)
	head := len(chunkMagic) + 1 + 32*len(r.proof)
	f := buf[:0]
	if cap(f) < head+n {
		f = make([]byte, 0, head+n)
	}
	f = appendFrameHead(f, r.proof)[:head+n]
	if _, err := b.data.ReadAt(f[head:], int64(i)*ChunkSize); err != nil {
		return nil, fmt.Errorf("read its bytes: %w", err)
	}
	if checksum(f[head:]) != crc {
		return nil, errors.New("its bytes no longer match the checksum recorded when it was stored")
	}
	return f, nil
}

// Status is what a node holds of a blob.
type Status struct {
	Manifest Manifest `json:"manifest"`
	Missing  []int    `json:"missing"`
	Complete bool     `json:"complete"`
}

// Status lists the chunks of blob root not stored yet, from the index;
// content is checked when the blob is opened and when a chunk is read.
func (s *Store) Status(root merkle.Hash) (Status, error) {
	b, err := s.open(root)
	if err != nil {
		return Status{}, err
	}
	st := Status{Manifest: b.m, Missing: []int{}}
	b.mu.Lock()
	for i, c := range b.chunks {
		if !c.present {
			st.Missing = append(st.Missing, i)
		}
	}
	b.mu.Unlock()
	st.Complete = len(st.Missing) == 0
	return st, nil
}
