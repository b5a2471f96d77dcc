//go:build amd64 && !purego

package merkle

// block2 compresses n 64-byte blocks of p0 into s0 and of p1 into s1 (SHA
// extensions, two messages interleaved). Both buffers hold at least 64*n
// bytes.
//
//go:noescape
func block2(s0, s1 *[8]uint32, p0, p1 *byte, n int)

func cpuidSHA() bool

var haveBlock2 = cpuidSHA()
