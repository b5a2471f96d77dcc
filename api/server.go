package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cometbft/cometbft/mempool"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/provena/provena/state"
	"github.com/provena/provena/tx"
)

// MaxBodyBytes bounds a POST body: the largest transaction, base64, plus
// room for the JSON around it.
const MaxBodyBytes = tx.MaxTxBytes*4/3 + 4096

// Options configures a Server.
type Options struct {
	ChainID string
	// Timeout bounds one request's work; 0 means 60 s.
	Timeout time.Duration
}

type server struct {
	c    rpcclient.Client
	opts Options
}

// NewServer returns the API handler, serving from c (the node's local client).
func NewServer(c rpcclient.Client, opts Options) http.Handler {
	if opts.Timeout == 0 {
		opts.Timeout = 60 * time.Second
	}
	s := &server{c: c, opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", s.status)
	mux.HandleFunc("GET /v1/accounts/{address}", s.account)
	mux.HandleFunc("GET /v1/txs/{hash}", s.getTx)
	mux.HandleFunc("POST /v1/txs", s.broadcast)
	mux.HandleFunc("GET /v1/blocks/{height}", s.block)
	mux.HandleFunc("GET /v1/supply", s.supply)
	mux.HandleFunc("GET /v1/params", s.params)
	mux.HandleFunc("GET /v1/query/{path...}", s.moduleQuery)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, "no_route", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	})
	return recoverer(mux)
}

// recoverer turns a panic anywhere below into a JSON 500 so that one bad
// request cannot take the node down.
func recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				writeErr(w, http.StatusInternalServerError, "internal", fmt.Sprintf("internal error: %v", v))
			}
		}()
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(Error{Code: "internal", Message: "encode response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, Error{Code: code, Message: msg})
}

// rpcErr maps an error of the local RPC client.
func rpcErr(w http.ResponseWriter, what string, err error) {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "not found"), strings.Contains(msg, "must be less than or equal to the current blockchain height"),
		strings.Contains(msg, "is not available, lowest height is"):
		writeErr(w, http.StatusNotFound, "not_found", what+": "+msg)
	case errors.Is(err, context.DeadlineExceeded), strings.Contains(msg, "timed out"):
		writeErr(w, http.StatusGatewayTimeout, "timeout", what+": "+msg)
	case strings.Contains(msg, "mempool is full"), strings.Contains(msg, "too many"):
		writeErr(w, http.StatusServiceUnavailable, "unavailable", what+": "+msg)
	default:
		writeErr(w, http.StatusInternalServerError, "internal", what+": "+msg)
	}
}

func (s *server) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.opts.Timeout)
}

func hexUpper(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

func (s *server) status(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	st, err := s.c.Status(ctx)
	if err != nil {
		rpcErr(w, "status", err)
		return
	}
	out := Status{
		ChainID:          st.NodeInfo.Network,
		NodeID:           string(st.NodeInfo.DefaultNodeID),
		Moniker:          st.NodeInfo.Moniker,
		LatestHeight:     st.SyncInfo.LatestBlockHeight,
		LatestBlockHash:  hexUpper(st.SyncInfo.LatestBlockHash),
		LatestAppHash:    hexUpper(st.SyncInfo.LatestAppHash),
		LatestBlockTime:  st.SyncInfo.LatestBlockTime,
		EarliestHeight:   st.SyncInfo.EarliestBlockHeight,
		CatchingUp:       st.SyncInfo.CatchingUp,
		ValidatorAddress: tx.Address(addr20(st.ValidatorInfo.Address)).String(),
		VotingPower:      st.ValidatorInfo.VotingPower,
		CometBFTVersion:  st.NodeInfo.Version,
	}
	if ni, err := s.c.NetInfo(ctx); err == nil {
		out.Peers = ni.NPeers
	}
	if mp, err := s.c.NumUnconfirmedTxs(ctx); err == nil {
		out.MempoolTxs = mp.Total
	}
	if info, err := s.c.ABCIInfo(ctx); err == nil {
		out.ApplicationHeight = info.Response.LastBlockHeight
	}
	writeJSON(w, http.StatusOK, out)
}

func addr20(b []byte) [20]byte {
	var a [20]byte
	copy(a[:], b)
	return a
}

func parseBool(w http.ResponseWriter, r *http.Request, name string) (bool, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, true
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("query parameter %s=%q is not a boolean", name, v))
		return false, false
	}
	return b, true
}

func (s *server) account(w http.ResponseWriter, r *http.Request) {
	addr, err := tx.ParseAddress(r.PathValue("address"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if h, v, p, ok := s.provenQuery(w, r, "/account", addr[:]); ok {
		writeJSON(w, http.StatusOK, Account{Height: h, Account: v, Proof: p})
	}
}

// moduleQuery serves any application query path (app.QueryPaths: the
// ledger's and every module's, such as /job or /data/asset) with optional
// hex data and an optional ICS23 proof.
func (s *server) moduleQuery(w http.ResponseWriter, r *http.Request) {
	path := "/" + r.PathValue("path")
	data, err := hex.DecodeString(strings.TrimPrefix(r.URL.Query().Get("data"), "0x"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("query parameter data is not hex: %v", err))
		return
	}
	if h, v, p, ok := s.provenQuery(w, r, path, data); ok {
		writeJSON(w, http.StatusOK, QueryResult{Path: path, Height: h, Value: v, Proof: p})
	}
}

// provenQuery runs an ABCI query, with a proof when the request asks
// ?prove=true, and writes the error, if any.
func (s *server) provenQuery(w http.ResponseWriter, r *http.Request, path string, data []byte) (int64, json.RawMessage, *Proof, bool) {
	prove, ok := parseBool(w, r, "prove")
	if !ok {
		return 0, nil, nil, false
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	res, err := s.c.ABCIQueryWithOptions(ctx, path, data, rpcclient.ABCIQueryOptions{Prove: prove})
	if err != nil {
		rpcErr(w, "query "+path, err)
		return 0, nil, nil, false
	}
	q := res.Response
	if q.Code != 0 {
		writeJSON(w, http.StatusBadRequest, Error{Code: "query_failed", Message: q.Log, ABCICode: q.Code})
		return 0, nil, nil, false
	}
	if !json.Valid(q.Value) {
		writeErr(w, http.StatusInternalServerError, "internal", "query "+path+": the application answered with invalid JSON")
		return 0, nil, nil, false
	}
	if !prove {
		return q.Height, json.RawMessage(q.Value), nil, true
	}
	if q.ProofOps == nil || len(q.ProofOps.Ops) != 1 {
		writeErr(w, http.StatusInternalServerError, "internal", "the application returned no proof")
		return 0, nil, nil, false
	}
	op := q.ProofOps.Ops[0]
	p := &Proof{Type: op.Type, Key: op.Key, Data: op.Data, Height: q.Height, HeaderHeight: q.Height + 1}
	if cp, err := state.ParseProofBytes(op.Data); err == nil {
		p.Value, _ = state.ProvenValue(op.Key, cp)
	}
	h := q.Height + 1
	if hdr, err := s.c.Header(ctx, &h); err == nil && hdr.Header != nil {
		p.AppHash = hexUpper(hdr.Header.AppHash)
	}
	return q.Height, json.RawMessage(q.Value), p, true
}

func (s *server) supply(w http.ResponseWriter, r *http.Request) {
	if h, v, ok := s.query(w, r, "/supply"); ok {
		writeJSON(w, http.StatusOK, Supply{Height: h, Supply: v})
	}
}

func (s *server) params(w http.ResponseWriter, r *http.Request) {
	if h, v, ok := s.query(w, r, "/params"); ok {
		writeJSON(w, http.StatusOK, Params{Height: h, Params: v})
	}
}

// query runs an ABCI query without data and writes the error, if any.
func (s *server) query(w http.ResponseWriter, r *http.Request, path string) (int64, json.RawMessage, bool) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	res, err := s.c.ABCIQuery(ctx, path, nil)
	if err != nil {
		rpcErr(w, "query "+path, err)
		return 0, nil, false
	}
	q := res.Response
	if q.Code != 0 {
		writeJSON(w, http.StatusBadRequest, Error{Code: "query_failed", Message: q.Log, ABCICode: q.Code})
		return 0, nil, false
	}
	if !json.Valid(q.Value) {
		writeErr(w, http.StatusInternalServerError, "internal", "query "+path+": the application answered with invalid JSON")
		return 0, nil, false
	}
	return q.Height, json.RawMessage(q.Value), true
}

// ParseHash accepts a 32-byte transaction hash in hex, either case, with or
// without a 0x prefix.
func ParseHash(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("tx hash %q is not 64 hex characters", s)
	}
	return b, nil
}

func decodedJSON(raw []byte) json.RawMessage {
	t, err := tx.Decode(raw)
	if err != nil {
		return json.RawMessage("null")
	}
	b, err := json.Marshal(t)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

func (s *server) getTx(w http.ResponseWriter, r *http.Request) {
	h, err := ParseHash(r.PathValue("hash"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	res, err := s.c.Tx(ctx, h, false)
	if err != nil {
		rpcErr(w, "tx "+hexUpper(h), err)
		return
	}
	writeJSON(w, http.StatusOK, Tx{
		Hash:      hexUpper(res.Hash),
		Height:    res.Height,
		Index:     res.Index,
		Code:      res.TxResult.Code,
		Codespace: res.TxResult.Codespace,
		Log:       res.TxResult.Log,
		Tx:        decodedJSON(res.Tx),
		Raw:       res.Tx,
	})
}

func (s *server) broadcast(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var req BroadcastRequest
	if err := dec.Decode(&req); err != nil {
		writeErr(w, http.StatusBadRequest, "bad_request", "decode request body: "+err.Error())
		return
	}
	if len(req.Tx) == 0 {
		writeErr(w, http.StatusBadRequest, "bad_request", `"tx" is empty: want the base64 of a signed transaction`)
		return
	}
	if req.Mode == "" {
		req.Mode = "sync"
	}
	hash := tx.Hash(req.Tx)
	hs := hexUpper(hash[:])
	ctx, cancel := s.ctx(r)
	defer cancel()
	switch req.Mode {
	case "async":
		if _, err := s.c.BroadcastTxAsync(ctx, req.Tx); err != nil {
			broadcastErr(w, hs, err)
			return
		}
		writeJSON(w, http.StatusOK, BroadcastResponse{Hash: hs, Mode: req.Mode})
	case "sync":
		res, err := s.c.BroadcastTxSync(ctx, req.Tx)
		if err != nil {
			broadcastErr(w, hs, err)
			return
		}
		if res.Code != 0 {
			writeJSON(w, http.StatusUnprocessableEntity, Error{Code: "tx_rejected", Message: res.Log, ABCICode: res.Code, Hash: hs})
			return
		}
		writeJSON(w, http.StatusOK, BroadcastResponse{Hash: hs, Mode: req.Mode, Code: res.Code, Log: res.Log})
	case "commit":
		res, err := s.c.BroadcastTxCommit(ctx, req.Tx)
		if err != nil {
			broadcastErr(w, hs, err)
			return
		}
		if res.CheckTx.Code != 0 {
			writeJSON(w, http.StatusUnprocessableEntity, Error{Code: "tx_rejected", Message: res.CheckTx.Log, ABCICode: res.CheckTx.Code, Hash: hs})
			return
		}
		writeJSON(w, http.StatusOK, BroadcastResponse{Hash: hs, Mode: req.Mode, Code: res.TxResult.Code, Log: res.TxResult.Log, Height: res.Height})
	default:
		writeErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("mode %q: want sync, async or commit", req.Mode))
	}
}

func broadcastErr(w http.ResponseWriter, hash string, err error) {
	msg := err.Error()
	var invalid mempool.ErrInvalidTx
	var tooLarge mempool.ErrTxTooLarge
	var full mempool.ErrMempoolIsFull
	switch {
	case errors.As(err, &invalid):
		writeJSON(w, http.StatusUnprocessableEntity, Error{Code: "tx_rejected", Message: invalid.Log, ABCICode: invalid.Code, Hash: hash})
	case errors.Is(err, mempool.ErrTxInCache), errors.Is(err, mempool.ErrTxInMempool),
		// BroadcastTxCommit flattens the error to text.
		strings.Contains(msg, mempool.ErrTxInCache.Error()), strings.Contains(msg, mempool.ErrTxInMempool.Error()):
		writeJSON(w, http.StatusConflict, Error{Code: "tx_duplicate", Message: "the node has already seen this exact transaction: " + msg, Hash: hash})
	case errors.As(err, &tooLarge):
		writeJSON(w, http.StatusRequestEntityTooLarge, Error{Code: "tx_rejected", Message: msg, Hash: hash})
	case errors.As(err, &full), errors.Is(err, mempool.ErrRecheckFull):
		writeJSON(w, http.StatusServiceUnavailable, Error{Code: "unavailable", Message: msg, Hash: hash})
	default:
		rpcErr(w, "broadcast tx", err)
	}
}

func (s *server) block(w http.ResponseWriter, r *http.Request) {
	var hp *int64
	if v := r.PathValue("height"); v != "latest" {
		h, err := strconv.ParseInt(v, 10, 64)
		if err != nil || h < 1 {
			writeErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("block height %q: want a positive integer or \"latest\"", v))
			return
		}
		hp = &h
	}
	ctx, cancel := s.ctx(r)
	defer cancel()
	res, err := s.c.Block(ctx, hp)
	if err != nil {
		rpcErr(w, "block", err)
		return
	}
	if res.Block == nil {
		writeErr(w, http.StatusNotFound, "not_found", "block not found")
		return
	}
	b := res.Block
	out := Block{
		Height:          b.Height,
		Hash:            hexUpper(res.BlockID.Hash),
		ChainID:         b.ChainID,
		Time:            b.Time,
		ProposerAddress: tx.Address(addr20(b.ProposerAddress)).String(),
		AppHash:         hexUpper(b.AppHash),
		LastBlockHash:   hexUpper(b.LastBlockID.Hash),
		DataHash:        hexUpper(b.DataHash),
		ValidatorsHash:  hexUpper(b.ValidatorsHash),
		LastResultsHash: hexUpper(b.LastResultsHash),
		NumTxs:          len(b.Txs),
		TxHashes:        make([]string, len(b.Txs)),
	}
	for i, t := range b.Txs {
		out.TxHashes[i] = hexUpper(t.Hash())
	}
	if c := b.LastCommit; c != nil {
		out.LastCommitBlockID = hexUpper(c.BlockID.Hash)
		out.LastCommitRound = c.Round
		for _, sig := range c.Signatures {
			if sig.BlockIDFlag == cmttypes.BlockIDFlagCommit {
				out.LastCommitSigners++
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}
