package app

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/provena/provena/tx"
)

// TeeGenesis is the "tee" section of Genesis.Modules: the simulated
// attestation roots the chain accepts (none on a production chain) and the
// attestation freshness. A chain that sets it here cannot be configured
// again by tx.MsgTeeConfig, so no one can race to name a root of their own
// in the first blocks.
type TeeGenesis struct {
	SimRoots   []string `json:"sim_roots"`
	MaxAgeSecs uint64   `json:"max_age_secs"`
	// RequireCollateral lists kinds ("tdx") whose registrations need
	// vendor collateral on chain; by default collateral is used when
	// present and the TCB status is "unchecked" when absent.
	RequireCollateral []string `json:"require_collateral,omitempty"`
}

func init() {
	RegisterGenesisModule("tee", func(ctx *Context, raw json.RawMessage) error {
		var g TeeGenesis
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&g); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		// The message's checks are the section's checks: one rule for both ways in.
		if err := (tx.MsgTeeConfig{SimRoots: g.SimRoots, MaxAgeSecs: g.MaxAgeSecs}).ValidateBasic(); err != nil {
			return err
		}
		if err := teeCheckRequireCollateral(g.RequireCollateral); err != nil {
			return err
		}
		return opmlSet(ctx, keyTeeConfig, TeeConfig{SimRoots: append([]string{}, g.SimRoots...), MaxAgeSecs: g.MaxAgeSecs, Height: 0, Sender: "genesis",
			RequireCollateral: g.RequireCollateral})
	})
}
