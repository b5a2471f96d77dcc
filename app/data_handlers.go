package app

import (
	"bytes"
	"encoding/binary"
	"sort"

	"github.com/provena/provena/merkle"
	"github.com/provena/provena/tx"
)

func init() {
	RegisterHandler(tx.TypeDataSetKey, HandlerFunc(handleDataSetKey))
	RegisterHandler(tx.TypeDataRegister, HandlerFunc(handleDataRegister))
	RegisterHandler(tx.TypeDataAddVersion, HandlerFunc(handleDataAddVersion))
	RegisterHandler(tx.TypeDataGrant, HandlerFunc(handleDataGrant))
	RegisterHandler(tx.TypeDataRevoke, HandlerFunc(handleDataRevoke))
	RegisterHandler(tx.TypeDataBuy, HandlerFunc(handleDataBuy))
	RegisterHandler(tx.TypeDataTransfer, HandlerFunc(handleDataTransfer))
	RegisterHandler(tx.TypeDataWithdrawConsent, HandlerFunc(handleDataWithdraw))
	RegisterHandler(tx.TypeDataClaim, HandlerFunc(handleDataClaim))
}

func handleDataSetKey(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgDataSetKey)
	if err := ctx.Set(DataRecipientKey(sender), []byte(msg.Recipient)); err != nil {
		return err
	}
	ctx.Emit("data_set_key", "address", sender.String(), "recipient", msg.Recipient)
	return nil
}

func saveAsset(ctx *Context, r *AssetRecord) error { return setJSON(ctx, DataAssetKey(r.ID), r) }

// putVersion checks and stores version n of r, with its wrapped keys.
// readers must be exactly the addresses the keys are for.
func putVersion(ctx *Context, r *AssetRecord, n uint32, v tx.DataVersion) error {
	if b, err := ctx.Get(DataBlobKey(v.Root)); err != nil {
		return err
	} else if b != nil {
		return Fail(CodeDataExists, "blob %s is already registered (asset %x)", v.Root, b)
	}
	vr := VersionRecord{
		Version: n, Root: v.Root, Size: v.Size,
		Contributors: v.Contributors, ContributorCount: v.ContributorCount, ContributorWeight: v.ContributorWeight,
		Height: ctx.Height(),
	}
	for _, k := range v.Keys {
		vr.Readers = append(vr.Readers, k.To)
		if err := ctx.Set(DataWrappedKey(r.ID, n, k.To), k.Key); err != nil {
			return err
		}
	}
	if err := ctx.Set(DataBlobKey(v.Root), r.ID[:]); err != nil {
		return err
	}
	return setJSON(ctx, DataVersionKey(r.ID, n), &vr)
}

func handleDataRegister(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgDataRegister)
	id := msg.Version.Root
	if b, err := ctx.Get(DataAssetKey(id)); err != nil {
		return err
	} else if b != nil {
		return Fail(CodeDataExists, "asset %s already exists", id)
	}
	if len(msg.Version.Keys) != 1 || msg.Version.Keys[0].To != sender {
		return Fail(CodeDataBadKeys, "a new asset carries exactly one wrapped key, for its owner %s", sender)
	}
	var idx OwnerIndex
	if _, err := getJSON(ctx, DataOwnerKey(sender), &idx); err != nil {
		return err
	}
	if len(idx.Assets) >= DataMaxOwned {
		return Fail(CodeDataLimit, "%s already owns %d assets, the limit", sender, len(idx.Assets))
	}
	r := &AssetRecord{
		ID: id, Owner: sender, Name: msg.Name, Licence: msg.Licence, Price: msg.Price,
		ContributorBps: msg.ContributorBps, Versions: 1, Grants: []GrantEntry{}, Created: ctx.Height(),
	}
	if err := putVersion(ctx, r, 1, msg.Version); err != nil {
		return err
	}
	if err := addOwned(ctx, sender, id); err != nil {
		return err
	}
	if err := saveAsset(ctx, r); err != nil {
		return err
	}
	ctx.Emit("data_register", "asset", id.String(), "owner", sender.String(), "name", msg.Name,
		"licence", msg.Licence, "price", u64(msg.Price), "size", i64(msg.Version.Size))
	return nil
}

func addOwned(ctx *Context, owner tx.Address, id tx.DataHash) error {
	return indexAdd(ctx, DataOwnerKey(owner), func(l []tx.DataHash) any { return &OwnerIndex{Owner: owner, Assets: l} }, id, DataMaxOwned, owner, "owns")
}

func removeOwned(ctx *Context, owner tx.Address, id tx.DataHash) error {
	return indexRemove(ctx, DataOwnerKey(owner), func(l []tx.DataHash) any { return &OwnerIndex{Owner: owner, Assets: l} }, id)
}

func addGranted(ctx *Context, a tx.Address, id tx.DataHash) error {
	return indexAdd(ctx, DataGranteeKey(a), func(l []tx.DataHash) any { return &GranteeIndex{Grantee: a, Assets: l} }, id, DataMaxGranted, a, "holds grants or purchases of")
}

func removeGranted(ctx *Context, a tx.Address, id tx.DataHash) error {
	return indexRemove(ctx, DataGranteeKey(a), func(l []tx.DataHash) any { return &GranteeIndex{Grantee: a, Assets: l} }, id)
}

// indexAdd inserts id into the sorted asset list stored at key (a no-op if
// present); wrap builds the stored record around the list.
func indexAdd(ctx *Context, key []byte, wrap func([]tx.DataHash) any, id tx.DataHash, limit int, who tx.Address, verb string) error {
	var idx struct {
		Assets []tx.DataHash `json:"assets"`
	}
	if _, err := getJSON(ctx, key, &idx); err != nil {
		return err
	}
	i := sort.Search(len(idx.Assets), func(i int) bool { return bytes.Compare(idx.Assets[i][:], id[:]) >= 0 })
	if i < len(idx.Assets) && idx.Assets[i] == id {
		return nil
	}
	if len(idx.Assets) >= limit {
		return Fail(CodeDataLimit, "%s already %s %d assets, the limit", who, verb, len(idx.Assets))
	}
	idx.Assets = append(idx.Assets, tx.DataHash{})
	copy(idx.Assets[i+1:], idx.Assets[i:])
	idx.Assets[i] = id
	return setJSON(ctx, key, wrap(idx.Assets))
}

func indexRemove(ctx *Context, key []byte, wrap func([]tx.DataHash) any, id tx.DataHash) error {
	var idx struct {
		Assets []tx.DataHash `json:"assets"`
	}
	if _, err := getJSON(ctx, key, &idx); err != nil {
		return err
	}
	out := idx.Assets[:0]
	for _, a := range idx.Assets {
		if a != id {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return ctx.Delete(key)
	}
	return setJSON(ctx, key, wrap(out))
}

// ownedAsset loads an asset the sender must own.
func ownedAsset(ctx *Context, sender tx.Address, id tx.DataHash, what string) (*AssetRecord, error) {
	r, err := loadAsset(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Owner != sender {
		return nil, Fail(CodeDataNotOwner, "%s: %s is not the owner of asset %s (owner is %s)", what, sender, id, r.Owner)
	}
	return r, nil
}

func handleDataAddVersion(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgDataAddVersion)
	r, err := ownedAsset(ctx, sender, msg.Asset, "add version")
	if err != nil {
		return err
	}
	if r.Versions >= DataMaxVersions {
		return Fail(CodeDataLimit, "asset %s has %d versions, the limit", r.ID, r.Versions)
	}
	// The keys must go to exactly the owner and the active grantees: a
	// revoked grantee, or anyone else, must not get the new key, and no
	// active grantee may be dropped silently (revoke them instead).
	want := map[tx.Address]bool{r.Owner: true}
	for _, g := range r.Grants {
		if g.State == GrantActive {
			want[g.To] = true
		}
	}
	for _, k := range msg.Version.Keys {
		if !want[k.To] {
			if i, ok := r.grant(k.To); ok && r.Grants[i].State == GrantRevoked {
				return Fail(CodeDataBadKeys, "new version carries a key for %s, whose grant was revoked", k.To)
			}
			return Fail(CodeDataBadKeys, "new version carries a key for %s, who is neither the owner nor an active grantee", k.To)
		}
		delete(want, k.To)
	}
	if len(want) > 0 {
		var missing []string
		for a := range want {
			missing = append(missing, a.String())
		}
		sort.Strings(missing)
		return Fail(CodeDataBadKeys, "new version lacks keys for %v (owner and active grantees need one)", missing)
	}
	r.Versions++
	if err := putVersion(ctx, r, r.Versions, msg.Version); err != nil {
		return err
	}
	for i := range r.Grants {
		if r.Grants[i].State == GrantActive {
			r.Grants[i].Version = r.Versions
		}
	}
	if err := saveAsset(ctx, r); err != nil {
		return err
	}
	ctx.Emit("data_add_version", "asset", r.ID.String(), "version", u64(uint64(r.Versions)), "root", msg.Version.Root.String(), "readers", u64(uint64(len(msg.Version.Keys))))
	return nil
}

func handleDataGrant(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgDataGrant)
	r, err := ownedAsset(ctx, sender, msg.Asset, "grant")
	if err != nil {
		return err
	}
	if msg.To == r.Owner {
		return Fail(CodeInvalidMsg, "grant: %s is the owner and already holds the key", msg.To)
	}
	i, ok := r.grant(msg.To)
	if !ok {
		if len(r.Grants) >= tx.DataMaxGrantees {
			return Fail(CodeDataLimit, "asset %s has %d grants, the limit", r.ID, len(r.Grants))
		}
		r.Grants = append(r.Grants, GrantEntry{})
		copy(r.Grants[i+1:], r.Grants[i:])
		r.Grants[i] = GrantEntry{To: msg.To}
		if err := addGranted(ctx, msg.To, r.ID); err != nil {
			return err
		}
	}
	g := &r.Grants[i]
	paid := uint64(0)
	if g.State == GrantPending {
		// Release the buyer's escrow, held by the pool account: the
		// owner's part leaves it, the contributors' part stays there as
		// the current version's pool.
		paid = g.Escrow
		g.Escrow = 0
		if _, err := pay(ctx, r, DataPoolAddress, msg.To, paid, "access", ""); err != nil {
			return err
		}
	}
	g.State, g.Version, g.Height = GrantActive, r.Versions, ctx.Height()
	if err := ctx.Set(DataWrappedKey(r.ID, r.Versions, msg.To), msg.Key); err != nil {
		return err
	}
	if err := addReader(ctx, r.ID, r.Versions, msg.To); err != nil {
		return err
	}
	if err := saveAsset(ctx, r); err != nil {
		return err
	}
	ctx.Emit("data_grant", "asset", r.ID.String(), "to", msg.To.String(), "version", u64(uint64(r.Versions)), "paid", u64(paid))
	return nil
}

func addReader(ctx *Context, id tx.DataHash, n uint32, a tx.Address) error {
	v, err := loadVersion(ctx, id, n)
	if err != nil {
		return err
	}
	i := sort.Search(len(v.Readers), func(i int) bool { return bytes.Compare(v.Readers[i][:], a[:]) >= 0 })
	if i < len(v.Readers) && v.Readers[i] == a {
		return nil
	}
	v.Readers = append(v.Readers, tx.Address{})
	copy(v.Readers[i+1:], v.Readers[i:])
	v.Readers[i] = a
	return setJSON(ctx, DataVersionKey(id, n), v)
}

func handleDataRevoke(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgDataRevoke)
	r, err := loadAsset(ctx, msg.Asset)
	if err != nil {
		return err
	}
	i, ok := r.grant(msg.Grantee)
	if sender != r.Owner {
		// A buyer may cancel its own purchase while it waits for a key.
		if sender != msg.Grantee {
			return Fail(CodeDataNotOwner, "revoke: %s is not the owner of asset %s (owner is %s)", sender, r.ID, r.Owner)
		}
		if !ok || r.Grants[i].State != GrantPending {
			return Fail(CodeDataNoGrant, "revoke: %s has no pending purchase of asset %s to cancel", sender, r.ID)
		}
		if err := moveBalance(ctx, DataPoolAddress, sender, r.Grants[i].Escrow, "refund"); err != nil {
			return err
		}
		ctx.Emit("data_cancel", "asset", r.ID.String(), "buyer", sender.String(), "refund", u64(r.Grants[i].Escrow))
		r.Grants = append(r.Grants[:i], r.Grants[i+1:]...)
		if err := removeGranted(ctx, sender, r.ID); err != nil {
			return err
		}
		return saveAsset(ctx, r)
	}
	if !ok || r.Grants[i].State == GrantRevoked {
		return Fail(CodeDataNoGrant, "revoke: %s has no grant on asset %s", msg.Grantee, r.ID)
	}
	g := &r.Grants[i]
	refund := g.Escrow
	if err := moveBalance(ctx, DataPoolAddress, g.To, refund, "refund"); err != nil {
		return err
	}
	g.State, g.Escrow, g.Height = GrantRevoked, 0, ctx.Height()
	if err := saveAsset(ctx, r); err != nil {
		return err
	}
	ctx.Emit("data_revoke", "asset", r.ID.String(), "grantee", msg.Grantee.String(), "refund", u64(refund))
	return nil
}

func handleDataBuy(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgDataBuy)
	r, err := loadAsset(ctx, msg.Asset)
	if err != nil {
		return err
	}
	if sender == r.Owner {
		return Fail(CodeInvalidMsg, "buy: %s owns asset %s", sender, r.ID)
	}
	if r.Price > msg.MaxPrice {
		return Fail(CodeInvalidMsg, "buy: asset %s costs %d %s, more than max_price %d", r.ID, r.Price, Denom, msg.MaxPrice)
	}
	i, ok := r.grant(sender)
	if ok {
		return Fail(CodeDataNoGrant, "buy: %s already has a %s grant on asset %s", sender, r.Grants[i].State, r.ID)
	}
	if len(r.Grants) >= tx.DataMaxGrantees {
		return Fail(CodeDataLimit, "asset %s has %d grants, the limit", r.ID, len(r.Grants))
	}
	if err := moveBalance(ctx, sender, DataPoolAddress, r.Price, "purchase escrow"); err != nil {
		return err
	}
	r.Grants = append(r.Grants, GrantEntry{})
	copy(r.Grants[i+1:], r.Grants[i:])
	r.Grants[i] = GrantEntry{To: sender, State: GrantPending, Escrow: r.Price, Height: ctx.Height()}
	if err := addGranted(ctx, sender, r.ID); err != nil {
		return err
	}
	if err := saveAsset(ctx, r); err != nil {
		return err
	}
	ctx.Emit("data_buy", "asset", r.ID.String(), "buyer", sender.String(), "escrow", u64(r.Price))
	return nil
}

func handleDataTransfer(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgDataTransfer)
	r, err := ownedAsset(ctx, sender, msg.Asset, "transfer")
	if err != nil {
		return err
	}
	if msg.To == sender {
		return Fail(CodeInvalidMsg, "transfer: %s already owns asset %s", sender, r.ID)
	}
	if i, ok := r.grant(msg.To); ok {
		if r.Grants[i].State == GrantPending {
			return Fail(CodeDataNoGrant, "transfer: %s has a pending purchase of asset %s; grant or revoke it first", msg.To, r.ID)
		}
		r.Grants = append(r.Grants[:i], r.Grants[i+1:]...)
		if err := removeGranted(ctx, msg.To, r.ID); err != nil {
			return err
		}
	}
	if err := removeOwned(ctx, sender, r.ID); err != nil {
		return err
	}
	if err := addOwned(ctx, msg.To, r.ID); err != nil {
		return err
	}
	r.Owner = msg.To
	if err := ctx.Set(DataWrappedKey(r.ID, r.Versions, msg.To), msg.Key); err != nil {
		return err
	}
	if err := addReader(ctx, r.ID, r.Versions, msg.To); err != nil {
		return err
	}
	if err := saveAsset(ctx, r); err != nil {
		return err
	}
	ctx.Emit("data_transfer", "asset", r.ID.String(), "from", sender.String(), "to", msg.To.String())
	return nil
}

// verifyContributor checks sender's leaf in version p.Version of r.
func verifyContributor(ctx *Context, r *AssetRecord, sender tx.Address, p tx.ContributorProof) (*VersionRecord, error) {
	if p.Version == 0 || p.Version > r.Versions {
		return nil, Fail(CodeDataUnknownAsset, "asset %s has no version %d", r.ID, p.Version)
	}
	v, err := loadVersion(ctx, r.ID, p.Version)
	if err != nil {
		return nil, err
	}
	if v.Contributors.IsZero() {
		return nil, Fail(CodeDataBadProof, "version %d of asset %s names no contributors", p.Version, r.ID)
	}
	if p.Index >= v.ContributorCount || v.ContributorCount > 1<<40 {
		return nil, Fail(CodeDataBadProof, "contributor index %d out of range (version %d has %d)", p.Index, p.Version, v.ContributorCount)
	}
	proof := make([]merkle.Hash, len(p.Proof))
	for i, h := range p.Proof {
		proof[i] = merkle.Hash(h)
	}
	if err := merkle.Verify(merkle.Hash(v.Contributors), int(p.Index), int(v.ContributorCount), tx.ContributorLeaf(sender, p.Weight), proof); err != nil {
		return nil, Fail(CodeDataBadProof, "contributor proof for %s (weight %d, index %d) does not verify against version %d: %v", sender, p.Weight, p.Index, p.Version, err)
	}
	if p.Weight > v.ContributorWeight {
		return nil, Fail(CodeDataBadProof, "contributor weight %d exceeds the version's total %d", p.Weight, v.ContributorWeight)
	}
	return v, nil
}

func handleDataWithdraw(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgDataWithdrawConsent)
	r, err := loadAsset(ctx, msg.Asset)
	if err != nil {
		return err
	}
	var w Withdrawal
	if ok, err := getJSON(ctx, dataWithdrawKey(r.ID, sender), &w); err != nil {
		return err
	} else if ok {
		return Fail(CodeDataConsent, "%s already withdrew consent from asset %s at version %d", sender, r.ID, w.Version)
	}
	if msg.Leaf.Version != r.Versions {
		return Fail(CodeDataBadProof, "withdrawal must prove membership of the current version %d, not %d", r.Versions, msg.Leaf.Version)
	}
	v, err := verifyContributor(ctx, r, sender, msg.Leaf)
	if err != nil {
		return err
	}
	w = Withdrawal{Version: v.Version, PoolAtWithdrawal: v.Pool, Height: ctx.Height()}
	if err := setJSON(ctx, dataWithdrawKey(r.ID, sender), &w); err != nil {
		return err
	}
	ctx.Emit("data_withdraw_consent", "asset", r.ID.String(), "contributor", sender.String(), "version", u64(uint64(v.Version)))
	return nil
}

func handleDataClaim(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgDataClaim)
	r, err := loadAsset(ctx, msg.Asset)
	if err != nil {
		return err
	}
	v, err := verifyContributor(ctx, r, sender, msg.Leaf)
	if err != nil {
		return err
	}
	pool := v.Pool
	var w Withdrawal
	if ok, err := getJSON(ctx, dataWithdrawKey(r.ID, sender), &w); err != nil {
		return err
	} else if ok {
		switch {
		case v.Version > w.Version:
			return Fail(CodeDataConsent, "%s withdrew consent at version %d and earns nothing from version %d", sender, w.Version, v.Version)
		case v.Version == w.Version:
			pool = w.PoolAtWithdrawal
		}
	}
	due := mulDiv(pool, msg.Leaf.Weight, v.ContributorWeight)
	ck := dataClaimKey(r.ID, v.Version, sender)
	var claimed uint64
	if b, err := ctx.Get(ck); err != nil {
		return err
	} else if len(b) == 8 {
		claimed = binary.BigEndian.Uint64(b)
	}
	if due <= claimed {
		return Fail(CodeDataNothingOwed, "nothing to claim: %s has claimed %d of its %d %s share of version %d", sender, claimed, due, Denom, v.Version)
	}
	amount := due - claimed
	// Weights the owner declared may sum past the total; the pool can
	// never pay out more than it took in.
	if amount > v.Pool-v.Claimed {
		return Fail(CodeDataNothingOwed, "version %d's pool has %d %s left, the claim needs %d (the contributor weights exceed the declared total)", v.Version, v.Pool-v.Claimed, Denom, amount)
	}
	if err := moveBalance(ctx, DataPoolAddress, sender, amount, "contributor claim"); err != nil {
		return err
	}
	v.Claimed += amount
	if err := setJSON(ctx, DataVersionKey(r.ID, v.Version), v); err != nil {
		return err
	}
	if err := ctx.Set(ck, be64(due)); err != nil {
		return err
	}
	ctx.Emit("data_claim", "asset", r.ID.String(), "contributor", sender.String(), "version", u64(uint64(v.Version)), "amount", u64(amount))
	return nil
}
