package state

import (
	"bytes"
	"encoding/binary"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
)

// TestRepairPartialVersion simulates a crash while iavl flushed part of a
// version: node keys of version 2 exist but its root does not. Open must
// come back at version 1, not mistake version 2 for an empty tree.
func TestRepairPartialVersion(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Set([]byte("k"), []byte("v"))
	h1, _, _ := s.Commit()
	s.Close()

	db, err := dbm.NewGoLevelDB("state", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// iavl's node key: 's' + version (8 bytes) + nonce (4 bytes); nonce 1
	// is the root, so write a later nonce only.
	k := binary.BigEndian.AppendUint64([]byte{'s'}, 2)
	k = binary.BigEndian.AppendUint32(k, 3)
	if err := db.Set(k, []byte("half-written node")); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err = Open(dir)
	if err != nil {
		t.Fatalf("reopen after partial version: %v", err)
	}
	defer s.Close()
	if s.Version() != 1 || !bytes.Equal(s.Hash(), h1) {
		t.Fatalf("reopened at %d %x, want 1 %x", s.Version(), s.Hash(), h1)
	}
	if v, _ := s.Get([]byte("k")); string(v) != "v" {
		t.Fatalf("k = %q", v)
	}
	s.Set([]byte("k2"), []byte("v2"))
	if _, v, err := s.Commit(); err != nil || v != 2 {
		t.Fatalf("commit after repair: %d %v", v, err)
	}
}
