package opml

import "github.com/provena/provena/merkle"

// shape describes a merkle tree of n leaves as package merkle builds it:
// level 0 holds the leaves, level k+1 pairs level k left to right, and an
// unpaired last node is promoted unchanged.
type shape struct{ sizes []int }

func newShape(n int) shape {
	s := shape{sizes: []int{n}}
	for n > 1 {
		n = (n + 1) / 2
		s.sizes = append(s.sizes, n)
	}
	return s
}

// top is the root's level.
func (s shape) top() int { return len(s.sizes) - 1 }

// single reports whether node (level, index) has one child, so that its
// hash is its child's and the descent passes through without a move.
func (s shape) single(level, index int) bool {
	return level > 0 && 2*index+1 >= s.sizes[level-1]
}

// cursor is a position in a descent: a tree node and the hash the worker
// committed for it.
type cursor struct {
	Level int         `json:"level"`
	Index int         `json:"index"`
	Hash  merkle.Hash `json:"hash"`
}

// settle moves c down through promoted nodes, which need no move.
func (s shape) settle(c cursor) cursor {
	for s.single(c.Level, c.Index) {
		c.Level--
		c.Index *= 2
	}
	return c
}
