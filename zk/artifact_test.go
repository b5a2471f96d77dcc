package zk

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/provena/provena/model"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
)

func ints(v ...int64) ops.Attr { return ops.Attr{Kind: ops.AttrInts, Ints: v} }
func i64(v int64) ops.Attr     { return ops.Attr{Kind: ops.AttrInt, Int: v} }

// TinyQuantModel is a hand-built quantized model: QQuantize → QConv (padded,
// ReLU folded) → QMaxPool → Flatten → QGemm (int32 out) → QDequantize.
func tinyQuantModel(t testing.TB) *model.Model {
	t.Helper()
	r := rand.New(rand.NewPCG(9, 9))
	f := func(s float32) ops.Attr { return ops.Attr{Kind: ops.AttrFloat, Float: s} }
	m := &model.Model{
		Name: "tinyq", Opset: 13,
		Inputs:  []model.ValueInfo{{Name: "x", DType: tensor.Float32, Shape: []int{1, 1, 6, 6}}},
		Outputs: []model.ValueInfo{{Name: "y", DType: tensor.Float32, Shape: []int{1, 4}}},
		Nodes: []model.Node{
			{Name: "q", OpType: "QQuantize", Inputs: []string{"x"}, Outputs: []string{"xq"}, Attrs: ops.Attrs{"scale": f(1.0 / 127)}},
			{Name: "conv", OpType: "QConv", Inputs: []string{"xq", "cw", "cb"}, Outputs: []string{"c"}, Attrs: ops.Attrs{
				"strides": ints(1, 1), "pads": ints(1, 1, 1, 1), "mult": ints(1<<20, 3<<19), "shift": ints(27, 27), "lo": i64(0), "hi": i64(127)}},
			{Name: "pool", OpType: "QMaxPool", Inputs: []string{"c"}, Outputs: []string{"p"}, Attrs: ops.Attrs{"kernel_shape": ints(2, 2), "strides": ints(2, 2)}},
			{Name: "flat", OpType: "Flatten", Inputs: []string{"p"}, Outputs: []string{"fl"}, Attrs: ops.Attrs{"axis": i64(1)}},
			{Name: "fc", OpType: "QGemm", Inputs: []string{"fl", "fw", "fb"}, Outputs: []string{"acc"}, Attrs: ops.Attrs{"out_int32": i64(1)}},
			{Name: "dq", OpType: "QDequantize", Inputs: []string{"acc"}, Outputs: []string{"y"}, Attrs: ops.Attrs{"scale": f(0.001)}},
		},
		Weights: []model.Weight{
			{Name: "cw", Tensor: randI8(r, 2, 1, 3, 3)},
			{Name: "cb", Tensor: randI32(r, 2, 2000)},
			{Name: "fw", Tensor: randI8(r, 4, 18)},
			{Name: "fb", Tensor: randI32(r, 4, 3000)},
		},
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

// microQuantModel is QQuantize → QGemm (4→3, requantized) → QDequantize:
// small enough for a ceremony in a test.
func microQuantModel(t testing.TB) *model.Model {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 5))
	f := func(s float32) ops.Attr { return ops.Attr{Kind: ops.AttrFloat, Float: s} }
	m := &model.Model{
		Name: "microq", Opset: 13,
		Inputs:  []model.ValueInfo{{Name: "x", DType: tensor.Float32, Shape: []int{1, 4}}},
		Outputs: []model.ValueInfo{{Name: "y", DType: tensor.Float32, Shape: []int{1, 3}}},
		Nodes: []model.Node{
			{Name: "q", OpType: "QQuantize", Inputs: []string{"x"}, Outputs: []string{"xq"}, Attrs: ops.Attrs{"scale": f(1.0 / 127)}},
			{Name: "fc", OpType: "QGemm", Inputs: []string{"xq", "w"}, Outputs: []string{"h"}, Attrs: ops.Attrs{"mult": ints(1<<20, 1<<20, 1<<21), "shift": ints(26, 26, 27), "lo": i64(-128), "hi": i64(127)}},
			{Name: "dq", OpType: "QDequantize", Inputs: []string{"h"}, Outputs: []string{"y"}, Attrs: ops.Attrs{"scale": f(0.01)}},
		},
		Weights: []model.Weight{{Name: "w", Tensor: randI8(r, 3, 4)}},
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

func tinyFloatInput(seed uint64) *tensor.Tensor {
	r := rand.New(rand.NewPCG(seed, 1))
	x, _ := tensor.New(tensor.Float32, []int{1, 1, 6, 6})
	for i := range x.F32 {
		x.F32[i] = r.Float32()*2 - 1
	}
	return x
}

func TestSetupRequiresExplicitInsecureOption(t *testing.T) {
	m := tinyQuantModel(t)
	if _, err := Setup(m, SetupOptions{System: Groth16, Vis: ChainVisibility}); err != ErrInsecureSetupRequired {
		t.Fatalf("got %v, want ErrInsecureSetupRequired", err)
	}
	if _, err := Setup(m, SetupOptions{System: Plonk, Vis: ChainVisibility, Ceremony: &Ceremony{}}); err == nil {
		t.Fatal("plonk accepted a groth16 ceremony")
	}
}

// TestArtifactRoundTrip: setup, save, open, prove a float input, verify
// offline and through the chain API, and reject a corrupted artifact.
func TestArtifactRoundTrip(t *testing.T) {
	m := tinyQuantModel(t)
	a, err := Setup(m, SetupOptions{System: Groth16, Vis: ChainVisibility, InsecureDevSetup: true})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.zk")
	if err := a.Save(path); err != nil {
		t.Fatal(err)
	}
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.Prove(tinyFloatInput(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Verify(p); err != nil {
		t.Fatal(err)
	}
	p2, err := DecodeProof(p.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Verify(p2); err != nil {
		t.Fatalf("decoded proof: %v", err)
	}
	pub, err := p.Public()
	if err != nil {
		t.Fatal(err)
	}
	if pub.WeightsPoint != a.WeightsPoint || a.WeightsPoint.IsZero() {
		t.Fatal("proof's weights commitment is not the artifact's")
	}
	if b.WeightsPoint != a.WeightsPoint || b.Blinding != a.Blinding {
		t.Fatal("weights commitment or blinding not round-tripped")
	}
	if err := Verify(Groth16, a.VK, p.Bytes, pub); err != nil {
		t.Fatalf("chain API: %v", err)
	}
	// the proof's output is the runtime's
	x, _ := QuantizeInput(m, tinyFloatInput(1))
	ic, _ := Commit(x)
	if ic != p.InputCommit {
		t.Fatal("input commitment is not Commit of the quantized input")
	}
	if got := runtimeCore(t, m, tinyFloatInput(1)); !equalInts(got, p.Output) {
		t.Fatalf("proof output %v, runtime %v", p.Output, got)
	}
	p3 := *p2
	p3.Output = append([]int64(nil), p.Output...)
	p3.Output[0]--
	if err := a.Verify(&p3); err == nil {
		t.Fatal("wrong output verified")
	}
	enc, _ := a.Encode()
	enc[len(enc)/2] ^= 1
	if _, err := DecodeArtifact(enc); err == nil {
		t.Fatal("corrupted artifact decoded")
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCeremony runs a 2-party phase 1 and 2-party phase 2 on a micro model
// (phase 2 costs FFTs over group elements of the domain size), proves and
// verifies with the result, and checks that transcripts with a contribution
// missing do not verify.
func TestCeremony(t *testing.T) {
	m := microQuantModel(t)
	g, err := FromModel(m)
	if err != nil {
		t.Fatal(err)
	}
	vis := Visibility{Input: VisPrivate, Weights: VisPublic, Output: VisPublic}
	ccs, err := Compile(g, vis, Groth16)
	if err != nil {
		t.Fatal(err)
	}
	n := CeremonyDomain(ccs)
	var p1 [][]byte
	var prev []byte
	for i := 0; i < 2; i++ {
		if prev, err = Phase1Contribute(n, prev); err != nil {
			t.Fatal(err)
		}
		p1 = append(p1, prev)
	}
	beacon1, beacon2 := []byte("beacon one"), []byte("beacon two")
	commons, err := SealPhase1(n, beacon1, p1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SealPhase1(n, beacon1, [][]byte{p1[1]}); err == nil {
		t.Fatal("phase 1 with a missing contribution verified")
	}
	var p2 [][]byte
	prev = nil
	for i := 0; i < 2; i++ {
		if prev, err = Phase2Contribute(ccs, commons, prev); err != nil {
			t.Fatal(err)
		}
		p2 = append(p2, prev)
	}
	// phase 1 was verified by SealPhase1 above; Setup takes its result
	a, err := Setup(m, SetupOptions{System: Groth16, Vis: vis, Ceremony: &Ceremony{Domain: n, Commons: commons, Phase2: p2, Beacon2: beacon2}})
	if err != nil {
		t.Fatal(err)
	}
	x, _ := tensor.New(tensor.Float32, []int{1, 4})
	copy(x.F32, []float32{0.5, -0.25, 1, 0.1})
	p, err := a.Prove(x)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Verify(p); err != nil {
		t.Fatal(err)
	}
	if _, err := SealPhase2(ccs, commons, beacon2, [][]byte{p2[1]}); err == nil {
		t.Fatal("phase 2 without its first contribution verified")
	}
}

func FuzzDecodeVerifyingKey(f *testing.F) {
	g := tinyGraph(f)
	for _, system := range []string{Groth16, Plonk} {
		vis := ChainVisibility
		if system == Plonk {
			vis = hashedVis
		}
		ccs, err := Compile(g, vis, system)
		if err != nil {
			f.Fatal(err)
		}
		k, err := InsecureDevSetup(system, ccs)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(system, k.VK)
		f.Add(system, k.VK[:len(k.VK)/2])
	}
	f.Add("groth16", []byte{0xff, 0xff, 0xff, 0xff})
	f.Add("plonk", bytes.Repeat([]byte{0x7f}, 900))
	f.Fuzz(func(t *testing.T, system string, b []byte) {
		_ = DecodeVerifyingKey(system, b)
	})
}

func FuzzVerify(f *testing.F) {
	g := tinyGraph(f)
	ccs, err := Compile(g, ChainVisibility, Groth16)
	if err != nil {
		f.Fatal(err)
	}
	k, err := InsecureDevSetup(Groth16, ccs)
	if err != nil {
		f.Fatal(err)
	}
	blinding, err := NewBlinding()
	if err != nil {
		f.Fatal(err)
	}
	p, err := NewProver(Groth16, g, ChainVisibility, ccs, k.PK, blinding)
	if err != nil {
		f.Fatal(err)
	}
	st, proof, err := p.Prove(tinyInput(1))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(proof, st.WeightsPoint[:], int64(0))
	f.Add(proof[:10], st.WeightsPoint[:], int64(1))
	f.Add(proof, st.WeightsPoint[:63], int64(0))
	f.Add(bytes.Repeat([]byte{0xff}, 300), []byte{1}, int64(-5))
	f.Fuzz(func(t *testing.T, proof, wc []byte, delta int64) {
		pub := Public{InputCommit: st.InputCommit, Output: append([]int64(nil), st.Output...)}
		copy(pub.WeightsPoint[:], wc)
		pub.Output[0] += delta
		err := Verify(Groth16, k.VK, proof, pub)
		if err == nil && (delta != 0 || pub.WeightsPoint != st.WeightsPoint) {
			t.Fatal("verified a wrong statement")
		}
	})
}

func FuzzDecodeProof(f *testing.F) {
	f.Add((&Proof{System: Groth16, Vis: ChainVisibility, Statement: Statement{Output: []int64{1, -2, 300}}, Bytes: []byte{1, 2, 3}}).Encode())
	f.Add([]byte("PVZP\x02\x07groth16"))
	f.Add((&Proof{System: Groth16, Vis: ChainVisibility, Statement: Statement{WeightsPoint: G1Bytes{1}, Output: []int64{4}}, Bytes: []byte{9}}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeProof(b)
		if err != nil {
			return
		}
		q, err := DecodeProof(p.Encode())
		if err != nil || q.System != p.System || q.WeightsPoint != p.WeightsPoint || !equalInts(q.Output, p.Output) || !bytes.Equal(q.Bytes, p.Bytes) {
			t.Fatal("proof file does not round-trip")
		}
	})
}

func FuzzDecodeArtifact(f *testing.F) {
	f.Add([]byte("PVZK\x02"))
	f.Add(append([]byte("PVZK\x02\x07groth16"), make([]byte, 40)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = DecodeArtifact(b)
	})
}
