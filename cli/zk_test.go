package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provena/provena/onnx"
	"github.com/provena/provena/quant"
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
	cal, err := quant.LoadSamples(f, filepath.Join(dir, "calib"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := quant.Calibrate(f, cal, quant.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := quant.Quantize(f, c, quant.Options{})
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
