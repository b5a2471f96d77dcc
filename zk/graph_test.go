package zk

import (
	"math/rand/v2"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/test"
	"github.com/provena/provena/tensor"
)

func randI8(r *rand.Rand, shape ...int) *tensor.Tensor {
	t, _ := tensor.New(tensor.Int8, shape)
	for i := range t.I8 {
		t.I8[i] = int8(r.IntN(255) - 127)
	}
	return t
}

func randI32(r *rand.Rand, n, span int) *tensor.Tensor {
	t, _ := tensor.New(tensor.Int32, []int{n})
	for i := range t.I32 {
		t.I32[i] = int32(r.IntN(2*span+1) - span)
	}
	return t
}

func fill(n int, v int64) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// tinyGraph exercises every layer kind: conv (padded) → max pool → flatten →
// gemm → add → gemm with int32 output.
func tinyGraph(t testing.TB) *Graph {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	g, err := NewGraph([]int{1, 1, 6, 6})
	must := func(v int, err error) int {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if err != nil {
		t.Fatal(err)
	}
	c := must(g.AddConv("conv", g.input, randI8(r, 2, 1, 3, 3), randI32(r, 2, 2000), []int{1, 1}, []int{1, 1, 1, 1}, []int64{1 << 20, 3 << 19}, []int64{27, 27}, 0, 127, false))
	p := must(g.AddMaxPool("pool", c, []int{2, 2}, []int{2, 2}))
	f := must(g.AddReshape("flatten", p, []int{1, 18}))
	h := must(g.AddGemm("fc1", f, randI8(r, 5, 18), randI32(r, 5, 3000), []int64{1 << 21, 1 << 21, 1 << 20, 1 << 20, 1 << 22}, []int64{30, 30, 29, 29, 31}, -128, 127, false))
	a := must(g.AddAdd("add", h, h, 3, 5, 2, -100, 100))
	o := must(g.AddGemm("fc2", a, randI8(r, 3, 5), nil, nil, nil, 0, 0, true))
	if err := g.SetOutputs(o, a); err != nil {
		t.Fatal(err)
	}
	return g
}

func tinyInput(seed uint64) []int64 {
	r := rand.New(rand.NewPCG(seed, 7))
	x := make([]int64, 36)
	for i := range x {
		x[i] = int64(r.IntN(256) - 128)
	}
	return x
}

// TestEvalByHand checks the reference on values worked out by hand.
func TestEvalByHand(t *testing.T) {
	g, _ := NewGraph([]int{1, 2})
	W, _ := tensor.New(tensor.Int8, []int{2, 2})
	copy(W.I8, []int8{3, -4, 127, 127})
	B, _ := tensor.New(tensor.Int32, []int{2})
	copy(B.I32, []int32{10, 0})
	y, err := g.AddGemm("fc", g.input, W, B, []int64{3, 1}, []int64{2, 1}, -128, 127, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.SetOutputs(y); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		x    []int64
		want []int64
	}{
		// acc0 = 10 + 3·5 − 4·(−2) = 33; rshift(99, 2) = (99+2)>>2 = 25
		// acc1 = 127·3 = 381; rshift(381, 1) = 191 → clamp 127
		{[]int64{5, -2}, []int64{25, 127}},
		// acc0 = 10 − 3 = 7 → rshift(21, 2) = 5; acc1 = −127 → (−127+1)>>1 = −63
		{[]int64{-1, 0}, []int64{5, -63}},
		// acc0 = 10 + 3 − 4 = 9 → rshift(27, 2) = 7; acc1 = 254 → 127
		{[]int64{1, 1}, []int64{7, 127}},
		// acc0 = 10 − 6 = 4 → rshift(12, 2) = 3; acc1 = −254 → (−254+1)>>1 = −127
		{[]int64{-2, 0}, []int64{3, -127}},
	} {
		got, err := g.Outputs(tc.x)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("x=%v: got %v, want %v", tc.x, got, tc.want)
				break
			}
		}
	}
	if _, err := g.Outputs([]int64{200, 0}); err == nil {
		t.Error("out-of-range input accepted")
	}
}

func TestCircuitSolvesAllVisibilities(t *testing.T) {
	g := tinyGraph(t)
	x := tinyInput(3)
	for _, vis := range []Visibility{
		ChainVisibility,
		hashedVis,
		{Input: VisPrivate, Weights: VisPrivate, Output: VisPublic},
		{Input: VisPublic, Weights: VisPublic, Output: VisHashed},
		{Input: VisHashed, Weights: VisPublic, Output: VisPrivate},
	} {
		t.Run(vis.String(), func(t *testing.T) {
			c, err := NewCircuit(g, vis)
			if err != nil {
				t.Fatal(err)
			}
			_, a, err := g.statement(vis, x)
			if err != nil {
				t.Fatal(err)
			}
			if err := test.IsSolved(c, a, ecc.BN254.ScalarField()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// hashedVis is the former chain visibility: weights hashed (Poseidon2), so
// the weights commitment is the first public value.
var hashedVis = Visibility{Input: VisHashed, Weights: VisHashed, Output: VisPublic}

func TestCircuitRejectsWrongStatements(t *testing.T) {
	g := tinyGraph(t)
	x := tinyInput(4)
	vis := hashedVis
	c, _ := NewCircuit(g, vis)
	st, a, err := g.statement(vis, x)
	if err != nil {
		t.Fatal(err)
	}
	nOut := len(st.Output)
	cases := map[string]func(a *Circuit){
		"wrong output":         func(a *Circuit) { a.Pub[2] = st.Output[0] + 1 },
		"wrong last output":    func(a *Circuit) { a.Pub[1+nOut] = st.Output[nOut-1] - 1 },
		"wrong weights commit": func(a *Circuit) { a.Pub[0] = 12345 },
		"wrong input commit":   func(a *Circuit) { a.Pub[1] = 12345 },
		"other input":          func(a *Circuit) { a.Priv[0] = x[0] ^ 1 },
		"other weight":         func(a *Circuit) { a.Priv[len(x)+3] = a.Priv[len(x)+3].(int64) ^ 1 },
		"weight out of range":  func(a *Circuit) { a.Priv[len(x)] = int64(300) }, // offset values are 0..255
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			b := &Circuit{Pub: append(a.Pub[:0:0], a.Pub...), Priv: append(a.Priv[:0:0], a.Priv...)}
			mutate(b)
			if err := test.IsSolved(c, b, ecc.BN254.ScalarField()); err == nil {
				t.Fatal("wrong statement solved")
			}
		})
	}
}

// TestWeightRangeRejectsOutOfRange solves the real R1CS (with the range
// checker's commitment) on weights outside int8, with weights private so
// that no commitment check can catch them first.
func TestWeightRangeRejectsOutOfRange(t *testing.T) {
	g := tinyGraph(t)
	vis := Visibility{Input: VisPrivate, Weights: VisPrivate, Output: VisPublic}
	ccs, err := Compile(g, vis, Groth16)
	if err != nil {
		t.Fatal(err)
	}
	x := tinyInput(8)
	_, a, err := g.statement(vis, x)
	if err != nil {
		t.Fatal(err)
	}
	solve := func(a *Circuit) error {
		w, err := frontend.NewWitness(a, ecc.BN254.ScalarField())
		if err != nil {
			t.Fatal(err)
		}
		return ccs.IsSolved(w)
	}
	if err := solve(a); err != nil {
		t.Fatalf("honest assignment: %v", err)
	}
	for _, v := range []int64{128, 300, -129} {
		b := &Circuit{Pub: a.Pub, Priv: append(a.Priv[:0:0], a.Priv...)}
		b.Priv[len(x)] = v + 128 // the private vector holds weights offset (offsetWeights)
		if err := solve(b); err == nil {
			t.Errorf("weight %d solved", v)
		}
	}
}
