package app

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/provena/provena/energy"
	"github.com/provena/provena/tx"
)

// The energy module's job side: worker energy profiles, signed receipts
// stored with opML jobs, job-bound certificate claims, and the scheduling
// checks a carbon-constrained job needs (EnergyCheckWorker,
// EnergyDeferHour), which the opML assignment calls once it has the hook
// described in docs/energy.md.
func init() {
	RegisterHandler(tx.TypeEnergyWorkerProfile, HandlerFunc(handleEnergyWorkerProfile))
	RegisterHandler(tx.TypeEnergyReceipt, HandlerFunc(handleEnergyReceipt))
	RegisterQuery(QueryEnergyWorker, QueryRoute{
		Key: func(data []byte) ([]byte, error) {
			a, err := parseQueryAddress(data)
			if err != nil {
				return nil, err
			}
			return energyWorkerKey(a), nil
		},
		Render: energyRender(energyPfxWorker, true, func() any { return &EnergyWorkerProfile{} }),
	})
	RegisterQuery(QueryEnergyReceipt, QueryRoute{
		Key: func(data []byte) ([]byte, error) {
			id, err := strconv.ParseUint(string(data), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("want a decimal job id, got %q", data)
			}
			return energyReceiptKey(id), nil
		},
		Render: energyRender(energyPfxReceipt, true, func() any { return &EnergyReceiptRecord{} }),
	})
	RegisterQuery(QueryEnergyJobClaim, QueryRoute{
		Key: func(data []byte) ([]byte, error) {
			id, err := strconv.ParseUint(string(data), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("want a decimal job id, got %q", data)
			}
			return energyJobClaimKey(id), nil
		},
		Render: energyRender(energyPfxJobClaim, false, func() any { return new(string) }),
	})
}

// Query paths of the job side.
const (
	QueryEnergyWorker   = "/energy/worker"    // data: worker address; value: EnergyWorkerProfile or null
	QueryEnergyReceipt  = "/energy/receipt"   // data: opML job id (decimal); value: EnergyReceiptRecord or null
	QueryEnergyJobClaim = "/energy/job_claim" // data: opML job id (decimal); value: the claimant's address or ""
)

var (
	energyPfxWorker   = []byte("e/wprof/")   // <address> -> EnergyWorkerProfile
	energyPfxReceipt  = []byte("e/receipt/") // <8-byte job id> -> EnergyReceiptRecord
	energyPfxJobClaim = []byte("e/jclaim/")  // <8-byte job id> -> claimant address text
)

func energyWorkerKey(a tx.Address) []byte    { return energyKey(energyPfxWorker, a[:]) }
func energyReceiptKey(job uint64) []byte     { return energyKey(energyPfxReceipt, energyU64(job)) }
func energyJobClaimKey(job uint64) []byte    { return energyKey(energyPfxJobClaim, energyU64(job)) }
func energyJobRef(job uint64) string         { return "job:" + strconv.FormatUint(job, 10) }
func energyWhCeil(mWh uint64) uint64         { return max(1, (mWh+999)/1000) }
func energyAnnualYear(hour int64) (year int) { return time.Unix(hour, 0).UTC().Year() }

// EnergyWorkerProfile is a worker's energy profile on chain.
type EnergyWorkerProfile struct {
	Address       string `json:"address"`
	Zone          string `json:"zone"`
	CPUFamily     string `json:"cpu_family"`
	MinMilliW     uint64 `json:"min_milliwatts_per_vcpu"`
	MaxMilliW     uint64 `json:"max_milliwatts_per_vcpu"`
	VCPUs         uint32 `json:"vcpus"`
	MachineVCPUs  uint32 `json:"machine_vcpus"`
	PUEMilli      uint32 `json:"pue_milli"`
	EmbodiedG     uint64 `json:"embodied_g"`
	LifespanHours uint64 `json:"lifespan_h"`
	Height        int64  `json:"height"`
}

// EnergyReceiptRecord is a job's stored receipt with its computed figures.
type EnergyReceiptRecord struct {
	Job      uint64     `json:"job"`
	Worker   string     `json:"worker"`
	Zone     string     `json:"zone"`
	Hour     int64      `json:"hour"`
	Method   string     `json:"method"`
	EnergyWh uint64     `json:"energy_wh"` // rounded up: what a job claim must retire against
	SCI      energy.SCI `json:"sci"`
	Receipt  string     `json:"receipt"` // canonical bytes, hex
	Height   int64      `json:"height"`
}

func handleEnergyWorkerProfile(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgEnergyWorkerProfile)
	f, err := energy.LookupCPUFamily(msg.CPUFamily)
	if err != nil {
		return Fail(CodeInvalidMsg, "%v", err)
	}
	p := EnergyWorkerProfile{
		Address: sender.String(), Zone: msg.Zone, CPUFamily: f.Name, MinMilliW: f.MinMilliW, MaxMilliW: f.MaxMilliW,
		VCPUs: msg.VCPUs, MachineVCPUs: msg.MachineVCPUs, PUEMilli: msg.PUEMilli, EmbodiedG: msg.EmbodiedG, LifespanHours: msg.LifespanHours,
		Height: ctx.Height(),
	}
	if err := energyPut(ctx, energyWorkerKey(sender), p); err != nil {
		return err
	}
	ctx.Emit("energy_worker_profile", "worker", p.Address, "zone", p.Zone, "cpu_family", p.CPUFamily)
	return nil
}

// energyIntensityFor returns the intensity a receipt for zone and hour must
// use: the oracle's posted value when there is one, else the zone's annual
// average from the embedded Electricity Maps extract.
func energyIntensityFor(ctx *Context, zone string, hour int64) (energy.Intensity, bool, error) {
	var iv EnergyIntensity
	ok, err := energyGet(ctx, energyIntensityKey(zone, hour), &iv)
	if err != nil {
		return energy.Intensity{}, false, err
	}
	if ok {
		src := energy.SourceOracle
		if iv.Synthetic {
			src = energy.SourceSynthetic
		}
		return energy.Intensity{MgPerKWh: iv.MgPerKWh, Source: src, Ref: iv.Oracle}, true, nil
	}
	z, err := energy.AnnualIntensityOrLatest(zone, energyAnnualYear(hour))
	if err != nil {
		return energy.Intensity{}, false, nil
	}
	return energy.Intensity{MgPerKWh: z.MgPerKWh, Source: energy.SourceAnnual, Ref: z.Ref()}, true, nil
}

func handleEnergyReceipt(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgEnergyReceipt)
	r, err := energy.DecodeReceipt(msg.Receipt) // ValidateBasic verified the signature
	if err != nil {
		return Fail(CodeInvalidMsg, "%v", err)
	}
	if tx.AddressFromPubKey(r.Worker) != sender {
		return Fail(CodeEnergyUnauthorized, "receipt is signed by %s's key, but %s sent it", tx.AddressFromPubKey(r.Worker), sender)
	}
	jobID, err := strconv.ParseUint(r.JobID, 10, 64)
	if err != nil {
		return Fail(CodeEnergyUnknown, "receipt job id %q is not an opML job id", r.JobID)
	}
	var job OpmlJob
	ok, err := energyGet(ctx, OpmlJobKey(jobID), &job)
	if err != nil {
		return err
	}
	if !ok {
		return Fail(CodeEnergyUnknown, "no job %d", jobID)
	}
	if job.Worker != sender {
		return Fail(CodeEnergyUnauthorized, "job %d was run by %s, not %s", jobID, job.Worker, sender)
	}
	switch job.State {
	case OpmlJobPosted, OpmlJobDisputed, OpmlJobFinal:
	default:
		return Fail(CodeEnergyState, "job %d is %s; a receipt follows a posted result", jobID, job.State)
	}
	if b, err := ctx.Get(energyReceiptKey(jobID)); err != nil {
		return err
	} else if b != nil {
		return Fail(CodeEnergyState, "job %d already has a receipt", jobID)
	}
	var prof EnergyWorkerProfile
	ok, err = energyGet(ctx, energyWorkerKey(sender), &prof)
	if err != nil {
		return err
	}
	if !ok {
		return Fail(CodeEnergyState, "%s has no energy profile (energy_worker_profile)", sender)
	}
	if r.Zone != prof.Zone {
		return Fail(CodeEnergyState, "receipt zone %s differs from the worker's profile zone %s", r.Zone, prof.Zone)
	}
	if e, ok := r.Evidence.(*energy.Estimated); ok && (e.Family != prof.CPUFamily || e.MinMilliW != prof.MinMilliW || e.MaxMilliW != prof.MaxMilliW || e.PUEMilli != prof.PUEMilli) {
		return Fail(CodeEnergyState, "receipt estimate (%s, %d..%d mW, PUE %d) differs from the worker's profile (%s, %d..%d mW, PUE %d)",
			e.Family, e.MinMilliW, e.MaxMilliW, e.PUEMilli, prof.CPUFamily, prof.MinMilliW, prof.MaxMilliW, prof.PUEMilli)
	}
	want, ok, err := energyIntensityFor(ctx, r.Zone, r.Hour())
	if err != nil {
		return err
	}
	if ok && (r.Intensity.MgPerKWh != want.MgPerKWh || r.Intensity.Source != want.Source) {
		return Fail(CodeEnergyState, "receipt intensity %d mg/kWh (%s) differs from the chain's %d mg/kWh (%s) for %s at %d",
			r.Intensity.MgPerKWh, r.Intensity.Source, want.MgPerKWh, want.Source, r.Zone, r.Hour())
	}
	sci, err := energy.ComputeSCI(r)
	if err != nil {
		return Fail(CodeInvalidMsg, "%v", err)
	}
	rec := EnergyReceiptRecord{
		Job: jobID, Worker: sender.String(), Zone: r.Zone, Hour: r.Hour(), Method: r.Method().String(),
		EnergyWh: energyWhCeil(sci.EnergyMWh), SCI: sci, Receipt: hex.EncodeToString(msg.Receipt), Height: ctx.Height(),
	}
	if err := energyPut(ctx, energyReceiptKey(jobID), rec); err != nil {
		return err
	}
	ctx.Emit("energy_receipt", "job", u64(jobID), "worker", rec.Worker, "method", rec.Method, "energy_mwh", u64(sci.EnergyMWh), "sci_ug_per_inference", u64(sci.PerInferenceUg))
	return nil
}

// energyCheckJobClaim binds a "job:<id>" claim to the job: the job must
// exist, the claimant must be its requester or worker and the first to
// claim it, and once the job has a receipt the claim must state the
// receipt's zone, hour and energy.
func energyCheckJobClaim(ctx *Context, sender tx.Address, msg tx.MsgEnergyRetire) error {
	ref, ok := strings.CutPrefix(msg.Claim, "job:")
	if !ok {
		return nil
	}
	id, err := strconv.ParseUint(ref, 10, 64)
	if err != nil || energyJobRef(id) != msg.Claim {
		return Fail(CodeEnergyUnknown, "claim %q: job claims are job:<opML job id>", msg.Claim)
	}
	var job OpmlJob
	ok, err = energyGet(ctx, OpmlJobKey(id), &job)
	if err != nil {
		return err
	}
	if !ok {
		return Fail(CodeEnergyUnknown, "claim %q: no job %d", msg.Claim, id)
	}
	if sender != job.Requester && sender != job.Worker {
		return Fail(CodeEnergyUnauthorized, "claim %q: only job %d's requester or worker may claim its energy", msg.Claim, id)
	}
	var claimant string
	if _, err := energyGet(ctx, energyJobClaimKey(id), &claimant); err != nil {
		return err
	}
	if claimant != "" && claimant != sender.String() {
		return Fail(CodeEnergyState, "claim %q: job %d's energy is already claimed by %s", msg.Claim, id, claimant)
	}
	var rec EnergyReceiptRecord
	has, err := energyGet(ctx, energyReceiptKey(id), &rec)
	if err != nil {
		return err
	}
	if has && (msg.Zone != rec.Zone || msg.Hour != rec.Hour || msg.ConsumptionWh != rec.EnergyWh) {
		return Fail(CodeEnergyState, "claim %q must state the job's receipt: %d Wh in %s at hour %d", msg.Claim, rec.EnergyWh, rec.Zone, rec.Hour)
	}
	return energyPut(ctx, energyJobClaimKey(id), sender.String())
}

// EnergyJobConstraints are a job's carbon constraints.
type EnergyJobConstraints struct {
	// Green: only workers holding active certificate bundles of their own
	// zone and the current UTC hour covering EstimateWh qualify.
	Green bool `json:"green"`
	// MaxUg: only workers whose zone's current intensity times EstimateWh
	// stays at or under this many µgCO2e qualify (0: no limit).
	MaxUg uint64 `json:"max_ug"`
	// EstimateWh is the job's expected energy (from the model's past
	// receipts or the worker profile); at least 1.
	EstimateWh uint64 `json:"estimate_wh"`
	// DeferUntil (unix s, block time; 0: not deferred) is a deferred job's
	// deadline: until then a worker qualifies only in the hour with the
	// lowest posted intensity of its zone between now and DeferUntil
	// (app/energy_defer.go).
	DeferUntil int64 `json:"defer_until,omitempty"`

	// Set by the chain. AssignedHour is the UTC hour (unix s) of the
	// assignment; Schedule says why the job ran when it did; Retired is
	// what a green job's settlement retired (app/energy_settle.go).
	AssignedHour int64             `json:"assigned_hour,omitempty"`
	Schedule     string            `json:"schedule,omitempty"`
	Retired      *EnergyAutoRetire `json:"retired,omitempty"`
}

// EnergyCheckWorker says whether worker may run a job with constraints c
// now (the block's time): deterministic, from state only. reason says why
// not.
func EnergyCheckWorker(ctx *Context, c EnergyJobConstraints, worker tx.Address) (ok bool, reason string, err error) {
	deferring := energyDeferring(ctx, c)
	if !c.Green && c.MaxUg == 0 && !deferring {
		return true, "", nil
	}
	var prof EnergyWorkerProfile
	has, err := energyGet(ctx, energyWorkerKey(worker), &prof)
	if err != nil {
		return false, "", err
	}
	if !has {
		return false, fmt.Sprintf("%s has no energy profile", worker), nil
	}
	hour := energy.HourOf(ctx.BlockTime().Unix())
	est := max(c.EstimateWh, 1)
	if deferring {
		best, posted, err := energyDeferTarget(ctx, prof.Zone, c.DeferUntil)
		if err != nil {
			return false, "", err
		}
		if posted && best.Hour != hour {
			return false, fmt.Sprintf("deferred: %s's lowest posted intensity up to %s is %d mg/kWh at %s", prof.Zone, energyHourText(c.DeferUntil), best.MgPerKWh, energyHourText(best.Hour)), nil
		}
	}
	if c.MaxUg > 0 {
		iv, known, err := energyIntensityFor(ctx, prof.Zone, hour)
		if err != nil {
			return false, "", err
		}
		if !known {
			return false, fmt.Sprintf("no intensity known for %s", prof.Zone), nil
		}
		// Wh × mg/kWh = µg.
		if ug := est * iv.MgPerKWh; ug/est != iv.MgPerKWh || ug > c.MaxUg {
			return false, fmt.Sprintf("%s at %d: %d Wh × %d mg/kWh exceeds the job's %d µg", prof.Zone, hour, est, iv.MgPerKWh, c.MaxUg), nil
		}
	}
	if c.Green {
		var ids []uint64
		if _, err := energyGet(ctx, energyOwnCertKey(worker), &ids); err != nil {
			return false, "", err
		}
		var have uint64
		for _, id := range ids {
			ce, err := energyLoadCert(ctx, id)
			if err != nil {
				return false, "", err
			}
			if ce.Status == energyActive && ce.Zone == prof.Zone && ce.Hour == hour {
				have += ce.Wh
			}
		}
		if have < est {
			return false, fmt.Sprintf("%s holds %d Wh of active certificates for %s at hour %d; the job needs %d", worker, have, prof.Zone, hour, est), nil
		}
	}
	return true, "", nil
}

// EnergyDeferHour picks the hour a deferrable job in zone should run:
// the lowest posted intensity among the hours from the block's hour to
// deadline (unix s), earliest on a tie. Hours with no posted value are not
// candidates; with none at all the job runs now.
func EnergyDeferHour(ctx *Context, zone string, deadline int64) (int64, error) {
	best, posted, err := energyDeferTarget(ctx, zone, deadline)
	if err != nil || !posted {
		return energy.HourOf(ctx.BlockTime().Unix()), err
	}
	return best.Hour, nil
}

// energyDeferTarget is EnergyDeferHour's choice with its intensity;
// posted is false when no hour of the window has a posted value.
func energyDeferTarget(ctx *Context, zone string, deadline int64) (best energy.HourValue, posted bool, err error) {
	now := energy.HourOf(ctx.BlockTime().Unix())
	if deadline-now > tx.MaxDeferHours*3600 {
		deadline = now + tx.MaxDeferHours*3600 // bound the reads: a week of hours
	}
	var series []energy.HourValue
	for h := now; h <= deadline; h += 3600 {
		var iv EnergyIntensity
		ok, err := energyGet(ctx, energyIntensityKey(zone, h), &iv)
		if err != nil {
			return best, false, err
		}
		if ok {
			series = append(series, energy.HourValue{Hour: h, MgPerKWh: iv.MgPerKWh})
		}
	}
	best, err = energy.LowestHour(series, now, deadline)
	if err != nil {
		return best, false, nil
	}
	return best, true, nil
}
