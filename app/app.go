// Package app is Provena's ledger state machine: accounts, fees, transfers
// and stake, executed block by block over the authenticated store in
// package state. It is engine-agnostic: package abciapp adapts it to
// CometBFT, and nothing here imports CometBFT's ABCI types.
//
// # Execution
//
// A block is InitChain once, then per block BeginBlock, DeliverTx for each
// transaction (or PreverifyTxs first to batch-verify signatures), EndBlock,
// Commit. Everything before Commit stays in the IAVL working tree; the hash
// EndBlock returns is what Commit persists. A crash before Commit loses the
// block, which CometBFT then replays from Info's height.
//
// # Fees
//
// Every transaction pays Fee >= Params.MinFee upv before its message runs; a
// failing message still pays the fee and uses up its nonce. Half of each fee,
// rounded down, goes to the block's proposer at the end of the block; the
// rest is burned and counted in the supply record, so that
// sum(balances) + bonded + unbonding + burned == genesis supply always holds.
//
// # Mempool checks
//
// CheckTx runs the same code as DeliverTx against a separate check state:
// the last committed state plus the effects of transactions already
// accepted since, so one sender can queue several transactions with
// consecutive nonces. Commit resets it; CometBFT's rechecks then rebuild it.
// Signature checks are cached by tx hash, so a transaction the node checked
// is not verified again when its block executes.
package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/provena/provena/state"
	"github.com/provena/provena/tx"
)

// App is the ledger. Its methods are safe for concurrent use; they are
// serialized internally.
type App struct {
	mu    sync.Mutex
	store *state.Store

	chainID       string // "" until InitChain or a committed genesis is loaded
	params        Params
	initialHeight int64 // first block's height, when nothing is committed yet

	block         *blockState // non-nil between BeginBlock and Commit
	lastBlockTime time.Time   // of the last block this process committed; CheckTx's clock
	fatal         error       // a storage failure during the current block

	check    *cache // mempool view over the committed state
	sigCache *sigCache
}

type blockState struct {
	height       int64
	time         time.Time
	proposer     tx.Address
	proposerFees uint64
	burned       uint64
	ended        bool
}

// Open opens the ledger whose state lives in dir, creating it if needed.
func Open(dir string) (*App, error) {
	s, err := state.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open app: %w", err)
	}
	a, err := newApp(s)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open app %s: %w", dir, err)
	}
	return a, nil
}

// OpenMem returns a ledger in memory, for tests and benchmarks.
func OpenMem() *App {
	a, err := newApp(state.OpenMem())
	if err != nil {
		panic(fmt.Sprintf("app: open memory ledger: %v", err)) // empty store: cannot happen
	}
	return a
}

// sigCacheSize bounds the verified-signature cache: about 100 bytes an
// entry, several full mempools.
const sigCacheSize = 100_000

func newApp(s *state.Store) (*App, error) {
	a := &App{store: s, sigCache: newSigCache(sigCacheSize)}
	if s.Version() > 0 {
		if err := a.loadMeta(); err != nil {
			return nil, err
		}
	}
	a.check = newCache(committedKV{s})
	return a, nil
}

func (a *App) loadMeta() error {
	v := a.store.Version()
	cid, err := a.store.GetVersioned(keyChainID, v)
	if err != nil {
		return fmt.Errorf("load chain id: %w", err)
	}
	pb, err := a.store.GetVersioned(keyParams, v)
	if err != nil {
		return fmt.Errorf("load params: %w", err)
	}
	if cid == nil || pb == nil {
		return fmt.Errorf("state at version %d has no genesis (chain id or params missing)", v)
	}
	var p Params
	if err := json.Unmarshal(pb, &p); err != nil {
		return fmt.Errorf("load params: %w", err)
	}
	a.chainID, a.params = string(cid), p
	return nil
}

// Close closes the store. Uncommitted state is lost.
func (a *App) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.store.Close()
}

// Info returns the last committed height and app hash, from which CometBFT
// decides which blocks to replay. Before the first commit it returns 0, nil.
func (a *App) Info() (lastHeight int64, lastAppHash []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v := a.store.Version()
	if v == 0 {
		return 0, nil
	}
	return v, a.store.Hash()
}

// ChainID returns the chain id ("" before InitChain).
func (a *App) ChainID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.chainID
}

// Params returns the chain parameters (zero before InitChain).
func (a *App) Params() Params {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.params
}

// InitChain writes the genesis into state and returns the resulting app
// hash (the app hash of the first block's header). The first block is 1.
func (a *App) InitChain(chainID string, genesis []byte) (appHash []byte, err error) {
	return a.InitChainAt(chainID, 1, genesis)
}

// InitChainAt is InitChain for a chain whose first block is initialHeight.
func (a *App) InitChainAt(chainID string, initialHeight int64, genesis []byte) (appHash []byte, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.store.Version() != 0 {
		return nil, fmt.Errorf("init chain: state already has committed height %d", a.store.Version())
	}
	if len(chainID) == 0 || len(chainID) > tx.MaxChainIDLen {
		return nil, fmt.Errorf("init chain: chain id must be 1 to %d bytes, got %d", tx.MaxChainIDLen, len(chainID))
	}
	if initialHeight < 1 {
		return nil, fmt.Errorf("init chain: initial height %d must be at least 1", initialHeight)
	}
	g, err := ParseGenesis(genesis)
	if err != nil {
		return nil, fmt.Errorf("init chain: %w", err)
	}
	// InitChain may be repeated after a crash before the first commit.
	a.store.Rollback()
	if initialHeight > 1 {
		if err := a.store.SetInitialVersion(initialHeight); err != nil {
			return nil, fmt.Errorf("init chain: %w", err)
		}
	}
	pb, err := json.Marshal(g.Params)
	if err != nil {
		return nil, fmt.Errorf("init chain: encode params: %w", err)
	}
	// Write in sorted address order so equal genesis files give equal
	// trees whatever the order of their accounts.
	c := newCache(storeKV{a.store})
	for _, ga := range g.Accounts {
		addr, _ := tx.ParseAddress(ga.Address) // validated
		acc := Account{Balance: ga.Balance}
		c.Set(AccountKey(addr), acc.Encode())
	}
	c.Set(keyChainID, []byte(chainID))
	c.Set(keyParams, pb)
	c.Set(keySupply, Supply{Genesis: g.Supply()}.encode())
	mctx := &Context{kv: c, height: initialHeight, params: g.Params}
	for _, name := range sortedModuleNames(g.Modules) {
		fn, _ := genesisModule(name) // validated
		if err := fn(mctx, g.Modules[name]); err != nil {
			a.store.Rollback()
			return nil, fmt.Errorf("init chain: genesis module %s: %w", name, err)
		}
	}
	if err := c.flush(storeKV{a.store}); err != nil {
		a.store.Rollback()
		return nil, fmt.Errorf("init chain: write genesis: %w", err)
	}
	a.chainID, a.params, a.initialHeight = chainID, g.Params, initialHeight
	a.block = nil
	a.fatal = nil
	a.check = newCache(committedKV{a.store})
	return a.store.WorkingHash(), nil
}

// nextHeight is the height of the next block to execute.
func (a *App) nextHeight() int64 {
	if v := a.store.Version(); v > 0 {
		return v + 1
	}
	return max(a.initialHeight, 1)
}

// storeKV adapts the working tree to kvStore.
type storeKV struct{ s *state.Store }

func (k storeKV) Get(key []byte) ([]byte, error) { return k.s.Get(key) }
func (k storeKV) Set(key, v []byte) error        { return k.s.Set(key, v) }
func (k storeKV) Delete(key []byte) error        { return k.s.Delete(key) }
func (k storeKV) Iterate(prefix []byte, fn func(key, value []byte) bool) error {
	return k.s.Iterate(prefix, fn)
}

// committedKV reads the last committed version, which block execution in
// the working tree does not disturb. Before the first commit it reads the
// working tree, which then holds the genesis.
type committedKV struct{ s *state.Store }

func (k committedKV) Get(key []byte) ([]byte, error) {
	v := k.s.Version()
	if v == 0 {
		return k.s.Get(key)
	}
	return k.s.GetVersioned(key, v)
}

var errNoBlock = errors.New("no block in progress: call BeginBlock first")
