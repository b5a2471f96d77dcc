// Package zk owns Provena's zero-knowledge verified inference (zkML): the
// gnark circuit compiled from a quantized model's integer core, the Poseidon2
// commitments to inputs and weights (native and in-circuit, bit-identical),
// the trusted setup (Groth16 with gnark's multi-party ceremony, PLONK with a
// KZG SRS), proving, verification, and the versioned .zk artifact.
//
// The chain calls only Verify, DecodeVerifyingKey and Commit: they are
// deterministic and return errors (never panic) on any bytes.
package zk

import (
	"fmt"
	"math/big"
	"sync"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
	"github.com/provena/provena/tensor"
)

// FieldBytes is a BN254 scalar field element, big-endian.
type FieldBytes [32]byte

// String is the hex form.
func (f FieldBytes) String() string { return fmt.Sprintf("%x", f[:]) }

// Element returns f as a field element, or an error when f is not canonical
// (not below the field modulus).
func (f FieldBytes) Element() (fr.Element, error) {
	var e fr.Element
	if err := e.SetBytesCanonical(f[:]); err != nil {
		return e, fmt.Errorf("field element %x: %w", f[:], err)
	}
	return e, nil
}

// Poseidon2 parameters: width 3 (a sponge of rate 2, capacity 1), 8 full
// rounds, 56 partial rounds, S-box x^5: the BN254 instance of the Poseidon2
// reference implementation (HorizenLabs/poseidon2 at 055bde3,
// plain_implementations/src/poseidon2/poseidon2_instance_bn256.rs:
// Poseidon2Params::new(3, 5, 8, 56), external matrix circ(2, 1, 1), internal
// diagonal 1 + [1, 1, 2]). gnark-crypto implements exactly these matrices for
// t = 3 and derives its own round constants from the round numbers (a
// Keccak chain seeded with "Poseidon2-BN254[t=3,rF=8,rP=56,d=5]"); the
// in-circuit permutation uses the same constants. Width 3 absorbs two
// elements per permutation where the former width-2 compression (6 + 50
// rounds) took one: 80 S-boxes per two elements instead of 62 per one.
// gnark v0.14 and gnark-crypto v0.19 implement Poseidon2 over BN254 only at
// t = 2 and 3, so wider (cheaper per element) instances would need a
// permutation of our own.
const (
	p2Width   = 3
	p2Rate    = 2
	p2Full    = 8
	p2Partial = 56
)

var nativePerm = sync.OnceValue(func() *poseidon2.Permutation {
	return poseidon2.NewPermutation(p2Width, p2Full, p2Partial)
})

// Packing: values are offset to be non-negative and packed little-endian,
// several per field element, as the circuit does (a packed element costs half
// a Poseidon2 permutation, about 120 R1CS constraints, so packing divides the
// hashing cost by the number of slots).
const (
	// slots8 int8 values (8 bits each) per field element: 31*8 = 248 < 254.
	slots8 = 31
	// slots32 int32 values (32 bits each) per field element: 7*32 = 224.
	slots32 = 7
)

// packWidth describes how one kind of value is packed.
type packWidth struct {
	bits  uint
	slots int
	lo    int64 // smallest value; stored as v - lo
	hi    int64
}

var (
	pack8  = packWidth{bits: 8, slots: slots8, lo: -128, hi: 127}
	pack32 = packWidth{bits: 32, slots: slots32, lo: -1 << 31, hi: 1<<31 - 1}
)

func widthOf(dt tensor.DType) (packWidth, error) {
	switch dt {
	case tensor.Int8:
		return pack8, nil
	case tensor.Int32:
		return pack32, nil
	}
	return packWidth{}, fmt.Errorf("commit: dtype %v: only int8 and int32 tensors are committed", dt)
}

// packNative packs values into field elements (little-endian slots).
func packNative(values []int64, w packWidth) ([]fr.Element, error) {
	out := make([]fr.Element, 0, (len(values)+w.slots-1)/w.slots)
	var acc, v big.Int
	for i := 0; i < len(values); i += w.slots {
		acc.SetInt64(0)
		end := min(i+w.slots, len(values))
		for j := end - 1; j >= i; j-- {
			x := values[j]
			if x < w.lo || x > w.hi {
				return nil, fmt.Errorf("commit: value %d at %d outside [%d, %d]", x, j, w.lo, w.hi)
			}
			acc.Lsh(&acc, w.bits)
			acc.Add(&acc, v.SetInt64(x-w.lo))
		}
		var e fr.Element
		e.SetBigInt(&acc)
		out = append(out, e)
	}
	return out, nil
}

// sponge is the Poseidon2 sponge: the elements are buffered, and sum
// starts from the state (0, 0, n), n the number of elements (the length in
// the capacity word is what makes the zero padding of an odd last block
// unambiguous: [a] and [a, 0] start from different states), adds each block of
// p2Rate elements to the rate part, permutes, and returns the first element.
// The circuit's circuitSponge computes the same.
type sponge struct{ els []fr.Element }

func (s *sponge) write(d fr.Element) { s.els = append(s.els, d) }

func (s *sponge) writeInt(n int) {
	var e fr.Element
	e.SetUint64(uint64(n))
	s.write(e)
}

func (s *sponge) sum() FieldBytes {
	var st [p2Width]fr.Element
	st[p2Rate].SetUint64(uint64(len(s.els)))
	for i := 0; i < len(s.els); i += p2Rate {
		for j := 0; j < p2Rate && i+j < len(s.els); j++ {
			st[j].Add(&st[j], &s.els[i+j])
		}
		if err := nativePerm().Permutation(st[:]); err != nil {
			panic(err) // the state has the permutation's width; cannot happen
		}
	}
	return FieldBytes(st[0].Bytes())
}

// absorb writes the length of values, then their packed elements.
func (s *sponge) absorb(values []int64, w packWidth) error {
	els, err := packNative(values, w)
	if err != nil {
		return err
	}
	s.writeInt(len(values))
	for _, e := range els {
		s.write(e)
	}
	return nil
}

// Commit is the Poseidon2 commitment to int8 values (-128..127): the
// sponge hash of the count followed by the values offset by 128 and
// packed 31 to a field element, little-endian. It is what the circuit
// computes for a hashed input.
func Commit(values []int64) (FieldBytes, error) {
	var s sponge
	if err := s.absorb(values, pack8); err != nil {
		return FieldBytes{}, err
	}
	return s.sum(), nil
}

// CommitTensor commits an int8 tensor (as Commit) or an int32 tensor (values
// offset by 2^31, 7 to a field element).
func CommitTensor(t *tensor.Tensor) (FieldBytes, error) {
	var s sponge
	if err := absorbTensor(&s, t); err != nil {
		return FieldBytes{}, err
	}
	return s.sum(), nil
}

func absorbTensor(s *sponge, t *tensor.Tensor) error {
	if t == nil {
		return fmt.Errorf("commit: nil tensor")
	}
	w, err := widthOf(t.DType)
	if err != nil {
		return err
	}
	return s.absorb(tensorInts(t), w)
}

// tensorInts returns an int8 or int32 tensor's values as int64s.
func tensorInts(t *tensor.Tensor) []int64 {
	var out []int64
	switch t.DType {
	case tensor.Int8:
		out = make([]int64, len(t.I8))
		for i, v := range t.I8 {
			out[i] = int64(v)
		}
	case tensor.Int32:
		out = make([]int64, len(t.I32))
		for i, v := range t.I32 {
			out[i] = int64(v)
		}
	}
	return out
}

// commitTensors is the weights commitment: one hash over the tensors in
// order, each absorbed as its count then its packed elements.
func commitTensors(ts []*tensor.Tensor) (FieldBytes, error) {
	var s sponge
	s.writeInt(len(ts))
	for i, t := range ts {
		if err := absorbTensor(&s, t); err != nil {
			return FieldBytes{}, fmt.Errorf("weight tensor %d: %w", i, err)
		}
	}
	return s.sum(), nil
}
