package mnist

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/provena/provena/conformance"
	"github.com/provena/provena/infer"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/onnx"
	"github.com/provena/provena/tensor"
)

// The fixtures scripts/fixtures-mnist.sh caches (see its header). Without
// them these tests skip, unless PROVENA_REQUIRE_FIXTURES=1 (as in CI).
const (
	fixturesEnv = conformance.Env
	requireEnv  = conformance.RequireEnv
)

func fixtureFile(t *testing.T, rel string) string {
	t.Helper()
	dir := os.Getenv(fixturesEnv)
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(wd, "..", ".cache", "fixtures") // tests run in mnist/
	}
	p := filepath.Join(dir, "mnist", rel)
	if _, err := os.Stat(p); err != nil {
		msg := fmt.Sprintf("no MNIST fixture %s (run scripts/fixtures.sh)", p)
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("%s, and %s=1", msg, requireEnv)
		}
		t.Skip(msg)
	}
	return p
}

func readNpy(t *testing.T, path string) *tensor.Tensor {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	x, err := npy.Read(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return x
}

// The cached models meet the recipe's accuracy, and the runtime agrees with
// the trainer's forward pass on them.
func TestCachedModels(t *testing.T) {
	test := load(t, "test")
	for _, c := range []struct {
		arch   Arch
		minAcc float64
	}{{MLP, 0.97}, {CNN, 0.98}} {
		t.Run(string(c.arch), func(t *testing.T) {
			path := fixtureFile(t, string(c.arch)+".onnx")
			m, err := onnx.ImportFile(path, onnx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			net, err := FromModel(m, c.arch)
			if err != nil {
				t.Fatal(err)
			}
			acc, err := Evaluate(net, test)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: test accuracy %.2f%% (%d/%d)", c.arch, 100*acc.Accuracy(), acc.Correct, acc.Total)
			if acc.Accuracy() < c.minAcc {
				t.Errorf("%s: test accuracy %.2f%%, want >= %.0f%%", c.arch, 100*acc.Accuracy(), 100*c.minAcc)
			}
			checkRuntimeAgrees(t, net, m, test, 200)
		})
	}
}

// The sample inputs are the first test images, scaled as Set.Input does.
func TestCachedSamples(t *testing.T) {
	test := load(t, "test")
	labels, err := os.ReadFile(fixtureFile(t, "sample/labels.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := range 10 {
		fmt.Fprintf(&want, "%d\n", test.Labels[i])
		x := readNpy(t, fixtureFile(t, "sample/"+strconv.Itoa(i)+".npy"))
		if !bytes.Equal(x.CanonicalBytes(), test.Input(i).CanonicalBytes()) || x.DType != tensor.Float32 || len(x.Shape) != 4 {
			t.Errorf("sample/%d.npy is not test image %d", i, i)
		}
	}
	if string(labels) != want.String() {
		t.Errorf("sample/labels.txt = %q, want %q", labels, want.String())
	}
	train := load(t, "train")
	for _, i := range []int{0, 99} {
		x := readNpy(t, fixtureFile(t, "calib/"+strconv.Itoa(i)+".npy"))
		if !bytes.Equal(x.CanonicalBytes(), train.Input(i).CanonicalBytes()) {
			t.Errorf("calib/%d.npy is not training image %d", i, i)
		}
	}
}

// Provena's logits for the sample inputs against onnxruntime's: max
// |error| / max |reference| <= 1e-3 and the same argmax.
func TestAgainstOnnxruntime(t *testing.T) {
	for _, arch := range []Arch{MLP, CNN} {
		t.Run(string(arch), func(t *testing.T) {
			m, err := onnx.ImportFile(fixtureFile(t, string(arch)+".onnx"), onnx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var worst float64
			for i := range 10 {
				x := readNpy(t, fixtureFile(t, "sample/"+strconv.Itoa(i)+".npy"))
				ref := readNpy(t, fixtureFile(t, fmt.Sprintf("golden/%s/%d.npy", arch, i)))
				if ref.DType != tensor.Float32 || len(ref.F32) != Classes {
					t.Fatalf("golden/%s/%d.npy is %v%v, want float32 [1,10]", arch, i, ref.DType, ref.Shape)
				}
				res, err := infer.Run(m, map[string]*tensor.Tensor{InputName: x}, infer.Options{Threads: 1})
				if err != nil {
					t.Fatal(err)
				}
				got := res.Outputs[OutputName].F32
				if argmax(got) != argmax(ref.F32) {
					t.Errorf("sample %d: Provena says %d, onnxruntime %d", i, argmax(got), argmax(ref.F32))
				}
				worst = max(worst, relDiff(t, got, ref.F32))
			}
			t.Logf("%s: max relative logit error against onnxruntime %.3g over 10 samples", arch, worst)
			if worst > 1e-3 {
				t.Errorf("%s: max relative error %.3g, want <= 1e-3", arch, worst)
			}
		})
	}
}
