package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/client"
	"github.com/provena/provena/node"
)

// startTestNode initialises and starts a real single-validator node (CometBFT
// in process, loopback ports) under dir/home with a block every blockMs,
// waits until block 2 exists (state is queryable from then on), and stops
// it when the test ends; Stop is idempotent, so a test may stop it earlier
// to scan its files. It returns the home and the node.
func startTestNode(t *testing.T, dir, chainID string, blockMs uint64) (string, *node.Node) {
	t.Helper()
	home := filepath.Join(dir, "home")
	ports, err := node.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	p := app.DefaultParams()
	p.BlockTimeMs = blockMs
	if _, err := node.Init(home, node.InitOptions{ChainID: chainID, Params: &p, Ports: ports}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := node.Start(ctx, home, node.StartOptions{LogWriter: &bytes.Buffer{}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Stop()
		cancel()
	})
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if _, err := client.New("http://"+n.APIAddr).WaitHeight(wctx, 2); err != nil {
		t.Fatal(err)
	}
	return home, n
}
