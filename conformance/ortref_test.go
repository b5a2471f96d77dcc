package conformance

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestOrtRefScript runs scripts/ort_ref.js as the bench does and checks that
// its .npy reader and writer round-trip: the output it writes for a fixture
// input has the golden file's exact bytes, and its JSON report has the
// requested number of runs.
func TestOrtRefScript(t *testing.T) {
	dir, cases := fixtures(t)
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var c Case
	for _, k := range cases {
		if k.Model == "rec" {
			c = k
			break
		}
	}
	if c.Name == "" {
		t.Fatal("no rec case in the manifest")
	}
	out := filepath.Join(t.TempDir(), "y.npy")
	cmd := exec.Command("node", filepath.Join(root, "scripts", "ort_ref.js"),
		"--model", filepath.Join(dir, RecModel), "--input", filepath.Join(dir, "inputs", c.Input),
		"--output", out, "--threads", "1", "--repeat", "2", "--json")
	cmd.Env = append(os.Environ(), Env+"="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ort_ref.js: %v: %s", err, stderr.String())
	}
	var rep struct {
		RunsMS  []float64 `json:"runs_ms"`
		P50MS   float64   `json:"p50_ms"`
		Outputs []struct {
			Shape []int `json:"shape"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report %q: %v", stdout.String(), err)
	}
	if len(rep.RunsMS) != 2 || rep.P50MS <= 0 || len(rep.Outputs) != 1 {
		t.Errorf("report %s", stdout.String())
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, "golden", c.Name+".npy"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output of %s (%d bytes) differs from golden/%s.npy (%d bytes)", c.Input, len(got), c.Name, len(want))
	}
	if x := readNpy(t, out); len(x.Shape) != 3 || x.Shape[2] != 6625 {
		t.Errorf("output shape %v, want [1, T, 6625]", x.Shape)
	}
}
