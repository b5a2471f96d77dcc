package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	abcitypes "github.com/cometbft/cometbft/abci/types"
	cfg "github.com/cometbft/cometbft/config"
	cmtflags "github.com/cometbft/cometbft/libs/cli/flags"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	cmtnode "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	"github.com/cometbft/cometbft/rpc/client/local"

	"github.com/provena/provena/api"
	"github.com/provena/provena/blob"
	"github.com/provena/provena/opmlstore"
)

// AppFactory opens the ABCI application of a home. The returned closer runs
// after CometBFT has stopped.
type AppFactory func(home string) (abcitypes.Application, io.Closer, error)

// StartOptions configures Start.
type StartOptions struct {
	// App opens the application; nil means ProvenaApp.
	App AppFactory
	// LogWriter receives CometBFT's logs; nil means stderr.
	LogWriter io.Writer
	// LogLevel overrides the home's settings when non-empty.
	LogLevel string
	// APIListen overrides the home's API address when non-empty.
	APIListen string
}

// Node is a running node.
type Node struct {
	Home   string
	Comet  *cmtnode.Node
	Client *local.Local
	// APIAddr is the address the HTTP API listens on.
	APIAddr string
	// RPCAddr is CometBFT's RPC listen address (tcp://host:port).
	RPCAddr string

	apiSrv   *http.Server
	appClose io.Closer
	dbs      *dbTracker
	grace    time.Duration
	stopOnce sync.Once
	stopErr  error
	done     chan struct{}
}

// Start runs the node of home until ctx ends or Stop is called. It returns
// once CometBFT and the API are serving.
func Start(ctx context.Context, home string, opts StartOptions) (_ *Node, err error) {
	settings, err := LoadSettings(home)
	if err != nil {
		return nil, err
	}
	c, err := LoadConfig(home)
	if err != nil {
		return nil, err
	}
	if opts.LogLevel != "" {
		settings.LogLevel = opts.LogLevel
	}
	if opts.APIListen != "" {
		settings.APIListen = opts.APIListen
	}
	if settings.LogLevel == "" {
		settings.LogLevel = cfg.DefaultLogLevel
	}
	w := opts.LogWriter
	if w == nil {
		w = os.Stderr
	}
	logger, err := cmtflags.ParseLogLevel(settings.LogLevel, cmtlog.NewTMLogger(cmtlog.NewSyncWriter(w)), cfg.DefaultLogLevel)
	if err != nil {
		return nil, fmt.Errorf("log level %q: %w", settings.LogLevel, err)
	}

	nodeKey, err := p2p.LoadNodeKey(c.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("load node key: %w", err)
	}
	pv, err := loadFilePV(c)
	if err != nil {
		return nil, err
	}

	factory := opts.App
	if factory == nil {
		factory = ProvenaApp
	}
	application, appClose, err := factory(home)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			appClose.Close()
		}
	}()

	// The API listener is bound before CometBFT starts so that a taken port
	// fails fast, before any block is produced.
	ln, err := net.Listen("tcp", settings.APIListen)
	if err != nil {
		return nil, fmt.Errorf("listen for the HTTP API on %s: %w", settings.APIListen, err)
	}
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()

	dbs := &dbTracker{}
	cn, err := cmtnode.NewNode(ctx, c, pv, nodeKey,
		proxy.NewLocalClientCreator(application),
		cmtnode.DefaultGenesisDocProviderFunc(c),
		dbs.provide,
		cmtnode.DefaultMetricsProvider(c.Instrumentation),
		logger,
	)
	if err != nil {
		dbs.closeAll()
		return nil, fmt.Errorf("create cometbft node: %w", err)
	}
	if err := cn.Start(); err != nil {
		cn.Stop()
		cn.Wait()
		time.Sleep(closeGrace(c))
		dbs.closeAll()
		return nil, fmt.Errorf("start cometbft node: %w", err)
	}

	client := local.New(cn)
	n := &Node{
		Home:     home,
		Comet:    cn,
		Client:   client,
		APIAddr:  ln.Addr().String(),
		RPCAddr:  c.RPC.ListenAddress,
		appClose: appClose,
		dbs:      dbs,
		grace:    closeGrace(c),
		done:     make(chan struct{}),
	}
	// The node's content-addressed store holds only ciphertext and job
	// tensors, each chunk checked against its Merkle root on upload.
	blobs, err := blob.Open(filepath.Join(home, "data", "blobs"))
	if err != nil {
		cn.Stop()
		cn.Wait()
		time.Sleep(closeGrace(c))
		dbs.closeAll()
		return nil, fmt.Errorf("open blob store: %w", err)
	}
	n.apiSrv = &http.Server{
		// opML packages, inputs and outputs are served from the store the
		// CLI's opML commands use, each checked against its id or root.
		Handler: opmlstore.Wrap(blob.Wrap(api.NewServer(client, api.Options{ChainID: cn.GenesisDoc().ChainID}), blobs),
			opmlstore.Dir(filepath.Join(home, "opml"))),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		if err := n.apiSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http api stopped", "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			n.Stop()
		case <-n.done:
		}
	}()
	return n, nil
}

// loadFilePV loads the validator key and its last-signed state; CometBFT's
// loader exits the process on a bad file, so the files are checked first.
func loadFilePV(c *cfg.Config) (*privval.FilePV, error) {
	for _, p := range []string{c.PrivValidatorKeyFile(), c.PrivValidatorStateFile()} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("validator file: %w", err)
		}
	}
	return privval.LoadFilePV(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile()), nil
}

// Stop shuts the API and CometBFT down and closes the application. It is
// safe to call more than once.
func (n *Node) Stop() error {
	n.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var errs []error
		if err := n.apiSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop http api: %w", err))
		}
		if err := n.Comet.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop cometbft: %w", err))
		}
		n.Comet.Wait()
		time.Sleep(n.grace)
		if err := n.dbs.closeAll(); err != nil {
			errs = append(errs, err)
		}
		if err := n.appClose.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close application: %w", err))
		}
		n.stopErr = errors.Join(errs...)
		close(n.done)
	})
	return n.stopErr
}

// Done is closed once the node has stopped.
func (n *Node) Done() <-chan struct{} { return n.done }

// dbTracker opens CometBFT's databases and owns closing them. CometBFT
// v1.0.1 closes its block and state stores in Node.OnStop while per-peer
// consensus gossip goroutines (queryMaj23Routine) may still wake up and read
// the block store, which panics on a closed pebble DB; and it never closes
// the tx indexer's DB, whose lock would stop this process from starting the
// home again. So CometBFT gets handles whose Close does nothing, and Stop
// closes the real databases after those goroutines have seen the switch
// stop (closeGrace).
type dbTracker struct {
	mu     sync.Mutex
	opened []dbm.DB
}

// closeGrace covers three PeerQueryMaj23SleepDuration sleeps of a gossip
// goroutine that started its loop just before the stop.
func closeGrace(c *cfg.Config) time.Duration {
	return 3*c.Consensus.PeerQueryMaj23SleepDuration + 500*time.Millisecond
}

func (t *dbTracker) provide(ctx *cfg.DBContext) (dbm.DB, error) {
	db, err := cfg.DefaultDBProvider(ctx)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.opened = append(t.opened, db)
	return deferredClose{db}, nil
}

// deferredClose is a DB whose Close is left to dbTracker.
type deferredClose struct{ dbm.DB }

func (deferredClose) Close() error { return nil }

func (t *dbTracker) closeAll() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for _, db := range t.opened {
		if err := db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close cometbft db: %w", err))
		}
	}
	t.opened = nil
	return errors.Join(errs...)
}
