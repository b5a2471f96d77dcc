// Package abciapp adapts the engine-agnostic ledger in package app to
// CometBFT v1.0.1's ABCI 2.0 Application interface. It translates types and
// nothing else: every decision about transactions and state is app's.
package abciapp

import (
	"context"
	"encoding/binary"
	"fmt"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmtcrypto "github.com/cometbft/cometbft/api/cometbft/crypto/v1"

	"github.com/provena/provena/app"
	"github.com/provena/provena/state"
	"github.com/provena/provena/tx"
)

// AppVersion is the application protocol version reported to CometBFT.
// Bump it when a change makes old and new nodes compute different state.
const AppVersion = 1

// Application is the ABCI face of an app.App.
type Application struct {
	abcitypes.BaseApplication // snapshots and vote extensions: not used
	app                       *app.App
}

var _ abcitypes.Application = (*Application)(nil)

// New wraps a.
func New(a *app.App) *Application { return &Application{app: a} }

// App returns the wrapped ledger.
func (x *Application) App() *app.App { return x.app }

// Info reports the last committed height and app hash, which CometBFT's
// handshake compares with its block store to replay missing blocks.
func (x *Application) Info(context.Context, *abcitypes.InfoRequest) (*abcitypes.InfoResponse, error) {
	h, hash := x.app.Info()
	return &abcitypes.InfoResponse{
		Data:             "provena",
		Version:          fmt.Sprintf("provena-app/%d", AppVersion),
		AppVersion:       AppVersion,
		LastBlockHeight:  h,
		LastBlockAppHash: hash,
	}, nil
}

// InitChain loads app_state as the app.Genesis. The validator set is
// CometBFT's genesis set, returned unchanged.
func (x *Application) InitChain(_ context.Context, req *abcitypes.InitChainRequest) (*abcitypes.InitChainResponse, error) {
	h := req.InitialHeight
	if h == 0 {
		h = 1
	}
	hash, err := x.app.InitChainAt(req.ChainId, h, req.AppStateBytes)
	if err != nil {
		return nil, err
	}
	return &abcitypes.InitChainResponse{Validators: req.Validators, AppHash: hash}, nil
}

// CheckTx validates a transaction for the mempool.
func (x *Application) CheckTx(_ context.Context, req *abcitypes.CheckTxRequest) (*abcitypes.CheckTxResponse, error) {
	r := x.app.CheckTx(req.Tx, req.Type == abcitypes.CHECK_TX_TYPE_RECHECK)
	return &abcitypes.CheckTxResponse{Code: r.Code, Log: r.Log, Events: events(r.Events)}, nil
}

// protoTxSize is what one tx adds to a block's Data in protobuf: the field
// tag, the length varint and the bytes. CometBFT checks the proposal's total
// against MaxTxBytes this way.
func protoTxSize(n int) int64 {
	var buf [binary.MaxVarintLen64]byte
	return int64(1 + binary.PutUvarint(buf[:], uint64(n)) + n)
}

// PrepareProposal keeps the mempool's order and drops transactions that
// ProcessProposal would reject (undecodable or over max_tx_bytes) and those
// past the block's byte budget.
func (x *Application) PrepareProposal(_ context.Context, req *abcitypes.PrepareProposalRequest) (*abcitypes.PrepareProposalResponse, error) {
	limit := x.app.Params().MaxTxBytes
	txs := make([][]byte, 0, len(req.Txs))
	var total int64
	for _, b := range req.Txs {
		if len(b) > limit {
			continue
		}
		if _, err := tx.Decode(b); err != nil {
			continue
		}
		sz := protoTxSize(len(b))
		if total+sz > req.MaxTxBytes {
			continue // a later, smaller tx may still fit
		}
		total += sz
		txs = append(txs, b)
	}
	return &abcitypes.PrepareProposalResponse{Txs: txs}, nil
}

// ProcessProposal rejects a block carrying a transaction no honest proposer
// would include: undecodable or over max_tx_bytes. Transactions that merely
// fail (bad nonce, funds) are accepted and fail in FinalizeBlock, paying
// their fee where they can.
func (x *Application) ProcessProposal(_ context.Context, req *abcitypes.ProcessProposalRequest) (*abcitypes.ProcessProposalResponse, error) {
	limit := x.app.Params().MaxTxBytes
	for _, b := range req.Txs {
		if len(b) > limit {
			return &abcitypes.ProcessProposalResponse{Status: abcitypes.PROCESS_PROPOSAL_STATUS_REJECT}, nil
		}
		if _, err := tx.Decode(b); err != nil {
			return &abcitypes.ProcessProposalResponse{Status: abcitypes.PROCESS_PROPOSAL_STATUS_REJECT}, nil
		}
	}
	return &abcitypes.ProcessProposalResponse{Status: abcitypes.PROCESS_PROPOSAL_STATUS_ACCEPT}, nil
}

// FinalizeBlock executes the decided block without committing it. An error
// (storage failure) stops the node rather than let it diverge.
func (x *Application) FinalizeBlock(_ context.Context, req *abcitypes.FinalizeBlockRequest) (*abcitypes.FinalizeBlockResponse, error) {
	proposer, err := tx.AddressFromBytes(req.ProposerAddress)
	if err != nil {
		return nil, fmt.Errorf("finalize block %d: proposer: %w", req.Height, err)
	}
	res, err := x.app.ExecuteBlock(app.Block{Height: req.Height, Time: req.Time, Proposer: proposer, Txs: req.Txs})
	if err != nil {
		return nil, fmt.Errorf("finalize block %d: %w", req.Height, err)
	}
	out := &abcitypes.FinalizeBlockResponse{
		Events:    events(res.Events),
		TxResults: make([]*abcitypes.ExecTxResult, len(res.TxResults)),
		AppHash:   res.AppHash,
	}
	for i, r := range res.TxResults {
		out.TxResults[i] = &abcitypes.ExecTxResult{Code: r.Code, Log: r.Log, Events: events(r.Events)}
	}
	return out, nil
}

// Commit persists the finalized block. Blocks are kept (RetainHeight 0).
func (x *Application) Commit(context.Context, *abcitypes.CommitRequest) (*abcitypes.CommitResponse, error) {
	if _, err := x.app.Commit(); err != nil {
		return nil, err
	}
	return &abcitypes.CommitResponse{RetainHeight: 0}, nil
}

// Query serves app.Query. Value is JSON; with prove, ProofOps holds one
// "ics23:iavl" op whose Data is the protobuf CommitmentProof for Key,
// checked against the AppHash of the header at Height+1.
func (x *Application) Query(_ context.Context, req *abcitypes.QueryRequest) (*abcitypes.QueryResponse, error) {
	r := x.app.Query(req.Path, req.Data, req.Height, req.Prove)
	out := &abcitypes.QueryResponse{Code: r.Code, Log: r.Log, Key: r.Key, Value: r.Value, Height: r.Height}
	if r.Proof != nil {
		pb, err := state.ProofBytes(r.Proof)
		if err != nil {
			return &abcitypes.QueryResponse{Code: app.CodeInternal, Log: err.Error()}, nil
		}
		out.ProofOps = &cmtcrypto.ProofOps{Ops: []cmtcrypto.ProofOp{{Type: state.ProofType, Key: r.Key, Data: pb}}}
	}
	return out, nil
}

// events converts app events; every attribute is indexed so that
// tx_search can find, say, transfer.recipient='pv…'.
func events(evs []app.Event) []abcitypes.Event {
	if len(evs) == 0 {
		return nil
	}
	out := make([]abcitypes.Event, len(evs))
	for i, e := range evs {
		attrs := make([]abcitypes.EventAttribute, len(e.Attrs))
		for j, a := range e.Attrs {
			attrs[j] = abcitypes.EventAttribute{Key: a.Key, Value: a.Value, Index: true}
		}
		out[i] = abcitypes.Event{Type: e.Type, Attributes: attrs}
	}
	return out
}
