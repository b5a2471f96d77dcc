package tx_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/provena/provena/tx"
	"github.com/provena/provena/vault"
)

// rawMsg carries arbitrary body bytes under a data message type, to feed
// the registered decoders through tx.Decode.
type rawMsg struct {
	t    tx.MsgType
	body []byte
}

func (m rawMsg) Type() tx.MsgType           { return m.t }
func (m rawMsg) AppendBody(b []byte) []byte { return append(b, m.body...) }
func (m rawMsg) ValidateBasic() error       { return nil }

func rawTx(t tx.MsgType, body []byte) []byte {
	seed := sha256.Sum256([]byte("data fuzz"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	x := &tx.Tx{ChainID: "c", PubKey: priv.Public().(ed25519.PublicKey), Msg: rawMsg{t, body}, Signature: make([]byte, 64)}
	b, err := x.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

func sampleDataMsgs(t testing.TB) []tx.Msg {
	seed := sha256.Sum256([]byte("k"))
	id, _ := vault.AccountIdentity(ed25519.NewKeyFromSeed(seed[:]))
	k, _ := vault.NewAssetKey()
	w, err := vault.WrapKey(k, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	h := tx.DataHash{1, 2, 3}
	v := tx.DataVersion{Root: h, Size: 10, Keys: []tx.WrappedKey{{To: tx.Address{1}, Key: w}}}
	p := tx.ContributorProof{Version: 1, Index: 2, Weight: 3, Proof: []tx.DataHash{{4}}}
	return []tx.Msg{
		tx.MsgDataSetKey{Recipient: id.Recipient().String()},
		tx.MsgDataRegister{Name: "n", Licence: "l", Price: 5, Version: v},
		tx.MsgDataAddVersion{Asset: h, Version: v},
		tx.MsgDataGrant{Asset: h, To: tx.Address{2}, Key: w},
		tx.MsgDataRevoke{Asset: h, Grantee: tx.Address{2}},
		tx.MsgDataBuy{Asset: h, MaxPrice: 7},
		tx.MsgDataTransfer{Asset: h, To: tx.Address{3}, Key: w},
		tx.MsgDataWithdrawConsent{Asset: h, Leaf: p},
		tx.MsgDataClaim{Asset: h, Leaf: p},
	}
}

func TestDataMsgsRoundTrip(t *testing.T) {
	for _, m := range sampleDataMsgs(t) {
		if err := m.ValidateBasic(); err != nil {
			t.Errorf("%s: %v", tx.MsgName(m.Type()), err)
		}
		got, err := tx.Decode(rawTx(m.Type(), m.AppendBody(nil)))
		if err != nil {
			t.Fatalf("%s: %v", tx.MsgName(m.Type()), err)
		}
		if !bytes.Equal(got.Msg.AppendBody(nil), m.AppendBody(nil)) {
			t.Errorf("%s: round trip differs", tx.MsgName(m.Type()))
		}
	}
}

func TestDataMsgsRejectNonCanonical(t *testing.T) {
	cases := []struct {
		name string
		t    tx.MsgType
		body string
		err  string
	}{
		{"spaces", tx.TypeDataBuy, `{"asset": "` + strings.Repeat("00", 32) + `","max_price":1}`, "canonical"},
		{"unknown field", tx.TypeDataBuy, `{"asset":"` + strings.Repeat("00", 32) + `","max_price":1,"x":1}`, "unknown field"},
		{"upper hex", tx.TypeDataBuy, `{"asset":"` + strings.Repeat("AB", 32) + `","max_price":1}`, "lowercase hex"},
		{"field case", tx.TypeDataBuy, `{"Asset":"` + strings.Repeat("00", 32) + `","max_price":1}`, "canonical"},
		{"trailing", tx.TypeDataBuy, `{"asset":"` + strings.Repeat("00", 32) + `","max_price":1}x`, "canonical"},
		{"not json", tx.TypeDataGrant, `hello`, "invalid character"},
	}
	for _, c := range cases {
		_, err := tx.Decode(rawTx(c.t, []byte(c.body)))
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want %q", c.name, err, c.err)
		}
	}
}

func TestDataMsgsValidateBasic(t *testing.T) {
	ms := sampleDataMsgs(t)
	reg := ms[1].(tx.MsgDataRegister)
	cases := []struct {
		name string
		m    tx.Msg
		err  string
	}{
		{"empty name", func() tx.Msg { r := reg; r.Name = ""; return r }(), "name must be"},
		{"control char", func() tx.Msg { r := reg; r.Licence = "a\nb"; return r }(), "control character"},
		{"bps", func() tx.Msg { r := reg; r.ContributorBps = 10001; return r }(), "over 10000"},
		{"bps without contributors", func() tx.Msg { r := reg; r.ContributorBps = 1; return r }(), "names no contributors"},
		{"half contributors", func() tx.Msg { r := reg; r.Version.ContributorCount = 1; return r }(), "all set or all zero"},
		{"no keys", func() tx.Msg { r := reg; r.Version.Keys = nil; return r }(), "wrapped keys"},
		{"unsorted keys", func() tx.Msg {
			r := reg
			r.Version.Keys = []tx.WrappedKey{{To: tx.Address{2}, Key: reg.Version.Keys[0].Key}, {To: tx.Address{1}, Key: reg.Version.Keys[0].Key}}
			return r
		}(), "sorted"},
		{"oversize", func() tx.Msg { r := reg; r.Version.Size = tx.DataMaxBlobSize + 1; return r }(), "out of range"},
		{"zero root", func() tx.Msg { r := reg; r.Version.Root = tx.DataHash{}; return r }(), "root is zero"},
		{"bad key", tx.MsgDataGrant{Key: []byte("x")}, "not an age file"},
		{"zero weight", tx.MsgDataClaim{}, "weight must be positive"},
		{"bad recipient", tx.MsgDataSetKey{Recipient: "age1x"}, "malformed"},
	}
	for _, c := range cases {
		err := c.m.ValidateBasic()
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want %q", c.name, err, c.err)
		}
	}
}

func FuzzDataMsgDecode(f *testing.F) {
	for _, m := range sampleDataMsgs(f) {
		f.Add(uint16(m.Type()), m.AppendBody(nil))
	}
	f.Add(uint16(tx.TypeDataClaim), []byte(`{"asset":null,"leaf":{"proof":[]}}`))
	f.Fuzz(func(t *testing.T, typ uint16, body []byte) {
		mt := tx.TypeDataSetKey + tx.MsgType(typ%9)
		d, err := tx.Decode(rawTx(mt, body))
		if err != nil {
			return
		}
		if !bytes.Equal(d.Msg.AppendBody(nil), body) {
			t.Fatalf("accepted a non-canonical %s body %q", tx.MsgName(mt), body)
		}
		d.Msg.ValidateBasic() // must not panic
	})
}

// A version for the owner and DataMaxGrantees grantees must fit the
// default 64 KiB transaction limit, or an owner with many grantees could
// never publish a new version.
func TestDataMaxVersionFitsTx(t *testing.T) {
	ms := sampleDataMsgs(t)
	key := ms[3].(tx.MsgDataGrant).Key
	v := tx.DataVersion{Root: tx.DataHash{1}, Size: tx.DataMaxBlobSize, Contributors: tx.DataHash{2}, ContributorCount: 1 << 40, ContributorWeight: 1 << 62}
	for i := 0; i <= tx.DataMaxGrantees; i++ {
		var a tx.Address
		a[0], a[1] = byte(i>>8), byte(i)
		v.Keys = append(v.Keys, tx.WrappedKey{To: a, Key: key})
	}
	m := tx.MsgDataAddVersion{Asset: tx.DataHash{3}, Version: v}
	if err := m.ValidateBasic(); err != nil {
		t.Fatal(err)
	}
	b := rawTx(m.Type(), m.AppendBody(nil))
	if len(b) > 64<<10 {
		t.Fatalf("a full version is %d bytes, over the default 64 KiB max_tx_bytes", len(b))
	}
	t.Logf("full version tx: %d bytes (wrapped key %d bytes)", len(b), len(key))
}
