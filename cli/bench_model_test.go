package cli

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/provena/provena/conformance"
	"github.com/provena/provena/model"
	"github.com/provena/provena/tensor"
)

func TestBenchMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tc := range tests {
		in := slices.Clone(tc.in)
		if got := benchMedian(tc.in); got != tc.want {
			t.Errorf("benchMedian(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !slices.Equal(in, tc.in) {
			t.Errorf("benchMedian reordered its argument: %v", tc.in)
		}
	}
	if !math.IsNaN(benchMedian(nil)) {
		t.Error("benchMedian(nil) is not NaN")
	}
}

func TestBenchInput(t *testing.T) {
	in := model.ValueInfo{Name: "x", DType: tensor.Float32, Shape: []int{1, 3, 4, 4}}
	a, err := benchInput(in)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := benchInput(in)
	if !slices.Equal(a.F32, b.F32) {
		t.Error("bench input is not deterministic")
	}
	distinct := map[float32]bool{}
	for _, v := range a.F32 {
		if v < -1 || v > 1 {
			t.Fatalf("value %v outside [-1, 1]", v)
		}
		distinct[v] = true
	}
	if len(distinct) < len(a.F32)/2 {
		t.Errorf("only %d distinct values in %d", len(distinct), len(a.F32))
	}
	if _, err := benchInput(model.ValueInfo{Name: "b", DType: tensor.Bool, Shape: []int{2}}); err == nil {
		t.Error("bool input: no error")
	}
}

func TestBenchFindOrtRef(t *testing.T) {
	t.Setenv(OrtRefEnv, "")
	p, err := benchFindOrtRef("")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p) != "ort_ref.js" {
		t.Errorf("found %s", p)
	}
	if p, _ := benchFindOrtRef("/x/y.js"); p != "/x/y.js" {
		t.Errorf("flag ignored: %s", p)
	}
	t.Setenv(OrtRefEnv, "/env/ort.js")
	if p, _ := benchFindOrtRef(""); p != "/env/ort.js" {
		t.Errorf("env ignored: %s", p)
	}
}

// TestBenchModelCommand benches rec for two runs in two rounds (two
// onnxruntime children whose runs are merged) and checks the report is
// complete. It asserts nothing about speed.
func TestBenchModelCommand(t *testing.T) {
	dir, ok := conformance.Dir()
	if !ok {
		if os.Getenv(conformance.RequireEnv) == "1" {
			t.Fatal("no real-model fixtures; run scripts/fixtures.sh")
		}
		t.Skip("no real-model fixtures; run scripts/fixtures.sh")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	t.Setenv(conformance.Env, dir) // ort_ref.js finds onnxruntime-node there
	var out bytes.Buffer
	root := NewRootCmd()
	root.SetOut(&out)
	root.SetArgs([]string{"bench", "model", filepath.Join(dir, conformance.RecModel),
		"--input-shape", "x=1,3,48,320", "--input", filepath.Join(dir, "inputs", "rec_0.npy"),
		"--repeat", "2", "--rounds", "2", "--ops", "3", "--json"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	var rep benchModelReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("report %q: %v", out.String(), err)
	}
	for _, s := range []benchSide{rep.ORT, rep.Plain, rep.Optimistic, rep.Traced} {
		if len(s.RunsMS) != 2 || len(s.CPURunsMS) != 2 || s.P50MS <= 0 || s.PeakRSSBytes <= 0 || s.Runtime == "" {
			t.Errorf("incomplete figures %+v", s)
		}
	}
	if rep.RatioProvenaORT <= 0 || rep.RatioTracedPlain <= 0 || rep.RatioOptimisticPlain <= 0 || rep.OutputRootsMS <= 0 || len(rep.Ops) != 3 || rep.ModelID == "" || rep.Rounds != 2 {
		t.Errorf("incomplete report %+v", rep)
	}
}
