// Package client is the Go client of a Provena node's HTTP JSON API (package
// api), used by the CLI, the demo, the benchmark and the network tests.
//
// Besides plain calls it checks account proofs on the client side: Verify
// fetches an account with its ICS23 proof, fetches the header that commits to
// that state, and verifies the proof against the header's app hash.
package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/provena/provena/api"
	"github.com/provena/provena/app"
	"github.com/provena/provena/state"
	"github.com/provena/provena/tx"
)

// Client talks to one node's HTTP API.
type Client struct {
	base string
	http *http.Client
}

// New returns a client of the API at base, e.g. "http://127.0.0.1:1317".
// A base without a scheme gets http://.
func New(base string) *Client {
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &Client{
		base: strings.TrimRight(base, "/"),
		http: &http.Client{
			Timeout: 90 * time.Second,
			Transport: &http.Transport{
				MaxIdleConns:        256,
				MaxIdleConnsPerHost: 256,
				IdleConnTimeout:     30 * time.Second,
			},
		},
	}
}

// Base returns the API URL the client talks to.
func (c *Client) Base() string { return c.base }

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.base+path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read response: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e api.Error
		if json.Unmarshal(b, &e) == nil && e.Code != "" {
			return &e
		}
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}

// IsNotFound reports whether err is the API's not_found error.
func IsNotFound(err error) bool {
	var e *api.Error
	return errors.As(err, &e) && e.Code == "not_found"
}

// Status returns GET /v1/status.
func (c *Client) Status(ctx context.Context) (api.Status, error) {
	var s api.Status
	return s, c.do(ctx, http.MethodGet, "/v1/status", nil, &s)
}

// Account returns GET /v1/accounts/{addr}, with the proof if prove is set.
func (c *Client) Account(ctx context.Context, addr tx.Address, prove bool) (api.Account, error) {
	var a api.Account
	p := "/v1/accounts/" + addr.String()
	if prove {
		p += "?prove=true"
	}
	return a, c.do(ctx, http.MethodGet, p, nil, &a)
}

// AccountState returns the decoded account and the height it was read at.
func (c *Client) AccountState(ctx context.Context, addr tx.Address) (app.AccountJSON, int64, error) {
	a, err := c.Account(ctx, addr, false)
	if err != nil {
		return app.AccountJSON{}, 0, err
	}
	var j app.AccountJSON
	if err := json.Unmarshal(a.Account, &j); err != nil {
		return app.AccountJSON{}, 0, fmt.Errorf("decode account %s: %w", addr, err)
	}
	return j, a.Height, nil
}

// Supply returns GET /v1/supply.
func (c *Client) Supply(ctx context.Context) (api.Supply, error) {
	var s api.Supply
	return s, c.do(ctx, http.MethodGet, "/v1/supply", nil, &s)
}

// Params returns the chain parameters.
func (c *Client) Params(ctx context.Context) (app.Params, error) {
	var p api.Params
	if err := c.do(ctx, http.MethodGet, "/v1/params", nil, &p); err != nil {
		return app.Params{}, err
	}
	var out app.Params
	if err := json.Unmarshal(p.Params, &out); err != nil {
		return app.Params{}, fmt.Errorf("decode params: %w", err)
	}
	return out, nil
}

// Tx returns GET /v1/txs/{hash}; hash is hex.
func (c *Client) Tx(ctx context.Context, hash string) (api.Tx, error) {
	var t api.Tx
	return t, c.do(ctx, http.MethodGet, "/v1/txs/"+hash, nil, &t)
}

// Block returns GET /v1/blocks/{height}; height 0 means the latest.
func (c *Client) Block(ctx context.Context, height int64) (api.Block, error) {
	h := "latest"
	if height > 0 {
		h = strconv.FormatInt(height, 10)
	}
	var b api.Block
	return b, c.do(ctx, http.MethodGet, "/v1/blocks/"+h, nil, &b)
}

// Broadcast posts a signed transaction; mode is sync, async or commit.
func (c *Client) Broadcast(ctx context.Context, txBytes []byte, mode string) (api.BroadcastResponse, error) {
	var r api.BroadcastResponse
	return r, c.do(ctx, http.MethodPost, "/v1/txs", api.BroadcastRequest{Tx: txBytes, Mode: mode}, &r)
}

// HashHex is the API's text form of a transaction hash.
func HashHex(txBytes []byte) string {
	h := tx.Hash(txBytes)
	return strings.ToUpper(hex.EncodeToString(h[:]))
}

// WaitTx polls GET /v1/txs/{hash} until the transaction is in a committed
// block or ctx ends.
func (c *Client) WaitTx(ctx context.Context, hash string) (api.Tx, error) {
	delay := 20 * time.Millisecond
	for {
		t, err := c.Tx(ctx, hash)
		if err == nil {
			return t, nil
		}
		if !IsNotFound(err) {
			return api.Tx{}, err
		}
		select {
		case <-ctx.Done():
			return api.Tx{}, fmt.Errorf("wait for tx %s: %w", hash, ctx.Err())
		case <-time.After(delay):
		}
		if delay < 200*time.Millisecond {
			delay *= 2
		}
	}
}

// WaitHeight polls until the node has committed block h.
func (c *Client) WaitHeight(ctx context.Context, h int64) (api.Block, error) {
	for {
		b, err := c.Block(ctx, h)
		if err == nil {
			return b, nil
		}
		if !IsNotFound(err) {
			return api.Block{}, err
		}
		select {
		case <-ctx.Done():
			return api.Block{}, fmt.Errorf("wait for block %d: %w", h, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Sent is a submitted transaction.
type Sent struct {
	Hash  string `json:"hash"`
	Nonce uint64 `json:"nonce"`
	// Committed is set when the caller waited for the block.
	Committed *api.Tx `json:"committed,omitempty"`
}

// Send signs msg with priv using the account's current nonce (read from the
// node) and the node's chain id, and broadcasts it. With wait it returns
// after the block holding it is committed, and a transaction that failed in
// its block is an error.
func (c *Client) Send(ctx context.Context, priv ed25519.PrivateKey, fee uint64, msg tx.Msg, wait bool) (Sent, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return Sent{}, fmt.Errorf("read chain id: %w", err)
	}
	from := tx.AddressFromPubKey(priv.Public().(ed25519.PublicKey))
	acct, _, err := c.AccountState(ctx, from)
	if err != nil {
		return Sent{}, fmt.Errorf("read nonce of %s: %w", from, err)
	}
	b, err := tx.Sign(priv, st.ChainID, acct.Nonce, fee, msg)
	if err != nil {
		return Sent{}, err
	}
	res, err := c.Broadcast(ctx, b, "sync")
	if err != nil {
		return Sent{}, err
	}
	s := Sent{Hash: res.Hash, Nonce: acct.Nonce}
	if !wait {
		return s, nil
	}
	t, err := c.WaitTx(ctx, res.Hash)
	if err != nil {
		return s, err
	}
	s.Committed = &t
	if t.Code != 0 {
		return s, fmt.Errorf("tx %s failed in block %d (code %d): %s", t.Hash, t.Height, t.Code, t.Log)
	}
	return s, nil
}

// VerifiedAccount is an account whose state was proven against a header.
type VerifiedAccount struct {
	Account app.AccountJSON `json:"account"`
	// Height is the state version; HeaderHeight (Height+1) the block whose
	// header's AppHash the proof was checked against.
	Height       int64  `json:"height"`
	HeaderHeight int64  `json:"header_height"`
	AppHash      string `json:"app_hash"`
	// Exists is false when the proof shows the account was never written.
	Exists bool `json:"exists"`
}

// Verify fetches addr's account with its proof, fetches block Height+1
// (waiting for it if needed) and checks the proof against that header's app
// hash and the served account against the proven value.
//
// The header is taken from the node the client talks to; checking the header
// itself (commit signatures, a light client) is outside this function.
func (c *Client) Verify(ctx context.Context, addr tx.Address) (VerifiedAccount, error) {
	a, err := c.Account(ctx, addr, true)
	if err != nil {
		return VerifiedAccount{}, err
	}
	if a.Proof == nil {
		return VerifiedAccount{}, errors.New("node returned no proof")
	}
	if a.Proof.Height != a.Height {
		return VerifiedAccount{}, fmt.Errorf("proof is for height %d, the account for %d", a.Proof.Height, a.Height)
	}
	hdr, err := c.WaitHeight(ctx, a.Height+1)
	if err != nil {
		return VerifiedAccount{}, fmt.Errorf("header for proof: %w", err)
	}
	root, err := hex.DecodeString(hdr.AppHash)
	if err != nil {
		return VerifiedAccount{}, fmt.Errorf("header %d app hash: %w", hdr.Height, err)
	}
	v, err := VerifyAccountProof(addr, a.Account, a.Proof, root)
	if err != nil {
		return VerifiedAccount{}, fmt.Errorf("account %s at height %d: %w", addr, a.Height, err)
	}
	v.Height, v.HeaderHeight, v.AppHash = a.Height, hdr.Height, hdr.AppHash
	return v, nil
}

// VerifyAccountProof checks p against root (the app hash of header
// p.Height+1) and that served, the account JSON as the node sent it, is
// exactly the account the proof commits to.
func VerifyAccountProof(addr tx.Address, served json.RawMessage, p *api.Proof, root []byte) (VerifiedAccount, error) {
	if p.Type != state.ProofType {
		return VerifiedAccount{}, fmt.Errorf("proof type %q, want %q", p.Type, state.ProofType)
	}
	cp, err := state.ParseProofBytes(p.Data)
	if err != nil {
		return VerifiedAccount{}, err
	}
	j, err := app.VerifyAccount(root, addr, app.QueryResult{Height: p.Height, Key: p.Key, Value: served, Proof: cp})
	if err != nil {
		return VerifiedAccount{}, err
	}
	return VerifiedAccount{Account: j, Exists: cp.GetExist() != nil}, nil
}
