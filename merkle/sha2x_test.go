package merkle

import (
	"crypto/sha256"
	"math/rand/v2"
	"testing"
)

// TestPairHasher checks the interleaved two-message SHA-256 (SHA-NI
// assembly on amd64) against crypto/sha256 at every length that crosses a
// block or padding boundary.
func TestPairHasher(t *testing.T) {
	t.Logf("interleaved SHA-NI path: %v", has2x)
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 0; n <= 300; n++ {
		for _, prefix := range []byte{leafPrefix, innerPrefix} {
			p := newPairHasher(prefix, n)
			for trial := 0; trial < 3; trial++ {
				x, y := make([]byte, n), make([]byte, n)
				for i := range x {
					x[i], y[i] = byte(rng.Uint32()), byte(rng.Uint32())
				}
				a, b := p.hash2(x, y)
				if a != sha256.Sum256(append([]byte{prefix}, x...)) || b != sha256.Sum256(append([]byte{prefix}, y...)) {
					t.Fatalf("length %d prefix %d: pair hash differs from crypto/sha256", n, prefix)
				}
			}
		}
	}
}
