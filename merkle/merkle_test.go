package merkle

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// refRoot is the definition in the package doc, written recursively and
// independently of the level-by-level code under test.
func refRoot(leaves []Hash) Hash {
	for len(leaves) > 1 {
		var next []Hash
		for j := 0; j < len(leaves); j += 2 {
			if j+1 < len(leaves) {
				next = append(next, Node(leaves[j], leaves[j+1]))
			} else {
				next = append(next, leaves[j])
			}
		}
		leaves = next
	}
	return leaves[0]
}

func chunks(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf("chunk-%d", i))
	}
	return out
}

func TestRootMatchesDefinition(t *testing.T) {
	for n := 1; n <= 70; n++ {
		cs := chunks(n)
		leaves := make([]Hash, n)
		for i, c := range cs {
			leaves[i] = LeafHash(c)
		}
		want := refRoot(leaves)
		tree, err := New(append([]Hash(nil), leaves...))
		if err != nil {
			t.Fatal(err)
		}
		if tree.Root() != want {
			t.Fatalf("n=%d: tree root differs from definition", n)
		}
		got, err := Root(append([]Hash(nil), leaves...))
		if err != nil || got != want {
			t.Fatalf("n=%d: Root differs from definition", n)
		}
		for i := 0; i < n; i++ {
			proof, err := tree.Prove(i)
			if err != nil {
				t.Fatal(err)
			}
			if err := Verify(want, i, n, cs[i], proof); err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			if err := Verify(want, i, n, []byte("forged"), proof); !errors.Is(err, ErrProof) {
				t.Fatalf("n=%d i=%d: forged chunk verified", n, i)
			}
			if n > 1 {
				if err := Verify(want, (i+1)%n, n, cs[i], proof); err == nil {
					t.Fatalf("n=%d i=%d: proof verified at the wrong index", n, i)
				}
			}
			if err := Verify(want, i, n+1, cs[i], proof); err == nil && n&(n-1) != 0 {
				// A wrong n changes the promotion pattern for most shapes; when
				// it happens not to, the committed n is what pins it.
				t.Logf("n=%d i=%d: proof also verifies for n+1", n, i)
			}
		}
	}
}

func TestProveMany(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 90; n++ {
		cs := chunks(n)
		leaves := make([]Hash, n)
		for i, c := range cs {
			leaves[i] = LeafHash(c)
		}
		tree, _ := New(leaves)
		for trial := 0; trial < 20; trial++ {
			var idx []int
			var hs []Hash
			for i := 0; i < n; i++ {
				if rng.IntN(3) == 0 {
					idx = append(idx, i)
					hs = append(hs, leaves[i])
				}
			}
			if len(idx) == 0 {
				continue
			}
			proof, err := tree.ProveMany(idx)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyMany(tree.Root(), n, idx, hs, proof); err != nil {
				t.Fatalf("n=%d %v: %v", n, idx, err)
			}
			single := 0
			for _, i := range idx {
				p, _ := tree.Prove(i)
				single += len(p)
			}
			if len(proof) > single {
				t.Fatalf("n=%d: multiproof %d hashes > %d for single proofs", n, len(proof), single)
			}
			bad := append([]Hash(nil), hs...)
			bad[len(bad)-1][0] ^= 1
			if err := VerifyMany(tree.Root(), n, idx, bad, proof); err == nil {
				t.Fatalf("n=%d: tampered leaf verified", n)
			}
			if len(proof) > 0 {
				if err := VerifyMany(tree.Root(), n, idx, hs, proof[:len(proof)-1]); err == nil {
					t.Fatalf("n=%d: short proof verified", n)
				}
			}
			if err := VerifyMany(tree.Root(), n, idx, hs, append(proof, Hash{})); err == nil {
				t.Fatalf("n=%d: long proof verified", n)
			}
		}
	}
}

func TestBadArguments(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Fatal("empty tree accepted")
	}
	tree, _ := FromData([]byte("abcdefgh"), 3, 1)
	if tree.Len() != 3 {
		t.Fatalf("got %d chunks, want 3", tree.Len())
	}
	for _, idx := range [][]int{nil, {-1}, {3}, {1, 1}, {2, 1}} {
		if _, err := tree.ProveMany(idx); err == nil {
			t.Errorf("ProveMany(%v) accepted", idx)
		}
		if err := VerifyMany(tree.Root(), 3, idx, make([]Hash, len(idx)), nil); err == nil {
			t.Errorf("VerifyMany(%v) accepted", idx)
		}
	}
	if err := VerifyMany(tree.Root(), 0, []int{0}, []Hash{{}}, nil); err == nil {
		t.Error("n=0 accepted")
	}
	empty, _ := FromData(nil, 4, 1)
	if empty.Len() != 1 || empty.Root() != LeafHash(nil) {
		t.Error("empty data is not one empty chunk")
	}
}

func TestHashChunksWorkersAgree(t *testing.T) {
	data := make([]byte, 100_003)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, cs := range []int{1, 63, 64, 256, 1000} {
		for _, n := range []int{0, 1, cs, 2*cs + 1, len(data)} {
			one := HashChunks(data[:n], cs, 1)
			four := HashChunks(data[:n], cs, 4)
			// HashChunksFunc with another leaf function: its chunks are
			// the same, so prefixing LeafHash's input must change every leaf.
			other := func(c []byte) Hash { return LeafHash(append([]byte{0xff}, c...)) }
			funcFour := HashChunksFunc(data[:n], cs, 4, other)
			if len(one) != NumChunks(n, cs) || len(four) != len(one) || len(funcFour) != len(one) {
				t.Fatalf("chunk size %d, %d bytes: %d, %d and %d leaves, want %d", cs, n, len(one), len(four), len(funcFour), NumChunks(n, cs))
			}
			for i := range one {
				chunk := data[i*cs : min((i+1)*cs, n)]
				want := LeafHash(chunk)
				if one[i] != want || four[i] != want {
					t.Fatalf("chunk size %d, %d bytes: leaf %d differs from LeafHash", cs, n, i)
				}
				if funcFour[i] != other(chunk) {
					t.Fatalf("chunk size %d, %d bytes: HashChunksFunc leaf %d differs from its leaf function", cs, n, i)
				}
			}
		}
	}
}

func TestParseHash(t *testing.T) {
	h := LeafHash([]byte("x"))
	got, err := ParseHash(h.String())
	if err != nil || got != h {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := ParseHash("zz"); err == nil {
		t.Fatal("bad hex accepted")
	}
}

func TestProofLen(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for n := 1; n <= 80; n++ {
		leaves := make([]Hash, n)
		for i := range leaves {
			leaves[i] = LeafHash([]byte{byte(i)})
		}
		tree, _ := New(leaves)
		for trial := 0; trial < 10; trial++ {
			var idx []int
			for i := 0; i < n; i++ {
				if rng.IntN(4) == 0 {
					idx = append(idx, i)
				}
			}
			if len(idx) == 0 {
				idx = []int{n - 1}
			}
			p, _ := tree.ProveMany(idx)
			if got := ProofLen(n, idx); got != len(p) {
				t.Fatalf("n=%d %v: ProofLen %d, proof has %d", n, idx, got, len(p))
			}
		}
	}
}

// BenchmarkRoot measures committing 4 MiB (a 1x16x256x256 float32
// activation) at several chunk sizes: leaf hashing plus the inner nodes.
func BenchmarkRoot(b *testing.B) {
	data := make([]byte, 4<<20)
	for _, cs := range []int{64, 128, 256, 512, 1024} {
		b.Run(fmt.Sprintf("chunk%d", cs), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				Root(HashChunks(data, cs, 1))
			}
		})
	}
}

// The two-message SHA-256 kernel must give crypto/sha256's digests for
// every chunk size, data length and split, and so must the portable
// compression it falls back to in tests.
func TestBlock2MatchesSHA256(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	ref := func(data []byte, cs int) []Hash {
		var out []Hash
		for i := 0; i < NumChunks(len(data), cs); i++ {
			out = append(out, LeafHash(data[i*cs:min((i+1)*cs, len(data))]))
		}
		return out
	}
	for _, useKernel := range []bool{true, false} {
		useBlock2 = useKernel
		for _, cs := range []int{1, 7, 54, 55, 56, 63, 64, 119, 120, 256, 1000} {
			for _, n := range []int{0, 1, cs - 1, cs, cs + 1, 2 * cs, 3*cs - 1, 4 * cs, len(data)} {
				if n < 0 || n > len(data) {
					continue
				}
				want := ref(data[:n], cs)
				for _, workers := range []int{1, 3} {
					got := HashChunks(data[:n], cs, workers)
					if len(got) != len(want) {
						t.Fatalf("kernel %v cs %d n %d: %d leaves, want %d", useKernel, cs, n, len(got), len(want))
					}
					for i := range got {
						if got[i] != want[i] {
							t.Fatalf("kernel %v cs %d n %d workers %d: leaf %d differs", useKernel, cs, n, workers, i)
						}
					}
					r, err := Root(got)
					if err != nil || r != refRoot(want) {
						t.Fatalf("kernel %v cs %d n %d: root differs (%v)", useKernel, cs, n, err)
					}
				}
			}
		}
	}
	useBlock2 = haveBlock2
	// The portable compression against crypto/sha256 directly.
	for _, n := range []int{0, 1, 55, 56, 64, 200, 1000} {
		a, b := newPadded(0x5a, n), newPadded(0x5a, n)
		copy(a.body, data)
		copy(b.body, data[n:])
		var ha, hb Hash
		sa, sb := sha256IV, sha256IV
		compress(&sa, a.b)
		compress(&sb, b.b)
		sum2(&a, &b, &ha, &hb)
		for i := 0; i < 8; i++ {
			if binary.BigEndian.Uint32(ha[4*i:]) != sa[i] || binary.BigEndian.Uint32(hb[4*i:]) != sb[i] {
				t.Fatalf("body %d: kernel and portable compression differ", n)
			}
		}
		if ha != sha256.Sum256(append([]byte{0x5a}, data[:n]...)) || hb != sha256.Sum256(append([]byte{0x5a}, data[n:2*n]...)) {
			t.Fatalf("body %d: not SHA-256", n)
		}
	}
}

// BenchmarkHashChunks256 is a trace's hashing: the root over 256-byte
// chunks of 4 MiB, with crypto/sha256 alone and with the two-message kernel.
func BenchmarkHashChunks256(b *testing.B) {
	data := make([]byte, 4<<20)
	for _, k := range []bool{false, true} {
		name := "crypto-sha256"
		if k {
			name = "block2"
		}
		b.Run(name, func(b *testing.B) {
			if k && !haveBlock2 {
				b.Skip("no SHA-extension kernel on this CPU or build")
			}
			useBlock2 = k
			defer func() { useBlock2 = haveBlock2 }()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Root(HashChunks(data, 256, 1)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
