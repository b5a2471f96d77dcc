package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/client"
	"github.com/provena/provena/keys"
	"github.com/provena/provena/tee/sim"
	"github.com/provena/provena/tx"
)

// TestTeeCLIEndToEnd runs a real single-validator node and drives tee
// config (block 1), allow, register --simulate and show through the
// command line.
func TestTeeCLIEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	dir := t.TempDir()
	home, n := startTestNode(t, dir, "tee-e2e", 1500)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	common := []string{"--home", home, "--keyring-backend", "test"}
	cli := func(args ...string) (string, error) { return teeRunCLI(append(args, common...)...) }
	must := func(args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil {
			t.Fatalf("provena %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	// The config must come in the chain's first blocks (clients can send
	// from block 1 on): send it first.
	must("tee", "config", "--sim-root", "test", "--max-age", "1h", "--from", "alice")

	kr, err := keys.Open(keys.Dir(home), keys.BackendTest)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := kr.PrivateKey("alice")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := kr.Add("bob")
	if err != nil {
		t.Fatal(err)
	}
	sig := tx.TensorSig{DType: 1, Shape: []uint32{1}}
	model := tx.MsgRegisterModel{ModelID: [32]byte{0x7e}, NumNodes: 1, Inputs: []tx.TensorSig{sig}, Outputs: []tx.OutputSig{{Sig: sig}}}
	if _, err := client.New("http://"+n.APIAddr).Send(ctx, alice, app.DefaultParams().MinFee, model, true); err != nil {
		t.Fatal(err)
	}
	mid := hex.EncodeToString(model.ModelID[:])
	must("tx", "send", "--from", "alice", "--to", "bob", "--amount", "100000", "--wait")
	meas := sim.MeasurementOf("provena-worker-v1")
	must("tee", "allow", "--kind", "sim", "--measurement", hex.EncodeToString(meas[:]), "--model", mid, "--from", "alice")

	if _, err := cli("tee", "register", "--model", mid, "--simulate", "some-other-build", "--from", "bob"); err == nil || !strings.Contains(err.Error(), "not allowed for model") {
		t.Fatalf("register with a measurement not allowed: %v", err)
	}
	out := must("tee", "register", "--model", mid, "--simulate", "provena-worker-v1", "--from", "bob")
	if !strings.Contains(out, "SIMULATED") {
		t.Fatalf("register output does not say SIMULATED:\n%s", out)
	}
	out = must("tee", "show", bob.Address.String(), mid)
	if !strings.Contains(out, "SIMULATED") || !strings.Contains(out, hex.EncodeToString(meas[:])) {
		t.Fatalf("show:\n%s", out)
	}
	var att app.TeeAttestation
	if err := json.Unmarshal([]byte(must("tee", "show", bob.Address.String(), mid, "--json")), &att); err != nil {
		t.Fatal(err)
	}
	if !att.Simulated || att.FreshUntil.Sub(att.IssuedAt) != time.Hour {
		t.Fatalf("attestation %+v", att)
	}
	if _, err := cli("tee", "config", "--max-age", "2h", "--from", "alice"); err == nil || !strings.Contains(err.Error(), "already configured") {
		t.Fatalf("second config: %v", err)
	}
}
