package app

import (
	"errors"
	"fmt"
	"time"

	"github.com/provena/provena/tx"
)

// Result is the outcome of CheckTx or DeliverTx. Code is one of the Code*
// constants; Log says what went wrong in words.
type Result struct {
	Code   uint32
	Log    string
	Events []Event
}

// IsOK reports whether the transaction succeeded.
func (r Result) IsOK() bool { return r.Code == CodeOK }

func fail(code uint32, format string, args ...any) Result {
	return Result{Code: code, Log: fmt.Sprintf(format, args...)}
}

// BeginBlock starts executing block height. Heights must follow the last
// committed one; proposer receives the fee share (the zero address burns it).
// blockTime is the header time, the only clock state may depend on.
func (a *App) BeginBlock(height int64, blockTime time.Time, proposer tx.Address) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.chainID == "" {
		return errors.New("begin block: chain not initialized (no InitChain and no committed state)")
	}
	if a.block != nil {
		// A block executed but not committed (a proposal CometBFT then
		// abandoned, or a replay): drop it.
		a.store.Rollback()
	}
	if want := a.nextHeight(); height != want {
		return fmt.Errorf("begin block: height %d, expected %d", height, want)
	}
	a.block = &blockState{height: height, time: blockTime, proposer: proposer}
	a.fatal = nil
	return nil
}

// DeliverTx executes one transaction of the current block. A failing
// transaction has a non-zero Code; if it got as far as paying its fee, the
// fee and nonce stay applied.
func (a *App) DeliverTx(b []byte) Result {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.block == nil || a.block.ended {
		return fail(CodeInternal, "%v", errNoBlock)
	}
	if a.fatal != nil {
		return fail(CodeInternal, "block execution already failed: %v", a.fatal)
	}
	base := storeKV{a.store}
	out := a.execTx(b, base, false, a.block.height, a.block.time)
	if out.txc != nil {
		if err := out.txc.flush(base); err != nil {
			a.fatal = fmt.Errorf("write tx effects: %w", err)
			return fail(CodeInternal, "%v", a.fatal)
		}
		if err := a.chargeFee(out.fee); err != nil {
			a.fatal = err
			return fail(CodeInternal, "%v", err)
		}
	}
	return out.res
}

func (a *App) chargeFee(fee uint64) (err error) {
	share := fee / 2
	if a.block.proposer.IsZero() {
		share = 0
	}
	if a.block.proposerFees, err = add(a.block.proposerFees, share, "block proposer fees"); err != nil {
		return err
	}
	a.block.burned, err = add(a.block.burned, fee-share, "block burned fees")
	return err
}

// EndBlock pays the proposer, burns the rest of the fees, runs the modules'
// end-of-block hooks (maturing unbonding stake) and returns the app hash
// the block commits to, with the block's events.
func (a *App) EndBlock() (appHash []byte, events []Event, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.block == nil || a.block.ended {
		return nil, nil, fmt.Errorf("end block: %w", errNoBlock)
	}
	if a.fatal != nil {
		return nil, nil, fmt.Errorf("end block %d: %w", a.block.height, a.fatal)
	}
	ctx := &Context{kv: storeKV{a.store}, height: a.block.height, time: a.block.time, params: a.params, lastAppHash: a.store.Hash()}
	if err := a.payFees(ctx); err != nil {
		return nil, nil, fmt.Errorf("end block %d: %w", a.block.height, err)
	}
	handlersMu.RLock()
	ebs := endBlockers
	handlersMu.RUnlock()
	for _, eb := range ebs {
		if err := eb.fn(ctx); err != nil {
			return nil, nil, fmt.Errorf("end block %d: %s: %w", a.block.height, eb.name, err)
		}
	}
	a.block.ended = true
	return a.store.WorkingHash(), ctx.events, nil
}

func (a *App) payFees(ctx *Context) error {
	b := a.block
	if b.proposerFees == 0 && b.burned == 0 {
		return nil
	}
	if b.proposerFees > 0 {
		acc, err := ctx.Account(b.proposer)
		if err != nil {
			return err
		}
		if acc.Balance, err = add(acc.Balance, b.proposerFees, "proposer balance"); err != nil {
			return err
		}
		if err := ctx.SetAccount(b.proposer, &acc); err != nil {
			return err
		}
	}
	sup, err := ctx.Supply()
	if err != nil {
		return err
	}
	if sup.Burned, err = add(sup.Burned, b.burned, "burned supply"); err != nil {
		return err
	}
	if err := ctx.SetSupply(sup); err != nil {
		return err
	}
	ctx.Emit("fees", "proposer", b.proposer.String(), "reward", u64(b.proposerFees), "burned", u64(b.burned))
	return nil
}

// Commit persists the executed block and returns its app hash, equal to
// the one EndBlock returned. The mempool check state starts afresh.
func (a *App) Commit() (appHash []byte, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.block == nil || !a.block.ended {
		return nil, errors.New("commit: no ended block (call BeginBlock, DeliverTx, EndBlock first)")
	}
	h, v, err := a.store.Commit()
	if err != nil {
		return nil, fmt.Errorf("commit block %d: %w", a.block.height, err)
	}
	if v != a.block.height {
		return nil, fmt.Errorf("commit block %d: store saved version %d", a.block.height, v)
	}
	a.lastBlockTime = a.block.time
	a.block = nil
	a.check = newCache(committedKV{a.store})
	return h, nil
}

// Block is a whole block for ExecuteBlock.
type Block struct {
	Height   int64
	Time     time.Time
	Proposer tx.Address
	Txs      [][]byte
}

// BlockResult is what ExecuteBlock produced.
type BlockResult struct {
	TxResults []Result
	Events    []Event // end-of-block events
	AppHash   []byte  // the working hash Commit will persist
}

// ExecuteBlock runs BeginBlock, PreverifyTxs, DeliverTx for each
// transaction and EndBlock. It does not commit.
func (a *App) ExecuteBlock(b Block) (BlockResult, error) {
	if err := a.BeginBlock(b.Height, b.Time, b.Proposer); err != nil {
		return BlockResult{}, err
	}
	a.PreverifyTxs(b.Txs)
	res := BlockResult{TxResults: make([]Result, len(b.Txs))}
	for i, t := range b.Txs {
		res.TxResults[i] = a.DeliverTx(t)
	}
	h, ev, err := a.EndBlock()
	if err != nil {
		return BlockResult{}, err
	}
	res.Events, res.AppHash = ev, h
	return res, nil
}

// CheckTx validates a transaction for the mempool against the check state
// and, if it passes, applies it there so the sender's next transaction is
// checked against the new nonce and balance. recheck marks CometBFT's
// re-validation of mempool transactions after a commit; it runs the same
// checks.
func (a *App) CheckTx(b []byte, recheck bool) Result {
	_ = recheck // rechecks differ only in that their signature is cached
	if len(b) <= tx.MaxTxBytes {
		// Verify outside the lock so that, with an ABCI client that does not
		// serialize connections, mempool checks use another core while a
		// block executes. Only good signatures enter the cache.
		a.verifyCached(b)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.chainID == "" {
		return fail(CodeNotInitialized, "chain not initialized")
	}
	out := a.execTx(b, a.check, true, a.nextHeight(), a.lastBlockTime)
	if out.res.Code != CodeOK {
		return out.res
	}
	if err := out.txc.flush(a.check); err != nil {
		return fail(CodeInternal, "apply to check state: %v", err)
	}
	return out.res
}

// PreverifyTxs batch-verifies the signatures of a block's transactions that
// this node has not verified yet (in CheckTx) and caches the good ones, so
// DeliverTx skips them. Bad or undecodable ones are left for DeliverTx to
// reject one by one.
func (a *App) PreverifyTxs(txs [][]byte) {
	var todo []*tx.Tx
	var hashes [][32]byte
	for _, b := range txs {
		h := tx.Hash(b)
		if a.sigCache.has(h) {
			continue
		}
		t, err := tx.Decode(b)
		if err != nil {
			continue
		}
		todo = append(todo, t)
		hashes = append(hashes, h)
	}
	if len(todo) < 2 {
		return
	}
	for i, ok := range tx.BatchVerify(todo) {
		if ok {
			a.sigCache.add(hashes[i])
		}
	}
}

// verifyCached verifies b's signature unless cached and caches it if good.
func (a *App) verifyCached(b []byte) {
	h := tx.Hash(b)
	if a.sigCache.has(h) {
		return
	}
	if t, err := tx.Decode(b); err == nil && t.VerifySignature() == nil {
		a.sigCache.add(h)
	}
}

type txOutcome struct {
	res Result
	txc *cache // writes to apply; nil when the tx changes nothing
	fee uint64
}

// execTx is the one code path of CheckTx and DeliverTx: stateless checks,
// signature, nonce and fee against base, then the message in its own cache.
func (a *App) execTx(b []byte, base kvReader, checking bool, height int64, blockTime time.Time) txOutcome {
	if len(b) > a.params.MaxTxBytes {
		return txOutcome{res: fail(CodeTxTooLarge, "tx is %d bytes, limit is %d (max_tx_bytes)", len(b), a.params.MaxTxBytes)}
	}
	t, err := tx.Decode(b)
	if err != nil {
		var unk *tx.UnknownMsgTypeError
		var big *tx.TooLargeError
		switch {
		case errors.As(err, &unk):
			return txOutcome{res: fail(CodeUnknownMsgType, "%v", err)}
		case errors.As(err, &big):
			return txOutcome{res: fail(CodeTxTooLarge, "%v", err)}
		}
		return txOutcome{res: fail(CodeBadEncoding, "%v", err)}
	}
	if t.ChainID != a.chainID {
		return txOutcome{res: fail(CodeWrongChainID, "wrong chain id: tx is signed for %q, this chain is %q", t.ChainID, a.chainID)}
	}
	h, ok := handlerFor(t.Msg.Type())
	if !ok {
		return txOutcome{res: fail(CodeUnknownMsgType, "no handler for message type %d (%s)", t.Msg.Type(), tx.MsgName(t.Msg.Type()))}
	}
	if err := t.Msg.ValidateBasic(); err != nil {
		return txOutcome{res: fail(CodeInvalidMsg, "invalid %s message: %v", tx.MsgName(t.Msg.Type()), err)}
	}
	if t.Fee < a.params.MinFee {
		return txOutcome{res: fail(CodeFeeTooLow, "fee too low: %d %s, minimum is %d %s", t.Fee, Denom, a.params.MinFee, Denom)}
	}
	hash := tx.Hash(b)
	if !a.sigCache.has(hash) {
		if err := t.VerifySignature(); err != nil {
			return txOutcome{res: fail(CodeBadSignature, "bad signature: %v", err)}
		}
		a.sigCache.add(hash)
	}

	sender := t.Sender()
	txc := newCache(base)
	ctx := &Context{kv: txc, height: height, time: blockTime, params: a.params, checking: checking, lastAppHash: a.store.Hash()}
	acc, err := ctx.Account(sender)
	if err != nil {
		return a.internal(err, checking)
	}
	switch {
	case t.Nonce < acc.Nonce:
		return txOutcome{res: fail(CodeBadNonce, "nonce %d already used (next is %d)", t.Nonce, acc.Nonce)}
	case t.Nonce > acc.Nonce:
		return txOutcome{res: fail(CodeBadNonce, "nonce %d is in the future (next is %d)", t.Nonce, acc.Nonce)}
	}
	if acc.Balance < t.Fee {
		return txOutcome{res: fail(CodeInsufficientFunds, "insufficient funds: balance %d %s cannot pay fee %d %s", acc.Balance, Denom, t.Fee, Denom)}
	}
	acc.Balance -= t.Fee
	acc.Nonce++
	if err := ctx.SetAccount(sender, &acc); err != nil {
		return a.internal(err, checking)
	}
	ctx.Emit("tx", "sender", sender.String(), "nonce", u64(t.Nonce), "fee", u64(t.Fee), "type", tx.MsgName(t.Msg.Type()))

	msgc := newCache(txc)
	ctx.kv = msgc
	herr := h.Handle(ctx, sender, t.Msg)
	var coded interface{ Code() uint32 }
	switch {
	case herr == nil:
		if err := msgc.flush(txc); err != nil {
			return a.internal(err, checking)
		}
		return txOutcome{res: Result{Code: CodeOK, Events: ctx.events}, txc: txc, fee: t.Fee}
	case errors.As(herr, &coded) && coded.Code() != CodeOK:
		res := Result{Code: coded.Code(), Log: herr.Error(), Events: ctx.events[:1]} // only the fee-paying "tx" event
		if checking {
			return txOutcome{res: res}
		}
		return txOutcome{res: res, txc: txc, fee: t.Fee}
	default:
		return a.internal(herr, checking)
	}
}

// internal turns a storage failure into a result; during block execution it
// also fails the block, since nodes must not diverge silently.
func (a *App) internal(err error, checking bool) txOutcome {
	if !checking {
		a.fatal = err
	}
	return txOutcome{res: fail(CodeInternal, "internal error: %v", err)}
}
