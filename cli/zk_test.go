package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provena/provena/model"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/onnx"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/quant"
	"github.com/provena/provena/tensor"
)

// TestZkSetupProveVerify runs the zk commands on the quantized MNIST MLP
// fixture with public weights (a small circuit): setup, prove a real test
// image, verify; a tampered proof file fails; setup without an explicit
// setup choice is refused.
func TestZkSetupProveVerify(t *testing.T) {
	dir, _ := filepath.Abs("../.cache/fixtures/mnist")
	if d := os.Getenv("PROVENA_FIXTURES"); d != "" {
		dir = filepath.Join(d, "mnist")
	}
	if _, err := os.Stat(filepath.Join(dir, "mlp.onnx")); err != nil {
		if os.Getenv("PROVENA_REQUIRE_FIXTURES") == "1" {
			t.Fatal(err)
		}
		t.Skipf("fixture absent (run scripts/fixtures-mnist.sh): %v", err)
	}
	f, err := onnx.ImportFile(filepath.Join(dir, "mlp.onnx"), onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := quant.QuantizeDir(f, filepath.Join(dir, "calib"), quant.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	mp := filepath.Join(tmp, "mlp.q.pvm")
	if err := q.Save(mp); err != nil {
		t.Fatal(err)
	}
	art := filepath.Join(tmp, "mlp.zk")
	if _, err := runCLI("zk", "setup", mp, "-o", art); err == nil || !strings.Contains(err.Error(), "insecure") {
		t.Fatalf("setup without a setup choice: %v", err)
	}
	if _, err := runCLI("zk", "setup", mp, "--system", "plonk", "--insecure-dev-setup", "-o", art); err == nil || !strings.Contains(err.Error(), "weights=committed needs groth16") {
		t.Fatalf("plonk with the chain's committed weights: %v", err)
	}
	out, err := runCLI("zk", "setup", mp, "--visibility", "input=hashed,weights=public,output=public", "--insecure-dev-setup", "-o", art, "--json")
	if err != nil {
		t.Fatal(err, out)
	}
	var s zkSetupOut
	if err := json.Unmarshal([]byte(out), &s); err != nil || s.Constraints == 0 || s.VKBytes == 0 {
		t.Fatalf("setup output %q: %v", out, err)
	}
	proof := filepath.Join(tmp, "x.proof")
	out, err = runCLI("zk", "prove", art, "--input", filepath.Join(dir, "sample", "0.npy"), "-o", proof, "--json")
	if err != nil {
		t.Fatal(err, out)
	}
	var p zkProveOut
	if err := json.Unmarshal([]byte(out), &p); err != nil || len(p.Output) != 10 || p.InputCommit == "" {
		t.Fatalf("prove output %q: %v", out, err)
	}
	out, err = runCLI("zk", "verify", art, proof)
	if err != nil || !strings.Contains(out, "valid groth16 proof") {
		t.Fatalf("verify: %v %s", err, out)
	}
	b, _ := os.ReadFile(proof)
	b[len(b)-40] ^= 4
	if err := os.WriteFile(proof, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI("zk", "verify", art, proof); err == nil {
		t.Fatal("tampered proof verified")
	}
}

// microQuantModel is QQuantize → QGemm (4→3) → QDequantize, small enough
// for a ceremony in a test.
func microQuantModel(t *testing.T) *model.Model {
	t.Helper()
	f := func(s float32) ops.Attr { return ops.Attr{Kind: ops.AttrFloat, Float: s} }
	ints := func(v ...int64) ops.Attr { return ops.Attr{Kind: ops.AttrInts, Ints: v} }
	i64 := func(v int64) ops.Attr { return ops.Attr{Kind: ops.AttrInt, Int: v} }
	w, _ := tensor.New(tensor.Int8, []int{3, 4})
	copy(w.I8, []int8{12, -7, 100, -127, 5, 5, 5, 5, -60, 33, 0, 90})
	m := &model.Model{
		Name: "microq", Opset: 13,
		Inputs:  []model.ValueInfo{{Name: "x", DType: tensor.Float32, Shape: []int{1, 4}}},
		Outputs: []model.ValueInfo{{Name: "y", DType: tensor.Float32, Shape: []int{1, 3}}},
		Nodes: []model.Node{
			{Name: "q", OpType: "QQuantize", Inputs: []string{"x"}, Outputs: []string{"xq"}, Attrs: ops.Attrs{"scale": f(1.0 / 127)}},
			{Name: "fc", OpType: "QGemm", Inputs: []string{"xq", "w"}, Outputs: []string{"h"}, Attrs: ops.Attrs{"mult": ints(1<<20, 1<<20, 1<<21), "shift": ints(26, 26, 27), "lo": i64(-128), "hi": i64(127)}},
			{Name: "dq", OpType: "QDequantize", Inputs: []string{"h"}, Outputs: []string{"y"}, Attrs: ops.Attrs{"scale": f(0.01)}},
		},
		Weights: []model.Weight{{Name: "w", Tensor: w}},
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestZkCeremonyCLI drives a two-party Groth16 ceremony through the
// commands for the chain's visibility (committed weights: the weights
// commitment is computed from the ceremony's keys), sets up from it, proves
// and verifies.
func TestZkCeremonyCLI(t *testing.T) {
	tmp := t.TempDir()
	mp := filepath.Join(tmp, "micro.q.pvm")
	if err := microQuantModel(t).Save(mp); err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(tmp, "ceremony")
	vis := "input=hashed,weights=committed,output=public"
	steps := [][]string{
		{"zk", "ceremony", "init", mp, "--dir", d, "--visibility", vis},
		{"zk", "ceremony", "contribute", d},
		{"zk", "ceremony", "contribute", d},
		{"zk", "ceremony", "seal", d, "--beacon", "0badc0ffee"},
		{"zk", "ceremony", "contribute", d},
		{"zk", "ceremony", "contribute", d},
	}
	for _, s := range steps {
		if out, err := runCLI(s...); err != nil {
			t.Fatalf("%v: %v\n%s", s, err, out)
		}
	}
	art := filepath.Join(tmp, "micro.zk")
	if _, err := runCLI("zk", "setup", mp, "--ceremony", d, "-o", art); err == nil {
		t.Fatal("setup from a ceremony without a phase-2 beacon accepted")
	}
	out, err := runCLI("zk", "setup", mp, "--ceremony", d, "--beacon", "5eed", "-o", art)
	if err != nil || !strings.Contains(out, "ceremony: 2 phase-1 and 2 phase-2") {
		t.Fatalf("setup: %v\n%s", err, out)
	}
	x, _ := tensor.New(tensor.Float32, []int{1, 4})
	copy(x.F32, []float32{0.5, -0.25, 1, 0.1})
	xp := filepath.Join(tmp, "x.npy")
	fh, err := os.Create(xp)
	if err != nil {
		t.Fatal(err)
	}
	if err := npy.Write(fh, x); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	proof := filepath.Join(tmp, "x.proof")
	if out, err := runCLI("zk", "prove", art, "--input", xp, "-o", proof); err != nil {
		t.Fatalf("prove: %v\n%s", err, out)
	}
	out, err = runCLI("zk", "verify", art, proof, "--json")
	if err != nil || !strings.Contains(out, `"valid": true`) || !strings.Contains(out, `"weights_point"`) {
		t.Fatalf("verify: %v\n%s", err, out)
	}
}
