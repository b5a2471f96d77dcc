package infer

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/provena/provena/model"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
)

func filled(shape []int, seed uint64) *tensor.Tensor {
	t, _ := tensor.New(tensor.Float32, shape)
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := range t.F32 {
		t.F32[i] = float32(rng.IntN(2001)-1000) / 997
	}
	return t
}

func attrs(kv ...any) ops.Attrs {
	a := ops.Attrs{ops.OpsetAttr: {Kind: ops.AttrInt, Int: 13}}
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case int:
			a[kv[i].(string)] = ops.Attr{Kind: ops.AttrInt, Int: int64(v)}
		case []int64:
			a[kv[i].(string)] = ops.Attr{Kind: ops.AttrInts, Ints: v}
		}
	}
	return a
}

// smallCNN: Conv(3x3) -> Relu -> Conv(1x1 over 16 channels) -> Add(bias
// broadcast) -> Sigmoid, big enough that values span many chunks.
func smallCNN(t testing.TB) *model.Model {
	for _, op := range []string{"Conv", "Relu", "Add", "Sigmoid"} {
		if _, ok := ops.Lookup(op); !ok {
			t.Skipf("operator %s not registered yet", op)
		}
	}
	m := &model.Model{
		Name: "small-cnn", Opset: 13,
		Inputs:  []model.ValueInfo{{Name: "x", DType: tensor.Float32, Shape: []int{1, 3, 20, 20}}},
		Outputs: []model.ValueInfo{{Name: "y", DType: tensor.Float32, Shape: []int{1, 8, 20, 20}}},
		Nodes: []model.Node{
			{Name: "conv1", OpType: "Conv", Inputs: []string{"x", "w1", "b1"}, Outputs: []string{"c1"}, Attrs: attrs("pads", []int64{1, 1, 1, 1})},
			{Name: "relu", OpType: "Relu", Inputs: []string{"c1"}, Outputs: []string{"r"}, Attrs: attrs()},
			{Name: "conv2", OpType: "Conv", Inputs: []string{"r", "w2"}, Outputs: []string{"c2"}, Attrs: attrs()},
			{Name: "bias", OpType: "Add", Inputs: []string{"c2", "b2"}, Outputs: []string{"a"}, Attrs: attrs()},
			{Name: "sig", OpType: "Sigmoid", Inputs: []string{"a"}, Outputs: []string{"y"}, Attrs: attrs()},
		},
		Weights: []model.Weight{
			{Name: "w1", Tensor: filled([]int{16, 3, 3, 3}, 1)},
			{Name: "b1", Tensor: filled([]int{16}, 2)},
			{Name: "w2", Tensor: filled([]int{8, 16, 1, 1}, 3)},
			{Name: "b2", Tensor: filled([]int{1, 8, 1, 1}, 4)},
		},
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTraceDeterministicAcrossThreads(t *testing.T) {
	m := smallCNN(t)
	x := filled([]int{1, 3, 20, 20}, 9)
	in := map[string]*tensor.Tensor{"x": x}
	plain, err := Run(m, in, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	var root [32]byte
	for i, th := range []int{1, 2, 4} {
		res, err := Run(m, in, Options{Threads: th, Trace: true})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			root = res.Trace.Root
		} else if res.Trace.Root != root {
			t.Fatalf("trace root differs with %d threads", th)
		}
		if model.ValueRoot(res.Outputs["y"], 1) != model.ValueRoot(plain.Outputs["y"], 1) {
			t.Fatal("traced output differs from plain")
		}
	}
	// The last node's root is the output's root.
	res, _ := Run(m, in, Options{Trace: true})
	if res.Trace.NodeRoots[len(m.Nodes)-1][0] != model.ValueRoot(plain.Outputs["y"], 1) {
		t.Fatal("last node root is not the output's root")
	}
	x2 := filled([]int{1, 3, 20, 20}, 10)
	res2, _ := Run(m, map[string]*tensor.Tensor{"x": x2}, Options{Trace: true})
	if res2.Trace.Root == res.Trace.Root {
		t.Fatal("different inputs, same trace root")
	}
}

func TestStepNodeMatchesFullRun(t *testing.T) {
	m := smallCNN(t)
	res, err := Run(m, map[string]*tensor.Tensor{"x": filled([]int{1, 3, 20, 20}, 9)}, Options{Trace: true, KeepOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Nodes {
		ins, err := NodeInputs(m, res, i)
		if err != nil {
			t.Fatal(err)
		}
		outs, err := StepNode(m, ins, i)
		if err != nil {
			t.Fatal(err)
		}
		for j, o := range outs {
			if model.ValueRoot(o, 1) != res.Trace.NodeRoots[i][j] {
				t.Fatalf("node %d output %d: step root differs from the trace", i, j)
			}
		}
	}
	// A partial run up to a node gives that node's inputs too.
	part, err := Run(m, map[string]*tensor.Tensor{"x": filled([]int{1, 3, 20, 20}, 9)}, Options{Nodes: 3})
	if err != nil {
		t.Fatal(err)
	}
	part.NodeOutputs = nil
	if _, err := NodeInputs(m, part, 3); err == nil {
		t.Fatal("NodeInputs without kept outputs succeeded")
	}
}

// elements picks first, last and fixed-seed random elements.
func elements(n int, seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, 3))
	out := []int{0, n - 1, n / 2}
	for k := 0; k < 4; k++ {
		out = append(out, rng.IntN(n))
	}
	return out
}

func TestRecomputeElementAndVerify(t *testing.T) {
	m := smallCNN(t)
	res, err := Run(m, map[string]*tensor.Tensor{"x": filled([]int{1, 3, 20, 20}, 9)}, Options{Trace: true, KeepOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	id := m.ID()
	for i, n := range m.Nodes {
		op, _ := ops.Lookup(n.OpType)
		if _, ok := op.(ops.ElemOp); !ok {
			t.Logf("node %d %s: no ElemOp yet", i, n.OpType)
			continue
		}
		out := res.NodeOutputs[i][0]
		for _, flat := range elements(out.Len(), uint64(i)) {
			v, p, err := RecomputeElement(m, res, i, 0, flat)
			if err != nil {
				t.Fatal(err)
			}
			if v != out.Bits(flat) {
				t.Fatalf("node %d element %d: recomputed %x, run %x", i, flat, v, out.Bits(flat))
			}
			r, err := VerifyStep(id, res.Trace.Root, p)
			if err != nil {
				t.Fatalf("node %d element %d: %v", i, flat, err)
			}
			if !r.Match || r.Value != v {
				t.Fatalf("node %d element %d: verifier %+v", i, flat, r)
			}
			if est, err := ProofSize(m, i, 0, flat); err != nil || est != p.Size() {
				t.Fatalf("node %d element %d: estimated size %d (%v), actual %d", i, flat, est, err, p.Size())
			}
		}
	}
}

func TestVerifyStepRejectsTampering(t *testing.T) {
	m := smallCNN(t)
	res, err := Run(m, map[string]*tensor.Tensor{"x": filled([]int{1, 3, 20, 20}, 9)}, Options{Trace: true, KeepOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	id := m.ID()
	fresh := func() *StepProof {
		_, p, err := RecomputeElement(m, res, 2, 0, 777)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name   string
		tamper func(p *StepProof)
		// match: the proof still verifies but the claim is shown wrong.
		match bool
	}{
		{"input chunk data", func(p *StepProof) { p.Inputs[0].Chunks.Data[0][0] ^= 1 }, false},
		{"weight chunk data", func(p *StepProof) { p.Inputs[1].Weight.Chunks.Data[0][0] ^= 1 }, false},
		{"dropped input chunk", func(p *StepProof) {
			o := p.Inputs[0].Chunks
			o.Chunks, o.Data = o.Chunks[1:], o.Data[1:]
		}, false},
		{"claimed chunk", func(p *StepProof) { p.Chunk.Data[0][0] ^= 1 }, false},
		{"wrong node", func(p *StepProof) { p.Node, _ = m.ProveNode(1) }, false},
		{"trace root", func(p *StepProof) { p.TraceRoot[0] ^= 1 }, false},
		{"nodes root", func(p *StepProof) { p.NodesRoot[0] ^= 1 }, false},
		{"another weight", func(p *StepProof) { p.Inputs[1].Weight, _ = m.ProveWeightChunks("b1", []int{0}) }, false},
		{"input from another node", func(p *StepProof) { p.Inputs[0].Node, _ = res.Trace.ProveNodeLeaf(0) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := fresh()
			tt.tamper(p)
			if _, err := VerifyStep(id, res.Trace.Root, p); err == nil {
				t.Fatal("tampered proof verified")
			}
		})
	}
	// A wrong committed value with valid proofs is caught as a mismatch: a
	// trace of another input claims different outputs for the same node.
	other, _ := Run(m, map[string]*tensor.Tensor{"x": filled([]int{1, 3, 20, 20}, 11)}, Options{Trace: true, KeepOutputs: true})
	_, p, err := RecomputeElement(m, other, 2, 0, 777)
	if err != nil {
		t.Fatal(err)
	}
	r, err := VerifyStep(id, other.Trace.Root, p)
	if err != nil || !r.Match {
		t.Fatalf("honest proof of the other trace: %v %+v", err, r)
	}
}

func TestOpenChunk(t *testing.T) {
	m := smallCNN(t)
	res, err := Run(m, map[string]*tensor.Tensor{"x": filled([]int{1, 3, 20, 20}, 9)}, Options{Trace: true, KeepOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	tr := res.Trace
	for i := range m.Nodes {
		n := model.NumChunks(m.Nodes[i].OutMetas[0].DType, m.Nodes[i].OutMetas[0].Shape)
		for _, c := range []int{0, n / 3, n - 1} {
			p, err := tr.OpenChunk(i, 0, c)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyChunkProof(tr.NodesRoot, len(m.Nodes), p); err != nil {
				t.Fatalf("node %d chunk %d: %v", i, c, err)
			}
			p.Chunk.Data[0][3] ^= 0x80
			if err := VerifyChunkProof(tr.NodesRoot, len(m.Nodes), p); err == nil {
				t.Fatalf("node %d chunk %d: tampered chunk verified", i, c)
			}
		}
	}
	plain, _ := Run(m, map[string]*tensor.Tensor{"x": filled([]int{1, 3, 20, 20}, 9)}, Options{Trace: true})
	if _, err := plain.Trace.OpenChunk(0, 0, 0); err == nil {
		t.Fatal("OpenChunk without kept outputs succeeded")
	}
}

func TestRunRejectsBadInputs(t *testing.T) {
	m := smallCNN(t)
	tests := []struct {
		name string
		in   map[string]*tensor.Tensor
	}{
		{"missing", map[string]*tensor.Tensor{}},
		{"wrong name", map[string]*tensor.Tensor{"z": filled([]int{1, 3, 20, 20}, 1)}},
		{"wrong shape", map[string]*tensor.Tensor{"x": filled([]int{1, 3, 20, 21}, 1)}},
		{"short data", map[string]*tensor.Tensor{"x": {DType: tensor.Float32, Shape: []int{1, 3, 20, 20}, F32: make([]float32, 5)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Run(m, tt.in, Options{}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestStepProofJSONRoundTrip(t *testing.T) {
	m := smallCNN(t)
	res, err := Run(m, map[string]*tensor.Tensor{"x": filled([]int{1, 3, 20, 20}, 9)}, Options{Trace: true, KeepOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	_, p, err := RecomputeElement(m, res, 2, 0, 1234)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q StepProof
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	if r, err := VerifyStep(m.ID(), res.Trace.Root, &q); err != nil || !r.Match {
		t.Fatalf("decoded proof: %v %+v", err, r)
	}
	if !strings.Contains(string(b), res.Trace.Root.String()) {
		t.Fatal("hashes are not hex in JSON")
	}
}

// FuzzVerifyStep mutates one field of a valid one-step proof: the verifier
// runs on chain, so any proof must give an error or a result, never a
// panic, and a mutated proof must never verify as a different honest claim.
func FuzzVerifyStep(f *testing.F) {
	m := smallCNN(f)
	res, err := Run(m, map[string]*tensor.Tensor{"x": filled([]int{1, 3, 20, 20}, 9)}, Options{Trace: true, KeepOutputs: true})
	if err != nil {
		f.Fatal(err)
	}
	for k := 0; k < 12; k++ {
		f.Add(uint8(k), int64(k*37-5), uint16(k))
	}
	f.Fuzz(func(t *testing.T, field uint8, val int64, at uint16) {
		node := int(at) % len(m.Nodes)
		_, p, err := RecomputeElement(m, res, node, 0, int(at)%res.NodeOutputs[node][0].Len())
		if err != nil {
			t.Fatal(err)
		}
		v := int(val)
		pick := func(n int) int { return int(uint(at) % uint(max(n, 1))) }
		var o *model.Opening
		if in := p.Inputs[pick(len(p.Inputs))]; in.Weight != nil {
			o = in.Weight.Chunks
		} else {
			o = in.Chunks
		}
		switch field % 12 {
		case 0:
			p.NumNodes = v
		case 1:
			p.NumInputs = v
		case 2:
			p.Output = v
		case 3:
			p.Flat = v
		case 4:
			p.Claim.Index = v
		case 5:
			p.Chunk.NumChunks = v
		case 6:
			if o != nil && len(o.Chunks) > 0 {
				o.Chunks[pick(len(o.Chunks))] = v
			}
		case 7:
			if o != nil && len(o.Data) > 0 {
				d := o.Data[pick(len(o.Data))]
				o.Data[pick(len(o.Data))] = d[:pick(len(d)+1)]
			}
		case 8:
			if o != nil {
				o.NumChunks = v
			}
		case 9:
			p.Inputs = p.Inputs[:pick(len(p.Inputs))]
		case 10:
			p.Claim.Roots = p.Claim.Roots[:pick(len(p.Claim.Roots)+1)]
		case 11:
			p.Node.NumRecords = v
		}
		if r, err := VerifyStep(m.ID(), res.Trace.Root, p); err == nil && !r.Match {
			t.Fatalf("mutated honest proof verified with a mismatch: %+v", r)
		}
	})
}
