package blob

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/provena/provena/merkle"
)

// Store keeps verified chunks on disk:
//
//	<dir>/<root hex>/manifest.json
//	<dir>/<root hex>/<index>.chunk     EncodeChunk(proof, data)
//
// Every file is written to a temporary name and renamed into place, so a
// reader never sees a half-written chunk. Chunks are not fsynced: a chunk
// torn by a crash fails verification when read, is dropped and shows up as
// missing again, which the uploader's resume repairs.
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

	mu        sync.Mutex
	manifests map[merkle.Hash]Manifest
}

// Open opens (creating) the store in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open blob store: %w", err)
	}
	return &Store{dir: dir, MaxSize: MaxSize, manifests: map[merkle.Hash]Manifest{}}, nil
}

// Dir is the store's root directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) blobDir(root merkle.Hash) string { return filepath.Join(s.dir, root.String()) }

func (s *Store) chunkPath(root merkle.Hash, i int) string {
	return filepath.Join(s.blobDir(root), strconv.Itoa(i)+".chunk")
}

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
	s.mu.Lock()
	defer s.mu.Unlock()
	old, err := s.manifestLocked(m.Root)
	switch {
	case err == nil && old == m:
		return nil
	case err == nil:
		return fmt.Errorf("blob %s: have size %d, got %d: %w", m.Root, old.Size, m.Size, ErrConflict)
	case !errors.Is(err, ErrNotFound):
		return err
	}
	if s.Admit != nil {
		if err := s.Admit(m); err != nil {
			return fmt.Errorf("blob %s not admitted: %w", m.Root, err)
		}
	}
	if err := os.MkdirAll(s.blobDir(m.Root), 0o755); err != nil {
		return fmt.Errorf("put manifest %s: %w", m.Root, err)
	}
	b, _ := json.Marshal(m) // plain struct: cannot fail
	if err := writeAtomic(filepath.Join(s.blobDir(m.Root), "manifest.json"), b); err != nil {
		return fmt.Errorf("put manifest %s: %w", m.Root, err)
	}
	s.manifests[m.Root] = m
	return nil
}

// Manifest returns a blob's manifest, or ErrNotFound.
func (s *Store) Manifest(root merkle.Hash) (Manifest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.manifestLocked(root)
}

func (s *Store) manifestLocked(root merkle.Hash) (Manifest, error) {
	if m, ok := s.manifests[root]; ok {
		return m, nil
	}
	b, err := os.ReadFile(filepath.Join(s.blobDir(root), "manifest.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, fmt.Errorf("blob %s: %w", root, ErrNotFound)
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("read manifest %s: %w", root, err)
	}
	m, err := DecodeManifest(b)
	if err != nil {
		return Manifest{}, fmt.Errorf("read manifest %s: %w", root, err)
	}
	if m.Root != root {
		return Manifest{}, fmt.Errorf("read manifest %s: file is for blob %s", root, m.Root)
	}
	s.manifests[root] = m
	return m, nil
}

// PutChunk verifies chunk i of blob root against its manifest and stores it.
func (s *Store) PutChunk(root merkle.Hash, i int, data []byte, proof []merkle.Hash) error {
	return s.PutFramed(root, i, EncodeChunk(proof, data))
}

// PutFramed is PutChunk for a chunk already framed by EncodeChunk (as it
// arrives over HTTP), stored without copying.
func (s *Store) PutFramed(root merkle.Hash, i int, framed []byte) error {
	proof, data, err := DecodeChunk(framed)
	if err != nil {
		return err
	}
	m, err := s.Manifest(root)
	if err != nil {
		return err
	}
	if err := m.VerifyChunk(i, data, proof); err != nil {
		return fmt.Errorf("blob %s: %w", root, err)
	}
	if err := writeAtomic(s.chunkPath(root, i), framed); err != nil {
		return fmt.Errorf("store chunk %d of %s: %w", i, root, err)
	}
	return nil
}

// Chunk reads chunk i of blob root and its proof, verifying both: a chunk
// corrupted on disk is removed and reported as ErrCorrupt.
func (s *Store) Chunk(root merkle.Hash, i int) (data []byte, proof []merkle.Hash, err error) {
	b, err := s.Framed(root, i)
	if err != nil {
		return nil, nil, err
	}
	proof, data, err = DecodeChunk(b)
	return data, proof, err
}

// Framed is Chunk returning the verified chunk in its EncodeChunk framing,
// as stored and as served.
func (s *Store) Framed(root merkle.Hash, i int) ([]byte, error) { return s.framedInto(nil, root, i) }

// framedInto is Framed reading into buf's storage when it is large enough.
func (s *Store) framedInto(buf []byte, root merkle.Hash, i int) ([]byte, error) {
	m, err := s.Manifest(root)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= m.Chunks {
		return nil, fmt.Errorf("blob %s has %d chunks, no chunk %d: %w", root, m.Chunks, i, ErrNotFound)
	}
	p := s.chunkPath(root, i)
	b, err := readFileInto(buf, p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("chunk %d of %s: %w", i, root, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read chunk %d of %s: %w", i, root, err)
	}
	proof, data, err := DecodeChunk(b)
	if err == nil {
		err = m.VerifyChunk(i, data, proof)
	}
	if err != nil {
		// Dropping it makes the chunk missing again, so a re-upload or
		// another node's copy can repair it.
		if rerr := os.Remove(p); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return nil, fmt.Errorf("chunk %d of %s: %w (and removing it failed: %v)", i, root, ErrCorrupt, rerr)
		}
		return nil, fmt.Errorf("chunk %d of %s: %w: %v", i, root, ErrCorrupt, err)
	}
	return b, nil
}

// Status is what a node holds of a blob.
type Status struct {
	Manifest Manifest `json:"manifest"`
	Missing  []int    `json:"missing"`
	Complete bool     `json:"complete"`
}

// Status lists the chunks of blob root not stored yet. Presence is checked,
// not content; Chunk verifies content when it is read.
func (s *Store) Status(root merkle.Hash) (Status, error) {
	m, err := s.Manifest(root)
	if err != nil {
		return Status{}, err
	}
	st := Status{Manifest: m, Missing: []int{}}
	for i := 0; i < m.Chunks; i++ {
		if _, err := os.Stat(s.chunkPath(root, i)); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return Status{}, fmt.Errorf("status of %s: %w", root, err)
			}
			st.Missing = append(st.Missing, i)
		}
	}
	st.Complete = len(st.Missing) == 0
	return st, nil
}

// readFileInto is os.ReadFile into buf's storage when it is large enough. A
// file over maxFramedChunk is read only that far: it cannot be a chunk, and
// verification refuses it.
func readFileInto(buf []byte, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	n := int(min(fi.Size(), maxFramedChunk+1))
	b := buf[:0]
	if cap(b) < n {
		b = make([]byte, 0, n)
	}
	b = b[:n]
	k, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	return b[:k], nil
}
