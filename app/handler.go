package app

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/provena/provena/tx"
)

// Handler executes one message kind against state. Each message family
// registers its handler from init in its own file (bank.go, staking.go), so
// a new message is a new tx.Msg plus a RegisterHandler call.
type Handler interface {
	// Handle applies msg for sender. An error returned by Fail (or any
	// error with a Code() uint32 method) becomes the tx's result code and
	// the message's writes are discarded; the fee stays paid. Any other
	// error is a storage failure and halts block execution.
	Handle(ctx *Context, sender tx.Address, msg tx.Msg) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx *Context, sender tx.Address, msg tx.Msg) error

// Handle implements Handler.
func (f HandlerFunc) Handle(ctx *Context, sender tx.Address, msg tx.Msg) error {
	return f(ctx, sender, msg)
}

// EndBlocker is an optional module hook run at the end of every block, in
// registration order.
type EndBlocker func(ctx *Context) error

var (
	handlersMu  sync.RWMutex
	handlers    = map[tx.MsgType]Handler{}
	endBlockers []namedEndBlocker
)

type namedEndBlocker struct {
	name string
	fn   EndBlocker
}

// RegisterHandler routes a message type to h. It panics on a duplicate,
// a programming error found at start-up.
func RegisterHandler(t tx.MsgType, h Handler) {
	handlersMu.Lock()
	defer handlersMu.Unlock()
	if _, dup := handlers[t]; dup {
		panic(fmt.Sprintf("app: handler for message type %d registered twice", t))
	}
	handlers[t] = h
}

// RegisterEndBlocker adds a hook run at the end of each block. Hooks run in
// registration order, which is init order: keep it deterministic by
// registering from one file per module.
func RegisterEndBlocker(name string, fn EndBlocker) {
	handlersMu.Lock()
	defer handlersMu.Unlock()
	endBlockers = append(endBlockers, namedEndBlocker{name, fn})
}

func handlerFor(t tx.MsgType) (Handler, bool) {
	handlersMu.RLock()
	defer handlersMu.RUnlock()
	h, ok := handlers[t]
	return h, ok
}

// Fail returns a message failure with a result code.
func Fail(code uint32, format string, args ...any) error {
	return &codedError{code: code, msg: fmt.Sprintf(format, args...)}
}

// Event is something a transaction or block did, for indexing and clients.
type Event struct {
	Type  string `json:"type"`
	Attrs []Attr `json:"attributes"`
}

// Attr is one key/value of an Event.
type Attr struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Context is what a handler sees: state reads and writes (buffered), the
// block, the parameters, and an event sink.
type Context struct {
	kv       kvStore
	height   int64
	time     time.Time
	params   Params
	checking bool
	events   []Event
	// lastAppHash is the app hash committed by the previous block: a value
	// every validator agrees on that no single transaction sender chose.
	lastAppHash []byte
}

// Height is the height of the block being executed (in CheckTx, the next
// block's height).
func (c *Context) Height() int64 { return c.height }

// BlockTime is the block header's time (in CheckTx, the last committed
// block's time as seen by this process, zero after a restart).
func (c *Context) BlockTime() time.Time { return c.time }

// Params are the chain parameters.
func (c *Context) Params() Params { return c.params }

// LastAppHash is the app hash committed by the previous block (empty before
// the first commit). Modules mix it into deterministic draws.
func (c *Context) LastAppHash() []byte { return c.lastAppHash }

// IsCheck reports whether this is a mempool check rather than execution.
func (c *Context) IsCheck() bool { return c.checking }

// Emit records an event; attrs are key, value pairs.
func (c *Context) Emit(typ string, attrs ...string) {
	e := Event{Type: typ}
	for i := 0; i+1 < len(attrs); i += 2 {
		e.Attrs = append(e.Attrs, Attr{Key: attrs[i], Value: attrs[i+1]})
	}
	c.events = append(c.events, e)
}

// Get reads a raw state key.
func (c *Context) Get(key []byte) ([]byte, error) { return c.kv.Get(key) }

// Set writes a raw state key.
func (c *Context) Set(key, value []byte) error { return c.kv.Set(key, value) }

// Delete removes a raw state key.
func (c *Context) Delete(key []byte) error { return c.kv.Delete(key) }

// Iterate calls fn for each key with prefix in ascending order until fn
// returns false; fn must not write. Only end-of-block hooks can iterate:
// message handlers run over write buffers that do not support it.
func (c *Context) Iterate(prefix []byte, fn func(key, value []byte) bool) error {
	it, ok := c.kv.(interface {
		Iterate(prefix []byte, fn func(key, value []byte) bool) error
	})
	if !ok {
		return fmt.Errorf("iterate %q: only end-of-block hooks can iterate state", prefix)
	}
	return it.Iterate(prefix, fn)
}

// Account loads an account; a missing one is the zero Account.
func (c *Context) Account(a tx.Address) (Account, error) {
	b, err := c.kv.Get(AccountKey(a))
	if err != nil {
		return Account{}, fmt.Errorf("load account %s: %w", a, err)
	}
	if b == nil {
		return Account{}, nil
	}
	acc, err := DecodeAccount(b)
	if err != nil {
		return Account{}, fmt.Errorf("load account %s: %w", a, err)
	}
	return acc, nil
}

// SetAccount stores an account.
func (c *Context) SetAccount(a tx.Address, acc *Account) error {
	return c.kv.Set(AccountKey(a), acc.Encode())
}

// Supply loads the supply record.
func (c *Context) Supply() (Supply, error) {
	b, err := c.kv.Get(keySupply)
	if err != nil {
		return Supply{}, fmt.Errorf("load supply: %w", err)
	}
	if b == nil {
		return Supply{}, fmt.Errorf("load supply: missing (chain not initialized)")
	}
	return DecodeSupply(b)
}

// SetSupply stores the supply record.
func (c *Context) SetSupply(s Supply) error { return c.kv.Set(keySupply, s.encode()) }

func u64(v uint64) string { return strconv.FormatUint(v, 10) }
func i64(v int64) string  { return strconv.FormatInt(v, 10) }
