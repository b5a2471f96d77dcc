//go:build amd64 && !purego

package merkle

import (
	"crypto/sha256"
	"encoding/binary"

	"golang.org/x/sys/cpu"
)

//go:generate sh -c "python3 gen_sha2x.py > sha2x_amd64.s"

// block2 runs the SHA-256 compression function over n 64-byte blocks of
// two independent, already padded messages at once (sha2x_amd64.s), which
// keeps both SHA-NI dependency chains busy.
//
//go:noescape
func block2(a, b *[8]uint32, pa, pb *byte, n int)

func cpuidSHA() bool

// has2x: the interleaved SHA-NI path needs SHA-NI, SSE4.1, SSSE3 and the
// AVX register state (the code uses VEX-encoded moves).
var has2x = cpu.X86.HasAVX && cpu.X86.HasSSE41 && cpu.X86.HasSSSE3 && cpuidSHA()

var iv = [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}

// pairHasher hashes two messages of the same length prefix||data at once.
// Its buffers hold the padding for that length, written once.
type pairHasher struct {
	n      int // data length
	blocks int
	a, b   []byte
}

func newPairHasher(prefix byte, n int) *pairHasher {
	total := 1 + n
	blocks := (total + 9 + 63) / 64
	p := &pairHasher{n: n, blocks: blocks, a: make([]byte, 64*blocks), b: make([]byte, 64*blocks)}
	for _, buf := range [][]byte{p.a, p.b} {
		buf[0] = prefix
		buf[total] = 0x80
		binary.BigEndian.PutUint64(buf[len(buf)-8:], uint64(total)*8)
	}
	return p
}

// hash2 returns SHA-256(prefix||x) and SHA-256(prefix||y); len(x) and len(y)
// must be p.n.
func (p *pairHasher) hash2(x, y []byte) (Hash, Hash) {
	if !has2x {
		return sha256.Sum256(append(p.a[:1:1], x...)), sha256.Sum256(append(p.b[:1:1], y...))
	}
	copy(p.a[1:], x)
	copy(p.b[1:], y)
	sa, sb := iv, iv
	block2(&sa, &sb, &p.a[0], &p.b[0], p.blocks)
	var ha, hb Hash
	for i := 0; i < 8; i++ {
		binary.BigEndian.PutUint32(ha[4*i:], sa[i])
		binary.BigEndian.PutUint32(hb[4*i:], sb[i])
	}
	return ha, hb
}
