package zk

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
)

// TestProveVerifyEndToEnd runs a real setup, proof and verification on the
// tiny graph (Groth16 with the chain's committed weights through the chain's
// Verify, PLONK with hashed weights), then checks that wrong public values,
// another input's commitment, other weights, a tampered proof and a
// truncated key all fail.
func TestProveVerifyEndToEnd(t *testing.T) {
	g := tinyGraph(t)
	for _, tc := range []struct {
		system string
		vis    Visibility
	}{{Groth16, ChainVisibility}, {Plonk, hashedVis}} {
		t.Run(tc.system, func(t *testing.T) {
			system, vis := tc.system, tc.vis
			ccs, err := Compile(g, vis, system)
			if err != nil {
				t.Fatal(err)
			}
			keys, err := InsecureDevSetup(system, ccs)
			if err != nil {
				t.Fatal(err)
			}
			if err := DecodeVerifyingKey(system, keys.VK); err != nil {
				t.Fatal(err)
			}
			blinding, err := NewBlinding()
			if err != nil {
				t.Fatal(err)
			}
			p, err := NewProver(system, g, vis, ccs, keys.PK, blinding)
			if err != nil {
				t.Fatal(err)
			}
			x := tinyInput(5)
			st, proof, err := p.Prove(x)
			if err != nil {
				t.Fatal(err)
			}
			want, err := g.Outputs(x)
			if err != nil {
				t.Fatal(err)
			}
			if !equalInts(st.Output, want) {
				t.Fatalf("outputs %v, reference %v", st.Output, want)
			}
			ic, _ := Commit(x)
			if ic != st.InputCommit {
				t.Fatal("input commitment differs from Commit")
			}
			// verify is the chain's path for the chain visibility, the
			// explicit vector otherwise
			verify := func(vk, proof []byte, st Statement) error {
				if vis == ChainVisibility {
					return Verify(system, vk, proof, Public{WeightsPoint: st.WeightsPoint, InputCommit: st.InputCommit, Output: st.Output})
				}
				vec, err := st.Vector(vis)
				if err != nil {
					return err
				}
				return VerifyVector(system, vk, proof, vec)
			}
			if err := verify(keys.VK, proof, *st); err != nil {
				t.Fatalf("honest proof rejected: %v", err)
			}
			other := tinyInput(6)
			otherIC, _ := Commit(other)
			g2 := tinyGraph(t)
			g2.weights[0].I8[0] ^= 1
			wc2, _ := g2.WeightsCommitment()
			bad := map[string]func() ([]byte, []byte, Statement){
				"wrong output": func() ([]byte, []byte, Statement) {
					q := *st
					q.Output = append([]int64(nil), st.Output...)
					q.Output[0]++
					return keys.VK, proof, q
				},
				"other input": func() ([]byte, []byte, Statement) {
					q := *st
					q.InputCommit = otherIC
					return keys.VK, proof, q
				},
				"short output": func() ([]byte, []byte, Statement) {
					q := *st
					q.Output = st.Output[1:]
					return keys.VK, proof, q
				},
				"other weights": func() ([]byte, []byte, Statement) {
					q := *st
					q.WeightsCommit = wc2
					if vis.Weights == VisCommitted {
						p2, err := NewProver(system, g2, vis, ccs, keys.PK, blinding)
						if err != nil {
							t.Fatal(err)
						}
						q.WeightsPoint = p2.WeightsPoint()
					}
					return keys.VK, proof, q
				},
				"tampered proof": func() ([]byte, []byte, Statement) {
					b := append([]byte(nil), proof...)
					b[len(b)/2] ^= 0x10
					return keys.VK, b, *st
				},
				"truncated proof": func() ([]byte, []byte, Statement) { return keys.VK, proof[:len(proof)-1], *st },
				"no proof":        func() ([]byte, []byte, Statement) { return keys.VK, nil, *st },
				"truncated key":   func() ([]byte, []byte, Statement) { return keys.VK[:len(keys.VK)-3], proof, *st },
			}
			for name, f := range bad {
				vk, pr, q := f()
				if err := verify(vk, pr, q); err == nil {
					t.Errorf("%s: accepted", name)
				}
			}
			if err := Verify("stark", keys.VK, proof, Public{InputCommit: st.InputCommit, Output: st.Output}); err == nil {
				t.Error("unknown system accepted")
			}
			// decoded keys are cached by system and bytes: the key under
			// the other system's name still fails, and verifying again
			// (from the cache) gives the same verdicts
			otherSys := Groth16
			if system == Groth16 {
				otherSys = Plonk
			}
			if err := DecodeVerifyingKey(otherSys, keys.VK); err == nil {
				t.Errorf("%s key decoded as %s", system, otherSys)
			}
			if err := verify(keys.VK, proof, *st); err != nil {
				t.Errorf("honest proof rejected the second time: %v", err)
			}
			if _, pr, q := bad["wrong output"](); verify(keys.VK, pr, q) == nil {
				t.Error("wrong output accepted the second time")
			}
		})
	}
}

// TestWeightsCommitmentIsFixed proves what the registered weights commitment
// rests on: the proof's first BSB22 commitment is the point computed from the
// proving key, the weights and the owner's blinding, whatever the input;
// the second commitment (the lookups') stays freshly blinded, so two proofs
// of the same input differ there; another blinding or other weights give
// another point; garbage in place of the registered point is rejected with
// an error.
func TestWeightsCommitmentIsFixed(t *testing.T) {
	g := tinyGraph(t)
	ccs, err := Compile(g, ChainVisibility, Groth16)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := InsecureDevSetup(Groth16, ccs)
	if err != nil {
		t.Fatal(err)
	}
	blinding, _ := NewBlinding()
	p, err := NewProver(Groth16, g, ChainVisibility, ccs, keys.PK, blinding)
	if err != nil {
		t.Fatal(err)
	}
	point := p.WeightsPoint()
	commitments := func(proof []byte) []G1Bytes {
		t.Helper()
		pr := groth16.NewProof(ecc.BN254)
		if err := readAll(pr, proof); err != nil {
			t.Fatal(err)
		}
		var out []G1Bytes
		for _, c := range pr.(*groth16bn254.Proof).Commitments {
			out = append(out, G1Bytes(c.RawBytes()))
		}
		return out
	}
	var lookups []G1Bytes
	for _, seed := range []uint64{1, 2, 3, 1} {
		st, proof, err := p.Prove(tinyInput(seed))
		if err != nil {
			t.Fatal(err)
		}
		cs := commitments(proof)
		if len(cs) != 2 {
			t.Fatalf("%d commitments in the proof, want 2 (weights, lookups)", len(cs))
		}
		if cs[0] != point || st.WeightsPoint != point {
			t.Fatalf("input %d: weights commitment %s, registered %s", seed, cs[0], point)
		}
		lookups = append(lookups, cs[1])
	}
	if lookups[0] == lookups[3] {
		t.Fatal("two proofs of the same input have the same lookup commitment: its mask is not fresh")
	}
	other, _ := NewBlinding()
	p2, err := NewProver(Groth16, g, ChainVisibility, ccs, keys.PK, other)
	if err != nil {
		t.Fatal(err)
	}
	if p2.WeightsPoint() == point {
		t.Fatal("another blinding gives the same point")
	}
	g2 := tinyGraph(t)
	g2.weights[2].I8[3] ^= 4
	p3, err := NewProver(Groth16, g2, ChainVisibility, ccs, keys.PK, blinding)
	if err != nil {
		t.Fatal(err)
	}
	if p3.WeightsPoint() == point {
		t.Fatal("other weights give the same point")
	}
	if _, err := NewProver(Groth16, g, ChainVisibility, ccs, keys.PK, FieldBytes{}); err == nil {
		t.Fatal("prover without a blinding accepted")
	}
	st, proof, err := p.Prove(tinyInput(4))
	if err != nil {
		t.Fatal(err)
	}
	vec, _ := st.Vector(ChainVisibility)
	var compressed [32]byte
	pt, _ := DecodeG1(point[:])
	compressed = pt.Bytes()
	for name, tc := range map[string]struct {
		point []byte
		ok    bool
	}{
		"uncompressed":    {point[:], true},
		"compressed":      {compressed[:], true},
		"empty":           {nil, false},
		"short":           {point[:63], false},
		"off the curve":   {append(append([]byte(nil), point[:63]...), point[63]^1), false},
		"zero":            {make([]byte, 64), false},
		"other blinding":  {p2.WeightsPoint().Bytes(), false},
		"all ones":        {bytes.Repeat([]byte{0xff}, 64), false},
		"trailing byte":   {append(append([]byte(nil), point[:]...), 0), false},
		"compressed zero": {make([]byte, 32), false},
	} {
		err := VerifyCommitted(Groth16, keys.VK, proof, vec, tc.point)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", name, err, tc.ok)
		}
	}
	if _, err := Compile(g, ChainVisibility, Plonk); err == nil {
		t.Fatal("plonk with committed weights compiled")
	}
}

// FuzzParseG1Bytes: any bytes give a point or an error, never a panic; a
// point re-encodes to itself, and its compressed form parses to it too.
func FuzzParseG1Bytes(f *testing.F) {
	_, _, g1, _ := bn254.Generators()
	var two big.Int
	two.SetInt64(2)
	var p bn254.G1Affine
	p.ScalarMultiplication(&g1, &two)
	raw, comp := p.RawBytes(), p.Bytes()
	f.Add(raw[:])
	f.Add(comp[:])
	f.Add(raw[:63])
	f.Add(make([]byte, 64))
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseG1Bytes(b)
		if err != nil {
			return
		}
		pt, err := DecodeG1(q[:])
		if err != nil {
			t.Fatalf("re-encoded point rejected: %v", err)
		}
		c := pt.Bytes()
		if r, err := ParseG1Bytes(c[:]); err != nil || r != q {
			t.Fatalf("compressed form does not parse to the same point: %v", err)
		}
	})
}
