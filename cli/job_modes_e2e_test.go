package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/infer"
	"github.com/provena/provena/keys"
	"github.com/provena/provena/model"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/opml/opmltest"
	"github.com/provena/provena/tee/sim"
	"github.com/provena/provena/tensor"
	"github.com/provena/provena/worker"
)

// syncBuffer is a bytes.Buffer a running command writes to while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// markedInput is the test model's input with a marker in its first 16
// elements, and the marker's float32 bytes.
func markedInput(t *testing.T, base float32) (*tensor.Tensor, []byte) {
	x := opmltest.Input(9)["x"]
	var marker []byte
	for i := range 16 {
		x.F32[i] = base + float32(i)*0.0625
		marker = binary.LittleEndian.AppendUint32(marker, math.Float32bits(x.F32[i]))
	}
	return x, marker
}

// encodings are the forms in which the marker bytes could sit in a file:
// raw (float32 little-endian, as in .npy and raw tensors) and base64 (the
// JSON wire form of inputs) at each of the three alignments.
func encodings(marker []byte) [][]byte {
	out := [][]byte{marker}
	for off := range 3 {
		enc := base64.StdEncoding.EncodeToString(append(make([]byte, off), marker...))
		// Drop the characters that depend on the padding bytes and on what
		// follows the marker.
		start := (off*4 + 2) / 3
		out = append(out, []byte(enc[start+1:len(enc)-4]))
	}
	return out
}

// scanFor lists the files under root holding any encoding of marker.
func scanFor(t *testing.T, root string, marker []byte) (hits []string, files int) {
	t.Helper()
	encs := encodings(marker)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for _, e := range encs {
			if bytes.Contains(b, e) {
				hits = append(hits, p)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits, files
}

// TestPrivateJobsLeaveNoPlaintext runs a real node and, through the command
// line, a SIMULATED-enclave worker and a tee job whose input carries a
// marker; then it stops the node and scans every file under the node's
// home (the chain's blocks and state, the node's opML store, the worker's
// store and keyring) for the marker in raw, .npy and base64 form: not
// found. An optimistic job with another marker, whose input must be public,
// is found by the same scan, which shows the scan can fail.
func TestPrivateJobsLeaveNoPlaintext(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	m, err := opmltest.Model()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	home, n := startTestNode(t, dir, "modes-e2e", 700)
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
	must("tee", "config", "--sim-root", "test", "--max-age", "1h", "--from", "alice")
	kr, err := keys.Open(keys.Dir(home), keys.BackendTest)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bob", "carol"} {
		if _, err := kr.Add(name); err != nil {
			t.Fatal(err)
		}
		must("tx", "send", "--from", "alice", "--to", name, "--amount", "200000", "--wait")
	}
	pvm := filepath.Join(dir, "m.pvm")
	if err := m.Save(pvm); err != nil {
		t.Fatal(err)
	}
	must("model", "register", pvm, "--fee", "50", "--from", "alice")
	mid := m.IDString()
	meas := sim.MeasurementOf(worker.SimMeasurementLabel)
	must("tee", "allow", "--kind", "sim", "--measurement", hex.EncodeToString(meas[:]), "--model", mid, "--from", "alice")

	// The worker: bonds, posts a SIMULATED attestation, serves jobs.
	wlog := &syncBuffer{}
	wctx2, stopWorker := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		root := NewRootCmd()
		root.SetOut(wlog)
		root.SetErr(wlog)
		root.SetArgs(append([]string{"worker", "start", "--from", "bob", "--bond", "5000", "--tee", "sim", "--model", mid,
			"--simulate", worker.SimMeasurementLabel, "--interval", "300ms"}, common...))
		done <- root.ExecuteContext(wctx2)
	}()
	defer func() { stopWorker(); <-done }()

	x, marker := markedInput(t, 4242.125)
	in := filepath.Join(dir, "in", "x.npy")
	mustWriteNpy(t, in, x)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(wlog.String(), "attestation for model") {
		if time.Now().After(deadline) {
			t.Fatalf("worker did not register its attestation:\n%s", wlog.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	out := must("job", "submit", "--model", mid, "--input", in, "--mode", "tee", "--from", "carol", "--wait")
	if !strings.Contains(out, "tee job 1 (final)") || !strings.Contains(out, "SIMULATED") {
		t.Fatalf("submit:\n%s\nworker:\n%s", out, wlog.String())
	}
	show := must("job", "show", "1")
	for _, want := range []string{"mode tee (SIMULATED enclave)", "finality:", "in the block of the result", "trusted: the hardware vendor", "input: sealed to", "result signed by the attested key"} {
		if !strings.Contains(show, want) {
			t.Fatalf("job show lacks %q:\n%s", want, show)
		}
	}
	var js struct {
		app.OpmlJob
		Summary jobModeSummary `json:"summary"`
	}
	if err := json.Unmarshal([]byte(must("job", "show", "1", "--json")), &js); err != nil {
		t.Fatal(err)
	}
	if js.Mode != app.JobModeTee || js.Summary.FinalBlocks < 1 || js.Summary.Txs != 3 || js.Summary.PaidUpv != 150 || js.Summary.InputVisible {
		t.Fatalf("job show --json summary %+v", js.Summary)
	}
	if _, err := teeRunCLI(append([]string{"job", "deliver", "1", "--input", in, "--from", "carol"}, common...)...); err == nil || !strings.Contains(err.Error(), "not waiting for its input") {
		t.Fatalf("job deliver on a final job: %v", err)
	}
	y := filepath.Join(dir, "out", "y.npy")
	if out := must("job", "output", "1", "-o", y, "--from", "carol"); !strings.Contains(out, "matches the roots the enclave signed") {
		t.Fatalf("job output:\n%s", out)
	}
	if _, err := teeRunCLI(append([]string{"job", "output", "1", "-o", y, "--from", "bob"}, common...)...); err == nil {
		t.Fatal("the worker's key opened the requester's sealed output")
	}
	got := readNpy(t, y)
	res, err := infer.Run(m, map[string]*tensor.Tensor{"x": x}, infer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if model.ValueRoot(got, 0) != model.ValueRoot(res.Outputs["y"], 0) {
		t.Fatal("decrypted output differs from a local run")
	}

	// Positive control: an optimistic job's input is public by design.
	x2, marker2 := markedInput(t, 777.5)
	in2 := filepath.Join(dir, "in", "x2.npy")
	mustWriteNpy(t, in2, x2)
	must("job", "submit", "--model", mid, "--input", in2, "--from", "carol")

	stopWorker()
	<-done
	done <- nil
	n.Stop()
	hits, files := scanFor(t, home, marker)
	if len(hits) > 0 {
		t.Fatalf("the tee job's input is in plaintext in %v", hits)
	}
	hits2, _ := scanFor(t, home, marker2)
	if len(hits2) == 0 {
		t.Fatal("the scan did not find the optimistic job's public input: it cannot be trusted")
	}
	t.Logf("scanned %d files under the node's home: tee marker in none; optimistic marker in %d (%s)", files, len(hits2), hits2[0])
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
		t.Fatal(err)
	}
	return x
}

func mustWriteNpy(t *testing.T, path string, x *tensor.Tensor) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeNpy(path, x); err != nil {
		t.Fatal(err)
	}
}
