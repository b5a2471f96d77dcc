package nettest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/keys"
	"github.com/provena/provena/node"
)

// cli runs the provena binary with the encrypted keyring's passphrase in
// the environment and returns its stdout.
func cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), keys.PassphraseEnv+"=e2e passphrase")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("provena %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// TestCLIEndToEnd: init, start (a process), keys add, tx send --wait, query
// account --prove --json, all through the command line with the file
// (encrypted) keyring.
func TestCLIEndToEnd(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	ports, err := node.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	pp := ports[0]
	var initOut struct {
		Alice string `json:"alice_address"`
		API   string `json:"api"`
	}
	mustJSON(t, cli(t, "init", "--home", home, "--chain-id", "e2e", "--json", "--block-time-ms", "100",
		"--p2p-port", fmt.Sprint(pp.P2P), "--rpc-port", fmt.Sprint(pp.RPC), "--api-port", fmt.Sprint(pp.API)), &initOut)
	raw, err := os.ReadFile(filepath.Join(keys.Dir(home), "alice.key"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("age-encryption.org")) && !bytes.Contains(raw, []byte("YWdlLWVuY3J5cHRpb24ub3Jn")) {
		t.Fatalf("alice's key is not age-encrypted on disk:\n%s", raw)
	}

	p := startNode(t, home)
	ctx := ctxT(t, time.Minute)
	waitHeight(t, ctx, p.api, 2)

	var bob struct {
		Address string `json:"address"`
	}
	mustJSON(t, cli(t, "keys", "add", "bob", "--home", home, "--json"), &bob)
	if !strings.Contains(cli(t, "keys", "list", "--home", home), bob.Address) {
		t.Fatal("keys list does not show bob")
	}

	var sent struct {
		Hash   string `json:"hash"`
		Height int64  `json:"height"`
		Code   uint32 `json:"code"`
	}
	mustJSON(t, cli(t, "tx", "send", "--home", home, "--from", "alice", "--to", "bob", "--amount", "12345", "--wait", "--json"), &sent)
	if sent.Height < 1 || sent.Code != 0 || sent.Hash == "" {
		t.Fatalf("tx send: %+v", sent)
	}

	var q struct {
		Account struct {
			Address string `json:"address"`
			Balance uint64 `json:"balance"`
		} `json:"account"`
		Height int64 `json:"height"`
		Proof  struct {
			Verified     bool   `json:"verified"`
			HeaderHeight int64  `json:"header_height"`
			AppHash      string `json:"app_hash"`
		} `json:"proof"`
	}
	mustJSON(t, cli(t, "query", "account", bob.Address, "--home", home, "--prove", "--json"), &q)
	if q.Account.Address != bob.Address || q.Account.Balance != 12345 {
		t.Fatalf("bob's account: %+v", q.Account)
	}
	if !q.Proof.Verified || q.Proof.HeaderHeight != q.Height+1 || len(q.Proof.AppHash) != 64 || q.Height < sent.Height {
		t.Fatalf("proof: %+v at height %d (tx in %d)", q.Proof, q.Height, sent.Height)
	}
	human := cli(t, "query", "account", "bob", "--home", home, "--prove")
	if !strings.Contains(human, "proof verified against app hash") || !strings.Contains(human, "12,345 upv") {
		t.Fatalf("human output:\n%s", human)
	}

	// A wrong passphrase is refused with a clear error and nothing is sent.
	cmd := exec.Command(binary, "tx", "send", "--home", home, "--from", "alice", "--to", "bob", "--amount", "1")
	cmd.Env = append(os.Environ(), keys.PassphraseEnv+"=wrong")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "wrong keyring passphrase") {
		t.Fatalf("wrong passphrase: err %v, output %s", err, out)
	}
	p.stop()
}

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}
