package nettest

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/provena/provena/tx"
)

type supplyJSON struct {
	Genesis     uint64 `json:"genesis_supply"`
	Circulating uint64 `json:"circulating"`
	Bonded      uint64 `json:"bonded"`
	Unbonding   uint64 `json:"unbonding"`
	Burned      uint64 `json:"burned"`
}

// TestKill9UnderLoad kills a node with SIGKILL while transfers stream in,
// restarts it, and checks that every transfer reported committed is still
// there with the same height, that the node goes on producing blocks, and
// that no token was created or lost.
func TestKill9UnderLoad(t *testing.T) {
	h := testnet(t, 1)[0]
	p := startNode(t, h.Dir)
	ctx := ctxT(t, 2*time.Minute)
	waitHeight(t, ctx, p.api, 2)
	alice := aliceKey(t, h.Dir)
	aliceAddr := tx.AddressFromPubKey(alice.Public().(ed25519.PublicKey))
	fee := testParams().MinFee

	type sent struct {
		hash string
		to   tx.Address
		amt  uint64
	}
	var (
		mu        sync.Mutex
		attempted []sent
		committed = map[string]int64{} // hash -> height, as reported before the crash
	)
	streamCtx, stopStream := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // sender: one fresh recipient per transfer
		defer wg.Done()
		for nonce := uint64(0); streamCtx.Err() == nil; nonce++ {
			to := tx.Address{0xcc, byte(nonce >> 8), byte(nonce)}
			amt := 1000 + nonce
			b, err := tx.Sign(alice, "nettest", nonce, fee, tx.MsgTransfer{To: to, Amount: amt})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			attempted = append(attempted, sent{to: to, amt: amt})
			mu.Unlock()
			r, err := p.api.Broadcast(streamCtx, b, "sync")
			if err != nil {
				return // the node is gone
			}
			mu.Lock()
			attempted[len(attempted)-1].hash = r.Hash
			mu.Unlock()
		}
	}()
	go func() { // watcher: records what the node reports committed
		defer wg.Done()
		for next := 0; streamCtx.Err() == nil; {
			mu.Lock()
			var s sent
			if next < len(attempted) {
				s = attempted[next]
			}
			mu.Unlock()
			if s.hash == "" {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			r, err := p.api.Tx(streamCtx, s.hash)
			if err != nil {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			mu.Lock()
			committed[s.hash] = r.Height
			mu.Unlock()
			next++
		}
	}()
	// Let transfers commit for a while, then pull the plug mid-stream.
	for {
		mu.Lock()
		n := len(committed)
		mu.Unlock()
		if n >= 40 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("only %d transfers committed before the deadline", n)
		case <-time.After(50 * time.Millisecond):
		}
	}
	p.kill()
	stopStream()
	wg.Wait()
	t.Logf("killed with %d transfers sent, %d reported committed", len(attempted), len(committed))

	p = startNode(t, h.Dir)
	before := height(t, ctx, p.api)
	waitHeight(t, ctx, p.api, before+3)

	for hash, hgt := range committed {
		r, err := p.api.Tx(ctx, hash)
		if err != nil {
			t.Fatalf("committed tx %s (height %d) lost after kill -9: %v", hash, hgt, err)
		}
		if r.Height != hgt || r.Code != 0 {
			t.Fatalf("tx %s: height %d code %d after restart, was height %d", hash, r.Height, r.Code, hgt)
		}
	}
	// Conservation over every account that could hold tokens: the genesis
	// accounts and every recipient the stream tried.
	s, err := p.api.Supply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sup supplyJSON
	if err := json.Unmarshal(s.Supply, &sup); err != nil {
		t.Fatal(err)
	}
	var sum uint64
	holders := []tx.Address{aliceAddr, h.Validator}
	recipients := 0
	for _, a := range attempted {
		holders = append(holders, a.to)
	}
	for _, a := range holders {
		acct, _, err := p.api.AccountState(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		sum += acct.Balance + acct.Bonded
		for _, u := range acct.Unbonding {
			sum += u.Amount
		}
		if a != aliceAddr && a != h.Validator && acct.Balance > 0 {
			recipients++
		}
	}
	if sum+sup.Burned != sup.Genesis {
		t.Fatalf("balances %d + burned %d = %d, genesis supply %d", sum, sup.Burned, sum+sup.Burned, sup.Genesis)
	}
	if recipients < len(committed) {
		t.Fatalf("%d recipients hold tokens, %d transfers were reported committed", recipients, len(committed))
	}
}
