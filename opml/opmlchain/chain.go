// Package opmlchain runs a ledger in memory, block by block, for tests and
// in-process demos of the opML module and its workers: signed transactions
// are queued, Block executes and commits them, and the module's state is
// read through the app's query paths.
package opmlchain

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
	"github.com/provena/provena/tx"
)

// Fee is the fee every transaction the chain signs pays.
const Fee = 10

// Chain is an in-memory ledger with a transaction queue. It is safe for
// concurrent use.
type Chain struct {
	mu     sync.Mutex
	a      *app.App
	height int64
	nonces map[tx.Address]uint64
	queue  []queued
	// Results holds every delivered transaction's result, by block.
	results map[int64][]Delivered
}

type queued struct {
	from tx.Address
	b    []byte
	name string
}

// Delivered is a transaction's outcome.
type Delivered struct {
	From   tx.Address
	Msg    string
	Result app.Result
}

// New starts a chain whose genesis gives each key balance upv, with
// params (app.DefaultParams when zero).
func New(params app.Params, balance uint64, keys ...ed25519.PrivateKey) (*Chain, error) {
	if params == (app.Params{}) {
		params = app.DefaultParams()
	}
	a := app.OpenMem()
	if _, err := a.InitChain(apptest.ChainID, apptest.Genesis(params, balance, keys...)); err != nil {
		return nil, fmt.Errorf("opmlchain: %w", err)
	}
	return &Chain{a: a, nonces: map[tx.Address]uint64{}, results: map[int64][]Delivered{}}, nil
}

// App is the underlying ledger.
func (c *Chain) App() *app.App { return c.a }

// Height is the last committed height.
func (c *Chain) Height() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.height
}

// Submit signs msg with key and queues it for the next block. It returns
// the signed bytes.
func (c *Chain) Submit(key ed25519.PrivateKey, msg tx.Msg) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	from := apptest.Addr(key)
	b, err := tx.Sign(key, apptest.ChainID, c.nonces[from], Fee, msg)
	if err != nil {
		return nil, fmt.Errorf("opmlchain: sign %s: %w", tx.MsgName(msg.Type()), err)
	}
	c.nonces[from]++
	c.queue = append(c.queue, queued{from: from, b: b, name: tx.MsgName(msg.Type())})
	return b, nil
}

// Block executes and commits the queued transactions as the next block and
// returns their results in queue order. A failed transaction still uses
// its nonce (it paid its fee); one rejected before paying (bad nonce,
// signature, encoding) gives the nonce back.
func (c *Chain) Block() ([]Delivered, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue
	c.queue = nil
	txs := make([][]byte, len(q))
	for i, e := range q {
		txs[i] = e.b
	}
	h := c.height + 1
	res, err := c.a.ExecuteBlock(app.Block{Height: h, Time: time.Unix(1_700_000_000+h, 0), Txs: txs})
	if err != nil {
		return nil, fmt.Errorf("opmlchain: block %d: %w", h, err)
	}
	if _, err := c.a.Commit(); err != nil {
		return nil, fmt.Errorf("opmlchain: commit %d: %w", h, err)
	}
	c.height = h
	out := make([]Delivered, len(q))
	for i, r := range res.TxResults {
		out[i] = Delivered{From: q[i].from, Msg: q[i].name, Result: r}
		switch r.Code {
		case app.CodeBadNonce, app.CodeBadSignature, app.CodeBadEncoding, app.CodeWrongChainID, app.CodeTxTooLarge, app.CodeInvalidMsg, app.CodeUnknownMsgType, app.CodeFeeTooLow:
			c.resync(q[i].from)
		}
	}
	c.results[h] = out
	return out, nil
}

// resync reloads an account's next nonce from committed state.
func (c *Chain) resync(a tx.Address) {
	r := c.a.Query(app.QueryAccount, a[:], 0, false)
	var acc app.AccountJSON
	if r.Code == 0 && json.Unmarshal(r.Value, &acc) == nil {
		c.nonces[a] = acc.Nonce
	}
}

// Results returns the results of block h.
func (c *Chain) Results(h int64) []Delivered {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.results[h]
}

// Query reads a query path at the latest height into v. It reports false
// when the record does not exist (the value is null).
func (c *Chain) Query(path string, data []byte, v any) (bool, error) {
	r := c.a.Query(path, data, 0, false)
	if r.Code != 0 {
		return false, fmt.Errorf("opmlchain: query %s: %s (code %d)", path, r.Log, r.Code)
	}
	if string(r.Value) == "null" {
		return false, nil
	}
	if err := json.Unmarshal(r.Value, v); err != nil {
		return false, fmt.Errorf("opmlchain: query %s: %w", path, err)
	}
	return true, nil
}

// Job reads job id.
func (c *Chain) Job(id uint64) (*app.OpmlJob, error) {
	var j app.OpmlJob
	ok, err := c.Query(app.QueryOpmlJob, fmt.Appendf(nil, "%d", id), &j)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("opmlchain: no job %d", id)
	}
	return &j, nil
}

// Model reads a model record.
func (c *Chain) Model(id [32]byte) (*app.OpmlModel, error) {
	var m app.OpmlModel
	ok, err := c.Query(app.QueryOpmlModel, id[:], &m)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("opmlchain: no model %x", id)
	}
	return &m, nil
}

// Balance returns an address's spendable balance.
func (c *Chain) Balance(a tx.Address) (uint64, error) {
	var acc app.AccountJSON
	if _, err := c.Query(app.QueryAccount, a[:], &acc); err != nil {
		return 0, err
	}
	return acc.Balance, nil
}

// Account returns an address's account.
func (c *Chain) Account(a tx.Address) (app.AccountJSON, error) {
	var acc app.AccountJSON
	_, err := c.Query(app.QueryAccount, a[:], &acc)
	return acc, err
}

// Supply returns the supply record.
func (c *Chain) Supply() (app.SupplyJSON, error) {
	var s app.SupplyJSON
	_, err := c.Query(app.QuerySupply, nil, &s)
	return s, err
}

// CheckSupply checks that the balances and bonds of addrs (which must be
// every funded address) plus the burned amount make the genesis supply.
func (c *Chain) CheckSupply(addrs ...tx.Address) error {
	s, err := c.Supply()
	if err != nil {
		return err
	}
	var total uint64
	for _, a := range addrs {
		acc, err := c.Account(a)
		if err != nil {
			return err
		}
		total += acc.Balance + acc.Bonded
		for _, u := range acc.Unbonding {
			total += u.Amount
		}
	}
	if total+s.Burned != s.GenesisSupply {
		return fmt.Errorf("opmlchain: accounts hold %d + burned %d = %d, genesis supply is %d", total, s.Burned, total+s.Burned, s.GenesisSupply)
	}
	return nil
}
