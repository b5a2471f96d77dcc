package worker

import (
	"crypto/ed25519"
	"testing"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
	"github.com/provena/provena/tx"
)

// TestWorkerSendsEnergyReceipt: a worker with an energy profile meters the
// job it runs and, once its result is posted, stores a signed receipt on
// chain without being asked; one without a profile sends none.
func TestWorkerSendsEnergyReceipt(t *testing.T) {
	e := setup(t)
	for _, k := range []ed25519.PrivateKey{w1, w2} {
		if _, err := e.c.Submit(k, tx.MsgEnergyWorkerProfile{Zone: "DE", CPUFamily: "AMD EPYC 2nd Gen", VCPUs: 1, MachineVCPUs: 64, PUEMilli: 1200, EmbodiedG: 1_200_000, LifespanHours: 35040}); err != nil {
			t.Fatal(err)
		}
	}
	e.mustOK(e.block())
	id, assigned := e.submit(5)
	for _, k := range []ed25519.PrivateKey{w1, w2} {
		e.workers[apptest.Addr(k)] = NewWorker(e.client(k), Fault{}, t.Logf)
	}
	j := e.run(id, 60)
	if j.State != app.OpmlJobFinal || len(e.codes) != 0 {
		t.Fatalf("job %s, failed transactions %+v", j.State, e.codes)
	}
	var rec app.EnergyReceiptRecord
	ok, err := e.c.Query(app.QueryEnergyReceipt, []byte(itoa(id)), &rec)
	if err != nil || !ok {
		t.Fatalf("no energy receipt for job %d: %v", id, err)
	}
	if rec.Worker != assigned.String() || rec.Zone != "DE" || rec.EnergyWh == 0 || (rec.Method != "estimated" && rec.Method != "measured") || rec.SCI.Inferences != 1 {
		t.Fatalf("receipt %+v", rec)
	}

	// Without a profile: no metering, no receipt, no failed transaction.
	e2 := setup(t)
	id2, _ := e2.submit(6)
	for _, k := range []ed25519.PrivateKey{w1, w2} {
		e2.workers[apptest.Addr(k)] = NewWorker(e2.client(k), Fault{}, t.Logf)
	}
	if j := e2.run(id2, 60); j.State != app.OpmlJobFinal || len(e2.codes) != 0 {
		t.Fatalf("job without profiles: %s, %+v", j.State, e2.codes)
	}
	if ok, err := e2.c.Query(app.QueryEnergyReceipt, []byte(itoa(id2)), &rec); ok || err != nil {
		t.Fatalf("receipt without a profile: %v %v", ok, err)
	}
}
