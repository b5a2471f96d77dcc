package nettest

import (
	"bytes"
	"encoding/base64"
	ebin "encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/client"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/opml/opmltest"
	"github.com/provena/provena/tee/sim"
)

// trustSimRoot names tee/sim's test root in a home's genesis (modules.tee),
// before the node first starts.
func trustSimRoot(t *testing.T, home string) {
	t.Helper()
	path := filepath.Join(home, "config", "genesis.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc, st map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(doc["app_state"], &st); err != nil {
		t.Fatal(err)
	}
	mods := map[string]json.RawMessage{}
	if raw := st["modules"]; len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &mods); err != nil {
			t.Fatal(err)
		}
	}
	mods["tee"], _ = json.Marshal(app.TeeGenesis{SimRoots: []string{hex.EncodeToString(sim.TestRootPublic())}, MaxAgeSecs: 3600})
	st["modules"], _ = json.Marshal(mods)
	doc["app_state"], _ = json.Marshal(st)
	out, _ := json.MarshalIndent(doc, "", "  ")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTeeJobFourValidatorsNoPlaintext runs a tee job through the command
// line on a 4-validator network, with a worker process serving as a
// SIMULATED enclave: the job is final in the block of its signed result,
// all four nodes agree on the app hash, and no file under any of the four
// homes holds the job's input (marker bytes, raw or base64).
func TestTeeJobFourValidatorsNoPlaintext(t *testing.T) {
	if testing.Short() {
		t.Skip("a tee job on 4 validators runs without -short")
	}
	m, err := opmltest.Model()
	if err != nil {
		t.Skip(err)
	}
	homes := testnet(t, 4)
	for _, h := range homes {
		trustSimRoot(t, h.Dir)
	}
	ps := make([]*proc, 4)
	for i, h := range homes {
		ps[i] = startNode(t, h.Dir)
	}
	ctx := ctxT(t, 4*time.Minute)
	waitHeight(t, ctx, ps[0].api, 3)
	home := homes[0].Dir
	with := func(args ...string) []string { return append(args, "--home", home, "--keyring-backend", "test") }
	for _, k := range []string{"w1", "bob"} {
		cli(t, with("keys", "add", k)...)
		cli(t, with("tx", "send", "--from", "alice", "--to", k, "--amount", "100000", "--wait")...)
	}
	dir := t.TempDir()
	pvm := filepath.Join(dir, "cnn.pvm")
	if err := m.Save(pvm); err != nil {
		t.Fatal(err)
	}
	x := opmltest.Input(9)["x"]
	var marker []byte
	for i := range 16 {
		x.F32[i] = 9191.25 + float32(i)*0.125
		marker = ebin.LittleEndian.AppendUint32(marker, math.Float32bits(x.F32[i]))
	}
	var xb bytes.Buffer
	if err := npy.Write(&xb, x); err != nil {
		t.Fatal(err)
	}
	xpath := filepath.Join(dir, "x.npy")
	if err := os.WriteFile(xpath, xb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var reg struct {
		ModelID string `json:"model_id"`
	}
	mustJSON(t, cli(t, with("model", "register", pvm, "--from", "alice", "--fee", "50", "--json")...), &reg)
	meas := sim.MeasurementOf("provena-worker-v1")
	cli(t, with("tee", "allow", "--kind", "sim", "--measurement", hex.EncodeToString(meas[:]), "--model", reg.ModelID, "--from", "alice")...)
	wlog := filepath.Join(dir, "worker.log")
	background(t, wlog, with("worker", "start", "--from", "w1", "--bond", "10000", "--interval", "200ms",
		"--tee", "sim", "--model", reg.ModelID, "--simulate", "provena-worker-v1")...)
	for deadline := time.Now().Add(time.Minute); ; {
		if b, _ := os.ReadFile(wlog); bytes.Contains(b, []byte("attestation for model")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker did not attest:\n%s", tail(wlog))
		}
		time.Sleep(200 * time.Millisecond)
	}
	var sub struct {
		Job   uint64 `json:"job"`
		State string `json:"state"`
	}
	mustJSON(t, cli(t, with("job", "submit", "--from", "bob", "--model", reg.ModelID, "--input", xpath, "--mode", "tee", "--wait", "--json", "--timeout", "2m")...), &sub)
	if sub.State != app.OpmlJobFinal {
		t.Fatalf("tee job %d ended %s\nworker:\n%s", sub.Job, sub.State, tail(wlog))
	}
	var j app.OpmlJob
	mustJSON(t, cli(t, with("job", "show", fmt.Sprint(sub.Job), "--json")...), &j)
	if j.Mode != app.JobModeTee || j.Posted != j.Closed || j.Private == nil || j.Private.Tee == nil || !j.Private.Tee.Simulated {
		t.Fatalf("job %+v", j)
	}
	cli(t, with("job", "output", fmt.Sprint(sub.Job), "-o", filepath.Join(dir, "y.npy"), "--from", "bob")...)
	end := height(t, ctx, ps[0].api)
	for _, p := range ps {
		waitHeight(t, ctx, p.api, end+1)
	}
	compareAppHashes(t, ctx, []*client.Client{ps[0].api, ps[1].api, ps[2].api, ps[3].api}, end+1)
	for _, p := range ps {
		p.stop()
	}
	encs := [][]byte{marker}
	for off := range 3 {
		enc := base64.StdEncoding.EncodeToString(append(make([]byte, off), marker...))
		start := (off*4 + 2) / 3
		encs = append(encs, []byte(enc[start+1:len(enc)-4]))
	}
	files := 0
	for _, h := range homes {
		err := filepath.WalkDir(h.Dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files++
			for _, e := range encs {
				if bytes.Contains(b, e) {
					t.Errorf("the tee job's input is in plaintext in %s", p)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("tee job %d final at height %d on 4 validators (same app hash to %d); %d files under the 4 homes scanned: input not found", sub.Job, j.Closed, end+1, files)
}
