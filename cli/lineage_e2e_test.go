package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/blob"
	"github.com/provena/provena/keys"
	"github.com/provena/provena/opml/opmltest"
)

// TestLineageCLIEndToEnd runs a real node and, through the command line:
// a dataset added (stored on the node's blob store), a model registered
// with --trained-on (a refused lineage first: nothing registered), a worker
// with an energy profile, and a job to finality; then job show prints the
// royalty split, data show the dataset's earnings and job receipt, and the
// worker's energy receipt is on chain without anyone asking for it.
func TestLineageCLIEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	m, err := opmltest.Model()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	home, n := startTestNode(t, dir, "lineage-e2e", 300)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	common := []string{"--home", home, "--keyring-backend", "test"}
	run := func(args ...string) (string, error) { return runCLI(append(args, common...)...) }
	must := func(args ...string) string {
		t.Helper()
		out, err := run(args...)
		if err != nil {
			t.Fatalf("provena %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	kr, err := keys.Open(keys.Dir(home), keys.BackendTest)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bob", "carol", "dave"} {
		if _, err := kr.Add(name); err != nil {
			t.Fatal(err)
		}
		must("tx", "send", "--from", "alice", "--to", name, "--amount", "200000", "--wait")
	}
	csv := filepath.Join(dir, "games.csv")
	if err := os.WriteFile(csv, []byte(strings.Repeat("white,black,result\n", 500)), 0o644); err != nil {
		t.Fatal(err)
	}
	var added dataAddOutput
	if err := json.Unmarshal([]byte(must("data", "add", csv, "--from", "dave", "--name", "games", "--json")), &added); err != nil {
		t.Fatal(err)
	}
	// Replication: a second store gets every chunk from the node's, checked
	// against the ledger's root, and then serves the asset on its own.
	s2, err := blob.Open(filepath.Join(dir, "store2"))
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(blob.NewHandler(s2))
	defer srv2.Close()
	rep := must("data", "replicate", added.Asset, "--blob-nodes", "http://"+n.APIAddr+","+srv2.URL)
	if !strings.Contains(rep, fmt.Sprintf("%s: sent %d chunks", srv2.URL, added.Chunks)) {
		t.Fatalf("replicate:\n%s", rep)
	}
	back := filepath.Join(dir, "back.csv")
	must("data", "get", added.Asset, "-o", back, "--from", "dave", "--blob-nodes", srv2.URL)
	if b, _ := os.ReadFile(back); !bytes.Equal(b, []byte(strings.Repeat("white,black,result\n", 500))) {
		t.Fatal("the replica does not decrypt to the file")
	}

	pvm := filepath.Join(dir, "m.pvm")
	if err := m.Save(pvm); err != nil {
		t.Fatal(err)
	}
	unknown := strings.Repeat("ab", 32)
	if out, err := run("model", "register", pvm, "--fee", "1001", "--from", "alice", "--trained-on", unknown+":10"); err == nil || !strings.Contains(err.Error(), "unknown asset") {
		t.Fatalf("lineage with an unknown dataset: %v\n%s", err, out)
	}
	// Nothing was registered: the same registration now succeeds.
	out := must("model", "register", pvm, "--fee", "1001", "--from", "alice", "--trained-on", added.Asset+":25")
	if !strings.Contains(out, "lineage recorded") || !strings.Contains(out, "25%  dataset "+added.Asset) {
		t.Fatalf("register output:\n%s", out)
	}

	must("energy", "worker-profile", "--from", "bob", "--zone", "DE", "--cpu", "AMD EPYC 2nd Gen", "--vcpus", "1", "--machine-vcpus", "64", "--pue", "1.2", "--embodied-g", "1200000")
	wlog := &syncBuffer{}
	wctx2, stopWorker := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		root := NewRootCmd()
		root.SetOut(wlog)
		root.SetErr(wlog)
		root.SetArgs(append([]string{"worker", "start", "--from", "bob", "--bond", "5000", "--interval", "200ms"}, common...))
		done <- root.ExecuteContext(wctx2)
	}()
	defer func() { stopWorker(); <-done }()

	in := filepath.Join(dir, "in", "x.npy")
	mustWriteNpy(t, in, opmltest.Input(4)["x"])
	out = must("job", "submit", "--model", m.IDString(), "--input", in, "--from", "carol", "--wait")
	if !strings.Contains(out, "(final)") {
		t.Fatalf("submit:\n%s\nworker:\n%s", out, wlog.String())
	}
	show := must("job", "show", "1")
	// 25% of 1001 is 250.25: 250 to the dataset, 751 to the model owner.
	for _, want := range []string{"paid 250 upv to", "royalty 25% of the model fee: dataset " + added.Asset + ", owner", "paid 751 upv to", "model fee after dataset royalties"} {
		if !strings.Contains(show, want) {
			t.Fatalf("job show lacks %q:\n%s", want, show)
		}
	}
	ds := must("data", "show", added.Asset)
	if !strings.Contains(ds, "earned   250 upv") || !strings.Contains(ds, "job job:1 payer") {
		t.Fatalf("data show:\n%s", ds)
	}
	// The worker sent the job's energy receipt on its own.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := run("energy", "receipt", "show", "1")
		if err == nil && strings.Contains(out, "(ESTIMATED)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no energy receipt for job 1: %v\n%s\nworker:\n%s", err, out, wlog.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
}
