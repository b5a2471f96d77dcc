package app

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/provena/provena/tee"
	"github.com/provena/provena/tx"
)

func init() {
	RegisterHandler(tx.TypeTeeConfig, HandlerFunc(handleTeeConfig))
	RegisterHandler(tx.TypeTeeAllow, HandlerFunc(handleTeeAllow))
	RegisterHandler(tx.TypeTeeRegister, HandlerFunc(handleTeeRegister))
}

// handleTeeConfig stores the module's configuration: only in the chain's
// first TeeConfigMaxHeight blocks, only once, and only before any
// attestation was registered. After that the set of trusted simulated
// roots is as fixed as a genesis field would be.
func handleTeeConfig(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgTeeConfig)
	if ctx.Height() > TeeConfigMaxHeight {
		return Fail(CodeTeeConfig, "tee_config is only accepted in the first %d blocks (this is block %d)", TeeConfigMaxHeight, ctx.Height())
	}
	if c, ok, err := teeLoadConfig(ctx); err != nil {
		return err
	} else if ok {
		return Fail(CodeTeeConfig, "tee module already configured at height %d", c.Height)
	}
	if b, err := ctx.Get(keyTeeUsed); err != nil {
		return err
	} else if b != nil {
		return Fail(CodeTeeConfig, "tee_config after an attestation was registered (height %s)", b)
	}
	c := TeeConfig{SimRoots: append([]string{}, msg.SimRoots...), MaxAgeSecs: msg.MaxAgeSecs, Height: ctx.Height(), Sender: sender.String()}
	if err := opmlSet(ctx, keyTeeConfig, c); err != nil {
		return err
	}
	ctx.Emit("tee_config", "sim_roots", strconv.Itoa(len(c.SimRoots)), "max_age_secs", u64(c.MaxAgeSecs))
	return nil
}

func handleTeeAllow(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgTeeAllow)
	id, _ := tx.ParseTeeModelID(msg.ModelID) // ValidateBasic checked it
	var model OpmlModel
	ok, err := opmlGet(ctx, OpmlModelKey(id), &model)
	if err != nil {
		return err
	}
	if !ok {
		return Fail(CodeTeeUnknown, "model %s is not registered", msg.ModelID)
	}
	if model.Owner != sender {
		return Fail(CodeTeeNotOwner, "only the owner of model %s (%s) may allow measurements", msg.ModelID, model.Owner)
	}
	key := TeeAllowKey(id, msg.Kind, msg.Measurement)
	if msg.Revoke {
		if err := ctx.Delete(key); err != nil {
			return err
		}
		ctx.Emit("tee_revoke", "model", msg.ModelID, "kind", msg.Kind, "measurement", msg.Measurement)
		return nil
	}
	a := TeeAllowed{Model: msg.ModelID, Kind: msg.Kind, Measurement: msg.Measurement, By: sender.String(), Height: ctx.Height()}
	if err := opmlSet(ctx, key, a); err != nil {
		return err
	}
	ctx.Emit("tee_allow", "model", msg.ModelID, "kind", msg.Kind, "measurement", msg.Measurement)
	return nil
}

// handleTeeRegister verifies a worker's attestation with the block time as
// "now" and records it. The checks, in order: the sign key is the
// sender's; the quote verifies (certificates valid at the block time,
// signatures, TCB against the kind's on-chain collateral where one is
// stored, simulated roots only from the tee_config); what it signs was never registered before (replay); its
// report data binds the sender's two keys; it is fresh; its measurement is
// allowed for the model.
func handleTeeRegister(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgTeeRegister)
	id, _ := tx.ParseTeeModelID(msg.ModelID)
	if tx.AddressFromPubKey(ed25519.PublicKey(msg.SignKey)) != sender {
		return Fail(CodeTeeBinding, "sign_key is another key, not the sender's (%s)", sender)
	}
	cfg, _, err := teeLoadConfig(ctx)
	if err != nil {
		return err
	}
	roots, err := cfg.roots()
	if err != nil {
		return err
	}
	now := ctx.BlockTime()
	if ctx.IsCheck() && now.IsZero() {
		// After a restart CheckTx has no block time yet; execution checks.
		return nil
	}
	coll, err := teeRegisterCollateral(ctx, cfg, msg.Kind)
	if err != nil {
		return err
	}
	opts := tee.Options{Now: now, Collateral: tee.Collateral{SNPVCEK: msg.VCEK}, SimRoots: roots}
	if coll != nil {
		opts.Collateral.TDX = coll.Responses
	}
	rep, err := tee.Verify(msg.Kind, msg.Quote, opts)
	if errors.Is(err, tee.ErrSimNotAllowed) {
		return Fail(CodeTeeSimNotAllowed, "simulated attestation rejected: this chain's tee_config does not name its root")
	}
	if err != nil && coll != nil {
		return Fail(CodeTeeInvalid, "%v (against the on-chain %s collateral issued %s, posted at height %d)",
			err, coll.Kind, coll.Info.Issued.Format(time.RFC3339), coll.Height)
	}
	if err != nil {
		return Fail(CodeTeeInvalid, "%v", err)
	}
	// Replay is judged on what the vendor signed, not on the quote's
	// bytes, which can be re-encoded (trailing bytes, ECDSA malleability).
	qid, err := hex.DecodeString(rep.QuoteID)
	if err != nil || len(qid) != 32 {
		return Fail(CodeTeeInvalid, "verifier returned a malformed quote id %q", rep.QuoteID)
	}
	var qh [32]byte
	copy(qh[:], qid)
	if b, err := ctx.Get(teeQuoteKey(id, qh)); err != nil {
		return err
	} else if b != nil {
		return Fail(CodeTeeReplay, "this attestation was already registered for this model at height %s (replay)", b)
	}
	if rep.ReportData != tee.BindingReportData(msg.SignKey, msg.X25519) {
		return Fail(CodeTeeBinding, "report data does not bind the sender's keys (quote made for another key or another machine)")
	}
	maxAge := time.Duration(cfg.MaxAgeSecs) * time.Second
	start := now
	if !rep.IssuedAt.IsZero() {
		if rep.IssuedAt.After(now.Add(TeeClockSkew)) {
			return Fail(CodeTeeStale, "attestation issued %s, more than %s after the block time %s", rep.IssuedAt.Format(time.RFC3339), TeeClockSkew, now.UTC().Format(time.RFC3339))
		}
		if now.Sub(rep.IssuedAt) > maxAge {
			return Fail(CodeTeeStale, "stale attestation: issued %s, older than the freshness limit %s at block time %s",
				rep.IssuedAt.Format(time.RFC3339), maxAge, now.UTC().Format(time.RFC3339))
		}
		start = rep.IssuedAt
	}
	if b, err := ctx.Get(TeeAllowKey(id, msg.Kind, rep.Measurement)); err != nil {
		return err
	} else if b == nil {
		return Fail(CodeTeeNotAllowed, "measurement %s (%s) is not allowed for model %s", rep.Measurement, msg.Kind, msg.ModelID)
	}
	fresh := start.Add(maxAge)
	if rep.NotAfter.Before(fresh) {
		fresh = rep.NotAfter
	}
	a := TeeAttestation{
		Worker: sender, Model: msg.ModelID, Kind: msg.Kind, Simulated: rep.Simulated,
		Measurement: rep.Measurement, TCBStatus: rep.TCB.Status, Platform: rep.Platform,
		SignKey: hex.EncodeToString(msg.SignKey), X25519: msg.X25519, QuoteID: rep.QuoteID,
		Height: ctx.Height(), RegisteredAt: now.UTC(), IssuedAt: rep.IssuedAt, FreshUntil: fresh.UTC(),
	}
	if err := opmlSet(ctx, TeeAttestationKey(sender, id), a); err != nil {
		return err
	}
	if err := ctx.Set(teeQuoteKey(id, qh), []byte(i64(ctx.Height()))); err != nil {
		return err
	}
	if b, err := ctx.Get(keyTeeUsed); err != nil {
		return err
	} else if b == nil {
		if err := ctx.Set(keyTeeUsed, []byte(i64(ctx.Height()))); err != nil {
			return err
		}
	}
	ctx.Emit("tee_register", "worker", sender.String(), "model", msg.ModelID, "kind", msg.Kind,
		"measurement", rep.Measurement, "simulated", strconv.FormatBool(rep.Simulated), "fresh_until", a.FreshUntil.Format(time.RFC3339))
	return nil
}
