package app_test

import (
	"sync"
	"testing"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
)

// TestConcurrentCheckAndExecute runs mempool checks and queries while
// blocks execute, as CometBFT does with per-connection ABCI clients; run it
// with -race. Results must not depend on the interleaving: every block's
// transactions succeed and the final balances are exact.
func TestConcurrentCheckAndExecute(t *testing.T) {
	a := newApp(t, alice, bob)
	const blocks, perBlock = 5, 20
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range blocks * perBlock {
			a.CheckTx(apptest.Transfer(bob, uint64(i), 10, apptest.Addr(carol), 1), false)
			a.Query(app.QueryAccount, apptest.Addr(bob).Bytes(), 0, true)
		}
	}()
	for h := range blocks {
		txs := make([][]byte, perBlock)
		for i := range txs {
			txs[i] = apptest.Transfer(alice, uint64(h*perBlock+i), 10, apptest.Addr(carol), 1)
		}
		for i, r := range block(t, a, txs...).TxResults {
			if r.Code != app.CodeOK {
				t.Fatalf("block %d tx %d: %s", h+1, i, r.Log)
			}
		}
	}
	wg.Wait()
	if got := account(t, a, alice); got.Nonce != blocks*perBlock || got.Balance != 1_000_000-blocks*perBlock*11 {
		t.Fatalf("alice %+v", got)
	}
}
