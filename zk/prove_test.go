package zk

import (
	"testing"
)

// TestProveVerifyEndToEnd runs a real setup, proof and verification for both
// systems on the tiny graph, then checks that wrong public values, another
// input's commitment, a tampered proof and another model's key all fail.
func TestProveVerifyEndToEnd(t *testing.T) {
	g := tinyGraph(t)
	for _, system := range []string{Groth16, Plonk} {
		t.Run(system, func(t *testing.T) {
			ccs, err := Compile(g, ChainVisibility, system)
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
			p, err := NewProver(system, g, ChainVisibility, ccs, keys.PK)
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
			pub := Public{WeightsCommit: st.WeightsCommit, InputCommit: st.InputCommit, Output: st.Output}
			if len(pub.Output) != len(want) {
				t.Fatalf("%d outputs, want %d", len(pub.Output), len(want))
			}
			for i := range want {
				if pub.Output[i] != want[i] {
					t.Fatalf("output %d: %d, reference %d", i, pub.Output[i], want[i])
				}
			}
			ic, _ := Commit(x)
			if ic != pub.InputCommit {
				t.Fatal("input commitment differs from Commit")
			}
			if err := Verify(system, keys.VK, proof, pub); err != nil {
				t.Fatalf("honest proof rejected: %v", err)
			}
			other := tinyInput(6)
			otherIC, _ := Commit(other)
			bad := map[string]func() ([]byte, []byte, Public){
				"wrong output": func() ([]byte, []byte, Public) {
					q := pub
					q.Output = append([]int64(nil), pub.Output...)
					q.Output[0]++
					return keys.VK, proof, q
				},
				"other input": func() ([]byte, []byte, Public) {
					q := pub
					q.InputCommit = otherIC
					return keys.VK, proof, q
				},
				"other weights": func() ([]byte, []byte, Public) {
					q := pub
					q.WeightsCommit[31] ^= 1
					return keys.VK, proof, q
				},
				"short output": func() ([]byte, []byte, Public) {
					q := pub
					q.Output = pub.Output[1:]
					return keys.VK, proof, q
				},
				"tampered proof": func() ([]byte, []byte, Public) {
					b := append([]byte(nil), proof...)
					b[len(b)/2] ^= 0x10
					return keys.VK, b, pub
				},
				"truncated proof": func() ([]byte, []byte, Public) { return keys.VK, proof[:len(proof)-1], pub },
				"no proof":        func() ([]byte, []byte, Public) { return keys.VK, nil, pub },
				"truncated key":   func() ([]byte, []byte, Public) { return keys.VK[:len(keys.VK)-3], proof, pub },
			}
			for name, f := range bad {
				vk, pr, q := f()
				if err := Verify(system, vk, pr, q); err == nil {
					t.Errorf("%s: accepted", name)
				}
			}
			// a proof for another model: same architecture, other weights
			g2 := tinyGraph(t)
			g2.weights[0].I8[0] ^= 1
			wc2, _ := g2.WeightsCommitment()
			q := pub
			q.WeightsCommit = wc2
			if err := Verify(system, keys.VK, proof, q); err == nil {
				t.Error("proof accepted against another model's weights commitment")
			}
			if err := Verify("stark", keys.VK, proof, pub); err == nil {
				t.Error("unknown system accepted")
			}
		})
	}
}
