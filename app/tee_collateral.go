package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/provena/provena/tee"
	"github.com/provena/provena/tx"
)

// CodeTeeCollateral rejects a posted collateral set (it does not verify at
// the block time, or is not newer than the stored one) and a registration
// on a chain that requires collateral for its kind when none is stored.
const CodeTeeCollateral uint32 = 409

// QueryTeeCollateral returns the stored collateral of a kind, or null.
const QueryTeeCollateral = "/tee/collateral" // data: the kind ("tdx")

var prefixTeeCollateral = []byte("t/c/") // <kind> -> TeeCollateral JSON

// TeeCollateral is a kind's vendor collateral as the chain keeps it: the
// newest set that verified at the block time it was posted. Registrations
// of that kind verify their quote against it at their own block time, so
// it also goes stale (its NextUpdate) without anyone acting.
type TeeCollateral struct {
	Kind      string                      `json:"kind"`
	Info      tee.CollateralInfo          `json:"info"`
	Responses map[string]tee.HTTPResponse `json:"responses"`
	Height    int64                       `json:"height"`
	PostedAt  time.Time                   `json:"posted_at"`
	Sender    string                      `json:"sender"`
}

// TeeCollateralKey is the state key of a kind's collateral.
func TeeCollateralKey(kind string) []byte {
	return append(append([]byte(nil), prefixTeeCollateral...), kind...)
}

func init() {
	RegisterHandler(tx.TypeTeeCollateral, HandlerFunc(handleTeeCollateral))
	RegisterQuery(QueryTeeCollateral, QueryRoute{
		Key: func(d []byte) ([]byte, error) {
			if err := tx.CheckTeeCollateralKind(string(d)); err != nil {
				return nil, fmt.Errorf("tee collateral query: %w", err)
			}
			return TeeCollateralKey(string(d)), nil
		},
		Render: func(key, raw []byte) ([]byte, error) {
			if !bytes.HasPrefix(key, prefixTeeCollateral) {
				return nil, fmt.Errorf("key %x is not a %q key", key, prefixTeeCollateral)
			}
			if raw == nil {
				return []byte("null"), nil
			}
			var c TeeCollateral
			if err := json.Unmarshal(raw, &c); err != nil {
				return nil, fmt.Errorf("decode %q record: %w", prefixTeeCollateral, err)
			}
			return json.Marshal(c)
		},
	})
}

// handleTeeCollateral keeps a posted collateral set if it verifies at the
// block time (vendor signatures up to the vendor's root, CRLs, dates) and
// supersedes the stored one. No sender is trusted: Intel signed every
// part, so a set that verifies is the same whoever posts it, and refusing
// older sets stops anyone from rolling the chain back to a TCB level or
// CRL that predates a revocation.
func handleTeeCollateral(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgTeeCollateral)
	set, err := tee.ParseCollateral(msg.Collateral)
	if err != nil {
		return Fail(CodeTeeCollateral, "%v", err)
	}
	now := ctx.BlockTime()
	if ctx.IsCheck() && now.IsZero() {
		return nil // after a restart CheckTx has no block time yet; execution checks
	}
	info, err := tee.VerifyTDXCollateral(set, now)
	if err != nil {
		return Fail(CodeTeeCollateral, "%v", err)
	}
	old, ok, err := teeLoadCollateral(ctx, msg.Kind)
	if err != nil {
		return err
	}
	if ok {
		if err := info.Supersedes(old.Info); err != nil {
			return Fail(CodeTeeCollateral, "older collateral refused: %v (stored at height %d)", err, old.Height)
		}
	}
	c := TeeCollateral{Kind: msg.Kind, Info: *info, Responses: set, Height: ctx.Height(), PostedAt: now.UTC(), Sender: sender.String()}
	if err := opmlSet(ctx, TeeCollateralKey(msg.Kind), c); err != nil {
		return err
	}
	ctx.Emit("tee_collateral", "kind", msg.Kind, "fmspc", info.FMSPC, "issued", info.Issued.Format(time.RFC3339),
		"next_update", info.NextUpdate.Format(time.RFC3339))
	return nil
}

func teeLoadCollateral(ctx *Context, kind string) (TeeCollateral, bool, error) {
	var c TeeCollateral
	ok, err := opmlGet(ctx, TeeCollateralKey(kind), &c)
	return c, ok, err
}

// teeRegisterCollateral returns the collateral a registration of kind is
// verified against: the stored set, or nothing (TCB status "unchecked")
// unless the chain's config requires one for kind.
func teeRegisterCollateral(ctx *Context, cfg TeeConfig, kind string) (*TeeCollateral, error) {
	if tx.CheckTeeCollateralKind(kind) != nil {
		return nil, nil
	}
	c, ok, err := teeLoadCollateral(ctx, kind)
	if err != nil {
		return nil, err
	}
	if ok {
		return &c, nil
	}
	if slices.Contains(cfg.RequireCollateral, kind) {
		return nil, Fail(CodeTeeCollateral, "this chain requires %s collateral for registrations and none was posted (tee_collateral)", kind)
	}
	return nil, nil
}

// teeCheckRequireCollateral validates the genesis list of kinds that need
// collateral: known kinds with on-chain collateral, each once.
func teeCheckRequireCollateral(kinds []string) error {
	for i, k := range kinds {
		if err := tx.CheckTeeCollateralKind(k); err != nil {
			return fmt.Errorf("require_collateral: %w", err)
		}
		if slices.Contains(kinds[:i], k) {
			return fmt.Errorf("require_collateral: %q twice", k)
		}
	}
	return nil
}
