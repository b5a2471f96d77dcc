package cli

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provena/provena/app"
	"github.com/provena/provena/keys"
	"github.com/provena/provena/model"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/quant"
	"github.com/provena/provena/tensor"
	"github.com/provena/provena/zk"
)

// tinyQuantizedModel is a 16-8-4 MLP quantized by package quant, whose
// circuit sets up and proves in about a second.
func tinyQuantizedModel(t *testing.T) *model.Model {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 6))
	rt := func(scale float64, uniform bool, shape ...int) *tensor.Tensor {
		x, _ := tensor.New(tensor.Float32, shape)
		for i := range x.F32 {
			if uniform {
				x.F32[i] = float32(r.Float64())
			} else {
				x.F32[i] = float32(r.NormFloat64() * scale)
			}
		}
		return x
	}
	at := func(kv ...any) ops.Attrs {
		a := ops.Attrs{ops.OpsetAttr: {Kind: ops.AttrInt, Int: 13}}
		for i := 0; i < len(kv); i += 2 {
			a[kv[i].(string)] = ops.Attr{Kind: ops.AttrInt, Int: int64(kv[i+1].(int))}
		}
		return a
	}
	f := &model.Model{
		Name: "tiny-mlp", Opset: 13,
		Inputs:  []model.ValueInfo{{Name: "x", DType: tensor.Float32, Shape: []int{1, 1, 4, 4}}},
		Outputs: []model.ValueInfo{{Name: "logits", DType: tensor.Float32, Shape: []int{1, 4}}},
		Nodes: []model.Node{
			{Name: "flat", OpType: "Flatten", Inputs: []string{"x"}, Outputs: []string{"f"}, Attrs: at("axis", 1)},
			{Name: "fc1", OpType: "Gemm", Inputs: []string{"f", "w1", "b1"}, Outputs: []string{"h"}, Attrs: at("transB", 1)},
			{Name: "relu", OpType: "Relu", Inputs: []string{"h"}, Outputs: []string{"hr"}, Attrs: at()},
			{Name: "fc2", OpType: "Gemm", Inputs: []string{"hr", "w2", "b2"}, Outputs: []string{"logits"}, Attrs: at("transB", 1)},
		},
		Weights: []model.Weight{
			{Name: "w1", Tensor: rt(0.4, false, 8, 16)},
			{Name: "b1", Tensor: rt(0.1, false, 8)},
			{Name: "w2", Tensor: rt(0.4, false, 4, 8)},
			{Name: "b2", Tensor: rt(0.1, false, 4)},
		},
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	var cal []map[string]*tensor.Tensor
	for range 32 {
		cal = append(cal, map[string]*tensor.Tensor{"x": rt(0, true, 1, 1, 4, 4)})
	}
	c, err := quant.Calibrate(f, cal, quant.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := quant.Quantize(f, c, quant.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestZkJobLeavesNoPlaintext runs a zk job against a real node: the owner
// registers the quantized model and its circuit through the command line,
// its worker (in process, holding the proving key) proves, the chain
// verifies, the requester submits and reads the output through the command
// line; then every file under the node's home is scanned for the input's
// marker bytes (raw and base64): not found.
func TestZkJobLeavesNoPlaintext(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	m := tinyQuantizedModel(t)
	art, err := zk.Setup(m, zk.SetupOptions{System: zk.Groth16, Vis: zk.ChainVisibility, InsecureDevSetup: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	artPath := filepath.Join(dir, "tiny.zk")
	if err := art.Save(artPath); err != nil {
		t.Fatal(err)
	}
	home, n := startTestNode(t, dir, "zk-e2e", 500)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	common := []string{"--home", home, "--keyring-backend", "test"}
	must := func(args ...string) string {
		t.Helper()
		out, err := teeRunCLI(append(args, common...)...)
		if err != nil {
			t.Fatalf("provena %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	kr, err := keys.Open(keys.Dir(home), keys.BackendTest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Add("carol"); err != nil {
		t.Fatal(err)
	}
	must("tx", "send", "--from", "alice", "--to", "carol", "--amount", "200000", "--wait")
	pvm := filepath.Join(dir, "tiny.q.pvm")
	if err := m.Save(pvm); err != nil {
		t.Fatal(err)
	}
	must("model", "register", pvm, "--fee", "50", "--from", "alice")
	mid := m.IDString()
	if _, err := teeRunCLI(append([]string{"zk", "register", artPath, "--model", mid, "--from", "carol"}, common...)...); err == nil || !strings.Contains(err.Error(), "only the owner") {
		t.Fatalf("zk register by a non-owner: %v", err)
	}
	out := must("zk", "register", artPath, "--model", mid, "--from", "alice")
	if !strings.Contains(out, "registered a groth16 circuit") {
		t.Fatalf("zk register:\n%s", out)
	}

	// The owner's worker is the prover: bonded, holding the artifact.
	wlog := &syncBuffer{}
	wctx2, stopWorker := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		root := NewRootCmd()
		root.SetOut(wlog)
		root.SetErr(wlog)
		root.SetArgs(append([]string{"worker", "start", "--from", "alice", "--bond", "5000", "--zk", artPath, "--interval", "200ms"}, common...))
		done <- root.ExecuteContext(wctx2)
	}()
	defer func() { stopWorker(); <-done }()

	x, _ := tensor.New(tensor.Float32, []int{1, 1, 4, 4})
	var marker []byte
	for i := range x.F32 {
		x.F32[i] = 0.0371 + float32(i)*0.0583
		marker = binary.LittleEndian.AppendUint32(marker, math.Float32bits(x.F32[i]))
	}
	in := filepath.Join(dir, "in", "x.npy")
	mustWriteNpy(t, in, x)
	out = must("job", "submit", "--model", mid, "--input", in, "--mode", "zk", "--from", "carol", "--wait", "--timeout", "2m")
	if !strings.Contains(out, "zk job 1 (final)") {
		t.Fatalf("submit:\n%s\nworker:\n%s", out, wlog.String())
	}
	var js struct {
		app.OpmlJob
		Summary jobModeSummary `json:"summary"`
	}
	if err := json.Unmarshal([]byte(must("job", "show", "1", "--json")), &js); err != nil {
		t.Fatal(err)
	}
	if js.Mode != app.JobModeZk || js.Summary.ZkProofBytes == 0 || len(js.Summary.ZkOutput) != 4 || js.Posted != js.Closed {
		t.Fatalf("zk job: %+v", js.Summary)
	}
	if show := must("job", "show", "1"); !strings.Contains(show, "proof of") || !strings.Contains(show, "trusted: the proof system's setup") {
		t.Fatalf("job show:\n%s", show)
	}
	y := filepath.Join(dir, "out", "y.npy")
	must("job", "output", "1", "-o", y, "--from", "carol")
	if got := readNpy(t, y); len(got.F32) != 4 {
		t.Fatalf("output %v", got.Shape)
	}
	stopWorker()
	<-done
	done <- nil // for the deferred wait
	n.Stop()
	if hits, files := scanFor(t, home, marker); len(hits) > 0 {
		t.Fatalf("the zk job's input is in plaintext in %v", hits)
	} else {
		t.Logf("zk job final with a %d-byte proof; %d files under the node's home scanned: input not found", js.Summary.ZkProofBytes, files)
	}
}
