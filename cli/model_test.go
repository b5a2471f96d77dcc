package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/model"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
)

// runModelCLI runs `provena args...` in process and returns stdout.
func runModelCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := NewRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// cliTestModel writes y = Relu(Conv1x1(x) + b) as a .pvm and an input .npy.
func cliTestModel(t *testing.T) (pvm, input string) {
	for _, op := range []string{"Conv", "Relu", "Add"} {
		if _, ok := ops.Lookup(op); !ok {
			t.Skipf("operator %s not registered yet", op)
		}
	}
	w, _ := tensor.New(tensor.Float32, []int{4, 3, 1, 1})
	for i := range w.F32 {
		w.F32[i] = float32(i%5) - 2
	}
	b, _ := tensor.New(tensor.Float32, []int{1, 4, 1, 1})
	b.F32[1] = 0.5
	opset := ops.Attrs{ops.OpsetAttr: {Kind: ops.AttrInt, Int: 13}}
	m := &model.Model{
		Name: "cli-test", Opset: 13,
		Inputs:  []model.ValueInfo{{Name: "x", DType: tensor.Float32, Shape: []int{1, 3, 8, 8}}},
		Outputs: []model.ValueInfo{{Name: "y", DType: tensor.Float32, Shape: []int{1, 4, 8, 8}}},
		Nodes: []model.Node{
			{Name: "conv", OpType: "Conv", Inputs: []string{"x", "w"}, Outputs: []string{"c"}, Attrs: opset},
			{Name: "bias", OpType: "Add", Inputs: []string{"c", "b"}, Outputs: []string{"a"}, Attrs: opset},
			{Name: "relu", OpType: "Relu", Inputs: []string{"a"}, Outputs: []string{"y"}, Attrs: opset},
		},
		Weights: []model.Weight{{Name: "w", Tensor: w}, {Name: "b", Tensor: b}},
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pvm = filepath.Join(dir, "m.pvm")
	if err := m.Save(pvm); err != nil {
		t.Fatal(err)
	}
	x, _ := tensor.New(tensor.Float32, []int{1, 3, 8, 8})
	for i := range x.F32 {
		x.F32[i] = float32(i%13)/7 - 1
	}
	input = filepath.Join(dir, "x.npy")
	if err := writeNpy(input, x); err != nil {
		t.Fatal(err)
	}
	return pvm, input
}

func TestModelCLI(t *testing.T) {
	pvm, input := cliTestModel(t)
	dir := filepath.Dir(pvm)
	out, err := runModelCLI(t, "model", "inspect", pvm, "--proof-sizes")
	if err != nil || !strings.Contains(out, "Conv:1") || !strings.Contains(out, "worst one-step proof") {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	ypath, tpath := filepath.Join(dir, "y.npy"), filepath.Join(dir, "t.json")
	out, err = runModelCLI(t, "model", "run", pvm, "--input", input, "--output", ypath, "--trace", tpath, "--json")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	var rep modelRunReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.TraceRoot == "" || len(rep.Outputs) != 1 {
		t.Fatalf("run report: %v\n%s", err, out)
	}
	f, err := os.Open(ypath)
	if err != nil {
		t.Fatal(err)
	}
	y, err := npy.Read(f)
	f.Close()
	if err != nil || model.ValueRoot(y, 1).String() != rep.Outputs[0].Root {
		t.Fatalf("written output does not match its reported root: %v", err)
	}
	var tr infer.TraceJSON
	b, _ := os.ReadFile(tpath)
	if err := json.Unmarshal(b, &tr); err != nil || tr.Root != rep.TraceRoot || len(tr.Nodes) != 3 {
		t.Fatalf("trace file: %v", err)
	}
	for _, node := range []string{"0", "1", "2"} {
		out, err = runModelCLI(t, "model", "step", pvm, "--input", input, "--node", node, "--trace", tpath)
		if err != nil || !strings.Contains(out, "match: true") {
			t.Fatalf("step node %s: %v\n%s", node, err, out)
		}
		out, err = runModelCLI(t, "model", "step", pvm, "--input", input, "--node", node, "--element", "77", "--json")
		if err != nil {
			t.Fatalf("step element on node %s: %v\n%s", node, err, out)
		}
		var sr modelStepReport
		if err := json.Unmarshal([]byte(out), &sr); err != nil || !sr.Match || sr.ProofBytes == 0 {
			t.Fatalf("step element report: %v\n%s", err, out)
		}
	}
	// Re-execution from a dump of another run, without running the model.
	dump := filepath.Join(dir, "dump")
	if out, err = runModelCLI(t, "model", "run", pvm, "--input", input, "--dump", dump); err != nil {
		t.Fatalf("run --dump: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"--node", "0", "--input", input}, {"--node", "1"}, {"--node", "2"}} {
		out, err = runModelCLI(t, append([]string{"model", "step", pvm, "--dump", dump}, args...)...)
		if err != nil || !strings.Contains(out, "match: true") {
			t.Fatalf("step %v from dump: %v\n%s", args, err, out)
		}
	}
	if _, err := runModelCLI(t, "model", "step", pvm, "--dump", dump, "--node", "0"); err == nil || !strings.Contains(err.Error(), "--input") {
		t.Fatalf("step from dump without the graph input: %v", err)
	}
	other := filepath.Join(dir, "other.npy")
	x2, _ := tensor.New(tensor.Float32, []int{1, 4, 8, 8})
	x2.F32[5] = 3
	if err := writeNpy(other, x2); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(other, filepath.Join(dump, "node-0-0.npy")); err != nil {
		t.Fatal(err)
	}
	if _, err := runModelCLI(t, "model", "step", pvm, "--dump", dump, "--node", "1"); err == nil {
		t.Fatal("step from a tampered dump matched")
	}
	// A trace of another input does not match.
	tr.Nodes[1].Roots[0] = strings.Repeat("0", 64)
	b, _ = json.Marshal(tr)
	os.WriteFile(tpath, b, 0o644)
	if _, err := runModelCLI(t, "model", "step", pvm, "--input", input, "--node", "1", "--trace", tpath); err == nil {
		t.Fatal("step matched a forged trace")
	}
}

func TestModelCLIErrors(t *testing.T) {
	pvm, input := cliTestModel(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad shape flag", []string{"model", "import", "x.onnx", "--input-shape", "x=1,a"}, "bad dimension"},
		{"missing onnx", []string{"model", "import", "/nonexistent.onnx"}, "no such file"},
		{"not a model", []string{"model", "inspect", input}, "bad magic"},
		{"unknown input", []string{"model", "run", pvm, "--input", "z=" + input}, "no input \"z\""},
		{"node range", []string{"model", "step", pvm, "--input", input, "--node", "9"}, "nodes 0 to 2"},
		{"element range", []string{"model", "step", pvm, "--input", input, "--node", "0", "--element", "100000"}, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runModelCLI(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}
