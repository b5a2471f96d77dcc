package app_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
	"github.com/provena/provena/merkle"
	"github.com/provena/provena/tx"
	"github.com/provena/provena/vault"
)

// dataTestRoyalty is a test-only message (type 299, the end of the data
// range) whose handler calls app.PayRoyalties and app.RecordUsage the way
// the opML module does from its own handlers.
type dataTestRoyalty struct {
	Job       string        `json:"job"`
	Royalties []app.Royalty `json:"royalties"`
	Amount    uint64        `json:"amount"`
	Record    tx.DataHash   `json:"record"`
}

const typeDataTestRoyalty tx.MsgType = 299

func (dataTestRoyalty) Type() tx.MsgType { return typeDataTestRoyalty }
func (m dataTestRoyalty) AppendBody(b []byte) []byte {
	j, _ := json.Marshal(m)
	return append(b, j...)
}
func (dataTestRoyalty) ValidateBasic() error { return nil }

var lastPayouts []app.Payout

func init() {
	tx.RegisterMsg(typeDataTestRoyalty, "data_test_royalty", func(b []byte) (tx.Msg, error) {
		var m dataTestRoyalty
		err := json.Unmarshal(b, &m)
		return m, err
	})
	app.RegisterHandler(typeDataTestRoyalty, app.HandlerFunc(func(ctx *app.Context, sender tx.Address, m tx.Msg) error {
		msg := m.(dataTestRoyalty)
		p, err := app.PayRoyalties(ctx, sender, msg.Job, msg.Royalties, msg.Amount)
		if err != nil {
			return err
		}
		if !msg.Record.IsZero() {
			if _, err := app.RecordUsage(ctx, msg.Record, msg.Job, sender, 0); err != nil {
				return err
			}
		}
		if !ctx.IsCheck() {
			lastPayouts = p
		}
		return nil
	}))
}

type dataChain struct {
	t    *testing.T
	a    *app.App
	keys []ed25519.PrivateKey
}

const dataFee = 10

func newDataChain(t *testing.T, keys ...ed25519.PrivateKey) *dataChain {
	a := app.OpenMem()
	t.Cleanup(func() { a.Close() })
	if _, err := a.InitChain(apptest.ChainID, apptest.Genesis(app.DefaultParams(), 1_000_000, keys...)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExecuteBlock(app.Block{Height: 1, Time: time.Unix(1_700_000_000, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	return &dataChain{t: t, a: a, keys: keys}
}

// run executes msgs from k, one tx each, in one committed block.
func (c *dataChain) run(k ed25519.PrivateKey, msgs ...tx.Msg) []app.Result {
	c.t.Helper()
	var txs [][]byte
	a := apptest.Addr(k)
	var acc app.AccountJSON
	json.Unmarshal(c.query(app.QueryAccount, a.String()), &acc)
	for i, m := range msgs {
		txs = append(txs, apptest.Sign(k, acc.Nonce+uint64(i), dataFee, m))
	}
	h, _ := c.a.Info()
	res, err := c.a.ExecuteBlock(app.Block{Height: h + 1, Time: time.Unix(1_700_000_000+h, 0), Proposer: apptest.Addr(apptest.Key(99)), Txs: txs})
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.a.Commit(); err != nil {
		c.t.Fatal(err)
	}
	return res.TxResults
}

func (c *dataChain) ok(k ed25519.PrivateKey, m tx.Msg) app.Result {
	c.t.Helper()
	r := c.run(k, m)[0]
	if r.Code != app.CodeOK {
		c.t.Fatalf("%s: code %d: %s", tx.MsgName(m.Type()), r.Code, r.Log)
	}
	return r
}

// fails runs m and checks its code and log, and that the data module's
// state did not change.
func (c *dataChain) fails(k ed25519.PrivateKey, m tx.Msg, code uint32, log string, asset tx.DataHash) {
	c.t.Helper()
	before := c.query(app.QueryDataAsset, asset.String())
	r := c.run(k, m)[0]
	if r.Code != code || !strings.Contains(r.Log, log) {
		c.t.Errorf("%s: code %d %q, want %d %q", tx.MsgName(m.Type()), r.Code, r.Log, code, log)
	}
	if after := c.query(app.QueryDataAsset, asset.String()); !bytes.Equal(before, after) {
		c.t.Errorf("%s: failed message changed the asset:\n%s\n%s", tx.MsgName(m.Type()), before, after)
	}
}

func (c *dataChain) query(path, data string) json.RawMessage {
	c.t.Helper()
	r := c.a.Query(path, []byte(data), 0, false)
	if r.Code != app.CodeOK {
		c.t.Fatalf("query %s %s: %d %s", path, data, r.Code, r.Log)
	}
	return r.Value
}

func (c *dataChain) asset(id tx.DataHash) app.AssetRecord {
	var r app.AssetRecord
	json.Unmarshal(c.query(app.QueryDataAsset, id.String()), &r)
	return r
}

func (c *dataChain) version(id tx.DataHash, v int) app.VersionRecord {
	var r app.VersionRecord
	json.Unmarshal(c.query(app.QueryDataVersion, fmt.Sprintf("%s/%d", id, v)), &r)
	return r
}

func (c *dataChain) balance(a tx.Address) uint64 {
	var j app.AccountJSON
	json.Unmarshal(c.query(app.QueryAccount, a.String()), &j)
	return j.Balance
}

func (c *dataChain) wrapped(id tx.DataHash, v int, a tx.Address) []byte {
	var j *app.WrappedKeyJSON
	json.Unmarshal(c.query(app.QueryDataWrapped, fmt.Sprintf("%s/%d/%s", id, v, a)), &j)
	if j == nil {
		return nil
	}
	return j.Key
}

// checkSupply: balances of every account involved plus burned fees equal
// the genesis supply.
func (c *dataChain) checkSupply(extra ...tx.Address) {
	c.t.Helper()
	var s app.SupplyJSON
	json.Unmarshal(c.query(app.QuerySupply, ""), &s)
	sum := s.Burned + s.Bonded + s.Unbonding
	addrs := append([]tx.Address{app.DataPoolAddress, apptest.Addr(apptest.Key(99))}, extra...)
	for _, k := range c.keys {
		addrs = append(addrs, apptest.Addr(k))
	}
	for _, a := range addrs {
		sum += c.balance(a)
	}
	if sum != s.GenesisSupply {
		c.t.Fatalf("supply broken: accounted %d, genesis %d", sum, s.GenesisSupply)
	}
}

type contributor struct {
	addr   tx.Address
	weight uint64
}

func contributorTree(t *testing.T, cs []contributor) (root tx.DataHash, proofs [][]tx.DataHash, total uint64) {
	var leaves []merkle.Hash
	for _, c := range cs {
		leaves = append(leaves, merkle.LeafHash(tx.ContributorLeaf(c.addr, c.weight)))
		total += c.weight
	}
	tr, err := merkle.New(leaves)
	if err != nil {
		t.Fatal(err)
	}
	for i := range cs {
		p, _ := tr.Prove(i)
		var ps []tx.DataHash
		for _, h := range p {
			ps = append(ps, tx.DataHash(h))
		}
		proofs = append(proofs, ps)
	}
	return tx.DataHash(tr.Root()), proofs, total
}

func identity(t *testing.T, k ed25519.PrivateKey) *age.X25519Identity {
	id, err := vault.AccountIdentity(k)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func wrap(t *testing.T, key *age.X25519Identity, to ed25519.PrivateKey) []byte {
	w, err := vault.WrapKey(key, identity(t, to).Recipient())
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// encryptVersion encrypts plain under a new asset key and returns the key,
// the ciphertext and the blob root of the ciphertext.
func encryptVersion(t *testing.T, plain []byte) (*age.X25519Identity, []byte, tx.DataHash) {
	k, _ := vault.NewAssetKey()
	var ct bytes.Buffer
	if err := vault.Encrypt(&ct, bytes.NewReader(plain), k); err != nil {
		t.Fatal(err)
	}
	tr, _ := merkle.FromData(ct.Bytes(), 256<<10, 1)
	return k, ct.Bytes(), tx.DataHash(tr.Root())
}

func decryptWith(t *testing.T, wrapped, ct []byte, who ed25519.PrivateKey) ([]byte, error) {
	if wrapped == nil {
		return nil, errors.New("no wrapped key on chain")
	}
	k, err := vault.UnwrapKey(wrapped, identity(t, who))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	err = vault.Decrypt(&out, bytes.NewReader(ct), k)
	return out.Bytes(), err
}

func TestDataLifecycle(t *testing.T) {
	alice, bob, dave := apptest.Key(201), apptest.Key(202), apptest.Key(203)
	c1, c2 := apptest.Key(204), apptest.Key(205)
	A, B, D := apptest.Addr(alice), apptest.Addr(bob), apptest.Addr(dave)
	c := newDataChain(t, alice, bob, dave, c1, c2)

	for _, k := range []ed25519.PrivateKey{alice, bob, dave} {
		c.ok(k, tx.MsgDataSetKey{Recipient: identity(t, k).Recipient().String()})
	}
	var dk app.DataKeyJSON
	json.Unmarshal(c.query(app.QueryDataRecipient, B.String()), &dk)
	if dk.Recipient != identity(t, bob).Recipient().String() {
		t.Fatalf("bob's published key %+v", dk)
	}

	plain := []byte(strings.Repeat("match,white,black,result\n", 1000))
	k1, ct1, root1 := encryptVersion(t, plain)
	croot, proofs, total := contributorTree(t, []contributor{{apptest.Addr(c1), 3}, {apptest.Addr(c2), 1}})
	reg := tx.MsgDataRegister{
		Name: "match logs", Licence: "CC-BY-4.0", Price: 1000, ContributorBps: 2000,
		Version: tx.DataVersion{Root: root1, Size: int64(len(ct1)), Contributors: croot, ContributorCount: 2, ContributorWeight: total,
			Keys: []tx.WrappedKey{{To: A, Key: wrap(t, k1, alice)}}},
	}
	c.ok(alice, reg)
	id := root1
	if got := c.asset(id); got.Owner != A || got.Versions != 1 || got.Price != 1000 || got.Name != "match logs" {
		t.Fatalf("asset %+v", got)
	}
	var idx app.OwnerIndex
	json.Unmarshal(c.query(app.QueryDataOwner, A.String()), &idx)
	if len(idx.Assets) != 1 || idx.Assets[0] != id {
		t.Fatalf("owner index %+v", idx)
	}
	var ba app.BlobAssetJSON
	json.Unmarshal(c.query(app.QueryDataBlob, root1.String()), &ba)
	if ba.Asset != id {
		t.Fatalf("blob index %+v", ba)
	}
	if got, err := decryptWith(t, c.wrapped(id, 1, A), ct1, alice); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("owner cannot decrypt: %v", err)
	}

	// Bad input: each a clear code, no state change.
	_, _, otherRoot := encryptVersion(t, []byte("x"))
	bobKey := wrap(t, k1, bob)
	bad := reg
	bad.Version.Keys = []tx.WrappedKey{{To: B, Key: bobKey}}
	bad.Version.Root = otherRoot
	big := reg
	big.Version.Size = 1<<30 + 1
	c.fails(bob, tx.MsgDataGrant{Asset: id, To: B, Key: bobKey}, app.CodeDataNotOwner, "is not the owner of asset", id)
	c.fails(alice, tx.MsgDataGrant{Asset: otherRoot, To: B, Key: bobKey}, app.CodeDataUnknownAsset, "unknown asset", id)
	c.fails(alice, tx.MsgDataGrant{Asset: id, To: B, Key: bobKey[:50]}, app.CodeInvalidMsg, "wrapped key", id)
	c.fails(alice, tx.MsgDataGrant{Asset: id, To: B, Key: []byte("not age")}, app.CodeInvalidMsg, "not an age file", id)
	c.fails(alice, reg, app.CodeDataExists, "already exists", id)
	c.fails(alice, bad, app.CodeDataBadKeys, "exactly one wrapped key, for its owner", id)
	c.fails(alice, big, app.CodeInvalidMsg, "out of range", id)
	c.fails(bob, tx.MsgDataBuy{Asset: id, MaxPrice: 999}, app.CodeInvalidMsg, "more than max_price", id)
	c.fails(bob, tx.MsgDataRevoke{Asset: id, Grantee: B}, app.CodeDataNoGrant, "no pending purchase", id)
	c.fails(bob, tx.MsgDataTransfer{Asset: id, To: B, Key: bobKey}, app.CodeDataNotOwner, "not the owner", id)
	c.fails(bob, tx.MsgDataSetKey{Recipient: "age1nope"}, app.CodeInvalidMsg, "malformed recipient", id)
	c.checkSupply()

	// Bob buys: the price goes to escrow until alice grants.
	bob0, alice0 := c.balance(B), c.balance(A)
	c.ok(bob, tx.MsgDataBuy{Asset: id, MaxPrice: 1000})
	if got := c.asset(id).Grants; len(got) != 1 || got[0].State != app.GrantPending || got[0].Escrow != 1000 {
		t.Fatalf("grants after buy %+v", got)
	}
	if c.balance(B) != bob0-1000-dataFee || c.balance(app.DataPoolAddress) != 1000 {
		t.Fatalf("escrow: bob %d pool %d", c.balance(B), c.balance(app.DataPoolAddress))
	}
	c.fails(bob, tx.MsgDataBuy{Asset: id, MaxPrice: 1000}, app.CodeDataNoGrant, "already has a pending grant", id)
	var gi app.GranteeIndex
	json.Unmarshal(c.query(app.QueryDataGranted, B.String()), &gi)
	if gi.Grantee != B || len(gi.Assets) != 1 || gi.Assets[0] != id {
		t.Fatalf("bob's granted index %+v", gi)
	}
	if got := c.wrapped(id, 1, B); got != nil {
		t.Fatal("bob has a key before the grant")
	}
	c.ok(alice, tx.MsgDataGrant{Asset: id, To: B, Key: bobKey})
	// 20% of 1000 to the contributors' pool, 800 to alice.
	if got := c.balance(A); got != alice0+800-dataFee {
		t.Fatalf("alice after grant %d, want %d", got, alice0+800-dataFee)
	}
	if v := c.version(id, 1); v.Pool != 200 || c.balance(app.DataPoolAddress) != 200 {
		t.Fatalf("pool %+v, account %d", v, c.balance(app.DataPoolAddress))
	}
	var rec app.Receipt
	json.Unmarshal(c.query(app.QueryDataReceipt, id.String()+"/1"), &rec)
	if rec.Kind != "access" || rec.Payer != B || rec.Amount != 1000 || rec.ToOwner != 800 {
		t.Fatalf("receipt %+v", rec)
	}
	if got, err := decryptWith(t, c.wrapped(id, 1, B), ct1, bob); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("grantee cannot decrypt: %v", err)
	}
	if _, err := decryptWith(t, c.wrapped(id, 1, B), ct1, dave); err == nil {
		t.Fatal("dave decrypted with bob's wrapped key")
	}
	c.checkSupply()

	// Royalties from a job: 30% of 5000 to this asset, paid by dave.
	dave0 := c.balance(D)
	c.ok(dave, dataTestRoyalty{Job: "job-1", Royalties: []app.Royalty{{Asset: id, Bps: 3000}}, Amount: 5000, Record: id})
	if len(lastPayouts) != 1 || lastPayouts[0].Amount != 1500 || lastPayouts[0].ToOwner != 1200 || lastPayouts[0].ToContributors != 300 {
		t.Fatalf("payouts %+v", lastPayouts)
	}
	if c.balance(D) != dave0-1500-dataFee {
		t.Fatalf("dave paid %d", dave0-c.balance(D))
	}
	json.Unmarshal(c.query(app.QueryDataReceipt, id.String()+"/3"), &rec)
	if rec.Kind != "job" || rec.Job != "job-1" || rec.Payer != D || rec.Amount != 0 {
		t.Fatalf("usage receipt %+v", rec)
	}
	c.fails(dave, dataTestRoyalty{Royalties: []app.Royalty{{Asset: id, Bps: 3000}, {Asset: otherRoot, Bps: 10}}, Amount: 5000}, app.CodeDataUnknownAsset, "unknown asset", id)
	c.fails(dave, dataTestRoyalty{Royalties: []app.Royalty{{Asset: id, Bps: 10001}}, Amount: 5000}, app.CodeInvalidMsg, "over 10000", id)
	c.fails(dave, dataTestRoyalty{Royalties: []app.Royalty{{Asset: id, Bps: 10000}}, Amount: 5_000_000}, app.CodeInsufficientFunds, "insufficient funds", id)

	// Contributors: pool of version 1 is 500; c1 has weight 3 of 4.
	claim := func(k ed25519.PrivateKey, i, v int) tx.MsgDataClaim {
		w := []uint64{3, 1}[i]
		return tx.MsgDataClaim{Asset: id, Leaf: tx.ContributorProof{Version: uint32(v), Index: uint64(i), Weight: w, Proof: proofs[i]}}
	}
	c1b := c.balance(apptest.Addr(c1))
	c.ok(c1, claim(c1, 0, 1))
	if got := c.balance(apptest.Addr(c1)) - c1b; got != 375-dataFee {
		t.Fatalf("c1 claimed %d", got+dataFee)
	}
	c.fails(c1, claim(c1, 0, 1), app.CodeDataNothingOwed, "nothing to claim", id)
	forged := claim(c2, 1, 1)
	forged.Leaf.Weight = 3
	c.fails(c2, forged, app.CodeDataBadProof, "does not verify", id)
	c.fails(c2, claim(c2, 0, 1), app.CodeDataBadProof, "does not verify", id) // c1's leaf

	// c2 withdraws consent; a later payment does not reach it.
	c.ok(c2, tx.MsgDataWithdrawConsent{Asset: id, Leaf: claim(c2, 1, 1).Leaf})
	c.fails(c2, tx.MsgDataWithdrawConsent{Asset: id, Leaf: claim(c2, 1, 1).Leaf}, app.CodeDataConsent, "already withdrew", id)
	c.ok(dave, dataTestRoyalty{Job: "job-2", Royalties: []app.Royalty{{Asset: id, Bps: 10000}}, Amount: 1000})
	c2b := c.balance(apptest.Addr(c2))
	c.ok(c2, claim(c2, 1, 1))
	if got := c.balance(apptest.Addr(c2)) - c2b; got != 125-dataFee { // 500/4, not 700/4
		t.Fatalf("withdrawn c2 claimed %d", got+dataFee)
	}
	c.checkSupply()

	// Revoke bob; version 2 must leave him out.
	c.ok(alice, tx.MsgDataRevoke{Asset: id, Grantee: B})
	c.fails(alice, tx.MsgDataRevoke{Asset: id, Grantee: B}, app.CodeDataNoGrant, "no grant", id)
	k2, ct2, root2 := encryptVersion(t, append(plain, "more games\n"...))
	croot2, proofs2, total2 := contributorTree(t, []contributor{{apptest.Addr(c1), 3}, {apptest.Addr(c2), 1}})
	v2 := tx.DataVersion{Root: root2, Size: int64(len(ct2)), Contributors: croot2, ContributorCount: 2, ContributorWeight: total2}
	withBob := v2
	withBob.Keys = sortedKeys(tx.WrappedKey{To: A, Key: wrap(t, k2, alice)}, tx.WrappedKey{To: B, Key: wrap(t, k2, bob)})
	c.fails(alice, tx.MsgDataAddVersion{Asset: id, Version: withBob}, app.CodeDataBadKeys, "was revoked", id)
	noOwner := v2
	noOwner.Keys = []tx.WrappedKey{{To: D, Key: wrap(t, k2, dave)}}
	c.fails(alice, tx.MsgDataAddVersion{Asset: id, Version: noOwner}, app.CodeDataBadKeys, "neither the owner nor an active grantee", id)
	reuse := v2
	reuse.Root = root1
	reuse.Keys = []tx.WrappedKey{{To: A, Key: wrap(t, k2, alice)}}
	c.fails(alice, tx.MsgDataAddVersion{Asset: id, Version: reuse}, app.CodeDataExists, "already registered", id)
	v2.Keys = []tx.WrappedKey{{To: A, Key: wrap(t, k2, alice)}}
	c.fails(bob, tx.MsgDataAddVersion{Asset: id, Version: v2}, app.CodeDataNotOwner, "not the owner", id)
	c.ok(alice, tx.MsgDataAddVersion{Asset: id, Version: v2})
	if got := c.asset(id); got.Versions != 2 || got.Grants[0].State != app.GrantRevoked {
		t.Fatalf("after v2 %+v", got)
	}
	if _, err := decryptWith(t, c.wrapped(id, 2, B), ct2, bob); err == nil {
		t.Fatal("revoked bob decrypted version 2")
	}
	if _, err := decryptWith(t, c.wrapped(id, 1, B), ct2, bob); err == nil {
		t.Fatal("bob's version-1 key opened version 2")
	}
	if got, err := decryptWith(t, c.wrapped(id, 2, A), ct2, alice); err != nil || !bytes.HasSuffix(got, []byte("more games\n")) {
		t.Fatalf("owner v2: %v", err)
	}
	// What bob already had stays readable: it cannot be recalled.
	if got, err := decryptWith(t, c.wrapped(id, 1, B), ct1, bob); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("bob's v1 copy: %v", err)
	}
	// c2 withdrew: nothing from version 2, even though the owner left it in.
	c.ok(dave, dataTestRoyalty{Job: "job-3", Royalties: []app.Royalty{{Asset: id, Bps: 10000}}, Amount: 400})
	c.fails(c2, tx.MsgDataClaim{Asset: id, Leaf: tx.ContributorProof{Version: 2, Index: 1, Weight: 1, Proof: proofs2[1]}}, app.CodeDataConsent, "withdrew consent", id)
	c.ok(c1, tx.MsgDataClaim{Asset: id, Leaf: tx.ContributorProof{Version: 2, Index: 0, Weight: 3, Proof: proofs2[0]}})

	// Dave buys then cancels: refunded.
	dave1 := c.balance(D)
	c.ok(dave, tx.MsgDataBuy{Asset: id, MaxPrice: 5000})
	c.ok(dave, tx.MsgDataRevoke{Asset: id, Grantee: D})
	if c.balance(D) != dave1-2*dataFee {
		t.Fatalf("dave not refunded: %d -> %d", dave1, c.balance(D))
	}
	if got := c.asset(id).Grants; len(got) != 1 {
		t.Fatalf("cancelled purchase left a grant: %+v", got)
	}
	json.Unmarshal(c.query(app.QueryDataGranted, D.String()), &gi)
	if len(gi.Assets) != 0 {
		t.Fatalf("cancelled purchase left dave indexed: %+v", gi)
	}

	// Transfer to dave, with the current key wrapped to him.
	c.ok(alice, tx.MsgDataTransfer{Asset: id, To: D, Key: wrap(t, k2, dave)})
	if got := c.asset(id); got.Owner != D {
		t.Fatalf("owner %s", got.Owner)
	}
	json.Unmarshal(c.query(app.QueryDataOwner, A.String()), &idx)
	if len(idx.Assets) != 0 {
		t.Fatalf("alice still indexed as owner: %+v", idx)
	}
	json.Unmarshal(c.query(app.QueryDataOwner, D.String()), &idx)
	if len(idx.Assets) != 1 || idx.Assets[0] != id {
		t.Fatalf("dave's index %+v", idx)
	}
	if got, err := decryptWith(t, c.wrapped(id, 2, D), ct2, dave); err != nil || !bytes.HasSuffix(got, []byte("more games\n")) {
		t.Fatalf("new owner cannot decrypt: %v", err)
	}
	c.fails(alice, tx.MsgDataGrant{Asset: id, To: B, Key: bobKey}, app.CodeDataNotOwner, "not the owner", id)

	// The pool account holds exactly the unclaimed pools.
	var held uint64
	for v := 1; v <= 2; v++ {
		vr := c.version(id, v)
		held += vr.Pool - vr.Claimed
	}
	if got := c.balance(app.DataPoolAddress); got != held {
		t.Fatalf("pool account %d, unclaimed pools %d", got, held)
	}
	got := c.asset(id)
	if got.Earned != 1000+1500+1000+400 || got.ToOwner+got.ToContributors != got.Earned {
		t.Fatalf("earnings %+v", got)
	}
	c.checkSupply()
}

func sortedKeys(ks ...tx.WrappedKey) []tx.WrappedKey {
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && bytes.Compare(ks[j-1].To[:], ks[j].To[:]) > 0; j-- {
			ks[j-1], ks[j] = ks[j], ks[j-1]
		}
	}
	return ks
}

func TestDataQueries(t *testing.T) {
	alice := apptest.Key(201)
	c := newDataChain(t, alice)
	cases := []struct {
		path, data string
		code       uint32
		want       string
	}{
		{app.QueryDataAsset, strings.Repeat("ab", 32), app.CodeOK, "null"},
		{app.QueryDataAsset, "xyz", app.CodeBadQuery, "64 hex"},
		{app.QueryDataVersion, strings.Repeat("ab", 32) + "/1", app.CodeOK, "null"},
		{app.QueryDataVersion, strings.Repeat("ab", 32) + "/x", app.CodeBadQuery, "not a number"},
		{app.QueryDataVersion, strings.Repeat("ab", 32) + "/99999999999", app.CodeBadQuery, "out of range"},
		{app.QueryDataWrapped, strings.Repeat("ab", 32) + "/1", app.CodeBadQuery, "want ASSET/N/ADDRESS"},
		{app.QueryDataOwner, apptest.Addr(alice).String(), app.CodeOK, `"assets":[]`},
		{app.QueryDataRecipient, apptest.Addr(alice).String(), app.CodeOK, `"recipient":""`},
		{app.QueryDataReceipt, strings.Repeat("ab", 32) + "/1", app.CodeOK, "null"},
		{app.QueryDataBlob, strings.Repeat("AB", 32), app.CodeBadQuery, "lowercase hex"},
	}
	for _, q := range cases {
		r := c.a.Query(q.path, []byte(q.data), 0, false)
		if r.Code != q.code || !strings.Contains(string(r.Value)+r.Log, q.want) {
			t.Errorf("%s %s: %d %s %s", q.path, q.data, r.Code, r.Value, r.Log)
		}
	}
	// Proven module query: the value checks against the app hash.
	rcpt := identity(t, alice).Recipient().String()
	c.ok(alice, tx.MsgDataSetKey{Recipient: rcpt})
	_, hash := c.a.Info()
	r := c.a.Query(app.QueryDataRecipient, []byte(apptest.Addr(alice).String()), 0, true)
	if r.Code != app.CodeOK || !strings.Contains(string(r.Value), rcpt) {
		t.Fatalf("prove: %+v", r)
	}
	if err := app.VerifyQuery(hash, app.QueryDataRecipient, r); err != nil {
		t.Fatal(err)
	}
	r.Value = []byte(strings.Replace(string(r.Value), rcpt, identity(t, apptest.Key(7)).Recipient().String(), 1))
	if err := app.VerifyQuery(hash, app.QueryDataRecipient, r); err == nil {
		t.Fatal("a substituted data key verified")
	}
}

func TestDataMaxBlobSize(t *testing.T) {
	// tx cannot import blob; the two limits must agree.
	if tx.DataMaxBlobSize != 1<<30 {
		t.Fatalf("tx.DataMaxBlobSize %d", tx.DataMaxBlobSize)
	}
}
