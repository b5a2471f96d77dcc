package app_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
)

const benchSenders = 1000

// benchTxs signs n transfers round-robin from benchSenders accounts.
func benchTxs(b *testing.B, n int, onDisk bool) (*app.App, [][]byte) {
	b.Helper()
	keys := make([]ed25519.PrivateKey, benchSenders)
	for i := range keys {
		keys[i] = apptest.Key(1000 + i)
	}
	var a *app.App
	if onDisk {
		var err error
		if a, err = app.Open(b.TempDir()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { a.Close() })
		if _, err := a.InitChain(apptest.ChainID, apptest.Genesis(testParams(), 1_000_000, keys...)); err != nil {
			b.Fatal(err)
		}
	} else {
		a = newApp(b, keys...)
	}
	txs := make([][]byte, n)
	for i := range txs {
		k := i % benchSenders
		txs[i] = apptest.Transfer(keys[k], uint64(i/benchSenders), 10, apptest.Addr(keys[(k+1)%benchSenders]), 1)
	}
	return a, txs
}

// benchDeliver executes and commits txs in blocks of blockSize.
func benchDeliver(b *testing.B, checkFirst, onDisk bool) {
	const blockSize = 2000
	a, txs := benchTxs(b, b.N, onDisk)
	if checkFirst {
		for _, t := range txs {
			if r := a.CheckTx(t, false); r.Code != app.CodeOK {
				b.Fatal(r.Log)
			}
		}
	}
	b.ResetTimer()
	for len(txs) > 0 {
		n := min(blockSize, len(txs))
		res := block(b, a, txs[:n]...)
		for _, r := range res.TxResults {
			if r.Code != app.CodeOK {
				b.Fatal(r.Log)
			}
		}
		txs = txs[n:]
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

// BenchmarkDeliverTransfer measures FinalizeBlock+Commit per transfer, for
// transactions this node already checked (signature cached) and for ones it
// never saw (batch-verified in the block), in memory and on goleveldb.
func BenchmarkDeliverTransfer(b *testing.B) {
	b.Run("checked", func(b *testing.B) { benchDeliver(b, true, false) })
	b.Run("unseen", func(b *testing.B) { benchDeliver(b, false, false) })
	b.Run("checked-leveldb", func(b *testing.B) { benchDeliver(b, true, true) })
}

// BenchmarkCheckTx measures mempool admission of a fresh transfer,
// signature verification included.
func BenchmarkCheckTx(b *testing.B) {
	a, txs := benchTxs(b, b.N, false)
	b.ResetTimer()
	for _, t := range txs {
		if r := a.CheckTx(t, false); r.Code != app.CodeOK {
			b.Fatal(r.Log)
		}
	}
}
