package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/provena/provena/tx"
)

// Denom is the native token: micro-provena. All amounts are integer upv.
const Denom = "upv"

// Genesis is the app_state object inside CometBFT's genesis.json: the chain's
// parameters and its initial allocations. It is written to state at
// InitChain, so it is part of the first app hash.
type Genesis struct {
	// Params are the chain parameters; see Params. Omitted fields are an
	// error, not a default: use DefaultParams when writing a genesis.
	Params Params `json:"params"`
	// Accounts are the initial balances. Their sum is the genesis supply,
	// which fees can only burn, never raise. Addresses must be distinct.
	Accounts []GenesisAccount `json:"accounts"`
	// Modules holds module sections by module name, each read by the module
	// at InitChain (RegisterGenesisModule). Known sections: "energy"
	// ({"authority": hex ed25519 public key that may set the oracle set})
	// and "tee" ({"sim_roots": [hex ed25519 keys], "max_age_secs": N}).
	// An unknown name is an error.
	Modules map[string]json.RawMessage `json:"modules,omitempty"`
}

// GenesisAccount is one initial allocation.
type GenesisAccount struct {
	// Address is the account's text form, "pv" followed by 40 lowercase hex
	// characters (tx.Address.String).
	Address string `json:"address"`
	// Balance is the spendable amount in upv.
	Balance uint64 `json:"balance"`
}

// Params are the chain parameters fixed at genesis.
type Params struct {
	// BlockTimeMs is the target interval between blocks in milliseconds. The
	// node turns it into CometBFT's timeout_commit; the application itself
	// never reads the clock. Must be 1..600000.
	BlockTimeMs uint64 `json:"block_time_ms"`
	// UnbondingBlocks is the unbonding delay: stake unbonded in block H
	// becomes spendable balance at the end of block H+UnbondingBlocks. Must
	// be 0..100000000 (0 returns the stake at the end of the same block).
	UnbondingBlocks int64 `json:"unbonding_blocks"`
	// MaxTxBytes is the largest encoded transaction the chain accepts, in
	// bytes. Must be 200..1048576 (tx.MaxTxBytes).
	MaxTxBytes int `json:"max_tx_bytes"`
	// MinFee is the smallest fee in upv a transaction may pay. Half of each
	// fee (rounded down) goes to the block's proposer, the rest is burned.
	MinFee uint64 `json:"min_fee"`
}

// DefaultParams are the parameters `provena init` writes.
func DefaultParams() Params {
	return Params{
		BlockTimeMs:     1000,
		UnbondingBlocks: 100,
		MaxTxBytes:      256 << 10, // a one-step opML proof for PP-OCRv4 reaches ~177 KB
		MinFee:          10,
	}
}

// minTxBytesLimit is the smallest max_tx_bytes that still admits a transfer.
const minTxBytesLimit = 200

// Validate checks the parameters' ranges.
func (p Params) Validate() error {
	if p.BlockTimeMs < 1 || p.BlockTimeMs > 600_000 {
		return fmt.Errorf("params: block_time_ms %d out of range 1..600000", p.BlockTimeMs)
	}
	if p.UnbondingBlocks < 0 || p.UnbondingBlocks > 100_000_000 {
		return fmt.Errorf("params: unbonding_blocks %d out of range 0..100000000", p.UnbondingBlocks)
	}
	if p.MaxTxBytes < minTxBytesLimit || p.MaxTxBytes > tx.MaxTxBytes {
		return fmt.Errorf("params: max_tx_bytes %d out of range %d..%d", p.MaxTxBytes, minTxBytesLimit, tx.MaxTxBytes)
	}
	return nil
}

// Validate checks the genesis: valid parameters, well-formed distinct
// addresses, a total supply that fits in uint64.
func (g *Genesis) Validate() error {
	if err := g.Params.Validate(); err != nil {
		return fmt.Errorf("genesis: %w", err)
	}
	seen := make(map[tx.Address]int, len(g.Accounts))
	var total uint64
	for i, a := range g.Accounts {
		addr, err := tx.ParseAddress(a.Address)
		if err != nil {
			return fmt.Errorf("genesis: accounts[%d]: %w", i, err)
		}
		if j, dup := seen[addr]; dup {
			return fmt.Errorf("genesis: accounts[%d] repeats the address of accounts[%d] (%s)", i, j, a.Address)
		}
		seen[addr] = i
		if a.Balance > math.MaxUint64-total {
			return fmt.Errorf("genesis: total supply overflows uint64 at accounts[%d]", i)
		}
		total += a.Balance
	}
	for _, name := range sortedModuleNames(g.Modules) {
		if _, ok := genesisModule(name); !ok {
			return fmt.Errorf("genesis: modules.%s: no such module", name)
		}
	}
	return nil
}

// Supply returns the sum of the genesis balances (Validate first).
func (g *Genesis) Supply() uint64 {
	var total uint64
	for _, a := range g.Accounts {
		total += a.Balance
	}
	return total
}

// ParseGenesis decodes and validates app_state JSON. Unknown fields are
// errors so that a typo does not silently fall back to zero.
func ParseGenesis(b []byte) (*Genesis, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("genesis: app_state is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var g Genesis
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("genesis: parse app_state: %w", err)
	}
	if dec.More() {
		return nil, errors.New("genesis: trailing data after app_state object")
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return &g, nil
}
