package app_test

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
	"github.com/provena/provena/opml"
	"github.com/provena/provena/opml/opmltest"
	"github.com/provena/provena/tx"
	"github.com/provena/provena/worker"
)

// TestLineageRoyalties declares a model's lineage (with every rejection),
// runs a job to settlement and checks that the model fee was split in the
// settling block exactly: floor(fee × bps / 10000) per dataset, the
// contributor share of it into the pool, the remainder to the model
// owner; one usage receipt per dataset; the split on the job; supply
// conserved.
func TestLineageRoyalties(t *testing.T) {
	m, err := opmltest.Model()
	if err != nil {
		t.Skip(err)
	}
	alice, bob, owner, req, wk, c1 := apptest.Key(601), apptest.Key(602), apptest.Key(603), apptest.Key(604), apptest.Key(605), apptest.Key(606)
	c := newDataChain(t, alice, bob, owner, req, wk, c1)
	A, B, O, R, W := apptest.Addr(alice), apptest.Addr(bob), apptest.Addr(owner), apptest.Addr(req), apptest.Addr(wk)

	// Two datasets: alice's sends 20% of what it earns to its contributors.
	c.ok(alice, tx.MsgDataSetKey{Recipient: identity(t, alice).Recipient().String()})
	c.ok(bob, tx.MsgDataSetKey{Recipient: identity(t, bob).Recipient().String()})
	ka, cta, rootA := encryptVersion(t, []byte(strings.Repeat("games\n", 100)))
	croot, _, total := contributorTree(t, []contributor{{apptest.Addr(c1), 1}})
	c.ok(alice, tx.MsgDataRegister{Name: "games", Licence: "CC-BY-4.0", Price: 5, ContributorBps: 2000,
		Version: tx.DataVersion{Root: rootA, Size: int64(len(cta)), Contributors: croot, ContributorCount: 1, ContributorWeight: total,
			Keys: []tx.WrappedKey{{To: A, Key: wrap(t, ka, alice)}}}})
	kb, ctb, rootB := encryptVersion(t, []byte(strings.Repeat("moves\n", 100)))
	c.ok(bob, tx.MsgDataRegister{Name: "moves", Licence: "CC0-1.0", Price: 5,
		Version: tx.DataVersion{Root: rootB, Size: int64(len(ctb)), Keys: []tx.WrappedKey{{To: B, Key: wrap(t, kb, bob)}}}})

	const fee = 1001 // 30% and 20% of it are 300.3 and 200.2: the 0.5 goes to the model owner
	c.ok(owner, worker.RegisterModelMsg(m, fee))
	mid := tx.DataHash(m.ID())
	lin := func(s ...tx.LineageShare) tx.MsgModelLineage { return tx.MsgModelLineage{Model: mid, TrainedOn: s} }
	good := lin(tx.LineageShare{Asset: rootA, Bps: 3000}, tx.LineageShare{Asset: rootB, Bps: 2000})
	for _, bad := range []struct {
		name string
		from ed25519.PrivateKey
		msg  tx.MsgModelLineage
		code uint32
		log  string
	}{
		{"not the owner", bob, good, app.CodeOpmlNotAllowed, "only its owner"},
		{"unknown model", owner, tx.MsgModelLineage{Model: tx.DataHash{7}, TrainedOn: good.TrainedOn}, app.CodeOpmlUnknown, "not registered"},
		{"unknown dataset", owner, lin(tx.LineageShare{Asset: tx.DataHash{8}, Bps: 100}), app.CodeDataUnknownAsset, ""},
		{"over 100%", owner, lin(tx.LineageShare{Asset: rootA, Bps: 9000}, tx.LineageShare{Asset: rootB, Bps: 1001}), app.CodeInvalidMsg, "over 10000"},
		{"duplicate", owner, lin(tx.LineageShare{Asset: rootA, Bps: 10}, tx.LineageShare{Asset: rootA, Bps: 10}), app.CodeInvalidMsg, "named twice"},
	} {
		r := c.run(bad.from, bad.msg)[0]
		if r.Code != bad.code || !strings.Contains(r.Log, bad.log) {
			t.Errorf("%s: code %d %q, want %d %q", bad.name, r.Code, r.Log, bad.code, bad.log)
		}
		if got := c.query(app.QueryDataLineage, mid.String()); string(got) != "null" {
			t.Fatalf("%s: a refused lineage was stored: %s", bad.name, got)
		}
	}
	c.ok(owner, good)
	if r := c.run(owner, lin(tx.LineageShare{Asset: rootB, Bps: 100}))[0]; r.Code != app.CodeOpmlExists {
		t.Fatalf("second lineage: code %d %s", r.Code, r.Log)
	}
	var stored app.ModelLineage
	json.Unmarshal(c.query(app.QueryDataLineage, mid.String()), &stored)
	if stored.Owner != O || len(stored.TrainedOn) != 2 || stored.TrainedOn[0].Bps != 3000 {
		t.Fatalf("stored lineage %+v", stored)
	}

	// A job: one worker, an honest result, the challenge window passes.
	c.ok(wk, tx.MsgRegisterWorker{Bond: 5000})
	in := opmltest.Input(3)
	root, err := opml.InputsRoot(m, in)
	if err != nil {
		t.Fatal(err)
	}
	c.ok(req, tx.MsgSubmitJob{ModelID: m.ID(), InputsRoot: root, WorkerFee: 100})
	job := lineageJob(t, c, 1)
	if job.State != app.OpmlJobAssigned || job.Worker != W {
		t.Fatalf("job %s worker %s: %+v", job.State, job.Worker, job)
	}
	res, err := opmltest.Run(m, in)
	if err != nil {
		t.Fatal(err)
	}
	post, err := worker.ResultMsg(1, m, res.Outputs)
	if err != nil {
		t.Fatal(err)
	}
	c.ok(wk, post)
	job = lineageJob(t, c, 1)
	before := map[tx.Address]uint64{}
	for _, a := range []tx.Address{A, B, O, app.DataPoolAddress, app.OpmlAddress} {
		before[a] = c.balance(a)
	}
	poolBefore := c.version(rootA, 1).Pool
	for job.State == app.OpmlJobPosted {
		c.run(req)
		job = lineageJob(t, c, 1)
	}
	if job.State != app.OpmlJobFinal {
		t.Fatalf("job %s: %s", job.State, job.Reason)
	}
	// 300 to alice's dataset (60 of it to the pool), 200 to bob's, 501 to
	// the model owner; the worker's fee leaves the module too.
	want := map[tx.Address]int64{A: 240, B: 200, O: 501, app.DataPoolAddress: 60, app.OpmlAddress: -(fee + 100)}
	for a, d := range want {
		if got := int64(c.balance(a)) - int64(before[a]); got != d {
			t.Errorf("%s: balance moved by %d, want %d", a, got, d)
		}
	}
	if p := c.version(rootA, 1).Pool - poolBefore; p != 60 {
		t.Errorf("contributor pool grew by %d, want 60", p)
	}
	var royaltyTotal uint64
	var whys []string
	for _, p := range job.Payouts {
		whys = append(whys, fmt.Sprintf("%d to %s: %s", p.Amount, p.To, p.Why))
		if strings.HasPrefix(p.Why, "royalty") {
			royaltyTotal += p.Amount
		}
	}
	if royaltyTotal != 500 || len(job.Payouts) != 5 {
		t.Fatalf("job payouts (royalties %d):\n%s", royaltyTotal, strings.Join(whys, "\n"))
	}
	for _, w := range []string{"royalty 30% of the model fee: dataset " + rootA.String() + ", owner", "royalty 20% of the model fee: dataset " + rootB.String(), "model fee after dataset royalties"} {
		if !strings.Contains(strings.Join(whys, "\n"), w) {
			t.Errorf("payouts lack %q:\n%s", w, strings.Join(whys, "\n"))
		}
	}
	for _, d := range []struct {
		asset  tx.DataHash
		amount uint64
	}{{rootA, 300}, {rootB, 200}} {
		a := c.asset(d.asset)
		var r app.Receipt
		json.Unmarshal(c.query(app.QueryDataReceipt, fmt.Sprintf("%s/%d", d.asset, a.Receipts)), &r)
		if r.Kind != "job" || r.Job != "job:1" || r.Payer != R || r.Amount != d.amount || a.Earned != d.amount {
			t.Errorf("asset %s: earned %d, last receipt %+v", d.asset, a.Earned, r)
		}
	}
	c.checkSupply(app.OpmlAddress)
}

func lineageJob(t *testing.T, c *dataChain, id uint64) *app.OpmlJob {
	t.Helper()
	var j *app.OpmlJob
	if err := json.Unmarshal(c.query(app.QueryOpmlJob, fmt.Sprint(id)), &j); err != nil || j == nil {
		t.Fatalf("job %d: %v", id, err)
	}
	return j
}

func TestBpsText(t *testing.T) {
	for bps, want := range map[uint32]string{3000: "30%", 1250: "12.5%", 1: "0.01%", 10000: "100%", 1005: "10.05%"} {
		if got := app.BpsText(bps); got != want {
			t.Errorf("%d bps: %q, want %q", bps, got, want)
		}
	}
}
