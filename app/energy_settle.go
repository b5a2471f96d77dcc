package app

import (
	"errors"
	"fmt"

	"github.com/provena/provena/tx"
)

// Automatic retirement. When a green job settles (its result final), the
// chain retires, in the same block and in one step, the worker's active
// certificate bundles of the job's zone and UTC hour against the claim
// "job:<id>", in the worker's bundle order, until the job's energy is
// covered: the energy receipt's whole Wh when the worker sent one, else
// the job's estimate in the worker's profile zone at the assignment hour.
// Either every retirement lands or none does (they run in a write buffer
// that is discarded on the first refusal, whose reason is recorded). A
// bundle retired once cannot be retired again, and the claim never
// retires more than the job consumed, so manual and automatic retirement
// cannot double count. If the requester already claimed the job's energy,
// nothing is retired for the worker.

// EnergyAutoRetire is what settlement retired for a green job.
type EnergyAutoRetire struct {
	Basis         string   `json:"basis"` // "receipt" or "estimate"
	Zone          string   `json:"zone"`
	Hour          int64    `json:"hour"`
	ConsumptionWh uint64   `json:"consumption_wh"`
	RetiredWh     uint64   `json:"retired_wh"` // by settlement (earlier manual retirements not included)
	Certs         []uint64 `json:"certs,omitempty"`
	Note          string   `json:"note,omitempty"`
}

// energySettleJob runs automatic retirement for a job whose result just
// became final. Only storage errors are returned: a refusal is recorded
// on the job, since the job itself is settled either way.
func energySettleJob(ctx *Context, j *OpmlJob) error {
	if !j.Energy.Green || j.Worker == (tx.Address{}) {
		return nil
	}
	res := &EnergyAutoRetire{}
	j.Energy.Retired = res
	var rec EnergyReceiptRecord
	has, err := energyGet(ctx, energyReceiptKey(j.ID), &rec)
	if err != nil {
		return err
	}
	if has {
		res.Basis, res.Zone, res.Hour, res.ConsumptionWh = "receipt", rec.Zone, rec.Hour, rec.EnergyWh
	} else {
		var prof EnergyWorkerProfile
		ok, err := energyGet(ctx, energyWorkerKey(j.Worker), &prof)
		if err != nil {
			return err
		}
		if !ok {
			res.Note = "worker has no energy profile; nothing retired"
			return nil
		}
		res.Basis, res.Zone, res.Hour, res.ConsumptionWh = "estimate", prof.Zone, j.Energy.AssignedHour, max(j.Energy.EstimateWh, 1)
	}
	claim := energyJobRef(j.ID)
	var claimant string
	if _, err := energyGet(ctx, energyJobClaimKey(j.ID), &claimant); err != nil {
		return err
	}
	if claimant != "" && claimant != j.Worker.String() {
		res.Note = "the job's energy is already claimed by " + claimant
		return nil
	}
	var cl EnergyClaim
	if _, err := energyGet(ctx, energyClaimKey(j.Worker, claim), &cl); err != nil {
		return err
	}
	if cl.Ref != "" && (cl.Zone != res.Zone || cl.Hour != res.Hour || cl.ConsumptionWh != res.ConsumptionWh) {
		res.Note = fmt.Sprintf("the worker's claim %s states %d Wh in %s at %d, not the job's %d Wh; nothing retired", claim, cl.ConsumptionWh, cl.Zone, cl.Hour, res.ConsumptionWh)
		return nil
	}
	if cl.RetiredWh >= res.ConsumptionWh {
		res.Note = fmt.Sprintf("the worker already retired %d Wh for the job", cl.RetiredWh)
		return nil
	}
	need := res.ConsumptionWh - cl.RetiredWh
	var ids []uint64
	if _, err := energyGet(ctx, energyOwnCertKey(j.Worker), &ids); err != nil {
		return err
	}
	sub := &Context{kv: newCache(ctx.kv), height: ctx.height, time: ctx.time, params: ctx.params, checking: ctx.checking, lastAppHash: ctx.lastAppHash}
	var retired uint64
	var certs []uint64
	for _, id := range ids {
		if retired == need {
			break
		}
		c, err := energyLoadCert(sub, id)
		if err != nil {
			return err
		}
		if c.Status != energyActive || c.Zone != res.Zone || c.Hour != res.Hour {
			continue
		}
		wh := min(c.Wh, need-retired)
		err = handleEnergyRetire(sub, j.Worker, tx.MsgEnergyRetire{Cert: id, Wh: wh, Claim: claim, Zone: res.Zone, Hour: res.Hour, ConsumptionWh: res.ConsumptionWh})
		var ce *codedError
		if errors.As(err, &ce) {
			res.Note = "automatic retirement refused, nothing retired: " + ce.Error()
			return nil
		}
		if err != nil {
			return err
		}
		retired += wh
		certs = append(certs, id)
	}
	if err := sub.kv.(*cache).flush(ctx.kv); err != nil {
		return err
	}
	ctx.events = append(ctx.events, sub.events...)
	res.RetiredWh, res.Certs = retired, certs
	if retired < need {
		res.Note = fmt.Sprintf("the worker held %d Wh of matching certificates at settlement; %d Wh of the job's energy is not covered", retired, need-retired)
	}
	ctx.Emit("energy_auto_retire", "job", u64(j.ID), "worker", j.Worker.String(), "wh", u64(retired), "basis", res.Basis)
	return nil
}
