package app

import (
	"fmt"

	"github.com/provena/provena/tx"
)

// Royalty is one dataset's share of a model's fees, as declared in the
// model's lineage.
type Royalty struct {
	Asset tx.DataHash `json:"asset"`
	Bps   uint32      `json:"bps"` // basis points of each fee
}

// Payout is what one dataset received from a fee.
type Payout struct {
	Asset          tx.DataHash `json:"asset"`
	Owner          tx.Address  `json:"owner"`
	Amount         uint64      `json:"amount"`
	ToOwner        uint64      `json:"to_owner"`
	ToContributors uint64      `json:"to_contributors"`
	Receipt        uint64      `json:"receipt"` // the asset's receipt seq
}

// CheckRoyalties validates a lineage before it is recorded (for instance
// at model registration): every asset exists, none repeats, and the shares
// sum to at most 100%.
func CheckRoyalties(ctx *Context, royalties []Royalty) error {
	var total uint64
	seen := make(map[tx.DataHash]bool, len(royalties))
	for _, r := range royalties {
		if seen[r.Asset] {
			return Fail(CodeInvalidMsg, "royalties name asset %s twice", r.Asset)
		}
		seen[r.Asset] = true
		if r.Bps == 0 {
			return Fail(CodeInvalidMsg, "royalty for asset %s is 0 bps", r.Asset)
		}
		total += uint64(r.Bps)
		if _, err := loadAsset(ctx, r.Asset); err != nil {
			return err
		}
	}
	if total > tx.BpsDenom {
		return Fail(CodeInvalidMsg, "royalty shares sum to %d bps, over %d", total, tx.BpsDenom)
	}
	return nil
}

// PayRoyalties pays each asset in royalties its share (Bps of amount,
// rounded down) from payer's balance, splitting it between the asset's
// owner and its current version's contributor pool, and writes a "job"
// receipt on each asset naming job. Payouts come back in the order of
// royalties; the caller keeps amount minus their sum. It is meant for other
// modules' handlers (the opML module pays datasets from an inference fee in
// the same block); an error is a coded failure that discards the caller's
// message, or a storage error.
func PayRoyalties(ctx *Context, payer tx.Address, job string, royalties []Royalty, amount uint64) ([]Payout, error) {
	return payRoyaltiesFrom(ctx, payer, payer, job, royalties, amount)
}

// payRoyaltiesFrom is PayRoyalties with the tokens taken from from (a
// module account holding the payer's escrow) while the receipts name payer.
func payRoyaltiesFrom(ctx *Context, from, payer tx.Address, job string, royalties []Royalty, amount uint64) ([]Payout, error) {
	if len(job) > tx.DataMaxJobLen {
		return nil, Fail(CodeInvalidMsg, "job reference is %d bytes, limit %d", len(job), tx.DataMaxJobLen)
	}
	if err := CheckRoyalties(ctx, royalties); err != nil {
		return nil, err
	}
	out := make([]Payout, 0, len(royalties))
	for _, ro := range royalties {
		share := mulDiv(amount, uint64(ro.Bps), tx.BpsDenom)
		r, err := loadAsset(ctx, ro.Asset)
		if err != nil {
			return nil, err
		}
		rec, err := pay(ctx, r, from, payer, share, "job", job)
		if err != nil {
			return nil, fmt.Errorf("royalty to asset %s: %w", ro.Asset, err)
		}
		if err := saveAsset(ctx, r); err != nil {
			return nil, err
		}
		out = append(out, Payout{Asset: r.ID, Owner: r.Owner, Amount: share, ToOwner: rec.ToOwner, ToContributors: rec.ToContributors, Receipt: rec.Seq})
	}
	return out, nil
}

// RecordUsage writes a "job" usage receipt on an asset without moving
// tokens (amount is informational: what the payer paid elsewhere) and
// returns its seq.
func RecordUsage(ctx *Context, asset tx.DataHash, job string, payer tx.Address, amount uint64) (uint64, error) {
	if len(job) > tx.DataMaxJobLen {
		return 0, Fail(CodeInvalidMsg, "job reference is %d bytes, limit %d", len(job), tx.DataMaxJobLen)
	}
	r, err := loadAsset(ctx, asset)
	if err != nil {
		return 0, err
	}
	rec, err := writeReceipt(ctx, r, Receipt{Kind: "job", Job: job, Payer: payer, Amount: amount})
	if err != nil {
		return 0, err
	}
	if err := saveAsset(ctx, r); err != nil {
		return 0, err
	}
	return rec.Seq, nil
}
