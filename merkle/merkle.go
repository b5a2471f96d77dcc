// Package merkle owns Provena's binary SHA-256 Merkle trees: the commitment
// behind model ids, execution traces, blob storage and one-step fraud proofs.
//
// A tree commits an ordered list of n >= 1 leaves. Hashing is domain
// separated so that a leaf can never be passed off as an inner node:
//
//	leaf(chunk) = SHA-256(0x00 || chunk)
//	node(l, r)  = SHA-256(0x01 || l || r)
//
// Level k+1 pairs the nodes of level k left to right; an unpaired last node
// is promoted unchanged (it is never hashed with itself, so two different
// leaf lists cannot share a root by duplication). The root of one leaf is
// that leaf's hash. Proofs and multiproofs are verified against the root and
// the leaf count n, which every user of this package commits separately.
//
// Use New or FromData to build a tree, Prove or ProveMany to open leaves, and
// Verify or VerifyMany to check openings without the tree.
package merkle

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// Hash is a SHA-256 digest.
type Hash [32]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash decodes a 64-character hex digest.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("parse hash %q: want 64 hex characters", s)
	}
	copy(h[:], b)
	return h, nil
}

const (
	leafPrefix  = 0x00
	innerPrefix = 0x01
)

// ErrProof reports a proof that does not open the claimed leaves.
var ErrProof = errors.New("merkle proof does not verify")

// LeafHash is the hash of one leaf's data.
func LeafHash(chunk []byte) Hash {
	h := sha256.New()
	h.Write([]byte{leafPrefix})
	h.Write(chunk)
	var out Hash
	h.Sum(out[:0])
	return out
}

// Node is the hash of an inner node with children l and r.
func Node(l, r Hash) Hash {
	var buf [1 + 2*len(Hash{})]byte
	buf[0] = innerPrefix
	copy(buf[1:], l[:])
	copy(buf[1+len(l):], r[:])
	return sha256.Sum256(buf[:])
}

// Tree is a Merkle tree that keeps every level, so that it can open any leaf.
type Tree struct {
	levels [][]Hash
}

// New builds a tree over leaf hashes (see LeafHash). It needs at least one
// leaf.
func New(leaves []Hash) (*Tree, error) {
	if len(leaves) == 0 {
		return nil, errors.New("merkle tree needs at least one leaf")
	}
	t := &Tree{levels: [][]Hash{leaves}}
	for cur := leaves; len(cur) > 1; {
		cur = nextLevel(cur, make([]Hash, (len(cur)+1)/2))
		t.levels = append(t.levels, cur)
	}
	return t, nil
}

// FromData builds a tree over the fixed-size chunks of data: chunk i is
// data[i*chunkSize : min((i+1)*chunkSize, len(data))]. Empty data is one
// empty chunk. Leaves are hashed by up to workers goroutines.
func FromData(data []byte, chunkSize, workers int) (*Tree, error) {
	if chunkSize <= 0 {
		return nil, fmt.Errorf("merkle chunk size %d", chunkSize)
	}
	return New(HashChunks(data, chunkSize, workers))
}

// NumChunks is how many chunks data of the given length splits into.
func NumChunks(length, chunkSize int) int {
	if length == 0 {
		return 1
	}
	return (length + chunkSize - 1) / chunkSize
}

// HashChunks returns the leaf hashes of data's fixed-size chunks, computed by
// up to workers goroutines (the result does not depend on workers).
func HashChunks(data []byte, chunkSize, workers int) []Hash {
	n := NumChunks(len(data), chunkSize)
	leaves := make([]Hash, n)
	// Below a few hundred (256-byte) chunks goroutine start-up costs more
	// than it saves.
	if n < 512 {
		workers = 1
	}
	forRanges(n, workers, func(lo, hi int) { hashLeaves(data, chunkSize, leaves, lo, hi) })
	return leaves
}

// HashChunksFunc is HashChunks with another leaf function, for trees whose
// leaves are not LeafHash (a blob's chunks): leaf(chunk) for each chunk, by
// up to workers goroutines.
func HashChunksFunc(data []byte, chunkSize, workers int, leaf func(chunk []byte) Hash) []Hash {
	n := NumChunks(len(data), chunkSize)
	leaves := make([]Hash, n)
	forRanges(n, workers, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			leaves[i] = leaf(data[i*chunkSize : min((i+1)*chunkSize, len(data))])
		}
	})
	return leaves
}

// forRanges splits [0, n) into one contiguous range per worker (at most
// GOMAXPROCS) and runs fn on each, returning when all are done.
func forRanges(n, workers int, fn func(lo, hi int)) {
	workers = min(workers, runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += per {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, min(lo+per, n))
	}
	wg.Wait()
}

// Root computes the root over leaf hashes without keeping the tree. It
// overwrites leaves.
func Root(leaves []Hash) (Hash, error) {
	if len(leaves) == 0 {
		return Hash{}, errors.New("merkle tree needs at least one leaf")
	}
	for len(leaves) > 1 {
		leaves = nextLevel(leaves, leaves[:(len(leaves)+1)/2])
	}
	return leaves[0], nil
}

// Root is the tree's root.
func (t *Tree) Root() Hash { return t.levels[len(t.levels)-1][0] }

// Len is the number of leaves.
func (t *Tree) Len() int { return len(t.levels[0]) }

// Leaf returns leaf hash i.
func (t *Tree) Leaf(i int) Hash { return t.levels[0][i] }

// Prove opens leaf i: the sibling hashes from the leaf level up.
func (t *Tree) Prove(i int) ([]Hash, error) {
	return t.ProveMany([]int{i})
}

// ProveMany opens several leaves at once (indices sorted, unique). The
// proof lists, level by level from the leaves up and left to right, the
// sibling hashes that cannot be computed from the opened leaves; shared
// ancestors are never repeated, so opening k neighbouring leaves costs far
// less than k single proofs.
func (t *Tree) ProveMany(indices []int) ([]Hash, error) {
	if err := checkIndices(indices, t.Len()); err != nil {
		return nil, err
	}
	var proof []Hash
	known := append([]int(nil), indices...)
	for _, level := range t.levels[:len(t.levels)-1] {
		for k := 0; k < len(known); k++ {
			idx := known[k]
			switch {
			case idx%2 == 0 && k+1 < len(known) && known[k+1] == idx+1:
				k++
			case idx%2 == 0 && idx+1 < len(level):
				proof = append(proof, level[idx+1])
			case idx%2 == 1:
				proof = append(proof, level[idx-1])
			}
		}
		known = parents(known)
	}
	return proof, nil
}

// Verify checks that chunk is leaf i of the n-leaf tree with the given root.
func Verify(root Hash, i, n int, chunk []byte, proof []Hash) error {
	return VerifyMany(root, n, []int{i}, []Hash{LeafHash(chunk)}, proof)
}

// VerifyMany checks a ProveMany proof: leaves[k] is the leaf hash at
// indices[k] of the n-leaf tree with the given root.
func VerifyMany(root Hash, n int, indices []int, leaves []Hash, proof []Hash) error {
	if n < 1 {
		return fmt.Errorf("%w: tree of %d leaves", ErrProof, n)
	}
	if len(leaves) != len(indices) {
		return fmt.Errorf("%w: %d leaves for %d indices", ErrProof, len(leaves), len(indices))
	}
	if err := checkIndices(indices, n); err != nil {
		return fmt.Errorf("%w: %v", ErrProof, err)
	}
	known := append([]int(nil), indices...)
	hashes := append([]Hash(nil), leaves...)
	next := func() (Hash, bool) {
		if len(proof) == 0 {
			return Hash{}, false
		}
		h := proof[0]
		proof = proof[1:]
		return h, true
	}
	for size := n; size > 1; size = (size + 1) / 2 {
		pk := known[:0]
		ph := hashes[:0]
		for k := 0; k < len(known); k++ {
			idx, h := known[k], hashes[k]
			var parent Hash
			switch {
			case idx%2 == 0 && k+1 < len(known) && known[k+1] == idx+1:
				parent = Node(h, hashes[k+1])
				k++
			case idx%2 == 0 && idx+1 < size:
				sib, ok := next()
				if !ok {
					return fmt.Errorf("%w: proof too short", ErrProof)
				}
				parent = Node(h, sib)
			case idx%2 == 0:
				parent = h
			default:
				sib, ok := next()
				if !ok {
					return fmt.Errorf("%w: proof too short", ErrProof)
				}
				parent = Node(sib, h)
			}
			// Writing in place is safe: the parent list never outruns k.
			pk = append(pk, idx/2)
			ph = append(ph, parent)
		}
		known, hashes = pk, ph
	}
	if len(proof) != 0 {
		return fmt.Errorf("%w: %d unused proof hashes", ErrProof, len(proof))
	}
	if hashes[0] != root {
		return fmt.Errorf("%w: root mismatch", ErrProof)
	}
	return nil
}

func parents(known []int) []int {
	out := known[:0]
	for _, idx := range known {
		if p := idx / 2; len(out) == 0 || out[len(out)-1] != p {
			out = append(out, p)
		}
	}
	return out
}

func checkIndices(indices []int, n int) error {
	if len(indices) == 0 {
		return errors.New("no leaf to open")
	}
	for k, idx := range indices {
		if idx < 0 || idx >= n {
			return fmt.Errorf("leaf %d out of range [0,%d)", idx, n)
		}
		if k > 0 && idx <= indices[k-1] {
			return fmt.Errorf("leaf indices not sorted and unique at %d", k)
		}
	}
	return nil
}

// ProofLen is the number of hashes ProveMany returns for indices (sorted,
// unique) of an n-leaf tree, computed without the tree.
func ProofLen(n int, indices []int) int {
	count := 0
	known := append([]int(nil), indices...)
	for size := n; size > 1; size = (size + 1) / 2 {
		for k := 0; k < len(known); k++ {
			idx := known[k]
			switch {
			case idx%2 == 0 && k+1 < len(known) && known[k+1] == idx+1:
				k++
			case idx%2 == 0 && idx+1 < size:
				count++
			case idx%2 == 1:
				count++
			}
		}
		known = parents(known)
	}
	return count
}

// MarshalText writes the hash in hex, so JSON proofs and traces are
// readable.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads a hex hash.
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}
