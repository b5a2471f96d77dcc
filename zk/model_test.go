package zk

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/test"
	"github.com/provena/provena/infer"
	"github.com/provena/provena/model"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/onnx"
	"github.com/provena/provena/quant"
	"github.com/provena/provena/tensor"
)

func fixtureDir(t *testing.T) string {
	dir := os.Getenv("PROVENA_FIXTURES")
	if dir == "" {
		dir, _ = filepath.Abs("../.cache/fixtures")
	}
	dir = filepath.Join(dir, "mnist")
	for _, need := range []string{filepath.Join(dir, "mlp.onnx"), filepath.Join(dir, "cnn.onnx"), filepath.Join(dir, "calib", "99.npy"), filepath.Join(dir, "sample", "9.npy")} {
		if _, err := os.Stat(need); err != nil {
			if os.Getenv("PROVENA_REQUIRE_FIXTURES") == "1" {
				t.Fatalf("fixture missing (PROVENA_REQUIRE_FIXTURES=1): %v", err)
			}
			t.Skipf("fixture absent (run scripts/fixtures-mnist.sh): %v", err)
		}
	}
	return dir
}

// quantizedFixture imports and quantizes an MNIST fixture model.
func quantizedFixture(t *testing.T, dir, name string) *model.Model {
	t.Helper()
	f, err := onnx.ImportFile(filepath.Join(dir, name+".onnx"), onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := quant.QuantizeDir(f, filepath.Join(dir, "calib"), quant.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func loadNpy(t *testing.T, path string) *tensor.Tensor {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	x, err := npy.Read(fh)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// runtimeCore runs the model in the runtime and returns the inputs of its
// QDequantize output nodes, concatenated: what the circuit must output.
func runtimeCore(t *testing.T, m *model.Model, x *tensor.Tensor) []int64 {
	t.Helper()
	res, err := infer.Run(m, map[string]*tensor.Tensor{m.Inputs[0].Name: x}, infer.Options{KeepOutputs: true, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*tensor.Tensor{}
	for i := range m.Nodes {
		for j, o := range m.Nodes[i].Outputs {
			byName[o] = res.NodeOutputs[i][j]
		}
	}
	var out []int64
	for _, o := range m.Outputs {
		for i := range m.Nodes {
			n := &m.Nodes[i]
			if n.OpType == "QDequantize" && n.Outputs[0] == o.Name {
				out = append(out, tensorInts(byName[n.Inputs[0]])...)
			}
		}
	}
	return out
}

// TestMNISTCircuitMatchesRuntime: for the quantized MNIST MLP and CNN, the
// native reference equals the runtime bit for bit on the 10 sample images,
// and the circuit (chain visibility) is satisfied by the runtime's outputs
// and not by a changed one.
func TestMNISTCircuitMatchesRuntime(t *testing.T) {
	dir := fixtureDir(t)
	for _, name := range []string{"mlp", "cnn"} {
		t.Run(name, func(t *testing.T) {
			m := quantizedFixture(t, dir, name)
			g, err := FromModel(m)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d MACs", name, g.MACs())
			for i := 0; i < 10; i++ {
				x := loadNpy(t, filepath.Join(dir, "sample", []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}[i]+".npy"))
				xq, err := QuantizeInput(m, x)
				if err != nil {
					t.Fatal(err)
				}
				got, err := g.Outputs(xq)
				if err != nil {
					t.Fatal(err)
				}
				want := runtimeCore(t, m, x)
				if len(got) != len(want) {
					t.Fatalf("sample %d: %d outputs, runtime %d", i, len(got), len(want))
				}
				for j := range want {
					if got[j] != want[j] {
						t.Fatalf("sample %d: output %d: circuit reference %d, runtime %d", i, j, got[j], want[j])
					}
				}
				if i > 0 {
					continue
				}
				c, err := NewCircuit(g, ChainVisibility)
				if err != nil {
					t.Fatal(err)
				}
				st, a, err := g.statement(ChainVisibility, xq)
				if err != nil {
					t.Fatal(err)
				}
				for j := range want {
					if st.Output[j] != want[j] {
						t.Fatalf("statement output %d differs from the runtime", j)
					}
				}
				if err := test.IsSolved(c, a, ecc.BN254.ScalarField()); err != nil {
					t.Fatal(err)
				}
				a.Pub[len(a.Pub)-1] = want[len(want)-1] + 1
				if err := test.IsSolved(c, a, ecc.BN254.ScalarField()); err == nil {
					t.Fatal("changed output solved")
				}
			}
		})
	}
}
