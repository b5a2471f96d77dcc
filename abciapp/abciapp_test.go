package abciapp

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
	"github.com/provena/provena/state"
	"github.com/provena/provena/tx"
)

var (
	ctx   = context.Background()
	alice = apptest.Key(1)
	bob   = apptest.Key(2)
	val   = apptest.Key(3) // validator: proposer address = its account
)

// testMsg is a registered message kind with no handler.
type testMsg struct{}

const typeTestMsg tx.MsgType = 60000

func (testMsg) Type() tx.MsgType           { return typeTestMsg }
func (testMsg) AppendBody(b []byte) []byte { return b }
func (testMsg) ValidateBasic() error       { return nil }

func init() {
	tx.RegisterMsg(typeTestMsg, "abciapp-test", func(b []byte) (tx.Msg, error) { return testMsg{}, nil })
}

func testParams() app.Params {
	p := app.DefaultParams()
	p.MaxTxBytes = 300
	return p
}

func newApp(t *testing.T, dir string) *Application {
	t.Helper()
	var a *app.App
	if dir == "" {
		a = app.OpenMem()
	} else {
		var err error
		if a, err = app.Open(dir); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { a.Close() })
	return New(a)
}

func initChain(t *testing.T, x *Application) []byte {
	t.Helper()
	res, err := x.InitChain(ctx, &abcitypes.InitChainRequest{
		ChainId:       apptest.ChainID,
		AppStateBytes: apptest.Genesis(testParams(), 1_000_000, alice),
		InitialHeight: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.AppHash) != 32 {
		t.Fatalf("init chain app hash %x", res.AppHash)
	}
	return res.AppHash
}

// runBlock drives one block the way CometBFT does: PrepareProposal,
// ProcessProposal, FinalizeBlock, Commit.
func runBlock(t *testing.T, x *Application, txs ...[]byte) *abcitypes.FinalizeBlockResponse {
	t.Helper()
	info, _ := x.Info(ctx, &abcitypes.InfoRequest{})
	h := info.LastBlockHeight + 1
	pp, err := x.PrepareProposal(ctx, &abcitypes.PrepareProposalRequest{Txs: txs, MaxTxBytes: 1 << 20, Height: h})
	if err != nil {
		t.Fatal(err)
	}
	proc, err := x.ProcessProposal(ctx, &abcitypes.ProcessProposalRequest{Txs: pp.Txs, Height: h})
	if err != nil || proc.Status != abcitypes.PROCESS_PROPOSAL_STATUS_ACCEPT {
		t.Fatalf("process proposal: %v %v", proc.Status, err)
	}
	fin, err := x.FinalizeBlock(ctx, &abcitypes.FinalizeBlockRequest{
		Txs: pp.Txs, Height: h, Time: time.Unix(1_700_000_000+h, 0), ProposerAddress: apptest.Addr(val).Bytes(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Commit(ctx, &abcitypes.CommitRequest{}); err != nil {
		t.Fatal(err)
	}
	info, _ = x.Info(ctx, &abcitypes.InfoRequest{})
	if info.LastBlockHeight != h || !bytes.Equal(info.LastBlockAppHash, fin.AppHash) {
		t.Fatalf("after commit Info = %d %x, FinalizeBlock said %x", info.LastBlockHeight, info.LastBlockAppHash, fin.AppHash)
	}
	return fin
}

func queryAccount(t *testing.T, x *Application, k []byte, height int64, prove bool) (*abcitypes.QueryResponse, app.AccountJSON) {
	t.Helper()
	r, err := x.Query(ctx, &abcitypes.QueryRequest{Path: app.QueryAccount, Data: k, Height: height, Prove: prove})
	if err != nil || r.Code != 0 {
		t.Fatalf("query: %v %d %s", err, r.Code, r.Log)
	}
	var j app.AccountJSON
	if err := json.Unmarshal(r.Value, &j); err != nil {
		t.Fatal(err)
	}
	return r, j
}

// forge puts the signature of one tx on the body of another.
func forge(t *testing.T) []byte {
	signed, err := tx.Decode(apptest.Transfer(alice, 0, 10, apptest.Addr(bob), 1))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := tx.Decode(apptest.Transfer(alice, 0, 10, apptest.Addr(bob), 900_000))
	other.Signature = signed.Signature
	b, err := other.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func withMsgType(b []byte, mt uint16) []byte {
	b = bytes.Clone(b)
	off := 2 + len(apptest.ChainID) + 16 + 32
	binary.BigEndian.PutUint16(b[off:], mt)
	return b
}

func TestCheckTx(t *testing.T) {
	x := newApp(t, "")
	initChain(t, x)
	// Nonce 0 is used in block 1, so the next is 1.
	runBlock(t, x, apptest.Transfer(alice, 0, 10, apptest.Addr(bob), 5))
	to := apptest.Addr(bob)
	wrongChain, _ := tx.Sign(alice, "other-chain", 1, 10, tx.MsgTransfer{To: to, Amount: 1})
	tests := []struct {
		name string
		tx   []byte
		code uint32
		log  string
	}{
		{"good transfer", apptest.Transfer(alice, 1, 10, to, 1000), app.CodeOK, ""},
		{"forged signature", forge(t), app.CodeBadSignature, "signature does not verify"},
		{"replay", apptest.Transfer(alice, 0, 10, to, 1000), app.CodeBadNonce, "nonce 0 already used (next is 2)"},
		{"future nonce", apptest.Transfer(alice, 7, 10, to, 1000), app.CodeBadNonce, "nonce 7 is in the future (next is 2)"},
		{"wrong chain id", wrongChain, app.CodeWrongChainID, `signed for "other-chain", this chain is "provena-test"`},
		{"overdraft", apptest.Transfer(alice, 2, 10, to, 1_000_000), app.CodeInsufficientFunds, "transfer needs 1000000 upv"},
		{"fee cannot be paid", apptest.Transfer(apptest.Key(50), 0, 10, to, 1), app.CodeInsufficientFunds, "cannot pay fee 10 upv"},
		{"fee too low", apptest.Transfer(alice, 2, 9, to, 1), app.CodeFeeTooLow, "fee too low: 9 upv, minimum is 10 upv"},
		{"unknown message type", withMsgType(apptest.Transfer(alice, 2, 10, to, 1), 4242), app.CodeUnknownMsgType, "unknown message type 4242"},
		{"message without handler", apptest.Sign(alice, 2, 10, testMsg{}), app.CodeUnknownMsgType, "no handler for message type 60000"},
		{"malformed bytes", []byte("\x01hello"), app.CodeBadEncoding, "shorter than the smallest tx"},
		{"non-canonical body", withMsgType(apptest.Transfer(alice, 2, 10, to, 1), uint16(tx.TypeBond)), app.CodeBadEncoding, "want 8"},
		{"oversize", make([]byte, 301), app.CodeTxTooLarge, "tx is 301 bytes, limit is 300"},
		{"zero amount", apptest.Transfer(alice, 2, 10, to, 0), app.CodeInvalidMsg, "amount must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := x.CheckTx(ctx, &abcitypes.CheckTxRequest{Tx: tc.tx, Type: abcitypes.CHECK_TX_TYPE_CHECK})
			if err != nil {
				t.Fatal(err)
			}
			if r.Code != tc.code || !strings.Contains(r.Log, tc.log) {
				t.Fatalf("code %d (%s) log %q, want %d (%s) containing %q", r.Code, app.CodeName(r.Code), r.Log, tc.code, app.CodeName(tc.code), tc.log)
			}
		})
	}
}

func TestBlockFlowAndQuery(t *testing.T) {
	x := newApp(t, "")
	genesisHash := initChain(t, x)
	good := apptest.Transfer(alice, 0, 10, apptest.Addr(bob), 300)
	if r, _ := x.CheckTx(ctx, &abcitypes.CheckTxRequest{Tx: good}); r.Code != 0 {
		t.Fatal(r.Log)
	}
	replay := good
	overdraft := apptest.Transfer(alice, 1, 10, apptest.Addr(bob), 5_000_000)
	// PrepareProposal drops undecodable and oversize txs and keeps order.
	pp, _ := x.PrepareProposal(ctx, &abcitypes.PrepareProposalRequest{
		Txs: [][]byte{[]byte("junk"), good, make([]byte, 400), replay, overdraft}, MaxTxBytes: 1 << 20,
	})
	if len(pp.Txs) != 3 || !bytes.Equal(pp.Txs[0], good) || !bytes.Equal(pp.Txs[2], overdraft) {
		t.Fatalf("prepare kept %d txs", len(pp.Txs))
	}
	// The byte budget counts protobuf framing: two ~170-byte txs do not fit in 300.
	pp2, _ := x.PrepareProposal(ctx, &abcitypes.PrepareProposalRequest{Txs: [][]byte{good, overdraft}, MaxTxBytes: 300})
	if len(pp2.Txs) != 1 {
		t.Fatalf("byte budget kept %d txs", len(pp2.Txs))
	}
	for _, bad := range [][][]byte{{[]byte("junk")}, {make([]byte, 301)}, {good, withMsgType(good, 4242)}} {
		r, _ := x.ProcessProposal(ctx, &abcitypes.ProcessProposalRequest{Txs: bad, Height: 1})
		if r.Status != abcitypes.PROCESS_PROPOSAL_STATUS_REJECT {
			t.Fatalf("process proposal accepted a bad block")
		}
	}

	fin := runBlock(t, x, pp.Txs...)
	codes := []uint32{fin.TxResults[0].Code, fin.TxResults[1].Code, fin.TxResults[2].Code}
	if codes[0] != 0 || codes[1] != app.CodeBadNonce || codes[2] != app.CodeInsufficientFunds {
		t.Fatalf("tx codes %v", codes)
	}
	if bytes.Equal(fin.AppHash, genesisHash) {
		t.Fatal("app hash did not change")
	}
	var transferEvent bool
	for _, e := range fin.TxResults[0].Events {
		if e.Type == "transfer" && e.Attributes[1].Key == "recipient" && e.Attributes[1].Value == apptest.Addr(bob).String() && e.Attributes[1].Index {
			transferEvent = true
		}
	}
	if !transferEvent {
		t.Fatalf("no indexed transfer event: %+v", fin.TxResults[0].Events)
	}
	_, a := queryAccount(t, x, apptest.Addr(alice).Bytes(), 0, false)
	if a.Balance != 1_000_000-300-10-10 || a.Nonce != 2 {
		t.Fatalf("alice %+v", a)
	}
	_, v := queryAccount(t, x, apptest.Addr(val).Bytes(), 0, false)
	if v.Balance != 10 {
		t.Fatalf("proposer got %d, want half of 20", v.Balance)
	}

	// A proof for height 1 checks against the app hash in header 2, which is
	// FinalizeBlock(1).AppHash.
	runBlock(t, x)
	for _, k := range []ed25519.PrivateKey{alice, apptest.Key(77)} {
		r, _ := queryAccount(t, x, apptest.Addr(k).Bytes(), 1, true)
		if r.Height != 1 || r.ProofOps == nil || len(r.ProofOps.Ops) != 1 || r.ProofOps.Ops[0].Type != "ics23:iavl" {
			t.Fatalf("proof ops %+v", r.ProofOps)
		}
		p, err := state.ParseProofBytes(r.ProofOps.Ops[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := app.VerifyAccount(fin.AppHash, apptest.Addr(k), app.QueryResult{Height: r.Height, Key: r.Key, Value: r.Value, Proof: p}); err != nil {
			t.Fatal(err)
		}
		if _, err := app.VerifyAccount(genesisHash, apptest.Addr(k), app.QueryResult{Height: r.Height, Key: r.Key, Value: r.Value, Proof: p}); err == nil {
			t.Fatal("verified against the wrong header")
		}
	}
}

func TestRestartReplay(t *testing.T) {
	dir := t.TempDir()
	x := newApp(t, dir)
	initChain(t, x)
	runBlock(t, x, apptest.Transfer(alice, 0, 10, apptest.Addr(bob), 1))
	fin := runBlock(t, x, apptest.Transfer(alice, 1, 10, apptest.Addr(bob), 2))
	// Block 3 finalized, never committed: a kill -9 between the two.
	b3 := apptest.Transfer(alice, 2, 10, apptest.Addr(bob), 4)
	f3, err := x.FinalizeBlock(ctx, &abcitypes.FinalizeBlockRequest{Txs: [][]byte{b3}, Height: 3, ProposerAddress: apptest.Addr(val).Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	x.App().Close()

	y := newApp(t, dir)
	info, _ := y.Info(ctx, &abcitypes.InfoRequest{})
	if info.LastBlockHeight != 2 || !bytes.Equal(info.LastBlockAppHash, fin.AppHash) {
		t.Fatalf("restart Info %d %x, want 2 %x", info.LastBlockHeight, info.LastBlockAppHash, fin.AppHash)
	}
	_, b := queryAccount(t, y, apptest.Addr(bob).Bytes(), 0, false)
	if b.Balance != 3 {
		t.Fatalf("bob %+v", b)
	}
	// CometBFT replays block 3; the result is what it was before the crash.
	if r := runBlock(t, y, b3); !bytes.Equal(r.AppHash, f3.AppHash) {
		t.Fatal("replayed block 3 differs")
	}
}
