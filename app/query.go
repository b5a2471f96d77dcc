package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	ics23 "github.com/cosmos/ics23/go"

	"github.com/provena/provena/state"
	"github.com/provena/provena/tx"
)

// Query paths.
const (
	QueryAccount = "/account" // data: 20 address bytes (or its "pv…" text); value: AccountJSON
	QueryParams  = "/params"  // value: Params JSON
	QuerySupply  = "/supply"  // value: SupplyJSON
)

// QueryResult answers Query. Value is JSON. With prove, Proof is an ICS23
// proof that Key holds the state value Value was rendered from (or is
// absent) in the state committed at Height.
//
// Which header to check: the state after block H has its app hash in the
// header of block H+1 (CometBFT records the result of executing a block in
// the next header). So verify a proof for Height H against
// header(H+1).AppHash, for instance with VerifyQuery.
type QueryResult struct {
	Code      uint32                 `json:"code"`
	Log       string                 `json:"log,omitempty"`
	Height    int64                  `json:"height"`
	Key       []byte                 `json:"key,omitempty"`
	Value     json.RawMessage        `json:"value,omitempty"`
	Proof     *ics23.CommitmentProof `json:"-"`
	ProofJSON json.RawMessage        `json:"proof,omitempty"` // state.MarshalProof of Proof
}

func queryFail(code uint32, format string, args ...any) QueryResult {
	return QueryResult{Code: code, Log: fmt.Sprintf(format, args...)}
}

// Query reads committed state at height (0 = latest committed).
func (a *App) Query(path string, data []byte, height int64, prove bool) QueryResult {
	a.mu.Lock()
	defer a.mu.Unlock()
	latest := a.store.Version()
	if a.chainID == "" || latest == 0 {
		return queryFail(CodeNotInitialized, "no committed state yet")
	}
	if height == 0 {
		height = latest
	}
	if height < 1 || height > latest {
		return queryFail(CodeBadQuery, "height %d is not available (latest committed is %d)", height, latest)
	}
	var key []byte
	switch path {
	case QueryAccount:
		addr, err := parseQueryAddress(data)
		if err != nil {
			return queryFail(CodeBadQuery, "%v", err)
		}
		key = AccountKey(addr)
	case QueryParams:
		key = keyParams
	case QuerySupply:
		key = keySupply
	default:
		route, ok := queryRoute(path)
		if !ok {
			return queryFail(CodeUnknownQuery, "unknown query path %q (have %v)", path, QueryPaths())
		}
		k, err := route.Key(data)
		if err != nil {
			return queryFail(CodeBadQuery, "%s: %v", path, err)
		}
		key = k
	}
	res := QueryResult{Height: height, Key: key}
	var raw []byte
	var err error
	if prove {
		raw, res.Proof, err = a.store.GetWithProof(key, height)
		if err == nil {
			res.ProofJSON, err = state.MarshalProof(res.Proof)
		}
	} else {
		raw, err = a.store.GetVersioned(key, height)
	}
	if err != nil {
		return queryFail(CodeInternal, "query %s at %d: %v", path, height, err)
	}
	if res.Value, err = renderValue(path, key, raw); err != nil {
		return queryFail(CodeInternal, "query %s at %d: %v", path, height, err)
	}
	return res
}

func parseQueryAddress(data []byte) (tx.Address, error) {
	if len(data) == tx.AddressLen {
		return tx.AddressFromBytes(data)
	}
	if bytes.HasPrefix(data, []byte(tx.AddressPrefix)) {
		return tx.ParseAddress(string(data))
	}
	return tx.Address{}, fmt.Errorf("account query data must be %d address bytes or a %q address, got %d bytes", tx.AddressLen, tx.AddressPrefix, len(data))
}

// renderValue turns a stored value into the query's JSON; Query and
// VerifyQuery share it so a proven raw value can be compared with the JSON.
func renderValue(path string, key, raw []byte) ([]byte, error) {
	switch path {
	case QueryAccount:
		if len(key) != len(prefixAccount)+tx.AddressLen || !bytes.HasPrefix(key, prefixAccount) {
			return nil, fmt.Errorf("key %x is not an account key", key)
		}
		var addr tx.Address
		copy(addr[:], key[len(prefixAccount):])
		var acc Account
		if raw != nil {
			var err error
			if acc, err = DecodeAccount(raw); err != nil {
				return nil, err
			}
		}
		return json.Marshal(acc.JSON(addr))
	case QueryParams:
		if raw == nil {
			return nil, errors.New("params missing from state")
		}
		var p Params
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("decode params: %w", err)
		}
		return json.Marshal(p)
	case QuerySupply:
		if raw == nil {
			return nil, errors.New("supply missing from state")
		}
		s, err := DecodeSupply(raw)
		if err != nil {
			return nil, err
		}
		return json.Marshal(s.JSON())
	}
	if r, ok := queryRoute(path); ok {
		return r.Render(key, raw)
	}
	return nil, fmt.Errorf("unknown query path %q", path)
}

// VerifyQuery checks a proven query result against appHash, the AppHash of
// the header at r.Height+1: the proof must verify, and r.Value must be
// exactly the JSON of the proven state value (or of the zero account, for a
// proven-absent account). A client calls this without trusting the node.
func VerifyQuery(appHash []byte, path string, r QueryResult) error {
	proof := r.Proof
	if proof == nil {
		if len(r.ProofJSON) == 0 {
			return errors.New("verify query: result has no proof (query with prove)")
		}
		var err error
		if proof, err = state.UnmarshalProof(r.ProofJSON); err != nil {
			return fmt.Errorf("verify query: %w", err)
		}
	}
	raw, err := state.ProvenValue(r.Key, proof)
	if err != nil {
		return fmt.Errorf("verify query: %w", err)
	}
	if err := state.VerifyProof(appHash, r.Key, raw, proof); err != nil {
		return fmt.Errorf("verify query: %w", err)
	}
	want, err := renderValue(path, r.Key, raw)
	if err != nil {
		return fmt.Errorf("verify query: %w", err)
	}
	if !bytes.Equal(want, r.Value) {
		return fmt.Errorf("verify query: value %s does not match the proven state value %s", r.Value, want)
	}
	return nil
}

// VerifyAccount checks a proven /account result for addr against appHash
// (header(r.Height+1).AppHash) and returns the proven account.
func VerifyAccount(appHash []byte, addr tx.Address, r QueryResult) (AccountJSON, error) {
	if !bytes.Equal(r.Key, AccountKey(addr)) {
		return AccountJSON{}, fmt.Errorf("verify account: result is for key %x, not account %s", r.Key, addr)
	}
	if err := VerifyQuery(appHash, QueryAccount, r); err != nil {
		return AccountJSON{}, err
	}
	var j AccountJSON
	if err := json.Unmarshal(r.Value, &j); err != nil {
		return AccountJSON{}, fmt.Errorf("verify account: %w", err)
	}
	return j, nil
}
