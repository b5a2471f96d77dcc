package nettest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/provena/provena/client"
	"github.com/provena/provena/keys"
	"github.com/provena/provena/node"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/opml/opmltest"
)

// background runs a long-lived provena command (worker or watcher) until
// the test ends, its output in a log file.
func background(t *testing.T, logPath string, args ...string) {
	t.Helper()
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), keys.PassphraseEnv+"=e2e passphrase")
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		lf.Close()
	})
}

// TestOpmlCheatingWorkerCLI runs a real node, a cheating worker process and
// a watcher process, and submits a job through the command line: the
// watcher catches the corrupted element, the worker is slashed, and the
// requester gets a refund.
func TestOpmlCheatingWorkerCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("opML end-to-end over a real node runs without -short")
	}
	m, err := opmltest.Model()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	ports, err := node.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	pp := ports[0]
	cli(t, "init", "--home", home, "--chain-id", "opml-e2e", "--block-time-ms", "300",
		"--p2p-port", fmt.Sprint(pp.P2P), "--rpc-port", fmt.Sprint(pp.RPC), "--api-port", fmt.Sprint(pp.API))
	p := startNode(t, home)
	ctx := ctxT(t, 5*time.Minute)
	waitHeight(t, ctx, p.api, 2)
	for _, k := range []string{"w1", "v1"} {
		cli(t, "keys", "add", k, "--home", home)
		cli(t, "tx", "send", "--home", home, "--from", "alice", "--to", k, "--amount", "100000", "--wait")
	}
	pvm := filepath.Join(dir, "cnn.pvm")
	if err := m.Save(pvm); err != nil {
		t.Fatal(err)
	}
	var x bytes.Buffer
	if err := npy.Write(&x, opmltest.Input(9)["x"]); err != nil {
		t.Fatal(err)
	}
	xpath := filepath.Join(dir, "x.npy")
	if err := os.WriteFile(xpath, x.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var reg struct {
		ModelID string `json:"model_id"`
	}
	mustJSON(t, cli(t, "model", "register", pvm, "--home", home, "--from", "alice", "--fee", "50", "--json"), &reg)

	// The worker and the watcher start with empty stores of their own: they
	// fetch the package and the input from the node's opML routes, check
	// them against the model id and the inputs root, and cache them.
	wstore, vstore := filepath.Join(dir, "wstore"), filepath.Join(dir, "vstore")
	background(t, filepath.Join(dir, "worker.log"), "worker", "start", "--home", home, "--store", wstore, "--from", "w1", "--bond", "10000", "--interval", "200ms", "--fault", "corrupt:3:100")
	background(t, filepath.Join(dir, "watcher.log"), "watcher", "start", "--home", home, "--store", vstore, "--from", "v1", "--interval", "200ms")

	var sub struct {
		Job   uint64 `json:"job"`
		State string `json:"state"`
	}
	mustJSON(t, cli(t, "job", "submit", "--home", home, "--from", "alice", "--model", reg.ModelID, "--input", xpath, "--worker-fee", "100", "--wait", "--json", "--timeout", "4m"), &sub)
	if sub.State != "refunded" {
		b, _ := os.ReadFile(filepath.Join(dir, "worker.log"))
		w, _ := os.ReadFile(filepath.Join(dir, "watcher.log"))
		t.Fatalf("job %d ended %s\nworker:\n%s\nwatcher:\n%s", sub.Job, sub.State, b, w)
	}
	var j struct {
		State    string `json:"state"`
		Disputes []struct {
			Winner string `json:"winner"`
			Moves  int    `json:"moves"`
			Reason string `json:"reason"`
		} `json:"disputes"`
		Burned uint64 `json:"burned"`
	}
	out := cli(t, "job", "show", fmt.Sprint(sub.Job), "--home", home, "--json")
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatal(err)
	}
	if len(j.Disputes) != 1 || j.Disputes[0].Winner != "challenger" || j.Burned == 0 {
		t.Fatalf("job: %s", out)
	}
	t.Logf("dispute over a real node: %d moves: %s", j.Disputes[0].Moves, j.Disputes[0].Reason)
	for _, st := range []string{wstore, vstore} {
		if _, err := os.Stat(filepath.Join(st, "models", reg.ModelID+".pvm")); err != nil {
			t.Errorf("%s did not cache the model fetched from the node: %v", st, err)
		}
	}
	t.Log(cli(t, "job", "show", fmt.Sprint(sub.Job), "--home", home))
	// The worker stored the output; the requester fetches and checks it.
	var got struct {
		Verified bool  `json:"verified"`
		Shape    []int `json:"shape"`
	}
	// The worker uploaded it to the node; a requester with an empty store
	// fetches it from there.
	mustJSON(t, cli(t, "job", "output", fmt.Sprint(sub.Job), "--home", home, "--store", filepath.Join(dir, "rstore"), "-o", filepath.Join(dir, "y.npy"), "--json"), &got)
	if !got.Verified || len(got.Shape) != 4 {
		t.Fatalf("job output: %+v", got)
	}
	p.stop()
}

// TestOpmlDisputeFourValidatorsRestart plays the cheating-worker dispute on
// a 4-validator network and kills and restarts one validator in the middle
// of it: the dispute ends the same way and every node agrees on the app
// hash.
func TestOpmlDisputeFourValidatorsRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("opML on 4 validators runs without -short")
	}
	m, err := opmltest.Model()
	if err != nil {
		t.Skip(err)
	}
	homes := testnet(t, 4)
	ps := make([]*proc, 4)
	for i, h := range homes {
		ps[i] = startNode(t, h.Dir)
	}
	ctx := ctxT(t, 6*time.Minute)
	waitHeight(t, ctx, ps[0].api, 3)
	home := homes[0].Dir
	kb := []string{"--home", home, "--keyring-backend", "test"}
	with := func(args ...string) []string { return append(args, kb...) }
	for _, k := range []string{"w1", "v1"} {
		cli(t, with("keys", "add", k)...)
		cli(t, with("tx", "send", "--from", "alice", "--to", k, "--amount", "100000", "--wait")...)
	}
	dir := t.TempDir()
	pvm := filepath.Join(dir, "cnn.pvm")
	if err := m.Save(pvm); err != nil {
		t.Fatal(err)
	}
	var x bytes.Buffer
	if err := npy.Write(&x, opmltest.Input(9)["x"]); err != nil {
		t.Fatal(err)
	}
	xpath := filepath.Join(dir, "x.npy")
	if err := os.WriteFile(xpath, x.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var reg struct {
		ModelID string `json:"model_id"`
	}
	mustJSON(t, cli(t, with("model", "register", pvm, "--from", "alice", "--fee", "50", "--json")...), &reg)
	background(t, filepath.Join(dir, "worker.log"), with("worker", "start", "--from", "w1", "--bond", "10000", "--interval", "200ms", "--fault", "corrupt:3:100")...)
	background(t, filepath.Join(dir, "watcher.log"), with("watcher", "start", "--from", "v1", "--interval", "200ms")...)
	var sub struct {
		Job uint64 `json:"job"`
	}
	mustJSON(t, cli(t, with("job", "submit", "--from", "alice", "--model", reg.ModelID, "--input", xpath, "--worker-fee", "100", "--json")...), &sub)

	type jobView struct {
		State string `json:"state"`
		Game  *struct {
			Moves int `json:"moves"`
		} `json:"game"`
		Disputes []struct {
			Winner string `json:"winner"`
			Moves  int    `json:"moves"`
		} `json:"disputes"`
	}
	show := func() jobView {
		var j jobView
		mustJSON(t, cli(t, with("job", "show", fmt.Sprint(sub.Job), "--json")...), &j)
		return j
	}
	// Wait until the dispute is a few moves in, then restart a validator.
	for {
		j := show()
		if j.Game != nil && j.Game.Moves >= 4 {
			break
		}
		if j.State == "refunded" || j.State == "final" {
			t.Fatalf("job closed (%s) before the restart", j.State)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("dispute did not start: %+v", j)
		case <-time.After(300 * time.Millisecond):
		}
	}
	ps[2].kill()
	waitHeight(t, ctx, ps[0].api, height(t, ctx, ps[0].api)+3)
	ps[2] = startNode(t, homes[2].Dir)
	var j jobView
	for {
		if j = show(); j.State == "refunded" || j.State == "final" {
			break
		}
		select {
		case <-ctx.Done():
			wl, _ := os.ReadFile(filepath.Join(dir, "worker.log"))
			vl, _ := os.ReadFile(filepath.Join(dir, "watcher.log"))
			t.Fatalf("job not closed: %+v\nworker:\n%s\nwatcher:\n%s", j, wl, vl)
		case <-time.After(300 * time.Millisecond):
		}
	}
	if j.State != "refunded" || len(j.Disputes) != 1 || j.Disputes[0].Winner != "challenger" {
		t.Fatalf("job ended %+v", j)
	}
	end := height(t, ctx, ps[0].api)
	for _, p := range ps {
		waitHeight(t, ctx, p.api, end+1)
	}
	nodes := []*client.Client{ps[0].api, ps[1].api, ps[2].api, ps[3].api}
	compareAppHashes(t, ctx, nodes, end+1)
	t.Logf("dispute of %d moves ended %s with validator 2 restarted; 4 nodes agree up to height %d", j.Disputes[0].Moves, j.Disputes[0].Winner, end+1)
}
