package tx_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/provena/provena/tx"
)

func TestTeeCollateralMsg(t *testing.T) {
	good := tx.MsgTeeCollateral{Kind: "tdx", Collateral: []byte(`{"u":{"body":"AA=="}}`)}
	if err := good.ValidateBasic(); err != nil {
		t.Fatal(err)
	}
	d, err := tx.Decode(teeRawTx(good.Type(), good.AppendBody(nil)))
	if err != nil || !bytes.Equal(d.Msg.AppendBody(nil), good.AppendBody(nil)) {
		t.Fatalf("round trip: %v", err)
	}
	for _, c := range []struct {
		name string
		m    tx.MsgTeeCollateral
		err  string
	}{
		{"sev-snp", tx.MsgTeeCollateral{Kind: "sev-snp", Collateral: []byte("x")}, `kind "sev-snp" has no on-chain collateral`},
		{"sim", tx.MsgTeeCollateral{Kind: "sim", Collateral: []byte("x")}, "has no on-chain collateral"},
		{"unknown kind", tx.MsgTeeCollateral{Kind: "sgx", Collateral: []byte("x")}, `kind "sgx": want one of [tdx]`},
		{"empty", tx.MsgTeeCollateral{Kind: "tdx"}, "0 bytes"},
		{"too large", tx.MsgTeeCollateral{Kind: "tdx", Collateral: make([]byte, tx.TeeMaxCollateral+1)}, "want 1..65536"},
	} {
		if err := c.m.ValidateBasic(); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want %q", c.name, err, c.err)
		}
	}
}

func FuzzTeeCollateralMsgDecode(f *testing.F) {
	f.Add(tx.MsgTeeCollateral{Kind: "tdx", Collateral: []byte(`{}`)}.AppendBody(nil))
	f.Add([]byte(`{"kind":"tdx","collateral":"!!"}`))
	f.Add([]byte(`{"kind":"tdx","collateral":null,"x":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := tx.Decode(teeRawTx(tx.TypeTeeCollateral, body))
		if err != nil {
			return
		}
		if !bytes.Equal(d.Msg.AppendBody(nil), body) {
			t.Fatalf("accepted a non-canonical body %q", body)
		}
		d.Msg.ValidateBasic() // must not panic
	})
}
