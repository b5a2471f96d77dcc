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

type teeRawMsg struct {
	t    tx.MsgType
	body []byte
}

func (m teeRawMsg) Type() tx.MsgType           { return m.t }
func (m teeRawMsg) AppendBody(b []byte) []byte { return append(b, m.body...) }
func (m teeRawMsg) ValidateBasic() error       { return nil }
func teeRawTx(t tx.MsgType, body []byte) []byte {
	seed := sha256.Sum256([]byte("tee fuzz"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	x := &tx.Tx{ChainID: "c", PubKey: priv.Public().(ed25519.PublicKey), Msg: teeRawMsg{t, body}, Signature: make([]byte, 64)}
	b, err := x.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

func sampleTeeMsgs(t testing.TB) []tx.Msg {
	seed := sha256.Sum256([]byte("w"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	id, err := vault.AccountIdentity(priv)
	if err != nil {
		t.Fatal(err)
	}
	mid := strings.Repeat("ab", 32)
	return []tx.Msg{
		tx.MsgTeeConfig{SimRoots: []string{strings.Repeat("01", 32)}, MaxAgeSecs: 3600},
		tx.MsgTeeAllow{ModelID: mid, Kind: "tdx", Measurement: strings.Repeat("63", 48)},
		tx.MsgTeeRegister{ModelID: mid, Kind: "sev-snp", Quote: []byte{1, 2, 3}, SignKey: priv.Public().(ed25519.PublicKey), X25519: id.Recipient().String(), VCEK: []byte{4}},
	}
}

func TestTeeMsgsRoundTrip(t *testing.T) {
	for _, m := range sampleTeeMsgs(t) {
		if err := m.ValidateBasic(); err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		d, err := tx.Decode(teeRawTx(m.Type(), m.AppendBody(nil)))
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if !bytes.Equal(d.Msg.AppendBody(nil), m.AppendBody(nil)) {
			t.Fatalf("%T does not round-trip", m)
		}
	}
}

func TestTeeMsgsValidateBasic(t *testing.T) {
	ms := sampleTeeMsgs(t)
	reg := ms[2].(tx.MsgTeeRegister)
	mut := func(f func(m *tx.MsgTeeRegister)) tx.MsgTeeRegister { m := reg; f(&m); return m }
	cases := []struct {
		name string
		m    tx.Msg
		err  string
	}{
		{"too many roots", tx.MsgTeeConfig{SimRoots: make([]string, 9), MaxAgeSecs: 1}, "limit"},
		{"uppercase root", tx.MsgTeeConfig{SimRoots: []string{strings.Repeat("AB", 32)}, MaxAgeSecs: 1}, "lowercase hex"},
		{"zero age", tx.MsgTeeConfig{}, "max_age_secs"},
		{"age over a year", tx.MsgTeeConfig{MaxAgeSecs: tx.TeeMaxAgeLimit + 1}, "max_age_secs"},
		{"short model id", tx.MsgTeeAllow{ModelID: "ab", Kind: "tdx", Measurement: strings.Repeat("00", 48)}, "model id"},
		{"unknown kind", tx.MsgTeeAllow{ModelID: strings.Repeat("ab", 32), Kind: "sgx", Measurement: strings.Repeat("00", 48)}, "kind"},
		{"short measurement", tx.MsgTeeAllow{ModelID: strings.Repeat("ab", 32), Kind: "tdx", Measurement: "00"}, "measurement"},
		{"empty quote", mut(func(m *tx.MsgTeeRegister) { m.Quote = nil }), "quote is 0 bytes"},
		{"huge quote", mut(func(m *tx.MsgTeeRegister) { m.Quote = make([]byte, tx.TeeMaxQuote+1) }), "quote is"},
		{"short sign key", mut(func(m *tx.MsgTeeRegister) { m.SignKey = m.SignKey[:31] }), "sign_key"},
		{"bad recipient", mut(func(m *tx.MsgTeeRegister) { m.X25519 = "age1x" }), "x25519"},
		{"vcek for tdx", mut(func(m *tx.MsgTeeRegister) { m.Kind = "tdx" }), "vcek is only for"},
	}
	for _, c := range cases {
		err := c.m.ValidateBasic()
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want %q", c.name, err, c.err)
		}
	}
}

func FuzzTeeMsgDecode(f *testing.F) {
	for _, m := range sampleTeeMsgs(f) {
		f.Add(uint16(m.Type()-tx.TypeTeeConfig), m.AppendBody(nil))
	}
	f.Add(uint16(2), []byte(`{"model_id":"","kind":"","quote":"AA==","sign_key":null,"x25519":""}`))
	f.Fuzz(func(t *testing.T, typ uint16, body []byte) {
		mt := tx.TypeTeeConfig + tx.MsgType(typ%3)
		d, err := tx.Decode(teeRawTx(mt, body))
		if err != nil {
			return
		}
		if !bytes.Equal(d.Msg.AppendBody(nil), body) {
			t.Fatalf("accepted a non-canonical %s body %q", tx.MsgName(mt), body)
		}
		d.Msg.ValidateBasic() // must not panic
	})
}
