package node

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/app"
)

func fastParams() *app.Params {
	p := app.DefaultParams()
	p.BlockTimeMs = 50
	return &p
}

// TestTestnetLayout checks what Testnet writes: one genesis shared byte for
// byte, distinct ports, every other node as a persistent peer, and a config
// that round-trips through CometBFT's loader with the tuned values.
func TestTestnetLayout(t *testing.T) {
	dir := t.TempDir()
	homes, err := Testnet(dir, 3, InitOptions{ChainID: "layout", Params: fastParams(), BasePort: 39000})
	if err != nil {
		t.Fatal(err)
	}
	gen0, err := os.ReadFile(filepath.Join(homes[0].Dir, "config", "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	ports := map[int]bool{}
	for i, h := range homes {
		gen, err := os.ReadFile(filepath.Join(h.Dir, "config", "genesis.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(gen, gen0) {
			t.Fatalf("node%d has a different genesis", i)
		}
		for _, p := range []int{h.Ports.P2P, h.Ports.RPC, h.Ports.API} {
			if ports[p] {
				t.Fatalf("port %d used twice", p)
			}
			ports[p] = true
		}
		c, err := LoadConfig(h.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if c.Consensus.TimeoutCommit != 50*time.Millisecond || !c.P2P.AllowDuplicateIP || c.P2P.AddrBookStrict {
			t.Fatalf("node%d config not tuned: %+v %+v", i, c.Consensus, c.P2P)
		}
		for j, o := range homes {
			has := strings.Contains(c.P2P.PersistentPeers, o.NodeID)
			if has != (i != j) {
				t.Fatalf("node%d persistent_peers %q vs node%d", i, c.P2P.PersistentPeers, j)
			}
		}
		s, err := LoadSettings(h.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(s.APIListen, ":"+strconv.Itoa(h.Ports.API)) {
			t.Fatalf("node%d api %s, want port %d", i, s.APIListen, h.Ports.API)
		}
	}
	for _, want := range []string{`"chain_id": "layout"`, `"block_time_ms": 50`, homes[2].Alice.String(), homes[1].Validator.String()} {
		if !bytes.Contains(gen0, []byte(want)) {
			t.Fatalf("genesis lacks %s", want)
		}
	}
	if _, err := Testnet(dir, 3, InitOptions{ChainID: "layout"}); err == nil {
		t.Fatal("Testnet overwrote existing homes")
	}
	if _, err := Init(t.TempDir(), InitOptions{}); err == nil {
		t.Fatal("Init accepted an empty chain id")
	}
}

// TestStartStopRestart runs a home in this process, stops it by cancelling
// its context, and starts it again: the databases must be released and the
// chain must continue from where it stopped.
func TestStartStopRestart(t *testing.T) {
	dir := t.TempDir()
	ports, err := FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Init(dir, InitOptions{ChainID: "restart", Params: fastParams(), Ports: ports}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := Start(ctx, dir, StartOptions{LogWriter: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	h1 := waitHeight(t, n, 3)
	cancel()
	select {
	case <-n.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("node did not stop after its context was cancelled")
	}
	n2, err := Start(context.Background(), dir, StartOptions{LogWriter: io.Discard})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer n2.Stop()
	waitHeight(t, n2, h1+2)
	if _, err := Start(context.Background(), dir, StartOptions{LogWriter: io.Discard}); err == nil {
		t.Fatal("a second node started on the same home")
	}
}

func waitHeight(t *testing.T, n *Node, h int64) int64 {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := n.Client.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.SyncInfo.LatestBlockHeight >= h {
			return st.SyncInfo.LatestBlockHeight
		}
		if time.Now().After(deadline) {
			t.Fatalf("height %d not reached (at %d)", h, st.SyncInfo.LatestBlockHeight)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
