package zk

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/kzg"
	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/backend/plonk"
	"github.com/consensys/gnark/backend/witness"
)

// Proof systems.
const (
	Groth16 = "groth16"
	Plonk   = "plonk"
)

// Size limits on what the chain decodes: far above any key or proof this
// package produces for the models it compiles, far below what would let a
// hostile transaction make a node allocate much.
const (
	MaxVerifyingKeyBytes = 1 << 20
	MaxProofBytes        = 64 << 10
	// MaxPublicValues bounds the public vector (outputs plus commitments).
	MaxPublicValues = 1 << 16
)

// Public is what a chain job's proof is checked against, under
// ChainVisibility: weights committed, input hashed, output public. The
// circuit's public vector is InputCommit then Output in order; the weights
// commitment is not a public input but the proof's first BSB22 commitment,
// compared with the registered point.
type Public struct {
	WeightsPoint G1Bytes    // registered with the model
	InputCommit  FieldBytes // from the job (hashed input)
	Output       []int64    // the circuit's outputs in order (public output)
}

// Vector is the public witness: the input commitment as a field element,
// integers reduced modulo the field (negative values as p - |v|).
func (p Public) Vector() ([]fr.Element, error) {
	out := make([]fr.Element, 0, 1+len(p.Output))
	e, err := p.InputCommit.Element()
	if err != nil {
		return nil, err
	}
	out = append(out, e)
	for _, v := range p.Output {
		var e fr.Element
		e.SetInt64(v)
		out = append(out, e)
	}
	return out, nil
}

// Verify checks a chain job's proof (Groth16, ChainVisibility) against the
// verifying key, the public values and the registered weights commitment.
// It is deterministic and returns an error, never panics, on any bytes.
func Verify(system string, vk, proof []byte, pub Public) error {
	if system != Groth16 {
		if err := checkSystem(system); err != nil {
			return err
		}
		return fmt.Errorf("zk verify: chain proofs (weights committed) are %s, not %s", Groth16, system)
	}
	vec, err := pub.Vector()
	if err != nil {
		return fmt.Errorf("zk verify: public values: %w", err)
	}
	return verify(system, vk, proof, vec, &pub.WeightsPoint)
}

// VerifyCommitted is VerifyVector for a circuit with committed weights:
// the proof's weights commitment must also be point (in either G1
// encoding; see DecodeG1).
func VerifyCommitted(system string, vk, proof []byte, public []fr.Element, point []byte) error {
	if system != Groth16 {
		return fmt.Errorf("zk verify: committed weights need %s, not %q", Groth16, system)
	}
	p, err := ParseG1Bytes(point)
	if err != nil {
		return fmt.Errorf("zk verify: weights commitment: %w", err)
	}
	return verify(system, vk, proof, public, &p)
}

// DecodeVerifyingKey validates a verifying key's bytes (points on the curve
// and in the right subgroup, exact length), as the chain does when a model
// registers one.
func DecodeVerifyingKey(system string, vk []byte) error {
	_, err := decodeVK(system, vk)
	return err
}

// VerifyVector is Verify with an explicit public vector, for visibilities
// without committed weights.
func VerifyVector(system string, vk, proof []byte, public []fr.Element) error {
	return verify(system, vk, proof, public, nil)
}

// verify checks the proof, and, where point is set, that the proof's
// weights commitment is that point.
func verify(system string, vk, proof []byte, public []fr.Element, point *G1Bytes) (err error) {
	defer func() {
		// gnark's decoders and verifiers are not documented as panic-free on
		// every input that passes our structural scan; a panic must become a
		// rejection, never a crashed node.
		if r := recover(); r != nil {
			err = fmt.Errorf("zk verify: rejected malformed input (%v)", r)
		}
	}()
	if len(public) > MaxPublicValues {
		return fmt.Errorf("zk verify: %d public values exceed %d", len(public), MaxPublicValues)
	}
	key, err := decodeVK(system, vk)
	if err != nil {
		return err
	}
	pw, err := publicWitness(public)
	if err != nil {
		return fmt.Errorf("zk verify: %w", err)
	}
	switch system {
	case Groth16:
		gk := key.(*groth16bn254.VerifyingKey)
		if n := len(gk.G1.K) - len(gk.PublicAndCommitmentCommitted) - 1; n != len(public) {
			return fmt.Errorf("zk verify: verifying key expects %d public values, got %d", n, len(public))
		}
		var want bn254.G1Affine
		if point != nil {
			if want, err = DecodeG1(point[:]); err != nil {
				return fmt.Errorf("zk verify: registered weights commitment: %w", err)
			}
			if len(gk.CommitmentKeys) == 0 {
				return fmt.Errorf("zk verify: the verifying key has no weights commitment")
			}
		}
		p, err := decodeProof(system, proof)
		if err != nil {
			return err
		}
		gp := p.(*groth16bn254.Proof)
		if point != nil && (len(gp.Commitments) == 0 || !gp.Commitments[0].Equal(&want)) {
			return fmt.Errorf("zk verify: the proof's weights commitment is not the registered one (other weights, or another setup)")
		}
		if err := groth16.Verify(gp, gk, pw); err != nil {
			return fmt.Errorf("zk verify: groth16: %w", err)
		}
	case Plonk:
		if point != nil {
			return fmt.Errorf("zk verify: committed weights need %s", Groth16)
		}
		pk := key.(plonk.VerifyingKey)
		if n := pk.NbPublicWitness(); n != len(public) {
			return fmt.Errorf("zk verify: verifying key expects %d public values, got %d", n, len(public))
		}
		p, err := decodeProof(system, proof)
		if err != nil {
			return err
		}
		if err := plonk.Verify(p.(plonk.Proof), pk, pw); err != nil {
			return fmt.Errorf("zk verify: plonk: %w", err)
		}
	}
	return nil
}

func publicWitness(public []fr.Element) (witness.Witness, error) {
	w, err := witness.New(ecc.BN254.ScalarField())
	if err != nil {
		return nil, err
	}
	ch := make(chan any, len(public))
	for i := range public {
		ch <- public[i]
	}
	close(ch)
	if err := w.Fill(len(public), 0, ch); err != nil {
		return nil, err
	}
	return w, nil
}

func checkSystem(system string) error {
	if system != Groth16 && system != Plonk {
		return fmt.Errorf("zk: unknown proof system %q (want %s or %s)", system, Groth16, Plonk)
	}
	return nil
}

// vkCache holds decoded verifying keys by the SHA-256 of their system and
// bytes. The chain verifies every job of a model against the same
// registered key, and decoding one (G2 subgroup checks, and gnark's
// precomputed pairing e(α, β)) is about a third of a Groth16 verification
// (1.3 of 4.1 ms on the MNIST MLP's key, shared 2-core machine). Only
// successful decodings are kept; a result never depends on the cache, only
// its time. Bounded, evicted first in first out (no map iteration order).
var vkCache = struct {
	sync.Mutex
	keys  map[[32]byte]any
	order [][32]byte
}{keys: map[[32]byte]any{}}

const vkCacheSize = 64

// decodeVK is decodeVKUncached through vkCache.
func decodeVK(system string, b []byte) (any, error) {
	if len(b) > MaxVerifyingKeyBytes {
		return nil, fmt.Errorf("zk: verifying key of %d bytes exceeds %d", len(b), MaxVerifyingKeyBytes)
	}
	h := sha256.New()
	h.Write([]byte(system))
	h.Write([]byte{0})
	h.Write(b)
	var id [32]byte
	h.Sum(id[:0])
	vkCache.Lock()
	key, ok := vkCache.keys[id]
	vkCache.Unlock()
	if ok {
		return key, nil
	}
	key, err := decodeVKUncached(system, b)
	if err != nil {
		return nil, err
	}
	vkCache.Lock()
	defer vkCache.Unlock()
	if _, ok := vkCache.keys[id]; !ok {
		if len(vkCache.order) == vkCacheSize {
			delete(vkCache.keys, vkCache.order[0])
			vkCache.order = vkCache.order[1:]
		}
		vkCache.keys[id] = key
		vkCache.order = append(vkCache.order, id)
	}
	return key, nil
}

// decodeVKUncached scans the layout first (so that no length prefix can
// make gnark allocate more than the input's size), then decodes with
// subgroup checks and requires every byte to be consumed.
func decodeVKUncached(system string, b []byte) (key any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("zk: verifying key rejected (%v)", r)
		}
	}()
	if err := checkSystem(system); err != nil {
		return nil, err
	}
	if len(b) > MaxVerifyingKeyBytes {
		return nil, fmt.Errorf("zk: verifying key of %d bytes exceeds %d", len(b), MaxVerifyingKeyBytes)
	}
	s := &scanner{b: b}
	var n int64
	switch system {
	case Groth16:
		s.groth16VK()
		if s.err == nil {
			vk := groth16.NewVerifyingKey(ecc.BN254)
			n, err = vk.ReadFrom(bytes.NewReader(b))
			key = vk
		}
	case Plonk:
		s.plonkVK()
		if s.err == nil {
			vk := plonk.NewVerifyingKey(ecc.BN254)
			n, err = vk.ReadFrom(bytes.NewReader(b))
			key = vk
		}
	}
	if s.err != nil {
		return nil, fmt.Errorf("zk: %s verifying key: %w", system, s.err)
	}
	if err != nil {
		return nil, fmt.Errorf("zk: %s verifying key: %w", system, err)
	}
	if n != int64(len(b)) {
		return nil, fmt.Errorf("zk: %s verifying key: %d trailing bytes", system, int64(len(b))-n)
	}
	return key, nil
}

func decodeProof(system string, b []byte) (proof any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("zk: proof rejected (%v)", r)
		}
	}()
	if err := checkSystem(system); err != nil {
		return nil, err
	}
	if len(b) > MaxProofBytes {
		return nil, fmt.Errorf("zk: proof of %d bytes exceeds %d", len(b), MaxProofBytes)
	}
	s := &scanner{b: b}
	var n int64
	switch system {
	case Groth16:
		s.groth16Proof()
		if s.err == nil {
			p := groth16.NewProof(ecc.BN254)
			n, err = p.ReadFrom(bytes.NewReader(b))
			proof = p
		}
	case Plonk:
		s.plonkProof()
		if s.err == nil {
			p := plonk.NewProof(ecc.BN254)
			n, err = p.ReadFrom(bytes.NewReader(b))
			proof = p
		}
	}
	if s.err != nil {
		return nil, fmt.Errorf("zk: %s proof: %w", system, s.err)
	}
	if err != nil {
		return nil, fmt.Errorf("zk: %s proof: %w", system, err)
	}
	if n != int64(len(b)) {
		return nil, fmt.Errorf("zk: %s proof: %d trailing bytes", system, int64(len(b))-n)
	}
	return proof, nil
}

// scanner walks gnark-crypto's BN254 encoding (big-endian uint32 slice
// lengths; points compressed unless the two top bits of the first byte are
// zero) without allocating, so that length prefixes are checked against the
// bytes actually present before gnark's decoder allocates for them.
type scanner struct {
	b   []byte
	off int
	err error
}

var errShort = errors.New("truncated")

func (s *scanner) need(n int) bool {
	if s.err != nil {
		return false
	}
	if n < 0 || len(s.b)-s.off < n {
		s.err = errShort
		return false
	}
	return true
}

func (s *scanner) skip(n int) {
	if s.need(n) {
		s.off += n
	}
}

func (s *scanner) u32() int {
	if !s.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(s.b[s.off:])
	s.off += 4
	return int(v)
}

// point skips one point of compressed size c (uncompressed 2c).
func (s *scanner) point(c int) {
	if !s.need(1) {
		return
	}
	if s.b[s.off]&0xC0 == 0 {
		s.skip(2 * c)
	} else {
		s.skip(c)
	}
}

func (s *scanner) g1() { s.point(32) }
func (s *scanner) g2() { s.point(64) }

// count reads a slice length and checks that that many items of at least
// minSize bytes fit in what is left.
func (s *scanner) count(minSize int) int {
	n := s.u32()
	if s.err == nil && n > (len(s.b)-s.off)/minSize {
		s.err = fmt.Errorf("length %d does not fit in %d bytes", n, len(s.b)-s.off)
		return 0
	}
	return n
}

func (s *scanner) g1s() {
	for i, n := 0, s.count(32); i < n && s.err == nil; i++ {
		s.g1()
	}
}

func (s *scanner) frs() { s.skip(32 * s.count(32)) }

func (s *scanner) u64s() { s.skip(8 * s.count(8)) }

func (s *scanner) groth16VK() {
	s.g1() // alpha
	s.g1() // beta
	s.g2() // beta
	s.g2() // gamma
	s.g1() // delta
	s.g2() // delta
	s.g1s()
	for i, n := 0, s.count(4); i < n && s.err == nil; i++ {
		s.u64s()
	}
	for i, n := 0, s.count(128); i < n && s.err == nil; i++ {
		s.g2()
		s.g2()
	}
	s.end()
}

func (s *scanner) groth16Proof() {
	s.g1()
	s.g2()
	s.g1()
	s.g1s()
	s.g1()
	s.end()
}

// plonkLinesBytes is the encoded size of a KZG verifying key's precomputed
// pairing lines, a fixed-size array gnark-crypto writes with encoding/binary.
var plonkLinesBytes = binary.Size(kzg.VerifyingKey{}.Lines)

func (s *scanner) plonkVK() {
	s.skip(8)  // size
	s.skip(32) // size inverse
	s.skip(32) // generator
	s.skip(8)  // public variables
	s.skip(32) // coset shift
	for range 3 + 5 {
		s.g1() // S[0..2], Ql, Qr, Qm, Qo, Qk
	}
	s.g1s() // Qcp
	s.g1()
	s.g2()
	s.g2()
	s.skip(plonkLinesBytes)
	s.u64s()
	s.end()
}

func (s *scanner) plonkProof() {
	for range 7 {
		s.g1() // LRO, Z, H
	}
	s.g1()
	s.frs()
	s.g1()
	s.skip(32)
	s.g1s()
	s.end()
}

func (s *scanner) end() {
	if s.err == nil && s.off != len(s.b) {
		s.err = fmt.Errorf("%d trailing bytes", len(s.b)-s.off)
	}
}
