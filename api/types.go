// Package api is the HTTP JSON API of a Provena node (documented in
// openapi.yaml beside this file). It serves from the node's in-process
// CometBFT RPC client; CometBFT's own RPC stays on its own port.
//
// Every error is a JSON Error with an HTTP status that fits it; the types in
// this file are the wire format shared with package client.
package api

import (
	"encoding/json"
	"time"
)

// Error is the body of every non-2xx response.
type Error struct {
	// Code is a stable machine-readable reason: bad_request, not_found,
	// tx_rejected, tx_failed, query_failed, unavailable, internal.
	Code    string `json:"code"`
	Message string `json:"message"`
	// ABCICode is the application's result code when the error is the
	// application's verdict on a transaction or query.
	ABCICode uint32 `json:"abci_code,omitempty"`
	// Hash is the transaction hash for tx_rejected and tx_failed.
	Hash string `json:"hash,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Status is GET /v1/status.
type Status struct {
	ChainID           string    `json:"chain_id"`
	NodeID            string    `json:"node_id"`
	Moniker           string    `json:"moniker"`
	LatestHeight      int64     `json:"latest_height"`
	LatestBlockHash   string    `json:"latest_block_hash"`
	LatestAppHash     string    `json:"latest_app_hash"`
	LatestBlockTime   time.Time `json:"latest_block_time"`
	EarliestHeight    int64     `json:"earliest_height"`
	CatchingUp        bool      `json:"catching_up"`
	ValidatorAddress  string    `json:"validator_address"`
	VotingPower       int64     `json:"voting_power"`
	Peers             int       `json:"peers"`
	MempoolTxs        int       `json:"mempool_txs"`
	CometBFTVersion   string    `json:"cometbft_version"`
	ApplicationHeight int64     `json:"application_height"`
}

// Proof is an ICS23 proof of one key in the state after Height, checkable
// against the app hash in the header of block Height+1.
type Proof struct {
	// Type is the CometBFT proof op type, "ics23:iavl".
	Type string `json:"type"`
	// Key is the proven state key; Value the stored bytes the proof commits
	// to (for an account, app.Account's binary form), absent for a
	// non-existence proof.
	Key   []byte `json:"key"`
	Value []byte `json:"value,omitempty"`
	// Data is the op's payload (a marshalled ics23 CommitmentProof).
	Data []byte `json:"data"`
	// Height is the state version the proof is for.
	Height int64 `json:"height"`
	// HeaderHeight is the block whose header carries the app hash to check
	// against: Height+1.
	HeaderHeight int64 `json:"header_height"`
	// AppHash is that header's app hash (hex) as this node saw it, empty if
	// the block was not committed yet. A client must not trust it blindly:
	// it fetches the header itself.
	AppHash string `json:"app_hash,omitempty"`
}

// Account is GET /v1/accounts/{address}.
type Account struct {
	// Height is the state version queried.
	Height int64 `json:"height"`
	// Account is the application's JSON view of the account.
	Account json.RawMessage `json:"account"`
	Proof   *Proof          `json:"proof,omitempty"`
}

// QueryResult is GET /v1/query/{path}: any application query path.
type QueryResult struct {
	Path   string          `json:"path"`
	Height int64           `json:"height"`
	Value  json.RawMessage `json:"value"`
	Proof  *Proof          `json:"proof,omitempty"`
}

// Supply is GET /v1/supply.
type Supply struct {
	Height int64           `json:"height"`
	Supply json.RawMessage `json:"supply"`
}

// Params is GET /v1/params: the chain parameters (app.Params).
type Params struct {
	Height int64           `json:"height"`
	Params json.RawMessage `json:"params"`
}

// Tx is GET /v1/txs/{hash}.
type Tx struct {
	Hash      string `json:"hash"`
	Height    int64  `json:"height"`
	Index     uint32 `json:"index"`
	Code      uint32 `json:"code"`
	Codespace string `json:"codespace,omitempty"`
	Log       string `json:"log"`
	// Tx is the decoded transaction, or null if the bytes do not decode.
	Tx  json.RawMessage `json:"tx"`
	Raw []byte          `json:"raw"`
}

// Block is GET /v1/blocks/{height|latest}.
type Block struct {
	Height          int64     `json:"height"`
	Hash            string    `json:"hash"`
	ChainID         string    `json:"chain_id"`
	Time            time.Time `json:"time"`
	ProposerAddress string    `json:"proposer_address"`
	// AppHash is the app hash of the state after block Height-1.
	AppHash           string   `json:"app_hash"`
	LastBlockHash     string   `json:"last_block_hash"`
	DataHash          string   `json:"data_hash"`
	ValidatorsHash    string   `json:"validators_hash"`
	LastResultsHash   string   `json:"last_results_hash"`
	NumTxs            int      `json:"num_txs"`
	TxHashes          []string `json:"tx_hashes"`
	LastCommitSigners int      `json:"last_commit_signers"`
	LastCommitRound   int32    `json:"last_commit_round"`
	LastCommitBlockID string   `json:"last_commit_block_id"`
}

// BroadcastRequest is the body of POST /v1/txs.
type BroadcastRequest struct {
	// Tx is the encoded signed transaction (base64 in JSON).
	Tx []byte `json:"tx"`
	// Mode is "sync" (default: wait for CheckTx), "async" (return at once)
	// or "commit" (wait until the tx is in a committed block).
	Mode string `json:"mode,omitempty"`
}

// BroadcastResponse is the 200 answer of POST /v1/txs. With mode "commit" a
// transaction that was included but failed has a non-zero Code.
type BroadcastResponse struct {
	Hash   string `json:"hash"`
	Mode   string `json:"mode"`
	Code   uint32 `json:"code"`
	Log    string `json:"log,omitempty"`
	Height int64  `json:"height,omitempty"`
}
