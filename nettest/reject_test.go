package nettest

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/provena/provena/api"
	"github.com/provena/provena/app"
	"github.com/provena/provena/client"
	"github.com/provena/provena/keys"
	"github.com/provena/provena/tx"
)

func aliceKey(t *testing.T, home string) ed25519.PrivateKey {
	t.Helper()
	kr, err := keys.Open(keys.Dir(home), keys.BackendTest)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := kr.PrivateKey("alice")
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

// TestRejections posts bad transactions to a real node and checks that each
// is refused with its reason in the JSON error.
func TestRejections(t *testing.T) {
	h := testnet(t, 1)[0]
	p := startNode(t, h.Dir)
	ctx := ctxT(t, 2*time.Minute)
	waitHeight(t, ctx, p.api, 2)
	alice := aliceKey(t, h.Dir)
	fee := testParams().MinFee
	bob := tx.Address{0xb0}
	sign := func(chain string, nonce, amount uint64) []byte {
		b, err := tx.Sign(alice, chain, nonce, fee, tx.MsgTransfer{To: bob, Amount: amount})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// One good transfer so that nonce 0 is used.
	first := sign("nettest", 0, 100)
	if r, err := p.api.Broadcast(ctx, first, "commit"); err != nil || r.Code != 0 {
		t.Fatalf("first transfer: %+v %v", r, err)
	}
	forged := sign("nettest", 1, 100)
	forged[len(forged)-1] ^= 1 // last signature byte
	tooMuch := uint64(node0Balance(t, ctx, p.api, tx.AddressFromPubKey(alice.Public().(ed25519.PublicKey))))

	tests := []struct {
		name     string
		tx       []byte
		status   int
		code     string
		abciCode uint32
	}{
		{"forged signature", forged, http.StatusUnprocessableEntity, "tx_rejected", app.CodeBadSignature},
		{"exact replay", first, http.StatusConflict, "tx_duplicate", 0},
		{"replayed nonce", sign("nettest", 0, 101), http.StatusUnprocessableEntity, "tx_rejected", app.CodeBadNonce},
		{"future nonce", sign("nettest", 5, 100), http.StatusUnprocessableEntity, "tx_rejected", app.CodeBadNonce},
		{"wrong chain id", sign("other-chain", 1, 100), http.StatusUnprocessableEntity, "tx_rejected", app.CodeWrongChainID},
		{"overdraft", sign("nettest", 1, tooMuch), http.StatusUnprocessableEntity, "tx_rejected", app.CodeInsufficientFunds},
		{"malformed bytes", []byte("definitely not a transaction"), http.StatusUnprocessableEntity, "tx_rejected", app.CodeBadEncoding},
		{"truncated", first[:len(first)-10], http.StatusUnprocessableEntity, "tx_rejected", app.CodeBadEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range []string{"sync", "commit"} {
				_, err := p.api.Broadcast(ctx, tt.tx, mode)
				var e *api.Error
				if !errors.As(err, &e) {
					t.Fatalf("%s: got %v, want an API error", mode, err)
				}
				if e.Code != tt.code || e.ABCICode != tt.abciCode || e.Message == "" {
					t.Fatalf("%s: got %+v, want code %s, abci code %d (%s) and a reason", mode, e, tt.code, tt.abciCode, app.CodeName(tt.abciCode))
				}
				t.Logf("%s: %s", mode, e.Message)
			}
		})
	}
	// None of them changed alice's nonce, so nonce 1 is still next.
	if r, err := p.api.Broadcast(ctx, sign("nettest", 1, 100), "commit"); err != nil || r.Code != 0 {
		t.Fatalf("transfer after the rejections: %+v %v", r, err)
	}
}

func node0Balance(t *testing.T, ctx context.Context, c *client.Client, a tx.Address) uint64 {
	t.Helper()
	acct, _, err := c.AccountState(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return acct.Balance
}
