package conformance

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/internal/kernels"
	"github.com/provena/provena/model"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/ocr"
	"github.com/provena/provena/onnx"
	"github.com/provena/provena/tensor"
)

// tolerance is the bound on max |error| / max |reference|.
const tolerance = 1e-3

func fixtures(t *testing.T) (string, []Case) {
	t.Helper()
	dir, ok := Dir()
	if !ok {
		msg := fmt.Sprintf("no real-model fixtures (set %s or run scripts/fixtures.sh to fill <repo>/.cache/fixtures)", Env)
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("%s, and %s=1", msg, RequireEnv)
		}
		t.Skip(msg)
	}
	cs, err := Manifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, cs
}

// models are imported once per input shape and shared by the tests.
var models struct {
	sync.Mutex
	m   map[string]*model.Model
	err map[string]error // a failed import is not retried for every case
}

func importModel(t *testing.T, dir string, c Case) *model.Model {
	t.Helper()
	path := map[string]string{"det": DetModel, "rec": RecModel}[c.Model]
	if path == "" {
		t.Fatalf("case %s: unknown model %q", c.Name, c.Model)
	}
	key := fmt.Sprint(c.Model, c.Shape)
	models.Lock()
	defer models.Unlock()
	if m := models.m[key]; m != nil {
		return m
	}
	if err := models.err[key]; err != nil {
		t.Fatal(err)
	}
	if models.m == nil {
		models.m, models.err = map[string]*model.Model{}, map[string]error{}
	}
	m, err := onnx.ImportFile(filepath.Join(dir, path), onnx.Options{InputShapes: map[string][]int{"x": c.Shape}})
	if err != nil {
		models.err[key] = fmt.Errorf("import %s at %v: %w", c.Model, c.Shape, err)
		t.Fatal(models.err[key])
	}
	models.m[key] = m
	return m
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
		t.Fatalf("read %s: %v", path, err)
	}
	return x
}

// output runs m on one input and returns its single output.
func output(t *testing.T, m *model.Model, x *tensor.Tensor, opts infer.Options) *tensor.Tensor {
	t.Helper()
	res, err := infer.Run(m, map[string]*tensor.Tensor{m.Inputs[0].Name: x}, opts)
	if err != nil {
		t.Fatalf("run %s: %v", m.Name, err)
	}
	if len(m.Outputs) != 1 {
		t.Fatalf("model has %d outputs, want 1", len(m.Outputs))
	}
	y := res.Outputs[m.Outputs[0].Name]
	if y == nil {
		t.Fatalf("no output %s", m.Outputs[0].Name)
	}
	return y
}

// TestAccuracy runs every fixture input through Provena and compares the
// output with onnxruntime's: max error within tolerance of the largest
// magnitude, and for rec the same argmax at every step and the same text.
func TestAccuracy(t *testing.T) {
	dir, cases := fixtures(t)
	dict, err := ocr.LoadDict(filepath.Join(dir, RecDict))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			m := importModel(t, dir, c)
			x := readNpy(t, filepath.Join(dir, "inputs", c.Input))
			want := readNpy(t, filepath.Join(dir, "golden", c.Name+".npy"))
			got := output(t, m, x, infer.Options{Threads: 2})
			d, err := Compare(got, want)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s %v: max abs error %.3g, max |ref| %.3g, relative %.3g (bound %g)", c.Model, c.Shape, d.MaxAbsErr, d.MaxRef, d.Rel(), tolerance)
			if d.Rel() > tolerance {
				t.Errorf("relative error %.3g at element %d (got %v, onnxruntime %v) exceeds %g",
					d.Rel(), d.At, got.F32[d.At], want.F32[d.At], tolerance)
			}
			switch c.Model {
			case "rec":
				checkRec(t, c, dict, got, want)
			case "det":
				checkDet(t, c, x, got, want)
			}
		})
	}
}

func checkRec(t *testing.T, c Case, dict []string, got, want *tensor.Tensor) {
	text, seq, err := ocr.CTCDecode(got, dict)
	if err != nil {
		t.Fatal(err)
	}
	refText, refSeq, err := ocr.CTCDecode(want, dict)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seq, refSeq) {
		for i := range seq {
			if seq[i] != refSeq[i] {
				t.Errorf("argmax differs first at step %d: provena %d, onnxruntime %d", i, seq[i], refSeq[i])
				break
			}
		}
	}
	if text != refText {
		t.Errorf("text %q, onnxruntime %q", text, refText)
	}
	rendered := strings.Join(c.Text, " ")
	t.Logf("rec text %q (onnxruntime %q, rendered %q, equal to rendered: %v)", text, refText, rendered, strings.TrimSpace(text) == rendered)
}

// checkDet runs the DB postprocessing on both maps: the boxes must agree.
func checkDet(t *testing.T, c Case, x, got, want *tensor.Tensor) {
	sc := ocr.DetScale{SrcW: c.Shape[3], SrcH: c.Shape[2], W: c.Shape[3], H: c.Shape[2]}
	boxes, err := ocr.DBBoxes(got, sc, ocr.DefaultDB)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := ocr.DBBoxes(want, sc, ocr.DefaultDB)
	if err != nil {
		t.Fatal(err)
	}
	if len(boxes) != len(ref) {
		t.Errorf("%d boxes, onnxruntime's map gives %d", len(boxes), len(ref))
	} else {
		for i := range boxes {
			if boxes[i].Rect() != ref[i].Rect() {
				t.Errorf("box %d %v, onnxruntime's %v", i, boxes[i].Rect(), ref[i].Rect())
			}
		}
	}
	t.Logf("det boxes: %d (onnxruntime %d) for %d rendered lines", len(boxes), len(ref), len(c.Text))
}

// TestThreadsBitIdentical checks that the thread count never changes an
// output bit, nor does tracing, nor the kernel path. One rec input is enough: the others exercise
// the same kernels at the same shapes.
func TestThreadsBitIdentical(t *testing.T) {
	dir, cases := fixtures(t)
	for _, c := range cases {
		if c.Model == "rec" && c.Name != "rec_0" || testing.Short() && c.Name == "det_640" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			m := importModel(t, dir, c)
			x := readNpy(t, filepath.Join(dir, "inputs", c.Input))
			var first [32]byte
			for i, opts := range []infer.Options{{Threads: 1}, {Threads: 2}, {Threads: 8}, {Threads: 2, Trace: true}} {
				sum := sha256.Sum256(output(t, m, x, opts).CanonicalBytes())
				if i == 0 {
					first = sum
					t.Logf("output sha256 %x", sum)
					continue
				}
				if sum != first {
					t.Errorf("threads %d trace %v: output sha256 %x, threads 1 gave %x", opts.Threads, opts.Trace, sum, first)
				}
			}
			// The portable kernels must give the SIMD kernels' bits. In a
			// build without SIMD both runs take the portable path.
			if c.Name == "det_640" {
				return // the slowest case; det_320 covers the same kernels
			}
			path := kernels.Path()
			kernels.SetPurego(true)
			defer kernels.SetPurego(false)
			sum := sha256.Sum256(output(t, m, x, infer.Options{Threads: 2}).CanonicalBytes())
			if sum != first {
				t.Errorf("portable kernels: output sha256 %x, %s kernels gave %x", sum, path, first)
			}
		})
	}
}
