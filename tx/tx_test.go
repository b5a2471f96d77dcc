package tx

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
)

func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func TestAddressMatchesCometBFT(t *testing.T) {
	priv := testKey(1)
	pub := priv.Public().(ed25519.PublicKey)
	got := AddressFromPubKey(pub)
	want := cmted25519.PubKey(pub).Address()
	if !bytes.Equal(got[:], want) {
		t.Fatalf("address %x, CometBFT says %x", got, want)
	}
}

func TestParseAddress(t *testing.T) {
	a := AddressFromPubKey(testKey(2).Public().(ed25519.PublicKey))
	s := a.String()
	if len(s) != 42 || !strings.HasPrefix(s, "pv") {
		t.Fatalf("String() = %q", s)
	}
	back, err := ParseAddress(s)
	if err != nil || back != a {
		t.Fatalf("ParseAddress(%q) = %v, %v", s, back, err)
	}
	for _, tc := range []struct{ in, wantErr string }{
		{"", "missing"},
		{"xx" + s[2:], "missing"},
		{s[:41], "want 40 hex"},
		{s + "0", "want 40 hex"},
		{"pv" + strings.ToUpper(s[2:]), "not lowercase hex"},
		{"pv" + strings.Repeat("g", 40), "not lowercase hex"},
	} {
		if _, err := ParseAddress(tc.in); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ParseAddress(%q) error %v, want %q", tc.in, err, tc.wantErr)
		}
	}
}

func TestSignDecodeRoundTrip(t *testing.T) {
	priv := testKey(3)
	to := AddressFromPubKey(testKey(4).Public().(ed25519.PublicKey))
	for _, m := range []Msg{MsgTransfer{To: to, Amount: 1234}, MsgBond{Amount: 5}, MsgUnbond{Amount: 1 << 60}} {
		b, err := Sign(priv, "provena-test", 7, 10, m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if got.ChainID != "provena-test" || got.Nonce != 7 || got.Fee != 10 || got.Msg != m {
			t.Fatalf("decoded %+v", got)
		}
		if got.Sender() != AddressFromPubKey(priv.Public().(ed25519.PublicKey)) {
			t.Fatal("wrong sender")
		}
		if err := got.VerifySignature(); err != nil {
			t.Fatal(err)
		}
		re, err := got.Encode()
		if err != nil || !bytes.Equal(re, b) {
			t.Fatalf("re-encode differs: %v", err)
		}
		if Hash(b) != sha256.Sum256(b) {
			t.Fatal("hash is not sha256")
		}
		if _, err := json.Marshal(got); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSignatureCoversEveryField(t *testing.T) {
	priv := testKey(5)
	b, err := Sign(priv, "c", 1, 10, MsgBond{Amount: 9})
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := Decode(b)
	mutations := map[string]func(*Tx){
		"chain": func(t *Tx) { t.ChainID = "d" },
		"nonce": func(t *Tx) { t.Nonce++ },
		"fee":   func(t *Tx) { t.Fee++ },
		"msg":   func(t *Tx) { t.Msg = MsgBond{Amount: 10} },
		"type":  func(t *Tx) { t.Msg = MsgUnbond{Amount: 9} },
		"key":   func(t *Tx) { t.PubKey = testKey(6).Public().(ed25519.PublicKey) },
	}
	for name, mut := range mutations {
		c := *orig
		mut(&c)
		if err := c.VerifySignature(); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s changed but signature still %v", name, err)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	priv := testKey(7)
	good, _ := Sign(priv, "chain", 0, 10, MsgTransfer{Amount: 1})
	withType := func(mt uint16) []byte {
		b := bytes.Clone(good)
		off := 1 + 1 + len("chain") + 16 + 32
		b[off], b[off+1] = byte(mt>>8), byte(mt)
		return b
	}
	huge := make([]byte, MaxTxBytes+1)
	for _, tc := range []struct {
		name    string
		in      []byte
		wantErr string
	}{
		{"empty", nil, "shorter"},
		{"short", good[:50], "shorter"},
		{"version", append([]byte{2}, good[1:]...), "unsupported version"},
		{"trailing", append(bytes.Clone(good), 0), "does not match"},
		{"truncated", good[:len(good)-1], "does not match"},
		{"zero chain", append([]byte{1, 0}, good[2:]...), "chain id length"},
		{"unknown type", withType(999), "unknown message type 999"},
		{"wrong body", withType(uint16(TypeBond)), "body is 28 bytes, want 8"},
		{"too large", huge, "limit is"},
	} {
		_, err := Decode(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
		}
	}
	var unk *UnknownMsgTypeError
	if _, err := Decode(withType(999)); !errors.As(err, &unk) || unk.Type != 999 {
		t.Errorf("unknown type error %v is not *UnknownMsgTypeError", err)
	}
}

func TestBatchVerify(t *testing.T) {
	var txs []*Tx
	for i := range 8 {
		b, _ := Sign(testKey(byte(10+i)), "c", uint64(i), 10, MsgBond{Amount: 1})
		tx, _ := Decode(b)
		txs = append(txs, tx)
	}
	txs[3].Nonce++ // signature no longer matches
	ok := BatchVerify(txs)
	for i, v := range ok {
		if v != (i != 3) {
			t.Errorf("tx %d: batch says %v", i, v)
		}
	}
}

func FuzzDecode(f *testing.F) {
	priv := testKey(9)
	for _, m := range []Msg{MsgTransfer{Amount: 1}, MsgBond{Amount: 2}, MsgUnbond{Amount: 3}} {
		b, _ := Sign(priv, "provena-local", 42, 10, m)
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add(bytes.Repeat([]byte{0xff}, 200))
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := Decode(b)
		if err != nil {
			return
		}
		re, err := tx.Encode()
		if err != nil {
			t.Fatalf("decoded tx does not encode: %v", err)
		}
		if !bytes.Equal(re, b) {
			t.Fatalf("non-canonical input accepted:\n in %x\nout %x", b, re)
		}
		_ = tx.VerifySignature()
		_ = tx.Sender()
	})
}
