package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	cmtcrypto "github.com/cometbft/cometbft/crypto"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/provena/provena/app"
	"github.com/provena/provena/keys"
	"github.com/provena/provena/tx"
)

// Ports are the loopback ports of one node.
type Ports struct {
	P2P, RPC, API int
}

// DefaultPorts are the ports of a node made by Init.
var DefaultPorts = Ports{P2P: 26656, RPC: 26657, API: 1317}

// InitOptions configures Init and Testnet.
type InitOptions struct {
	ChainID string
	// Params replaces app.DefaultParams when non-nil.
	Params *app.Params
	// Keyring opens the keyring of a home for the funded "alice" key; nil
	// means the test backend.
	Keyring func(home string) (*keys.Keyring, error)
	// AliceBalance funds each home's "alice" key.
	AliceBalance uint64
	// Accounts are extra genesis allocations.
	Accounts []app.GenesisAccount
	// ValidatorBalance funds each validator's account (its consensus key
	// address), which also receives the proposer's share of fees.
	ValidatorBalance uint64
	// Ports of each node; missing entries get defaults (Init: DefaultPorts,
	// Testnet: BasePort + 10*i + {0,1,2}).
	Ports []Ports
	// BasePort for Testnet; 0 means 26600.
	BasePort int
	// LogLevel for the nodes' CometBFT logs; "" means "*:error".
	LogLevel string
	// GenesisTime; zero means now. Tests pin it to compare homes.
	GenesisTime time.Time
}

// Default balances of a fresh home.
const (
	DefaultAliceBalance     = 1_000_000_000_000
	DefaultValidatorBalance = 1_000_000
)

func (o *InitOptions) defaults() error {
	if o.ChainID == "" {
		return errors.New("chain id is empty")
	}
	if len(o.ChainID) > cmttypes.MaxChainIDLen {
		return fmt.Errorf("chain id %q longer than %d bytes", o.ChainID, cmttypes.MaxChainIDLen)
	}
	if o.Params == nil {
		p := app.DefaultParams()
		o.Params = &p
	}
	if o.Keyring == nil {
		o.Keyring = func(home string) (*keys.Keyring, error) {
			return keys.Open(keys.Dir(home), keys.BackendTest)
		}
	}
	if o.AliceBalance == 0 {
		o.AliceBalance = DefaultAliceBalance
	}
	if o.ValidatorBalance == 0 {
		o.ValidatorBalance = DefaultValidatorBalance
	}
	if o.LogLevel == "" {
		o.LogLevel = "*:error"
	}
	if o.GenesisTime.IsZero() {
		o.GenesisTime = time.Now().UTC().Round(time.Millisecond)
	}
	return nil
}

// Home is what Init and Testnet made for one node.
type Home struct {
	Dir       string
	Moniker   string
	NodeID    string
	Validator tx.Address
	Alice     tx.Address
	Ports     Ports
}

// Init writes a one-validator home at dir with a funded key "alice".
func Init(dir string, opts InitOptions) (Home, error) {
	if len(opts.Ports) == 0 {
		opts.Ports = []Ports{DefaultPorts}
	}
	homes, err := initHomes([]string{dir}, opts)
	if err != nil {
		return Home{}, err
	}
	return homes[0], nil
}

// Testnet writes n homes dir/node0 … dir/node{n-1} on 127.0.0.1 with
// distinct ports, every node a validator of equal power, every node's
// persistent_peers listing the others, and one shared genesis.
func Testnet(dir string, n int, opts InitOptions) ([]Home, error) {
	if n < 1 || n > 64 {
		return nil, fmt.Errorf("testnet needs 1 to 64 validators, got %d", n)
	}
	base := opts.BasePort
	if base == 0 {
		base = 26600
	}
	dirs := make([]string, n)
	for i := range n {
		dirs[i] = filepath.Join(dir, fmt.Sprintf("node%d", i))
		if i >= len(opts.Ports) {
			opts.Ports = append(opts.Ports, Ports{P2P: base + 10*i, RPC: base + 10*i + 1, API: base + 10*i + 2})
		}
	}
	return initHomes(dirs, opts)
}

func initHomes(dirs []string, opts InitOptions) ([]Home, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "config", "genesis.json")); err == nil {
			return nil, fmt.Errorf("%s already holds a genesis; choose an empty directory", d)
		}
	}
	homes := make([]Home, len(dirs))
	var vals []cmttypes.GenesisValidator
	accounts := append([]app.GenesisAccount(nil), opts.Accounts...)
	configs := make([]*cfg.Config, len(dirs))
	for i, d := range dirs {
		moniker := fmt.Sprintf("node%d", i)
		c := tunedConfig(d, moniker, opts.Ports[i], *opts.Params, len(dirs))
		c.LogLevel = opts.LogLevel
		configs[i] = c
		for _, sub := range []string{"config", "data"} {
			if err := os.MkdirAll(filepath.Join(d, sub), 0o700); err != nil {
				return nil, fmt.Errorf("create home %s: %w", d, err)
			}
		}
		nodeKey, err := p2p.LoadOrGenNodeKey(c.NodeKeyFile())
		if err != nil {
			return nil, fmt.Errorf("node key for %s: %w", d, err)
		}
		pv, err := privval.GenFilePV(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile(), func() (cmtcrypto.PrivKey, error) {
			return cmted25519.GenPrivKey(), nil
		})
		if err != nil {
			return nil, fmt.Errorf("validator key for %s: %w", d, err)
		}
		pv.Save()
		pub := pv.Key.PubKey
		valAddr, err := tx.AddressFromBytes(pub.Address())
		if err != nil {
			return nil, fmt.Errorf("validator address: %w", err)
		}
		vals = append(vals, cmttypes.GenesisValidator{Address: pub.Address(), PubKey: pub, Power: 10, Name: moniker})
		kr, err := opts.Keyring(d)
		if err != nil {
			return nil, fmt.Errorf("open keyring of %s: %w", d, err)
		}
		alice, err := kr.Add("alice")
		if err != nil {
			return nil, fmt.Errorf("create key alice in %s: %w", d, err)
		}
		accounts = append(accounts,
			app.GenesisAccount{Address: alice.Address.String(), Balance: opts.AliceBalance},
			app.GenesisAccount{Address: valAddr.String(), Balance: opts.ValidatorBalance})
		homes[i] = Home{Dir: d, Moniker: moniker, NodeID: string(nodeKey.ID()), Validator: valAddr, Alice: alice.Address, Ports: opts.Ports[i]}
	}
	// Local chains name the public development energy authority explicitly
	// (docs/genesis.md); a real network replaces it with a key of its own.
	gen := app.Genesis{Params: *opts.Params, Accounts: accounts, Modules: map[string]json.RawMessage{"energy": app.DevEnergyGenesis()}}
	appState, err := json.Marshal(gen)
	if err != nil {
		return nil, fmt.Errorf("encode app genesis: %w", err)
	}
	cp := cmttypes.DefaultConsensusParams()
	// Room for a few seconds of the benchmark's load in one block; the mempool
	// bounds it in bytes as well.
	cp.Block.MaxBytes = 8 << 20
	cp.Block.MaxGas = -1 // the ledger charges fees, not gas
	doc := &cmttypes.GenesisDoc{
		GenesisTime:     opts.GenesisTime,
		ChainID:         opts.ChainID,
		InitialHeight:   1,
		ConsensusParams: cp,
		Validators:      vals,
		AppState:        appState,
	}
	if err := doc.ValidateAndComplete(); err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	for i, h := range homes {
		var peers []string
		for j, o := range homes {
			if j != i {
				peers = append(peers, fmt.Sprintf("%s@127.0.0.1:%d", o.NodeID, o.Ports.P2P))
			}
		}
		c := configs[i]
		c.P2P.PersistentPeers = strings.Join(peers, ",")
		cfg.WriteConfigFile(filepath.Join(h.Dir, "config", "config.toml"), c)
		if err := doc.SaveAs(c.GenesisFile()); err != nil {
			return nil, fmt.Errorf("write genesis of %s: %w", h.Dir, err)
		}
		s := Settings{APIListen: fmt.Sprintf("127.0.0.1:%d", h.Ports.API), LogLevel: opts.LogLevel}
		if err := saveSettings(h.Dir, s); err != nil {
			return nil, err
		}
	}
	return homes, nil
}

// tunedConfig is CometBFT's default configuration adjusted for a fast chain
// on loopback.
func tunedConfig(home, moniker string, ports Ports, params app.Params, validators int) *cfg.Config {
	c := cfg.DefaultConfig()
	c.SetRoot(home)
	c.Moniker = moniker
	c.ProxyApp = "" // the application is in-process
	c.RPC.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", ports.RPC)
	c.RPC.TimeoutBroadcastTxCommit = 30 * time.Second
	c.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", ports.P2P)
	c.P2P.ExternalAddress = fmt.Sprintf("127.0.0.1:%d", ports.P2P)
	c.P2P.AllowDuplicateIP = true
	c.P2P.AddrBookStrict = false
	c.P2P.PexReactor = false
	c.P2P.SendRate = 20 << 20
	c.P2P.RecvRate = 20 << 20
	c.P2P.FlushThrottleTimeout = 10 * time.Millisecond
	c.Instrumentation.Prometheus = false

	blockTime := time.Duration(params.BlockTimeMs) * time.Millisecond
	c.Consensus.TimeoutCommit = blockTime
	// A dead proposer costs one propose timeout, so it is shorter than
	// CometBFT's 3 s; but a full block (thousands of transfers) must still
	// be built and gossiped within it on a loaded 2-core machine, or every
	// height goes to a second round (600 ms did that under the benchmark).
	c.Consensus.TimeoutPropose = 2 * time.Second
	c.Consensus.TimeoutProposeDelta = 500 * time.Millisecond
	c.Consensus.TimeoutPrevote = 200 * time.Millisecond
	c.Consensus.TimeoutPrevoteDelta = 100 * time.Millisecond
	c.Consensus.TimeoutPrecommit = 200 * time.Millisecond
	c.Consensus.TimeoutPrecommitDelta = 100 * time.Millisecond
	c.Consensus.PeerGossipSleepDuration = 20 * time.Millisecond
	// Short, so that Stop can wait out the gossip goroutines that still read
	// the block store after CometBFT stops (see dbTracker).
	c.Consensus.PeerQueryMaj23SleepDuration = 250 * time.Millisecond
	// Empty blocks keep heights moving so that a proof for height H can be
	// checked against header H+1 without waiting for traffic.
	c.Consensus.CreateEmptyBlocks = true

	c.Mempool.Size = 100_000
	c.Mempool.MaxTxsBytes = 256 << 20
	c.Mempool.CacheSize = 200_000
	if params.MaxTxBytes > 0 {
		c.Mempool.MaxTxBytes = params.MaxTxBytes
	}
	if validators == 1 {
		// Nobody to gossip to.
		c.Mempool.Broadcast = false
	}
	c.TxIndex.Indexer = "kv"
	return c
}
