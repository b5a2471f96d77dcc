package cli

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provena/provena/mnist"
	"github.com/provena/provena/model"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
)

// quantTestModel writes an MNIST-shaped linear classifier (Flatten -> Gemm)
// with fixed random weights, and five training images as calibration.
func quantTestModel(t *testing.T) (pvm, calib string) {
	r := rand.New(rand.NewPCG(5, 6))
	w, _ := tensor.New(tensor.Float32, []int{10, 784})
	for i := range w.F32 {
		w.F32[i] = float32(r.NormFloat64() * 0.05)
	}
	b, _ := tensor.New(tensor.Float32, []int{10})
	opset := ops.Attrs{ops.OpsetAttr: {Kind: ops.AttrInt, Int: 13}}
	m := &model.Model{
		Name: "linear", Opset: 13,
		Inputs:  []model.ValueInfo{{Name: "x", DType: tensor.Float32, Shape: []int{1, 1, 28, 28}}},
		Outputs: []model.ValueInfo{{Name: "logits", DType: tensor.Float32, Shape: []int{1, 10}}},
		Nodes: []model.Node{
			{Name: "flat", OpType: "Flatten", Inputs: []string{"x"}, Outputs: []string{"f"}, Attrs: opset},
			{Name: "fc", OpType: "Gemm", Inputs: []string{"f", "w", "b"}, Outputs: []string{"logits"},
				Attrs: ops.Attrs{ops.OpsetAttr: opset[ops.OpsetAttr], "transB": {Kind: ops.AttrInt, Int: 1}}},
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
	train, err := mnist.Load("train")
	if err != nil {
		t.Fatal(err)
	}
	calib = filepath.Join(dir, "calib")
	os.Mkdir(calib, 0o755)
	for i := range 5 {
		f, err := os.Create(filepath.Join(calib, string(rune('a'+i))+".npy"))
		if err != nil {
			t.Fatal(err)
		}
		if err := npy.Write(f, train.Input(i)); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return pvm, calib
}

func TestModelQuantizeCLI(t *testing.T) {
	pvm, calib := quantTestModel(t)
	q := filepath.Join(filepath.Dir(pvm), "m.q.pvm")
	out, err := runModelCLI(t, "model", "quantize", pvm, "--calib", calib, "-o", q, "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var rep modelQuantizeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	qm, err := model.Load(q)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ID != qm.IDString() || rep.Report.Samples != 5 || len(rep.Report.Layers) != 1 || !rep.Report.Layers[0].Int32Out {
		t.Fatalf("report %+v", rep)
	}
	human, err := runModelCLI(t, "model", "quantize", pvm, "--calib", calib, "-o", q)
	if err != nil || !strings.Contains(human, qm.IDString()) || !strings.Contains(human, "fc_q") {
		t.Fatalf("%v\n%s", err, human)
	}

	out, err = runModelCLI(t, "model", "accuracy", pvm, q, "--n", "40", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var acc modelAccuracyReport
	if err := json.Unmarshal([]byte(out), &acc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	a := acc.Result
	if a.N != 40 || acc.QuantID != qm.IDString() || a.Agree < 30 || a.FloatCorrect > 40 || a.QuantCorrect > 40 {
		t.Fatalf("accuracy %+v", acc)
	}
	human, err = runModelCLI(t, "model", "accuracy", pvm, q, "--n", "10")
	if err != nil || !strings.Contains(human, "agreement") {
		t.Fatalf("%v\n%s", err, human)
	}
}

func TestModelQuantizeCLIErrors(t *testing.T) {
	pvm, calib := quantTestModel(t)
	unsupported, input := cliTestModel(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"model", "quantize", pvm}, "--calib"},
		{[]string{"model", "quantize", pvm, "--calib", t.TempDir()}, "no .npy files"},
		{[]string{"model", "quantize", filepath.Join(t.TempDir(), "none.pvm"), "--calib", calib}, "load model"},
		// Conv then Add of a constant: only a MatMul takes a bias Add
		{[]string{"model", "quantize", unsupported, "--calib", filepath.Dir(input)}, `Add "bias"`},
		{[]string{"model", "accuracy", pvm, "--data", "cifar"}, "mnist-test"},
	} {
		out, err := runModelCLI(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q\n%s", c.args, err, c.want, out)
		}
	}
}
