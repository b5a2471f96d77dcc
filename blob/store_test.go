package blob

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/provena/provena/merkle"
)

func FuzzDecodeRecord(f *testing.F) {
	good, _ := encodeRecord(0xdeadbeef, []merkle.Hash{{1}, {2}, {3}})
	empty, _ := encodeRecord(0, nil)
	torn := bytes.Clone(good)
	torn[100] ^= 1
	long := bytes.Clone(good)
	long[8] = maxStoredProof + 1
	f.Add(good)
	f.Add(empty)
	f.Add(torn)
	f.Add(long)
	f.Add(make([]byte, indexRecordSize))
	f.Add([]byte("pvi1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil || !r.present {
			if r.present {
				t.Fatal("a record that failed to decode is present")
			}
			return
		}
		enc, err := encodeRecord(r.crc, r.proof)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := decodeRecord(enc)
		if err != nil || r2.crc != r.crc || len(r2.proof) != len(r.proof) {
			t.Fatalf("round trip: %+v -> %+v %v", r, r2, err)
		}
	})
}

// putAll stores every chunk of data, laid out by l, in s.
func putAll(t *testing.T, s *Store, l *Layout, data []byte) {
	t.Helper()
	if err := s.PutManifest(l.Manifest); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < l.Manifest.Chunks; i++ {
		p, _ := l.Proof(i)
		end := min((i+1)*ChunkSize, len(data))
		if err := s.PutChunk(l.Manifest.Root, i, data[i*ChunkSize:end], p); err != nil {
			t.Fatal(err)
		}
	}
}

// A store reopened after a crash trusts no record whose chunk is not on
// the disk: each case damages a complete blob's files the way a crash or a
// disk can, reopens the store and expects exactly the damaged chunks
// missing, and every other chunk still served.
func TestStoreReopenDropsUntrustedChunks(t *testing.T) {
	data := randBytes(5*ChunkSize+77, 11)
	l, _ := BuildBytes(data)
	root := l.Manifest.Root
	cases := []struct {
		name    string
		damage  func(t *testing.T, s *Store)
		missing []int
	}{
		{"intact", func(*testing.T, *Store) {}, nil},
		{"record written, chunk never reached the disk", func(t *testing.T, s *Store) {
			writeAt(t, s, root, "data", 2*ChunkSize, make([]byte, ChunkSize))
		}, []int{2}},
		{"torn record", func(t *testing.T, s *Store) {
			writeAt(t, s, root, "index", 3*indexRecordSize+200, []byte{0x55})
		}, []int{3}},
		{"data file cut short", func(t *testing.T, s *Store) {
			if err := os.Truncate(filepath.Join(s.Dir(), root.String(), "data"), 4*ChunkSize+1); err != nil {
				t.Fatal(err)
			}
		}, []int{4, 5}},
		{"flipped byte in the last chunk", func(t *testing.T, s *Store) { corruptChunk(t, s, root, 5, 0) }, []int{5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			putAll(t, s, l, data)
			s.Close()
			c.damage(t, s)
			s2, err := Open(s.Dir())
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			st, err := s2.Status(root)
			if err != nil {
				t.Fatal(err)
			}
			if want := append([]int{}, c.missing...); !slices.Equal(st.Missing, want) {
				t.Fatalf("missing %v, want %v", st.Missing, want)
			}
			for i := 0; i < l.Manifest.Chunks; i++ {
				d, p, err := s2.Chunk(root, i)
				if errors.Is(err, ErrNotFound) && slices.Contains(c.missing, i) {
					continue
				}
				if err != nil {
					t.Fatalf("chunk %d: %v", i, err)
				}
				if err := l.Manifest.VerifyChunk(i, d, p); err != nil {
					t.Fatalf("chunk %d served without verifying: %v", i, err)
				}
			}
			// The dropped records are zeroed on the disk too: a third
			// opening agrees without re-reading anything damaged.
			s3, _ := Open(s.Dir())
			defer s3.Close()
			if st3, _ := s3.Status(root); !slices.Equal(st3.Missing, st.Missing) {
				t.Fatalf("third opening: missing %v, want %v", st3.Missing, st.Missing)
			}
		})
	}
}

// A chunk corrupted while the store is open is caught by the read, dropped
// and listed missing; storing it again repairs it.
func TestStoreCorruptionOnRead(t *testing.T) {
	data := randBytes(3*ChunkSize, 12)
	l, _ := BuildBytes(data)
	root := l.Manifest.Root
	s, _ := Open(t.TempDir())
	defer s.Close()
	putAll(t, s, l, data)
	corruptChunk(t, s, root, 1, 5)
	if _, _, err := s.Chunk(root, 1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read of a corrupted chunk: %v", err)
	}
	if _, _, err := s.Chunk(root, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second read: %v, want not found", err)
	}
	if st, _ := s.Status(root); !slices.Equal(st.Missing, []int{1}) {
		t.Fatalf("status %+v", st)
	}
	p, _ := l.Proof(1)
	if err := s.PutChunk(root, 1, data[ChunkSize:2*ChunkSize], p); err != nil {
		t.Fatal(err)
	}
	if d, _, err := s.Chunk(root, 1); err != nil || !bytes.Equal(d, data[ChunkSize:2*ChunkSize]) {
		t.Fatalf("repaired chunk: %v", err)
	}
	// A damaged index record (its proof) is caught the same way.
	writeAt(t, s, root, "index", 2*indexRecordSize+20, []byte{0xee})
	if _, _, err := s.Chunk(root, 2); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read through a damaged record: %v", err)
	}
	if st, _ := s.Status(root); !slices.Equal(st.Missing, []int{2}) {
		t.Fatalf("status after a damaged record %+v", st)
	}
}

// A directory written by the old store (one file per chunk) is an error
// that says so, not a panic or an empty blob.
func TestStoreOldLayout(t *testing.T) {
	dir := t.TempDir()
	l, _ := BuildBytes(randBytes(2*ChunkSize, 13))
	bd := filepath.Join(dir, l.Manifest.Root.String())
	os.MkdirAll(bd, 0o755)
	mb, _ := json.Marshal(l.Manifest)
	os.WriteFile(filepath.Join(bd, "manifest.json"), mb, 0o644)
	os.WriteFile(filepath.Join(bd, "1.chunk"), []byte("pvc1\x00old"), 0o644)
	s, _ := Open(dir)
	for name, err := range map[string]error{
		"status":   func() error { _, err := s.Status(l.Manifest.Root); return err }(),
		"manifest": s.PutManifest(l.Manifest),
	} {
		if err == nil || !strings.Contains(err.Error(), "old one-file-per-chunk layout") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Without the manifest (a create that crashed) the same holds.
	os.Remove(filepath.Join(bd, "manifest.json"))
	if err := s.PutManifest(l.Manifest); err == nil || !strings.Contains(err.Error(), "old one-file-per-chunk layout") {
		t.Errorf("manifest over chunk files: %v", err)
	}
}

// A blob stored by a build of format 1 (SHA-256 leaves, a manifest
// without "format") is refused with an error that says so, whether it is
// read, posted again or reached by a session's commit; it is never served
// under a root this build's leaf hash cannot check.
func TestStoreOldFormat(t *testing.T) {
	dir := t.TempDir()
	data := randBytes(2*ChunkSize+5, 14)
	l, _ := BuildBytes(data)
	bd := filepath.Join(dir, l.Manifest.Root.String())
	os.MkdirAll(bd, 0o755)
	old := fmt.Sprintf(`{"root":"%s","size":%d,"chunks":%d}`, l.Manifest.Root, l.Manifest.Size, l.Manifest.Chunks)
	os.WriteFile(filepath.Join(bd, "manifest.json"), []byte(old), 0o644)
	os.WriteFile(filepath.Join(bd, "data"), data, 0o644)
	os.WriteFile(filepath.Join(bd, "index"), make([]byte, l.Manifest.Chunks*indexRecordSize), 0o644)
	s, _ := Open(dir)
	ss, err := s.OpenSession(l.Manifest.Size)
	if err != nil {
		t.Fatal(err)
	}
	for i := range l.Manifest.Chunks {
		if err := s.PutSessionChunk(ss.Session, i, data[i*ChunkSize:min((i+1)*ChunkSize, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	for name, err := range map[string]error{
		"status":   func() error { _, err := s.Status(l.Manifest.Root); return err }(),
		"chunk":    func() error { _, _, err := s.Chunk(l.Manifest.Root, 0); return err }(),
		"manifest": s.PutManifest(l.Manifest),
		"commit":   func() error { _, err := s.CommitSession(ss.Session, l.Manifest); return err }(),
	} {
		if !errors.Is(err, ErrOldFormat) || !strings.Contains(err.Error(), "format 1 (SHA-256 chunk leaves)") || !strings.Contains(err.Error(), "remove the directory") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func writeAt(t *testing.T, s *Store, root merkle.Hash, name string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(s.Dir(), root.String(), name), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// Requests racing to open the same blob from the disk all get the one
// open blob: a chunk stored through one is seen by all.
func TestStoreConcurrentOpen(t *testing.T) {
	data := randBytes(4*ChunkSize, 14)
	l, _ := BuildBytes(data)
	root := l.Manifest.Root
	s, _ := Open(t.TempDir())
	putAll(t, s, l, data)
	s.Close()
	writeAt(t, s, root, "index", 0, make([]byte, indexRecordSize)) // chunk 0 absent
	s2, _ := Open(s.Dir())
	defer s2.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for k := 0; k < 16; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := s2.Status(root)
			if err == nil && !slices.Equal(st.Missing, []int{0}) {
				err = fmt.Errorf("missing %v", st.Missing)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	p, _ := l.Proof(0)
	if err := s2.PutChunk(root, 0, data[:ChunkSize], p); err != nil {
		t.Fatal(err)
	}
	if st, _ := s2.Status(root); !st.Complete || len(s2.blobs) != 1 {
		t.Fatalf("status %+v, %d open blobs", st, len(s2.blobs))
	}
}
