package app

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/provena/provena/energy"
	"github.com/provena/provena/tx"
)

// Deferred jobs (tx.MsgEnergySubmitDeferred): an opML job whose requester
// lets it wait up to DeferHours so that it runs in the cleanest hour. The
// deadline is block time (submission block's time + DeferHours h); the
// candidate hours are the UTC hours from the current one up to the one
// containing the deadline that have a posted intensity for the worker's
// zone, and a worker qualifies only in the lowest of them (earliest on a
// tie; EnergyCheckWorker). With no posted hour for its zone a worker
// qualifies at once and the job records why it was not deferred. Once the
// deadline has passed the job is assigned like any other.
func init() {
	RegisterHandler(tx.TypeEnergySubmitDeferred, HandlerFunc(handleEnergySubmitDeferred))
}

func handleEnergySubmitDeferred(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgEnergySubmitDeferred)
	if err := handleSubmitJob(ctx, sender, msg.Job); err != nil {
		return err
	}
	// handleSubmitJob numbered the job with the module's sequence.
	seq, err := ctx.Get(keyOpmlSeq)
	if err != nil {
		return err
	}
	if len(seq) != 8 {
		return fmt.Errorf("deferred job: opML job sequence is %d bytes", len(seq))
	}
	j, err := opmlLoadJob(ctx, binary.BigEndian.Uint64(seq))
	if err != nil {
		return err
	}
	j.Energy.DeferUntil = ctx.BlockTime().Unix() + int64(msg.DeferHours)*3600
	ctx.Emit("energy_deferred", "job", u64(j.ID), "until", i64(j.Energy.DeferUntil))
	return opmlSaveJob(ctx, j)
}

// energyDeferring reports whether a job's deferral still constrains its
// assignment at the block's time.
func energyDeferring(ctx *Context, c EnergyJobConstraints) bool {
	return c.DeferUntil > 0 && ctx.BlockTime().Unix() <= c.DeferUntil
}

func energyHourText(unix int64) string {
	return time.Unix(unix, 0).UTC().Format("2006-01-02T15:04Z")
}

// energyHoldDeferred keeps a deferred job pending past the opML module's
// pending window until its deferral deadline: the window then restarts,
// so a job nobody can take is still refunded.
func energyHoldDeferred(ctx *Context, j *OpmlJob) {
	if j.State == OpmlJobPending && energyDeferring(ctx, j.Energy) {
		j.Deadline = max(j.Deadline, ctx.Height()+DefaultOpmlParams().PendingBlocks)
	}
}

// energyOnAssign records the assignment hour, which a green job's
// settlement retires certificates for when no receipt came, and for a
// deferred job why it runs now.
func energyOnAssign(ctx *Context, j *OpmlJob) error {
	now := ctx.BlockTime().Unix()
	j.Energy.AssignedHour = energy.HourOf(now)
	if j.Energy.DeferUntil == 0 {
		return nil
	}
	if now > j.Energy.DeferUntil {
		j.Energy.Schedule = fmt.Sprintf("deferral deadline %s passed before a worker qualified; assigned at %s", energyHourText(j.Energy.DeferUntil), energyHourText(now))
		return nil
	}
	var prof EnergyWorkerProfile
	if _, err := energyGet(ctx, energyWorkerKey(j.Worker), &prof); err != nil {
		return err
	}
	best, posted, err := energyDeferTarget(ctx, prof.Zone, j.Energy.DeferUntil)
	if err != nil {
		return err
	}
	if !posted {
		j.Energy.Schedule = fmt.Sprintf("not deferred: no hourly intensity posted for %s between %s and %s; assigned at once", prof.Zone, energyHourText(j.Energy.AssignedHour), energyHourText(j.Energy.DeferUntil))
		return nil
	}
	j.Energy.Schedule = fmt.Sprintf("deferred to %s, the lowest posted intensity for %s up to %s (%d mg/kWh)", energyHourText(best.Hour), prof.Zone, energyHourText(j.Energy.DeferUntil), best.MgPerKWh)
	return nil
}
