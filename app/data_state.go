package app

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"

	"github.com/provena/provena/tx"
)

// The data module (app/data_*.go) keeps the public record of encrypted
// data assets: owners, versions, grants (wrapped asset keys), purchases in
// escrow, usage receipts, contributor pools and royalties. See docs/data.md.
//
// Tokens the module holds (purchase escrow and contributor pools) sit in the
// balance of DataPoolAddress, an account nobody has a key for, so the supply
// invariant over balances holds unchanged.

// Result codes of the data module's messages.
const (
	CodeDataUnknownAsset uint32 = 200 // no asset (or version, or receipt) with that id
	CodeDataNotOwner     uint32 = 201 // only the asset's owner may do this
	CodeDataExists       uint32 = 202 // asset id or blob root already registered
	CodeDataNoGrant      uint32 = 203 // no grant or purchase in the state the message needs
	CodeDataBadKeys      uint32 = 204 // a version's wrapped keys do not match owner + active grantees
	CodeDataBadProof     uint32 = 205 // a contributor proof does not verify
	CodeDataConsent      uint32 = 206 // the contributor withdrew consent
	CodeDataLimit        uint32 = 207 // a per-asset or per-owner limit is reached
	CodeDataNothingOwed  uint32 = 208 // a claim finds nothing left to pay
)

// DataCodeName names the data module's codes for logs and the CLI ("" for
// others).
func DataCodeName(code uint32) string {
	switch code {
	case CodeDataUnknownAsset:
		return "data_unknown_asset"
	case CodeDataNotOwner:
		return "data_not_owner"
	case CodeDataExists:
		return "data_exists"
	case CodeDataNoGrant:
		return "data_no_grant"
	case CodeDataBadKeys:
		return "data_bad_keys"
	case CodeDataBadProof:
		return "data_bad_proof"
	case CodeDataConsent:
		return "data_consent_withdrawn"
	case CodeDataLimit:
		return "data_limit"
	case CodeDataNothingOwed:
		return "data_nothing_owed"
	}
	return ""
}

// DataPoolAddress holds the data module's escrow and contributor pools.
var DataPoolAddress = func() tx.Address {
	h := sha256.Sum256([]byte("provena/module/data"))
	var a tx.Address
	copy(a[:], h[:tx.AddressLen])
	return a
}()

// Limits of the data module's state.
const (
	// DataMaxVersions bounds the versions of one asset.
	DataMaxVersions = 1000
	// DataMaxOwned bounds the owner index of one account.
	DataMaxOwned = 1000
	// DataMaxGranted bounds the assets one account holds grants or
	// pending purchases of.
	DataMaxGranted = 1000
)

// State layout of the data module, under "d/".
var (
	prefixDataAsset    = []byte("d/a/") // <asset 32> -> AssetRecord JSON
	prefixDataVersion  = []byte("d/v/") // <asset 32><version 4> -> VersionRecord JSON
	prefixDataWrapped  = []byte("d/w/") // <asset 32><version 4><address 20> -> wrapped key bytes
	prefixDataBlob     = []byte("d/b/") // <blob root 32> -> asset id (32 bytes)
	prefixDataOwner    = []byte("d/o/") // <address 20> -> OwnerIndex JSON
	prefixDataKey      = []byte("d/k/") // <address 20> -> recipient text ("age1…")
	prefixDataReceipt  = []byte("d/r/") // <asset 32><seq 8> -> Receipt JSON
	prefixDataClaim    = []byte("d/c/") // <asset 32><version 4><address 20> -> claimed upv, 8 bytes
	prefixDataWithdraw = []byte("d/x/") // <asset 32><address 20> -> Withdrawal JSON
	prefixDataGrantee  = []byte("d/h/") // <address 20> -> GranteeIndex JSON
)

func dataKey(prefix []byte, parts ...[]byte) []byte {
	k := append([]byte(nil), prefix...)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// DataAssetKey and the other key functions are the state keys the data
// queries read, exported for proofs.
func DataAssetKey(id tx.DataHash) []byte { return dataKey(prefixDataAsset, id[:]) }

// DataVersionKey is the key of version v (1-based) of an asset.
func DataVersionKey(id tx.DataHash, v uint32) []byte {
	return dataKey(prefixDataVersion, id[:], be32(v))
}

// DataWrappedKey is the key of the asset key of version v wrapped to a.
func DataWrappedKey(id tx.DataHash, v uint32, a tx.Address) []byte {
	return dataKey(prefixDataWrapped, id[:], be32(v), a[:])
}

// DataBlobKey maps a blob root to the asset it is a version of.
func DataBlobKey(root tx.DataHash) []byte { return dataKey(prefixDataBlob, root[:]) }

// DataOwnerKey is the key of an account's owned-assets index.
func DataOwnerKey(a tx.Address) []byte { return dataKey(prefixDataOwner, a[:]) }

// DataGranteeKey is the key of an account's granted-assets index.
func DataGranteeKey(a tx.Address) []byte { return dataKey(prefixDataGrantee, a[:]) }

// DataRecipientKey is the key of an account's published data recipient.
func DataRecipientKey(a tx.Address) []byte { return dataKey(prefixDataKey, a[:]) }

// DataReceiptKey is the key of receipt seq (1-based) of an asset.
func DataReceiptKey(id tx.DataHash, seq uint64) []byte {
	return dataKey(prefixDataReceipt, id[:], be64(seq))
}

func dataClaimKey(id tx.DataHash, v uint32, a tx.Address) []byte {
	return dataKey(prefixDataClaim, id[:], be32(v), a[:])
}

func dataWithdrawKey(id tx.DataHash, a tx.Address) []byte {
	return dataKey(prefixDataWithdraw, id[:], a[:])
}

// Grant states.
const (
	GrantPending = "pending" // bought, price in escrow, waiting for the owner's key
	GrantActive  = "active"  // holds the current version's key
	GrantRevoked = "revoked" // revoked by the owner: left out of later versions
)

// GrantEntry is one account's access to an asset.
type GrantEntry struct {
	To    tx.Address `json:"to"`
	State string     `json:"state"`
	// Version is the latest version whose key To was given (0 if none).
	Version uint32 `json:"version"`
	// Escrow is the price held for a pending purchase.
	Escrow uint64 `json:"escrow"`
	Height int64  `json:"height"`
}

// AssetRecord is an asset's public record. Entries in Grants are sorted by
// address.
type AssetRecord struct {
	ID             tx.DataHash  `json:"id"`
	Owner          tx.Address   `json:"owner"`
	Name           string       `json:"name"`
	Licence        string       `json:"licence"`
	Price          uint64       `json:"price"`
	ContributorBps uint32       `json:"contributor_bps"`
	Versions       uint32       `json:"versions"`
	Grants         []GrantEntry `json:"grants"`
	// Earned is every upv paid for the asset (access and royalties);
	// ToOwner and ToContributors split it.
	Earned         uint64 `json:"earned"`
	ToOwner        uint64 `json:"to_owner"`
	ToContributors uint64 `json:"to_contributors"`
	Receipts       uint64 `json:"receipts"`
	Created        int64  `json:"created"`
}

func (r *AssetRecord) grant(a tx.Address) (int, bool) {
	for i, g := range r.Grants {
		if g.To == a {
			return i, true
		}
		if string(g.To[:]) > string(a[:]) {
			return i, false
		}
	}
	return len(r.Grants), false
}

// VersionRecord is one published version.
type VersionRecord struct {
	Version           uint32      `json:"version"`
	Root              tx.DataHash `json:"root"`
	Size              int64       `json:"size"`
	Contributors      tx.DataHash `json:"contributors"`
	ContributorCount  uint64      `json:"contributor_count"`
	ContributorWeight uint64      `json:"contributor_weight"`
	// Pool accrued to this version's contributors while it was current;
	// Claimed of it has been paid out.
	Pool    uint64       `json:"pool"`
	Claimed uint64       `json:"claimed"`
	Readers []tx.Address `json:"readers"` // who got this version's key, sorted
	Height  int64        `json:"height"`
}

// OwnerIndex lists the assets an account owns, sorted.
type OwnerIndex struct {
	Owner  tx.Address    `json:"owner"`
	Assets []tx.DataHash `json:"assets"`
}

// GranteeIndex lists the assets an account was granted or bought
// (pending, active or revoked: a revoked grantee keeps what it had), sorted.
type GranteeIndex struct {
	Grantee tx.Address    `json:"grantee"`
	Assets  []tx.DataHash `json:"assets"`
}

// Receipt records a payment for, or a use of, an asset.
type Receipt struct {
	Asset tx.DataHash `json:"asset"`
	Seq   uint64      `json:"seq"`
	// Kind is "access" (a purchase released by a grant) or "job" (a use in
	// a job, paid through PayRoyalties or recorded by RecordUsage).
	Kind           string     `json:"kind"`
	Job            string     `json:"job,omitempty"`
	Payer          tx.Address `json:"payer"`
	Version        uint32     `json:"version"`
	Amount         uint64     `json:"amount"`
	ToOwner        uint64     `json:"to_owner"`
	ToContributors uint64     `json:"to_contributors"`
	Height         int64      `json:"height"`
}

// Withdrawal records a contributor's withdrawal of consent: it may still
// claim from versions before Version in full and from Version up to
// PoolAtWithdrawal, and nothing later.
type Withdrawal struct {
	Version          uint32 `json:"version"`
	PoolAtWithdrawal uint64 `json:"pool_at_withdrawal"`
	Height           int64  `json:"height"`
}

func getJSON(ctx *Context, key []byte, v any) (bool, error) {
	b, err := ctx.Get(key)
	if err != nil || b == nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("decode %T at %x: %w", v, key, err)
	}
	return true, nil
}

func setJSON(ctx *Context, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %T: %w", v, err)
	}
	return ctx.Set(key, b)
}

func loadAsset(ctx *Context, id tx.DataHash) (*AssetRecord, error) {
	var r AssetRecord
	ok, err := getJSON(ctx, DataAssetKey(id), &r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, Fail(CodeDataUnknownAsset, "unknown asset %s", id)
	}
	return &r, nil
}

func loadVersion(ctx *Context, id tx.DataHash, v uint32) (*VersionRecord, error) {
	var r VersionRecord
	ok, err := getJSON(ctx, DataVersionKey(id, v), &r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, Fail(CodeDataUnknownAsset, "asset %s has no version %d", id, v)
	}
	return &r, nil
}

// moveBalance moves amount from one account to another (which may be the
// same account).
func moveBalance(ctx *Context, from, to tx.Address, amount uint64, what string) error {
	if amount == 0 || from == to {
		acc, err := ctx.Account(from)
		if err != nil {
			return err
		}
		if acc.Balance < amount {
			return Fail(CodeInsufficientFunds, "insufficient funds: %s has %d %s, %s needs %d %s", from, acc.Balance, Denom, what, amount, Denom)
		}
		return nil
	}
	src, err := ctx.Account(from)
	if err != nil {
		return err
	}
	if src.Balance < amount {
		return Fail(CodeInsufficientFunds, "insufficient funds: %s has %d %s, %s needs %d %s", from, src.Balance, Denom, what, amount, Denom)
	}
	src.Balance -= amount
	if err := ctx.SetAccount(from, &src); err != nil {
		return err
	}
	dst, err := ctx.Account(to)
	if err != nil {
		return err
	}
	if dst.Balance, err = add(dst.Balance, amount, what); err != nil {
		return err
	}
	return ctx.SetAccount(to, &dst)
}

// mulDiv returns a*b/c rounded down; c > 0 and the result fits because
// b <= c in every use.
func mulDiv(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	q, _ := bits.Div64(hi, lo, c)
	return q
}

// pay moves amount from the account from into an asset's earnings: the
// contributor share of it to the pool of the current version, the rest to
// the owner, and writes a receipt naming payer (the buyer, when from is the
// escrow). It returns the receipt.
func pay(ctx *Context, r *AssetRecord, from, payer tx.Address, amount uint64, kind, job string) (Receipt, error) {
	v, err := loadVersion(ctx, r.ID, r.Versions)
	if err != nil {
		return Receipt{}, err
	}
	toPool := uint64(0)
	if !v.Contributors.IsZero() {
		toPool = mulDiv(amount, uint64(r.ContributorBps), tx.BpsDenom)
	}
	toOwner := amount - toPool
	if err := moveBalance(ctx, from, r.Owner, toOwner, "payment to the asset owner"); err != nil {
		return Receipt{}, err
	}
	if err := moveBalance(ctx, from, DataPoolAddress, toPool, "payment to the contributor pool"); err != nil {
		return Receipt{}, err
	}
	if v.Pool, err = add(v.Pool, toPool, "contributor pool"); err != nil {
		return Receipt{}, err
	}
	if err := setJSON(ctx, DataVersionKey(r.ID, v.Version), v); err != nil {
		return Receipt{}, err
	}
	if r.Earned, err = add(r.Earned, amount, "asset earnings"); err != nil {
		return Receipt{}, err
	}
	r.ToOwner += toOwner // bounded by Earned
	r.ToContributors += toPool
	return writeReceipt(ctx, r, Receipt{Kind: kind, Job: job, Payer: payer, Amount: amount, ToOwner: toOwner, ToContributors: toPool})
}

// writeReceipt numbers rec, stores it and counts it in r (which the caller
// saves).
func writeReceipt(ctx *Context, r *AssetRecord, rec Receipt) (Receipt, error) {
	r.Receipts++
	rec.Asset, rec.Seq, rec.Version, rec.Height = r.ID, r.Receipts, r.Versions, ctx.Height()
	if err := setJSON(ctx, DataReceiptKey(r.ID, rec.Seq), rec); err != nil {
		return Receipt{}, err
	}
	ctx.Emit("data_receipt", "asset", r.ID.String(), "seq", u64(rec.Seq), "kind", rec.Kind, "job", rec.Job,
		"payer", rec.Payer.String(), "amount", u64(rec.Amount), "to_owner", u64(rec.ToOwner), "to_contributors", u64(rec.ToContributors))
	return rec, nil
}
