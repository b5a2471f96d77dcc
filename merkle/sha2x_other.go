//go:build !amd64 || purego

package merkle

import "crypto/sha256"

// has2x is false: no interleaved implementation on this platform.
const has2x = false

// pairHasher is the portable form of the amd64 pair hasher.
type pairHasher struct {
	buf []byte
}

func newPairHasher(prefix byte, n int) *pairHasher {
	return &pairHasher{buf: append(make([]byte, 0, 1+n), prefix)}
}

func (p *pairHasher) hash2(x, y []byte) (Hash, Hash) {
	return sha256.Sum256(append(p.buf[:1], x...)), sha256.Sum256(append(p.buf[:1], y...))
}
