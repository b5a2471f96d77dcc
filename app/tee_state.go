package app

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/provena/provena/tx"
)

// Result codes of the teeML module (400-499).
const (
	CodeTeeConfig        uint32 = 400 // tee_config after block TeeConfigMaxHeight, a second time, or after a registration
	CodeTeeInvalid       uint32 = 401 // the attestation does not verify (chain, signature, expired certificate, TCB)
	CodeTeeBinding       uint32 = 402 // report data does not bind the sender's keys, or sign_key is not the sender's
	CodeTeeNotAllowed    uint32 = 403 // measurement not on the model's allow-list
	CodeTeeStale         uint32 = 404 // attestation older than the freshness parameter, or from the future
	CodeTeeReplay        uint32 = 405 // this quote was registered before
	CodeTeeSimNotAllowed uint32 = 406 // simulated quote on a chain whose tee_config names no such root
	CodeTeeNotOwner      uint32 = 407 // only the model's owner may allow measurements
	CodeTeeUnknown       uint32 = 408 // no such model, or no attestation
)

// DefaultTeeMaxAge is the freshness of an attestation on a chain that
// carried no tee_config.
const DefaultTeeMaxAge = 24 * time.Hour

// TeeClockSkew is how far after the block time an attestation's issue time
// may be: the attester's clock runs ahead of the last block's time.
const TeeClockSkew = 5 * time.Minute

// TeeConfigMaxHeight is the last block that may carry tee_config. Block 1
// alone would be the genesis' equivalent, but no client can send to a node
// before its first commit (it cannot read the fee or its nonce), so the
// window is the chain's first blocks; see docs/tee.md.
const TeeConfigMaxHeight = 20

var (
	keyTeeConfig   = []byte("t/cfg")
	keyTeeUsed     = []byte("t/used") // height of the first registration; closes the config window
	prefixTeeAllow = []byte("t/a/")   // <model 32><kind>\x00<measurement hex> -> TeeAllowed JSON
	prefixTeeAtt   = []byte("t/w/")   // <worker 20><model 32> -> TeeAttestation JSON
	prefixTeeQuote = []byte("t/q/")   // <sha256 of quote 32> -> height, against replay
)

// TeeConfig is the module's configuration, fixed in the chain's first blocks.
type TeeConfig struct {
	SimRoots   []string `json:"sim_roots"`
	MaxAgeSecs uint64   `json:"max_age_secs"`
	Height     int64    `json:"height"`
	Sender     string   `json:"sender"`
	// RequireCollateral lists the kinds whose registrations are refused
	// while no collateral is stored (genesis only; see tee_collateral.go).
	RequireCollateral []string `json:"require_collateral,omitempty"`
}

// TeeAllowed records who allowed a measurement and when.
type TeeAllowed struct {
	Model       string `json:"model"`
	Kind        string `json:"kind"`
	Measurement string `json:"measurement"`
	By          string `json:"by"`
	Height      int64  `json:"height"`
}

// TeeAttestation is a worker's registered, verified attestation for a model.
type TeeAttestation struct {
	Worker      tx.Address `json:"worker"`
	Model       string     `json:"model"`
	Kind        string     `json:"kind"`
	Simulated   bool       `json:"simulated"`
	Measurement string     `json:"measurement"`
	TCBStatus   string     `json:"tcb_status"`
	Platform    string     `json:"platform"`
	SignKey     string     `json:"sign_key"`
	X25519      string     `json:"x25519"`
	QuoteID     string     `json:"quote_id"`
	Height      int64      `json:"height"`
	// RegisteredAt is the block time of registration; FreshUntil is when
	// the attestation stops counting: the earlier of the certificates'
	// expiry and (issue time, or registration time for kinds whose quotes
	// carry none) plus the freshness parameter.
	RegisteredAt time.Time `json:"registered_at"`
	IssuedAt     time.Time `json:"issued_at,omitzero"`
	FreshUntil   time.Time `json:"fresh_until"`
}

// TeeAllowKey is the state key of an allowed measurement.
func TeeAllowKey(model [32]byte, kind, measurement string) []byte {
	k := append(append([]byte(nil), prefixTeeAllow...), model[:]...)
	k = append(k, kind...)
	k = append(k, 0)
	return append(k, measurement...)
}

// TeeAttestationKey is the state key of a worker's attestation for a model.
func TeeAttestationKey(worker tx.Address, model [32]byte) []byte {
	k := append(append([]byte(nil), prefixTeeAtt...), worker[:]...)
	return append(k, model[:]...)
}

// teeQuoteKey marks a quote used for a model. Per model, because one
// enclave may serve several models with one quote; what replay protection
// stops is renewing an attestation's freshness with an old quote.
func teeQuoteKey(model, quoteID [32]byte) []byte {
	k := append(append([]byte(nil), prefixTeeQuote...), model[:]...)
	return append(k, quoteID[:]...)
}

// teeLoadConfig returns the config, or the default (no simulated
// roots, DefaultTeeMaxAge) when there was none.
func teeLoadConfig(ctx *Context) (TeeConfig, bool, error) {
	var c TeeConfig
	ok, err := opmlGet(ctx, keyTeeConfig, &c)
	if err != nil {
		return c, false, err
	}
	if !ok {
		return TeeConfig{MaxAgeSecs: uint64(DefaultTeeMaxAge / time.Second)}, false, nil
	}
	return c, true, nil
}

func (c TeeConfig) roots() ([]ed25519.PublicKey, error) {
	out := make([]ed25519.PublicKey, 0, len(c.SimRoots))
	for _, r := range c.SimRoots {
		b, err := hex.DecodeString(r)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("tee config: bad stored root %q", r)
		}
		out = append(out, b)
	}
	return out, nil
}

// TeeFreshAttestation returns worker's attestation for model if it still
// counts at the block's time: verified, fresh, and its measurement still
// allowed. It is the check a tee-mode job settles on (see docs/tee.md).
func TeeFreshAttestation(ctx *Context, worker tx.Address, model [32]byte) (*TeeAttestation, error) {
	var a TeeAttestation
	ok, err := opmlGet(ctx, TeeAttestationKey(worker, model), &a)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, Fail(CodeTeeUnknown, "%s has no attestation for model %x", worker, model)
	}
	if now := ctx.BlockTime(); now.After(a.FreshUntil) {
		return nil, Fail(CodeTeeStale, "attestation of %s for model %x is stale: fresh until %s, block time %s",
			worker, model, a.FreshUntil.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	b, err := ctx.Get(TeeAllowKey(model, a.Kind, a.Measurement))
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, Fail(CodeTeeNotAllowed, "measurement %s (%s) is no longer allowed for model %x", a.Measurement, a.Kind, model)
	}
	return &a, nil
}
