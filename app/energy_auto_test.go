package app

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/energy"
	"github.com/provena/provena/tx"
)

func energyAddr(k ed25519.PrivateKey) tx.Address {
	return tx.AddressFromPubKey(k.Public().(ed25519.PublicKey))
}

// energyAt is ctx moved to another block: height and time.
func energyAt(ctx *Context, height int64, at time.Time) *Context {
	c := *ctx
	c.height, c.time, c.events = height, at, nil
	return &c
}

// energyJobSetup registers a model and bonded workers with DE (or zone)
// profiles, and funds the requester, directly in state.
func energyJobSetup(t *testing.T, ctx *Context, req tx.Address, zones map[tx.Address]string) OpmlHash {
	t.Helper()
	model := OpmlHash{0x4d}
	energyMustOK(t, opmlSet(ctx, OpmlModelKey(model), OpmlModel{ID: model, Owner: energyAddr(energySchedKey("model owner")), Fee: 50, NumNodes: 1}))
	energyMustOK(t, ctx.SetAccount(req, &Account{Balance: 1_000_000}))
	for w, zone := range zones {
		energyMustOK(t, opmlSet(ctx, OpmlWorkerKey(w), OpmlWorker{Address: w, Bond: 5000}))
		energyMustOK(t, handleEnergyWorkerProfile(ctx, w, tx.MsgEnergyWorkerProfile{Zone: zone, CPUFamily: "AMD EPYC 2nd Gen", VCPUs: 4, MachineVCPUs: 64, PUEMilli: 1200, EmbodiedG: 1_200_000, LifespanHours: 35040}))
	}
	// The module holds the workers' bonds.
	mod, _ := ctx.Account(OpmlAddress)
	mod.Balance += 5000 * uint64(len(zones))
	energyMustOK(t, ctx.SetAccount(OpmlAddress, &mod))
	return model
}

// TestEnergyDeferredJob: a deferred job stays pending (past the opML
// pending window) until the lowest posted hour of its worker's zone, the
// earliest of two equal minima, and is assigned in that hour with the
// reason on the job; with no posted series it runs at once and says why.
func TestEnergyDeferredJob(t *testing.T) {
	start := time.Date(2026, 6, 1, 6, 0, 10, 0, time.UTC)
	ctx := energySchedCtx(t, start)
	oracle, req, w := energySchedKey("oracle"), energyAddr(energySchedKey("req")), energyAddr(energySchedKey("w"))
	auth := energy.DevAuthorityKey()
	set := tx.MsgEnergySetOracles{Version: 1, Oracles: []tx.Address{energyAddr(oracle)}, AuthorityPubKey: auth.Public().(ed25519.PublicKey)}
	set.AuthoritySig = ed25519.Sign(auth, set.SignBytes())
	energyMustOK(t, handleEnergySetOracles(ctx, energyAddr(oracle), set))
	// 06:00 … 12:00; the minimum 300 g/kWh at 09:00 and again at 11:00.
	mg := []uint32{500_000, 400_000, 450_000, 300_000, 350_000, 300_000, 600_000}
	energyMustOK(t, handleEnergyPostIntensity(ctx, energyAddr(oracle), tx.MsgEnergyPostIntensity{Zone: "DE", StartHour: start.Truncate(time.Hour).Unix(), MgPerKWh: mg}))
	model := energyJobSetup(t, ctx, req, map[tx.Address]string{w: "DE"})
	submit := func(ctx *Context, hours uint32) uint64 {
		t.Helper()
		energyMustOK(t, handleEnergySubmitDeferred(ctx, req, tx.MsgEnergySubmitDeferred{DeferHours: hours, Job: tx.MsgSubmitJob{ModelID: model, InputsRoot: [32]byte{1}, WorkerFee: 10}}))
		var seq uint64
		b, _ := ctx.Get(keyOpmlSeq)
		for _, c := range b {
			seq = seq<<8 | uint64(c)
		}
		return seq
	}
	id := submit(ctx, 6)
	j, _ := opmlLoadJob(ctx, id)
	if want := start.Add(6 * time.Hour).Unix(); j.Energy.DeferUntil != want {
		t.Fatalf("defer until %d, want %d", j.Energy.DeferUntil, want)
	}
	nine := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	if got, _ := EnergyDeferHour(ctx, "DE", j.Energy.DeferUntil); got != nine.Unix() {
		t.Fatalf("EnergyDeferHour chose %v", time.Unix(got, 0).UTC())
	}
	// Blocks every 2 minutes until 08:58: more than the pending window.
	h := int64(2)
	for at := start.Add(time.Minute); at.Before(nine); at = at.Add(2 * time.Minute) {
		energyMustOK(t, opmlEndBlock(energyAt(ctx, h, at)))
		h++
	}
	if h-2 <= DefaultOpmlParams().PendingBlocks {
		t.Fatalf("only %d blocks: the pending window was not exercised", h-2)
	}
	j, _ = opmlLoadJob(ctx, id)
	if j.State != OpmlJobPending || !strings.Contains(j.Unassignable, "deferred") || !strings.Contains(j.Unassignable, "2026-06-01T09:00Z") {
		t.Fatalf("before 09:00: %s, %q", j.State, j.Unassignable)
	}
	energyMustOK(t, opmlEndBlock(energyAt(ctx, h, nine.Add(30*time.Second))))
	j, _ = opmlLoadJob(ctx, id)
	if j.State != OpmlJobAssigned || j.Worker != w || j.Energy.AssignedHour != nine.Unix() || !strings.Contains(j.Energy.Schedule, "deferred to 2026-06-01T09:00Z") || !strings.Contains(j.Energy.Schedule, "300000 mg/kWh") {
		t.Fatalf("at 09:00: %s worker %s hour %d, %q", j.State, j.Worker, j.Energy.AssignedHour, j.Energy.Schedule)
	}

	// No series for the worker's zone: assigned at once, with the reason.
	ctx2 := energySchedCtx(t, start)
	w2 := energyAddr(energySchedKey("w2"))
	model = energyJobSetup(t, ctx2, req, map[tx.Address]string{w2: "FR"})
	id = submit(ctx2, 6)
	energyMustOK(t, opmlEndBlock(energyAt(ctx2, 2, start.Add(time.Second))))
	j, _ = opmlLoadJob(ctx2, id)
	if j.State != OpmlJobAssigned || !strings.Contains(j.Energy.Schedule, "not deferred: no hourly intensity posted for FR") {
		t.Fatalf("unposted zone: %s %q %q", j.State, j.Unassignable, j.Energy.Schedule)
	}
}

// TestEnergyAutoRetire: a green job goes only to the worker holding
// matching certificates; when it settles the chain retires them against
// the job's receipt (spanning two bundles), and nothing can be retired
// for the job a second time.
func TestEnergyAutoRetire(t *testing.T) {
	hour := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ctx := energySchedCtx(t, hour.Add(20*time.Minute))
	producer, meter, wkey := energySchedKey("producer"), energySchedKey("meter"), energySchedKey("green")
	green, grey, req := energyAddr(wkey), energyAddr(energySchedKey("grey")), energyAddr(energySchedKey("req"))
	model := energyJobSetup(t, ctx, req, map[tx.Address]string{green: "DE", grey: "DE"})
	mpub := meter.Public().(ed25519.PublicKey)
	energyMustOK(t, handleEnergyRegisterDevice(ctx, energyAddr(producer), tx.MsgEnergyRegisterDevice{Tech: "solar", CapacityW: 5000, Zone: "DE", MeterPubKey: mpub}))
	dev := energy.DeviceIDFromMeterKey(mpub)
	r := energy.Reading{Device: dev, Start: hour.Unix(), End: hour.Unix() + 3600, Wh: 900, CumulativeWh: 900}
	sig, _ := energy.SignReading(meter, "sched", r)
	energyMustOK(t, handleEnergySubmitReadings(ctx, energyAddr(producer), tx.MsgEnergySubmitReadings{Device: dev, Readings: []tx.EnergySignedReading{{Start: r.Start, End: r.End, Wh: r.Wh, CumulativeWh: r.CumulativeWh, Signature: sig}}}))
	energyMustOK(t, handleEnergyTransfer(ctx, energyAddr(producer), tx.MsgEnergyTransfer{Cert: 1, Wh: 5, To: green})) // bundle 2
	energyMustOK(t, handleEnergyTransfer(ctx, energyAddr(producer), tx.MsgEnergyTransfer{Cert: 1, Wh: 3, To: green})) // bundle 3

	energyMustOK(t, handleSubmitJob(ctx, req, tx.MsgSubmitJob{ModelID: model, InputsRoot: [32]byte{2}, WorkerFee: 10, Green: true, EstimateWh: 6}))
	workers := []tx.Address{green, grey}
	if string(grey[:]) < string(green[:]) {
		workers = []tx.Address{grey, green}
	}
	j, _ := opmlLoadJob(ctx, 1)
	energyMustOK(t, opmlAssign(ctx, j, workers))
	if j.State != OpmlJobAssigned || j.Worker != green {
		t.Fatalf("green job: %s, worker %s (green %s), %q", j.State, j.Worker, green, j.Unassignable)
	}
	// With the green worker busy nobody else qualifies.
	energyMustOK(t, handleSubmitJob(ctx, req, tx.MsgSubmitJob{ModelID: model, InputsRoot: [32]byte{3}, WorkerFee: 10, Green: true, EstimateWh: 1}))
	j2, _ := opmlLoadJob(ctx, 2)
	energyMustOK(t, opmlAssign(ctx, j2, workers))
	if j2.State != OpmlJobPending || !strings.Contains(j2.Unassignable, "holds 0 Wh") {
		t.Fatalf("second green job: %s %q", j2.State, j2.Unassignable)
	}

	// The worker's result is posted and its receipt stored: 5.184 Wh → 6 Wh.
	j.State, j.Posted, j.Deadline = OpmlJobPosted, ctx.Height(), ctx.Height()
	energyMustOK(t, opmlSaveJob(ctx, j))
	ev, err := energy.NewEstimated("AMD EPYC 2nd Gen", 4, 3_600_000, 7_200_000, 1200)
	energyMustOK(t, err)
	de, err := energy.AnnualIntensity("DE", 2025)
	energyMustOK(t, err)
	rc := &energy.Receipt{
		JobID: "1", Worker: wkey.Public().(ed25519.PublicKey), Zone: "DE",
		StartMs: hour.UnixMilli(), EndMs: hour.UnixMilli() + 3_600_000, Inferences: 1, Evidence: ev,
		Intensity: energy.Intensity{MgPerKWh: de.MgPerKWh, Source: energy.SourceAnnual, Ref: de.Ref()},
		Embodied:  energy.Embodied{TotalG: 1_200_000, LifespanHours: 35040, ReservedVCPUs: 4, TotalVCPUs: 64},
	}
	energyMustOK(t, rc.Sign(wkey))
	b, err := rc.Encode()
	energyMustOK(t, err)
	energyMustOK(t, handleEnergyReceipt(ctx, green, tx.MsgEnergyReceipt{Receipt: b}))

	settle := energyAt(ctx, ctx.Height()+1, hour.Add(50*time.Minute))
	energyMustOK(t, opmlAdvance(settle, j, workers))
	if j.State != OpmlJobFinal {
		t.Fatalf("job %s", j.State)
	}
	got := j.Energy.Retired
	if got == nil || got.Basis != "receipt" || got.ConsumptionWh != 6 || got.RetiredWh != 6 || len(got.Certs) != 2 || got.Certs[0] != 2 || got.Certs[1] != 3 || got.Note != "" {
		t.Fatalf("auto retirement %+v", got)
	}
	var cl EnergyClaim
	if ok, _ := energyGet(ctx, energyClaimKey(green, "job:1"), &cl); !ok || cl.RetiredWh != 6 || cl.Matched247Wh != 6 || len(cl.Retirements) != 2 {
		t.Fatalf("claim %+v", cl)
	}
	// Double retirement: the bundle is retired, and the claim is full.
	var ids []uint64
	energyGet(ctx, energyOwnCertKey(green), &ids)
	if len(ids) != 1 {
		t.Fatalf("green still owns bundles %v, want the 2 Wh left of bundle 3", ids)
	}
	for _, bad := range []struct {
		msg  tx.MsgEnergyRetire
		want string
	}{
		{tx.MsgEnergyRetire{Cert: 2, Wh: 5, Claim: "job:1", Zone: "DE", Hour: hour.Unix(), ConsumptionWh: 6}, "is retired"},
		{tx.MsgEnergyRetire{Cert: ids[0], Wh: 1, Claim: "job:1", Zone: "DE", Hour: hour.Unix(), ConsumptionWh: 6}, "over-claim"},
	} {
		if err := handleEnergyRetire(ctx, green, bad.msg); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Fatalf("retire %+v again: %v, want %q", bad.msg, err, bad.want)
		}
	}
	tot, _ := energyLoadTotals(ctx)
	if tot.RetiredWh != 6 || tot.IssuedWh != 900 {
		t.Fatalf("totals %+v", tot)
	}
}
