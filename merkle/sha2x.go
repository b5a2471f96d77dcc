package merkle

import (
	"crypto/sha256"
	"encoding/binary"
)

// The trace hashes hundreds of megabytes per run as 257-byte leaves and
// 65-byte inner nodes: crypto/sha256 then spends more time setting up and
// finalising each call than a long message would, and SHA256RNDS2 chains
// leave the core idle between dependent rounds. block2 hashes two
// equal-length messages at once from buffers whose padding is written once,
// which is the same SHA-256 (the tests compare with crypto/sha256 on every
// path), only faster.

// useBlock2 selects the two-message kernel; tests switch it to compare paths.
var useBlock2 = haveBlock2

var sha256IV = [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}

// padded is a message buffer prefix || body || SHA-256 padding for bodies of
// one fixed length; only the body changes between messages.
type padded struct {
	b      []byte
	body   []byte
	blocks int
}

func newPadded(prefix byte, bodyLen int) padded {
	l := 1 + bodyLen
	n := (l + 9 + 63) / 64
	b := make([]byte, 64*n)
	b[0] = prefix
	b[l] = 0x80
	binary.BigEndian.PutUint64(b[len(b)-8:], uint64(l)*8)
	return padded{b: b, body: b[1:l], blocks: n}
}

// sum2 hashes the messages in a and b (same length) into ha and hb.
func sum2(a, b *padded, ha, hb *Hash) {
	sa, sb := sha256IV, sha256IV
	block2(&sa, &sb, &a.b[0], &b.b[0], a.blocks)
	for i := 0; i < 8; i++ {
		binary.BigEndian.PutUint32(ha[4*i:], sa[i])
		binary.BigEndian.PutUint32(hb[4*i:], sb[i])
	}
}

// hashLeaves writes the leaf hashes of chunks lo..hi-1 of data.
func hashLeaves(data []byte, chunkSize int, leaves []Hash, lo, hi int) {
	i := lo
	if useBlock2 && hi-lo >= 2 {
		a, b := newPadded(leafPrefix, chunkSize), newPadded(leafPrefix, chunkSize)
		ab, bb := a.body, b.body
		for ; i+1 < hi && (i+2)*chunkSize <= len(data); i += 2 {
			copy(ab, data[i*chunkSize:])
			copy(bb, data[(i+1)*chunkSize:])
			sum2(&a, &b, &leaves[i], &leaves[i+1])
		}
	}
	if i >= hi {
		return
	}
	// One contiguous prefix||chunk buffer lets sha256.Sum256 run without
	// allocating a hash state per leaf.
	buf := make([]byte, 1+chunkSize)
	buf[0] = leafPrefix
	for ; i < hi; i++ {
		n := copy(buf[1:], data[i*chunkSize:min((i+1)*chunkSize, len(data))])
		leaves[i] = sha256.Sum256(buf[:1+n])
	}
}

// nextLevel writes the parents of cur into next, which may alias cur: parents
// j and j+1 only read children 2j to 2j+3, which are at or after j, and are
// written after those reads.
func nextLevel(cur, next []Hash) []Hash {
	j := 0
	if useBlock2 {
		a, b := newPadded(innerPrefix, 2*len(Hash{})), newPadded(innerPrefix, 2*len(Hash{}))
		ab, bb := a.body, b.body
		for ; j+1 < len(next) && 2*j+3 < len(cur); j += 2 {
			copy(ab, cur[2*j][:])
			copy(ab[32:], cur[2*j+1][:])
			copy(bb, cur[2*j+2][:])
			copy(bb[32:], cur[2*j+3][:])
			sum2(&a, &b, &next[j], &next[j+1])
		}
	}
	for ; j < len(next); j++ {
		if 2*j+1 < len(cur) {
			next[j] = Node(cur[2*j], cur[2*j+1])
		} else {
			next[j] = cur[2*j]
		}
	}
	return next
}
