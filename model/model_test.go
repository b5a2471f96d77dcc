package model

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provena/provena/merkle"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
)

func vec(n int, f func(i int) float32) *tensor.Tensor {
	t, _ := tensor.New(tensor.Float32, []int{n})
	for i := range t.F32 {
		t.F32[i] = f(i)
	}
	return t
}

// tiny is y = Relu(x + b) * s with a weight big enough to span chunks.
func tiny(t testing.TB) *Model {
	for _, op := range []string{"Add", "Relu", "Mul"} {
		if _, ok := ops.Lookup(op); !ok {
			t.Skipf("operator %s not registered yet", op)
		}
	}
	m := &Model{
		Name: "tiny", Opset: 13,
		Inputs:  []ValueInfo{{Name: "x", DType: tensor.Float32, Shape: []int{300}}},
		Outputs: []ValueInfo{{Name: "y", DType: tensor.Float32, Shape: []int{300}}},
		Nodes: []Node{
			{Name: "add", OpType: "Add", Inputs: []string{"x", "b"}, Outputs: []string{"a"}, Attrs: ops.Attrs{ops.OpsetAttr: {Kind: ops.AttrInt, Int: 13}, "note": {Kind: ops.AttrFloats, Floats: []float32{1.5, -2}}}},
			{Name: "relu", OpType: "Relu", Inputs: []string{"a"}, Outputs: []string{"r"}, Attrs: ops.Attrs{}},
			{Name: "mul", OpType: "Mul", Inputs: []string{"r", "s"}, Outputs: []string{"y"}, Attrs: ops.Attrs{"t": {Kind: ops.AttrTensor, Tensor: vec(2, func(i int) float32 { return 1 })}}},
		},
		Weights: []Weight{
			{Name: "s", Tensor: vec(1, func(int) float32 { return 0.5 })},
			{Name: "b", Tensor: vec(300, func(i int) float32 { return float32(i) - 150 })},
		},
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	m := tiny(t)
	if m.Weights[0].Name != "b" {
		t.Fatal("Validate did not sort weights")
	}
	enc := m.Encode()
	d, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Encode(), enc) || d.ID() != m.ID() {
		t.Fatal("decode/encode is not the identity")
	}
	p := filepath.Join(t.TempDir(), "m.pvm")
	if err := m.Save(p); err != nil {
		t.Fatal(err)
	}
	l, err := Load(p)
	if err != nil || l.ID() != m.ID() {
		t.Fatalf("load: %v", err)
	}
	s := m.Summary()
	if s.Nodes != 3 || s.Params != 301 || s.ID != m.IDString() {
		t.Fatalf("summary %+v", s)
	}
}

func TestIDCommitsEverything(t *testing.T) {
	base := tiny(t).ID()
	changes := []func(m *Model){
		func(m *Model) { m.Weights[0].Tensor.F32[299] = 1 },
		func(m *Model) { m.Nodes[0].Attrs["note"] = ops.Attr{Kind: ops.AttrFloats, Floats: []float32{1.5, -3}} },
		func(m *Model) { m.Name = "other" },
		func(m *Model) { m.Nodes[2].Name = "MUL" },
	}
	for i, c := range changes {
		m := tiny(t)
		c(m)
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		if m.ID() == base {
			t.Errorf("change %d kept the model id", i)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	enc := tiny(t).Encode()
	for n := 0; n < len(enc); n += 7 {
		if _, err := Decode(enc[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: decoded", n)
		}
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"magic", []byte("NOTAMODEL"), "bad magic"},
		{"version", append([]byte(Magic[:len(Magic)-1]), 9), "version 9"},
		{"trailing", append(append([]byte(nil), enc...), 0), "trailing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	// Flipping a byte anywhere either fails or changes the model id.
	id := tiny(t).ID()
	for i := len(Magic); i < len(enc); i += 3 {
		b := append([]byte(nil), enc...)
		b[i] ^= 0x41
		if m, err := Decode(b); err == nil && m.ID() == id {
			t.Fatalf("byte %d flipped: same model id", i)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name   string
		change func(m *Model)
		want   string
	}{
		{"undefined input", func(m *Model) { m.Nodes[1].Inputs[0] = "zzz" }, "not defined"},
		{"not topological", func(m *Model) { m.Nodes[0], m.Nodes[1] = m.Nodes[1], m.Nodes[0] }, "not defined"},
		{"unused weight", func(m *Model) { m.Weights = append(m.Weights, Weight{Name: "u", Tensor: vec(1, nil2)}) }, "not used"},
		{"duplicate", func(m *Model) { m.Nodes[1].Outputs[0] = "a" }, "defined twice"},
		{"unknown op", func(m *Model) { m.Nodes[1].OpType = "NoSuchOp" }, "NoSuchOp"},
		{"output shape", func(m *Model) { m.Outputs[0].Shape = []int{301} }, "declared"},
		{"stored meta", func(m *Model) { m.Nodes[0].OutMetas = []tensor.Meta{{DType: tensor.Float32, Shape: []int{2}}} }, "stored"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tiny(t)
			tt.change(m)
			err := m.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func nil2(int) float32 { return 0 }

func TestWeightAndNodeProofs(t *testing.T) {
	m := tiny(t)
	id := m.ID()
	n := NumChunks(tensor.Float32, []int{300})
	for c := 0; c < n; c++ {
		p, err := m.ProveWeightChunk("b", c)
		if err != nil {
			t.Fatal(err)
		}
		d, err := VerifyWeightProof(id, p)
		if err != nil || d.Name != "b" {
			t.Fatalf("chunk %d: %v", c, err)
		}
		if got := m.WeightProofSize(0, []int{c}); got != p.Size() {
			t.Fatalf("WeightProofSize %d, proof %d", got, p.Size())
		}
		p.Chunks.Data[0][0] ^= 1
		if _, err := VerifyWeightProof(id, p); err == nil {
			t.Fatal("tampered weight chunk verified")
		}
	}
	p, _ := m.ProveWeightChunks("b", []int{0, 2})
	p.Desc = weightDesc(Weight{Name: "s", Tensor: m.Weights[0].Tensor})
	if _, err := VerifyWeightProof(id, p); err == nil {
		t.Fatal("renamed weight verified")
	}
	if _, err := VerifyWeightProof(merkle.Hash{}, p); err == nil {
		t.Fatal("wrong model id verified")
	}
	for i := range m.Nodes {
		np, err := m.ProveNode(i)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := VerifyNodeProof(id, np)
		if err != nil || rec.Index != i || rec.Node.OpType != m.Nodes[i].OpType {
			t.Fatalf("node %d: %v", i, err)
		}
		np.Record = append([]byte(nil), np.Record...)
		np.Record[len(np.Record)-1] ^= 1
		if _, err := VerifyNodeProof(id, np); err == nil {
			t.Fatalf("node %d: tampered record verified", i)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(tiny(f).Encode())
	f.Add([]byte(Magic))
	f.Add(append([]byte(Magic), 1, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		if !bytes.Equal(m.Encode(), data) {
			t.Fatal("decoded model re-encodes differently")
		}
	})
}
