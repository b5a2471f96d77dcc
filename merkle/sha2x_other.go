//go:build !amd64 || purego

package merkle

import "unsafe"

// Without the amd64 SHA-extension kernel, crypto/sha256 (which has its own
// assembly where the CPU allows) does the hashing; block2 here is the
// portable compression function, which only tests call, so that the
// padding and pairing code is checked on every platform.
var haveBlock2 = false

func block2(s0, s1 *[8]uint32, p0, p1 *byte, n int) {
	compress(s0, unsafe.Slice(p0, 64*n))
	compress(s1, unsafe.Slice(p1, 64*n))
}
