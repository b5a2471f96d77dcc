package app

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/energy"
	"github.com/provena/provena/tx"
)

func energySchedKey(s string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("energy sched " + s))
	return ed25519.NewKeyFromSeed(seed[:])
}

// energySchedCtx is a block context over a fresh in-memory chain, for
// calling the module's functions directly.
func energySchedCtx(t *testing.T, at time.Time) *Context {
	a := OpenMem()
	t.Cleanup(func() { a.Close() })
	g, _ := json.Marshal(Genesis{Params: DefaultParams(), Modules: map[string]json.RawMessage{"energy": DevEnergyGenesis()}})
	if _, err := a.InitChain("sched", g); err != nil {
		t.Fatal(err)
	}
	return &Context{kv: storeKV{a.store}, height: 1, time: at, params: DefaultParams()}
}

func energyMustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestEnergyGreenAssignment(t *testing.T) {
	hour := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ctx := energySchedCtx(t, hour.Add(20*time.Minute))
	producer, meter := energySchedKey("producer"), energySchedKey("meter")
	green, grey, noprof := energySchedKey("green"), energySchedKey("grey"), energySchedKey("noprof")
	addr := func(k ed25519.PrivateKey) tx.Address { return tx.AddressFromPubKey(k.Public().(ed25519.PublicKey)) }
	for _, w := range []ed25519.PrivateKey{green, grey} {
		energyMustOK(t, handleEnergyWorkerProfile(ctx, addr(w), tx.MsgEnergyWorkerProfile{Zone: "DE", CPUFamily: "AMD EPYC 2nd Gen", VCPUs: 4, MachineVCPUs: 64, PUEMilli: 1200, EmbodiedG: 1_200_000, LifespanHours: 35040}))
	}
	mpub := meter.Public().(ed25519.PublicKey)
	energyMustOK(t, handleEnergyRegisterDevice(ctx, addr(producer), tx.MsgEnergyRegisterDevice{Tech: "solar", CapacityW: 5000, Zone: "DE", MeterPubKey: mpub}))
	dev := energy.DeviceIDFromMeterKey(mpub)
	submit := func(start, end int64, wh, cum uint64) {
		r := energy.Reading{Device: dev, Start: start, End: end, Wh: wh, CumulativeWh: cum}
		sig, _ := energy.SignReading(meter, "sched", r)
		energyMustOK(t, handleEnergySubmitReadings(ctx, addr(producer), tx.MsgEnergySubmitReadings{Device: dev, Readings: []tx.EnergySignedReading{{Start: start, End: end, Wh: wh, CumulativeWh: cum, Signature: sig}}}))
	}
	h := hour.Unix()
	submit(h-3600, h, 900, 900)  // bundle 1: the previous hour
	submit(h, h+3600, 600, 1500) // bundle 2: this hour
	energyMustOK(t, handleEnergyTransfer(ctx, addr(producer), tx.MsgEnergyTransfer{Cert: 2, Wh: 500, To: addr(green)}))
	energyMustOK(t, handleEnergyTransfer(ctx, addr(producer), tx.MsgEnergyTransfer{Cert: 1, To: addr(grey)})) // wrong hour

	c := EnergyJobConstraints{Green: true, EstimateWh: 400}
	tests := []struct {
		name   string
		worker tx.Address
		c      EnergyJobConstraints
		ok     bool
		reason string
	}{
		{"matching certificates", addr(green), c, true, ""},
		{"certificates of another hour", addr(grey), c, false, "holds 0 Wh"},
		{"not enough", addr(green), EnergyJobConstraints{Green: true, EstimateWh: 501}, false, "needs 501"},
		{"no profile", addr(noprof), c, false, "no energy profile"},
		{"unconstrained", addr(noprof), EnergyJobConstraints{}, true, ""},
		// DE 2025 annual average × 2 Wh against a cap.
		{"under the carbon cap", addr(grey), EnergyJobConstraints{MaxUg: 2_000_000, EstimateWh: 2}, true, ""},
		{"over the carbon cap", addr(grey), EnergyJobConstraints{MaxUg: 1000, EstimateWh: 2}, false, "exceeds the job's 1000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, reason, err := EnergyCheckWorker(ctx, tc.c, tc.worker)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.ok || !strings.Contains(reason, tc.reason) {
				t.Fatalf("ok=%v reason=%q, want ok=%v reason containing %q", ok, reason, tc.ok, tc.reason)
			}
		})
	}
	// Once the green worker retires its certificates they no longer count.
	energyMustOK(t, handleEnergyRetire(ctx, addr(green), tx.MsgEnergyRetire{Cert: 3, Wh: 500, Claim: "other use", Zone: "DE", Hour: h, ConsumptionWh: 500}))
	if ok, _, _ := EnergyCheckWorker(ctx, c, addr(green)); ok {
		t.Fatal("retired certificates still qualify a worker for a green job")
	}
}

func TestEnergyDeferHour(t *testing.T) {
	start := time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)
	ctx := energySchedCtx(t, start.Add(10*time.Minute))
	oracle := tx.AddressFromPubKey(energySchedKey("oracle").Public().(ed25519.PublicKey))
	auth := energy.DevAuthorityKey()
	set := tx.MsgEnergySetOracles{Version: 1, Oracles: []tx.Address{oracle}, AuthorityPubKey: auth.Public().(ed25519.PublicKey)}
	set.AuthoritySig = ed25519.Sign(auth, set.SignBytes())
	energyMustOK(t, handleEnergySetOracles(ctx, oracle, set))
	series, err := energy.SyntheticHourly("DE", 2024, start, nil)
	energyMustOK(t, err)
	post := tx.MsgEnergyPostIntensity{Zone: "DE", StartHour: start.Unix(), Synthetic: true}
	for _, hv := range series.Hours {
		post.MgPerKWh = append(post.MgPerKWh, uint32(hv.MgPerKWh))
	}
	energyMustOK(t, handleEnergyPostIntensity(ctx, oracle, post))
	// The series starts at 06:00 of the posted day here (posted from
	// `start`), so hour i of it is start + i h; find the minimum by hand.
	want := func(deadline int64) int64 {
		best := int64(-1)
		var bv uint64
		for i, v := range post.MgPerKWh {
			hh := start.Unix() + int64(i)*3600
			if hh > deadline {
				break
			}
			if best < 0 || uint64(v) < bv {
				best, bv = hh, uint64(v)
			}
		}
		return best
	}
	for _, d := range []time.Duration{0, 2 * time.Hour, 6 * time.Hour, 23 * time.Hour, 72 * time.Hour} {
		deadline := start.Add(d).Unix()
		got, err := EnergyDeferHour(ctx, "DE", deadline)
		energyMustOK(t, err)
		if w := want(deadline); got != w {
			t.Fatalf("deadline +%v: hour %v, want %v", d, time.Unix(got, 0).UTC(), time.Unix(w, 0).UTC())
		}
	}
	// A zone with nothing posted runs now.
	if got, _ := EnergyDeferHour(ctx, "FR", start.Add(5*time.Hour).Unix()); got != start.Unix() {
		t.Fatalf("unposted zone deferred to %v", time.Unix(got, 0).UTC())
	}
}

func TestEnergyReceiptWithJob(t *testing.T) {
	hour := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	ctx := energySchedCtx(t, hour.Add(2*time.Hour))
	worker, requester, other := energySchedKey("worker"), energySchedKey("requester"), energySchedKey("other")
	addr := func(k ed25519.PrivateKey) tx.Address { return tx.AddressFromPubKey(k.Public().(ed25519.PublicKey)) }
	energyMustOK(t, energyPut(ctx, OpmlJobKey(7), OpmlJob{ID: 7, Requester: addr(requester), Worker: addr(worker), State: OpmlJobPosted}))
	energyMustOK(t, energyPut(ctx, OpmlJobKey(8), OpmlJob{ID: 8, Requester: addr(requester), Worker: addr(worker), State: OpmlJobAssigned}))
	energyMustOK(t, handleEnergyWorkerProfile(ctx, addr(worker), tx.MsgEnergyWorkerProfile{Zone: "DE", CPUFamily: "AMD EPYC 2nd Gen", VCPUs: 4, MachineVCPUs: 64, PUEMilli: 1200, EmbodiedG: 1_200_000, LifespanHours: 35040}))

	receipt := func(job string, signer ed25519.PrivateKey, mg uint64) tx.MsgEnergyReceipt {
		ev, err := energy.NewEstimated("AMD EPYC 2nd Gen", 4, 3_600_000, 7_200_000, 1200)
		energyMustOK(t, err)
		r := &energy.Receipt{
			JobID: job, Worker: signer.Public().(ed25519.PublicKey), Zone: "DE",
			StartMs: hour.UnixMilli(), EndMs: hour.UnixMilli() + 3_600_000, Inferences: 1000, Evidence: ev,
			Intensity: energy.Intensity{MgPerKWh: mg, Source: energy.SourceAnnual, Ref: "electricitymaps:2025:DE"},
			Embodied:  energy.Embodied{TotalG: 1_200_000, LifespanHours: 35040, ReservedVCPUs: 4, TotalVCPUs: 64},
		}
		energyMustOK(t, r.Sign(signer))
		b, err := r.Encode()
		energyMustOK(t, err)
		return tx.MsgEnergyReceipt{Receipt: b}
	}
	de, err := energy.AnnualIntensity("DE", 2025)
	energyMustOK(t, err)
	tests := []struct {
		name   string
		sender ed25519.PrivateKey
		msg    tx.MsgEnergyReceipt
		want   string
	}{
		{"not the job's worker", other, receipt("7", other, de.MgPerKWh), "was run by"},
		{"sent by someone else", requester, receipt("7", worker, de.MgPerKWh), "signed by"},
		{"no result yet", worker, receipt("8", worker, de.MgPerKWh), "is assigned"},
		{"unknown job", worker, receipt("9", worker, de.MgPerKWh), "no job 9"},
		{"wrong intensity", worker, receipt("7", worker, de.MgPerKWh-1), "differs from the chain's"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := handleEnergyReceipt(ctx, addr(tc.sender), tc.msg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	energyMustOK(t, handleEnergyReceipt(ctx, addr(worker), receipt("7", worker, de.MgPerKWh)))
	if err := handleEnergyReceipt(ctx, addr(worker), receipt("7", worker, de.MgPerKWh)); err == nil || !strings.Contains(err.Error(), "already has a receipt") {
		t.Fatalf("second receipt: %v", err)
	}
	var rec EnergyReceiptRecord
	if ok, err := energyGet(ctx, energyReceiptKey(7), &rec); !ok || err != nil {
		t.Fatal("receipt not stored", err)
	}
	// 5.184 Wh estimated → claims retire against 6 Wh; the SCI is the hand-computed one in package energy, at DE's 2025 intensity.
	if rec.EnergyWh != 6 || rec.Method != "estimated" || rec.SCI.EnergyMWh != 5184 || rec.Hour != hour.Unix() {
		t.Fatalf("record %+v", rec)
	}

	// Job claims are bound to the job and its receipt.
	mpub := energySchedKey("meter").Public().(ed25519.PublicKey)
	energyMustOK(t, handleEnergyRegisterDevice(ctx, addr(requester), tx.MsgEnergyRegisterDevice{Tech: "solar", CapacityW: 5000, Zone: "DE", MeterPubKey: mpub}))
	dev := energy.DeviceIDFromMeterKey(mpub)
	r := energy.Reading{Device: dev, Start: hour.Unix(), End: hour.Unix() + 3600, Wh: 100, CumulativeWh: 100}
	sig, _ := energy.SignReading(energySchedKey("meter"), "sched", r)
	energyMustOK(t, handleEnergySubmitReadings(ctx, addr(requester), tx.MsgEnergySubmitReadings{Device: dev, Readings: []tx.EnergySignedReading{{Start: r.Start, End: r.End, Wh: 100, CumulativeWh: 100, Signature: sig}}}))
	energyMustOK(t, handleEnergyTransfer(ctx, addr(requester), tx.MsgEnergyTransfer{Cert: 1, Wh: 50, To: addr(other)}))
	claim := func(wh, cons uint64, h int64) tx.MsgEnergyRetire {
		return tx.MsgEnergyRetire{Cert: 1, Wh: wh, Claim: "job:7", Zone: "DE", Hour: h, ConsumptionWh: cons}
	}
	for _, bad := range []struct {
		sender tx.Address
		msg    tx.MsgEnergyRetire
		want   string
	}{
		{addr(requester), claim(6, 7, hour.Unix()), "must state the job's receipt: 6 Wh"},
		{addr(requester), claim(6, 6, hour.Unix()+3600), "must state the job's receipt"},
		{addr(other), tx.MsgEnergyRetire{Cert: 2, Wh: 6, Claim: "job:7", Zone: "DE", Hour: hour.Unix(), ConsumptionWh: 6}, "requester or worker"},
		{addr(requester), tx.MsgEnergyRetire{Cert: 1, Wh: 1, Claim: "job:99", Zone: "DE", Hour: hour.Unix(), ConsumptionWh: 1}, "no job 99"},
	} {
		if err := handleEnergyRetire(ctx, bad.sender, bad.msg); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Fatalf("%+v: got %v, want %q", bad.msg, err, bad.want)
		}
	}
	energyMustOK(t, handleEnergyRetire(ctx, addr(requester), claim(6, 6, hour.Unix())))
	// The worker cannot claim the same job's energy a second time.
	energyMustOK(t, handleEnergyTransfer(ctx, addr(requester), tx.MsgEnergyTransfer{Cert: 1, Wh: 10, To: addr(worker)}))
	if err := handleEnergyRetire(ctx, addr(worker), tx.MsgEnergyRetire{Cert: 4, Wh: 6, Claim: "job:7", Zone: "DE", Hour: hour.Unix(), ConsumptionWh: 6}); err == nil || !strings.Contains(err.Error(), "already claimed") {
		t.Fatalf("second claimant: %v", err)
	}
}
