package quant

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/provena/provena/mnist"
	"github.com/provena/provena/model"
	"github.com/provena/provena/onnx"
	"github.com/provena/provena/tensor"
)

// mnistCheck quantizes f with calibration samples cal and requires int8
// top-1 accuracy on the first n MNIST test images within 1 percentage
// point of the float model's.
func mnistCheck(t *testing.T, f *model.Model, cal []map[string]*tensor.Tensor, n int) {
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
