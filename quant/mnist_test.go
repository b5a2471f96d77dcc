package quant

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provena/provena/mnist"
	"github.com/provena/provena/model"
	"github.com/provena/provena/onnx"
	"github.com/provena/provena/tensor"
)

// mnistCheck quantizes f with calibration samples cal and requires int8
// top-1 accuracy on the first n MNIST test images within 1 percentage
// point of the float model's.
func mnistCheck(t *testing.T, f *model.Model, cal []map[string]*tensor.Tensor, n int) *model.Model {
	t.Helper()
	test, err := mnist.Load("test")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Calibrate(f, cal, Options{})
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := Quantize(f, c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := Evaluate(f, q, n, func(i int) (*tensor.Tensor, int, error) {
		return test.Input(i), int(test.Labels[i]), nil
	}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: float %.2f%%, int8 %.2f%%, agreement %.2f%% on %d test images", f.Name, 100*acc.FloatAcc, 100*acc.QuantAcc, 100*acc.Agreement, n)
	if acc.FloatAcc < 0.5 {
		t.Fatalf("float model barely learned: %+v", acc)
	}
	if math.Abs(acc.FloatAcc-acc.QuantAcc) > 0.01 {
		t.Fatalf("int8 accuracy %.4f vs float %.4f: more than 1 point apart", acc.QuantAcc, acc.FloatAcc)
	}
	return q
}

// TestMNISTTrainedInProcess trains a small MLP on 3000 images (one epoch),
// calibrates on 100 other training images, and checks int8 against float
// on 1000 real test images; it needs only the Go module's data.
func TestMNISTTrainedInProcess(t *testing.T) {
	train, err := mnist.Load("train")
	if err != nil {
		t.Fatal(err)
	}
	net, err := mnist.TrainMLP(mnist.Options{Epochs: 1, Limit: 3000, Train: train})
	if err != nil {
		t.Fatal(err)
	}
	b, err := net.ONNX()
	if err != nil {
		t.Fatal(err)
	}
	f, err := onnx.Import(b, onnx.Options{Name: "mlp-3000"})
	if err != nil {
		t.Fatal(err)
	}
	cal := make([]map[string]*tensor.Tensor, 100)
	for i := range cal {
		cal[i] = map[string]*tensor.Tensor{f.Inputs[0].Name: train.Input(50000 + i)}
	}
	mnistCheck(t, f, cal, 1000)
}

// TestMNISTFixtures quantizes the cached reference models
// (scripts/fixtures-mnist.sh) with the cached calibration images.
func TestMNISTFixtures(t *testing.T) {
	dir := os.Getenv("PROVENA_FIXTURES")
	if dir == "" {
		dir, _ = filepath.Abs("../.cache/fixtures")
	}
	dir = filepath.Join(dir, "mnist")
	for _, name := range []string{"mlp", "cnn"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".onnx")
			for _, need := range []string{path, filepath.Join(dir, "calib", "99.npy")} {
				if _, err := os.Stat(need); err != nil {
					if os.Getenv("PROVENA_REQUIRE_FIXTURES") == "1" {
						t.Fatalf("fixture missing (PROVENA_REQUIRE_FIXTURES=1): %v", err)
					}
					t.Skipf("fixture absent (run scripts/fixtures-mnist.sh): %v", err)
				}
			}
			f, err := onnx.ImportFile(path, onnx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			cal, err := LoadSamples(f, filepath.Join(dir, "calib"))
			if err != nil {
				t.Fatal(err)
			}
			mnistCheck(t, f, cal, 1000)
		})
	}
}

// ensemble joins two single-input classifiers over the same input into one
// graph whose logits are the sum of theirs, so QAdd runs on real data.
func ensemble(t *testing.T, a, b *model.Model) *model.Model {
	t.Helper()
	in := a.Inputs[0].Name
	m := &model.Model{Name: "ensemble", Opset: max(a.Opset, b.Opset), Inputs: a.Inputs,
		Outputs: []model.ValueInfo{{Name: "logits", DType: tensor.Float32, Shape: a.Outputs[0].Shape}}}
	var outs []string
	for k, src := range []*model.Model{a, b} {
		p := []string{"a/", "b/"}[k]
		ren := func(s string) string {
			if s == "" || s == in {
				return s
			}
			return p + s
		}
		for _, n := range src.Nodes {
			c := model.Node{Name: p + n.Name, OpType: n.OpType, Attrs: n.Attrs}
			for _, s := range n.Inputs {
				c.Inputs = append(c.Inputs, ren(s))
			}
			for _, s := range n.Outputs {
				c.Outputs = append(c.Outputs, ren(s))
			}
			m.Nodes = append(m.Nodes, c)
		}
		for _, w := range src.Weights {
			m.Weights = append(m.Weights, model.Weight{Name: p + w.Name, Tensor: w.Tensor})
		}
		outs = append(outs, p+src.Outputs[0].Name)
	}
	m.Nodes = append(m.Nodes, model.Node{Name: "sum", OpType: "Add", Inputs: outs, Outputs: []string{"logits"}, Attrs: m.Nodes[0].Attrs})
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMNISTEnsemble quantizes the fixtures' MLP and CNN joined by an Add of
// their logits (int8 logits, QAdd) and checks it like the single models.
func TestMNISTEnsemble(t *testing.T) {
	dir := os.Getenv("PROVENA_FIXTURES")
	if dir == "" {
		dir, _ = filepath.Abs("../.cache/fixtures")
	}
	dir = filepath.Join(dir, "mnist")
	var ms []*model.Model
	for _, need := range []string{"mlp.onnx", "cnn.onnx", "calib/99.npy"} {
		if _, err := os.Stat(filepath.Join(dir, need)); err != nil {
			if os.Getenv("PROVENA_REQUIRE_FIXTURES") == "1" {
				t.Fatalf("fixture missing (PROVENA_REQUIRE_FIXTURES=1): %v", err)
			}
			t.Skipf("fixture absent (run scripts/fixtures-mnist.sh): %v", err)
		}
		if filepath.Ext(need) == ".onnx" {
			m, err := onnx.ImportFile(filepath.Join(dir, need), onnx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ms = append(ms, m)
		}
	}
	f := ensemble(t, ms[0], ms[1])
	cal, err := LoadSamples(f, filepath.Join(dir, "calib"))
	if err != nil {
		t.Fatal(err)
	}
	q := mnistCheck(t, f, cal, 1000)
	if ops := opTypes(q); !strings.HasSuffix(ops, "QAdd QDequantize") {
		t.Fatalf("ensemble ops: %s", ops)
	}
}
