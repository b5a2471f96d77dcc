// Package state owns Provena's authenticated key-value store: a cosmos/iavl
// tree whose root hash after each committed version is the chain's app
// hash, on goleveldb (or an in-memory db for tests), plus ICS23 proofs a
// client can check against that hash.
//
// Version V of the tree is the state after block V. Writes go to the working
// tree; Commit saves them as the next version; Rollback drops them. A crash
// before Commit loses only the uncommitted version, which CometBFT replays.
package state

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"

	dbm "github.com/cosmos/cosmos-db"
	"github.com/cosmos/iavl"
	iavldb "github.com/cosmos/iavl/db"
)

// cacheSize is the number of IAVL nodes kept in memory: enough for the upper
// levels of a tree with millions of accounts, bounded at a few hundred MB.
const cacheSize = 200_000

// flushThreshold keeps iavl from splitting a version over several db
// batches: it finds the latest version from the highest node key and its
// fast-node index from a marker, so a version half flushed before a crash
// could be mistaken for a saved one or leave the index ahead of the tree.
// One goleveldb batch is written atomically through its journal. (Open
// still repairs a version whose root is missing, as a safety net.)
const flushThreshold = math.MaxInt

// oneBatchDB hands iavl growable batches: iavl asks for batches
// preallocated to the flush threshold, which here is unbounded.
type oneBatchDB struct{ iavldb.DB }

func (d oneBatchDB) NewBatchWithSize(int) iavldb.Batch { return d.DB.NewBatch() }

// Store is an IAVL tree. Its methods are safe for concurrent use, but
// callers serialize writes with block execution anyway.
type Store struct {
	mu   sync.RWMutex
	db   dbm.DB
	tree *iavl.MutableTree
}

// Open opens (or creates) the store in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open state %s: %w", dir, err)
	}
	db, err := dbm.NewGoLevelDB("state", dir, nil)
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", dir, err)
	}
	s, err := newStore(db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open state %s: %w", dir, err)
	}
	return s, nil
}

// OpenMem returns an empty in-memory store.
func OpenMem() *Store {
	s, err := newStore(dbm.NewMemDB())
	if err != nil {
		// An empty memdb cannot fail to load; this is a bug, not input.
		panic(fmt.Sprintf("state: open memory store: %v", err))
	}
	return s
}

func newStore(db dbm.DB) (*Store, error) {
	tree := iavl.NewMutableTree(oneBatchDB{iavldb.NewWrapper(db)}, cacheSize, false, iavl.NewNopLogger(),
		iavl.SyncOption(true), iavl.FlushThresholdOption(flushThreshold))
	if _, err := tree.Load(); err != nil {
		if !errors.Is(err, iavl.ErrVersionDoesNotExist) {
			return nil, fmt.Errorf("load tree: %w", err)
		}
		if err := repair(tree); err != nil {
			return nil, err
		}
	}
	return &Store{db: db, tree: tree}, nil
}

// repair handles a version whose nodes were partly written before a crash
// (its root is missing): load the newest complete version and delete the
// rest, so the block is replayed.
func repair(tree *iavl.MutableTree) error {
	latest, err := tree.GetLatestVersion()
	if err != nil {
		return fmt.Errorf("repair tree: %w", err)
	}
	for v := latest - 1; v >= 0; v-- {
		if v == 0 || tree.VersionExists(v) {
			if err := tree.LoadVersionForOverwriting(v); err != nil {
				return fmt.Errorf("repair tree: roll back to version %d: %w", v, err)
			}
			return nil
		}
	}
	return fmt.Errorf("repair tree: no complete version below %d", latest)
}

// Get returns the working value of key, or nil if it is absent.
func (s *Store) Get(key []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, err := s.tree.Get(key)
	if err != nil {
		return nil, fmt.Errorf("state get %x: %w", key, err)
	}
	return v, nil
}

// Has reports whether key is present in the working tree.
func (s *Store) Has(key []byte) (bool, error) {
	v, err := s.Get(key)
	return v != nil, err
}

// Set writes key. IAVL cannot store a nil value; Set stores an empty one.
func (s *Store) Set(key, value []byte) error {
	if len(key) == 0 {
		return errors.New("state set: empty key")
	}
	if value == nil {
		value = []byte{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.tree.Set(key, value); err != nil {
		return fmt.Errorf("state set %x: %w", key, err)
	}
	return nil
}

// Delete removes key; deleting an absent key is not an error.
func (s *Store) Delete(key []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, _, err := s.tree.Remove(key); err != nil {
		return fmt.Errorf("state delete %x: %w", key, err)
	}
	return nil
}

// Iterate calls fn for each working key with the given prefix in ascending
// key order until fn returns false. fn must not write to the store.
func (s *Store) Iterate(prefix []byte, fn func(key, value []byte) bool) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	it, err := s.tree.Iterator(prefix, prefixEnd(prefix), true)
	if err != nil {
		return fmt.Errorf("state iterate %x: %w", prefix, err)
	}
	defer it.Close()
	for ; it.Valid(); it.Next() {
		if !fn(it.Key(), it.Value()) {
			break
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("state iterate %x: %w", prefix, err)
	}
	return nil
}

// prefixEnd returns the smallest key above every key with prefix, or nil if
// there is none (prefix empty or all 0xff).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Commit saves the working tree as the next version and returns its root
// hash, which equals WorkingHash just before the call.
func (s *Store) Commit() (hash []byte, version int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, v, err := s.tree.SaveVersion()
	if err != nil {
		return nil, 0, fmt.Errorf("state commit: %w", err)
	}
	return h, v, nil
}

// Version is the last committed version (0 before the first Commit).
func (s *Store) Version() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tree.Version()
}

// Hash is the root hash of the last committed version.
func (s *Store) Hash() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tree.Hash()
}

// WorkingHash is the root hash the working tree would commit to.
func (s *Store) WorkingHash() []byte {
	s.mu.Lock() // computing the hash caches it in the nodes
	defer s.mu.Unlock()
	return s.tree.WorkingHash()
}

// SetInitialVersion makes the first Commit save this version instead of 1,
// for chains whose genesis starts at a later height.
func (s *Store) SetInitialVersion(v int64) error {
	if v < 1 {
		return fmt.Errorf("state: initial version %d must be at least 1", v)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tree.Version() != 0 {
		return fmt.Errorf("state: cannot set initial version %d after version %d was committed", v, s.tree.Version())
	}
	s.tree.SetInitialVersion(uint64(v))
	return nil
}

// Rollback drops every write since the last Commit.
func (s *Store) Rollback() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tree.Rollback()
}

// GetVersioned returns the value of key at a committed version (nil if
// absent there).
func (s *Store) GetVersioned(key []byte, version int64) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.tree.VersionExists(version) {
		return nil, fmt.Errorf("state get %x: version %d is not available (latest %d)", key, version, s.tree.Version())
	}
	v, err := s.tree.GetVersioned(key, version)
	if err != nil {
		return nil, fmt.Errorf("state get %x at %d: %w", key, version, err)
	}
	return v, nil
}

// Close releases the database. Uncommitted writes are lost.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tree == nil {
		return nil
	}
	terr := s.tree.Close()
	derr := s.db.Close()
	s.tree = nil
	return errors.Join(terr, derr)
}
