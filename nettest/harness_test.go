package nettest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/client"
	"github.com/provena/provena/node"
)

// binary is the provena command built once for the package.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "provena-nettest-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "provena")
	cmd := exec.Command("go", "build", "-o", binary, "github.com/provena/provena/cmd/provena")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build provena:", err)
		return 1
	}
	return m.Run()
}

// testParams are fast-chain parameters for tests.
func testParams() *app.Params {
	p := app.DefaultParams()
	p.BlockTimeMs = 100
	p.UnbondingBlocks = 5
	return &p
}

// proc is one running `provena start`.
type proc struct {
	t    *testing.T
	home string
	cmd  *exec.Cmd
	api  *client.Client
	done chan struct{}
	err  error
}

// startNode runs `provena start --home home` and waits for its ready line.
func startNode(t *testing.T, home string) *proc {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(home, "node.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "start", "--home", home, "--json", "--log-level", "*:error")
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, home: home, cmd: cmd, done: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			ready <- sc.Text()
		}
		close(ready)
		io.Copy(io.Discard, out)
	}()
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	select {
	case line, ok := <-ready:
		if !ok {
			<-p.done
			t.Fatalf("node %s exited before it was ready (%v); log:\n%s", home, p.err, tail(filepath.Join(home, "node.log")))
		}
		var s struct {
			API string `json:"api"`
		}
		if err := json.Unmarshal([]byte(line), &s); err != nil || s.API == "" {
			t.Fatalf("node %s: bad ready line %q", home, line)
		}
		p.api = client.New(s.API)
	case <-time.After(60 * time.Second):
		t.Fatalf("node %s not ready after 60s; log:\n%s", home, tail(filepath.Join(home, "node.log")))
	}
	return p
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// kill sends SIGKILL (no shutdown code runs) and waits for the exit.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			p.t.Fatalf("node %s: exit after SIGTERM: %v\n%s", p.home, p.err, tail(filepath.Join(p.home, "node.log")))
		}
	case <-time.After(30 * time.Second):
		p.t.Fatalf("node %s did not stop within 30s of SIGTERM", p.home)
	}
}

// testnet writes n homes in a temp dir with free ports.
func testnet(t *testing.T, n int) []node.Home {
	t.Helper()
	ports, err := node.FreePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	homes, err := node.Testnet(t.TempDir(), n, node.InitOptions{ChainID: "nettest", Params: testParams(), Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	return homes
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func height(t *testing.T, ctx context.Context, c *client.Client) int64 {
	t.Helper()
	s, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s.LatestHeight
}

// waitHeight polls until c's node has committed h.
func waitHeight(t *testing.T, ctx context.Context, c *client.Client, h int64) {
	t.Helper()
	for {
		s, err := c.Status(ctx)
		if err == nil && s.LatestHeight >= h {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("node %s did not reach height %d: %v (last err %v)", c.Base(), h, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(sub)) }
