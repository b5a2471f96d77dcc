package worker

import (
	"crypto/ed25519"
	"fmt"
	"strconv"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/energy"
	"github.com/provena/provena/tx"
)

// EnergyClient is an optional ability of a Client: what a worker needs to
// account each job's energy. A Worker whose client has it meters every job
// it runs (RAPL counters when readable, else a CCF estimate from CPU time;
// energy.StartJob) and, once the result is posted, sends the signed
// receipt (tx.MsgEnergyReceipt) without being asked. A worker with no
// energy profile on chain sends none (the chain would refuse it).
type EnergyClient interface {
	// EnergyProfile returns the client's own profile on chain, or (nil, nil).
	EnergyProfile() (*app.EnergyWorkerProfile, error)
	// EnergyIntensity returns the intensity the chain expects in a receipt
	// for zone and hour (see ChainIntensity).
	EnergyIntensity(zone string, hour int64) (energy.Intensity, error)
	// SignReceipt names the worker's key (the sender's) in r and signs r
	// with it.
	SignReceipt(r *energy.Receipt) error
}

// ChainIntensity is the intensity the ledger checks a receipt against: the
// oracle value posted for zone and hour (app.QueryEnergyIntensity), else
// the zone's annual average. query reads a query path into out.
func ChainIntensity(query func(path, data string, out any) error, zone string, hour int64) (energy.Intensity, error) {
	var iv *app.EnergyIntensity
	if err := query(app.QueryEnergyIntensity, fmt.Sprintf("%s@%d", zone, hour), &iv); err != nil {
		return energy.Intensity{}, err
	}
	if iv != nil {
		src := energy.SourceOracle
		if iv.Synthetic {
			src = energy.SourceSynthetic
		}
		return energy.Intensity{MgPerKWh: iv.MgPerKWh, Source: src, Ref: iv.Oracle}, nil
	}
	z, err := energy.AnnualIntensityOrLatest(zone, time.Unix(hour, 0).UTC().Year())
	if err != nil {
		return energy.Intensity{}, err
	}
	return energy.Intensity{MgPerKWh: z.MgPerKWh, Source: energy.SourceAnnual, Ref: z.Ref()}, nil
}

// energyRun is one metered job.
type energyRun struct {
	prof    *app.EnergyWorkerProfile
	ev      energy.Evidence
	startMs int64
	endMs   int64
	sent    bool
	tries   int
}

// receiptTries bounds how often a refused receipt is sent again.
const receiptTries = 3

// metered runs exec, metering it when the client can account energy and
// the worker has a profile. A metering failure never fails the job.
func (w *Worker) metered(j *app.OpmlJob, exec func() error) error {
	ec, ok := w.c.(EnergyClient)
	if !ok {
		return exec()
	}
	prof, err := ec.EnergyProfile()
	if err != nil || prof == nil {
		if err != nil {
			w.logf("worker %s: job %d: energy profile: %v (no receipt)", w.c.Address(), j.ID, err)
		}
		return exec()
	}
	m, err := energy.StartJob(energy.Profile{Family: prof.CPUFamily, VCPUs: prof.VCPUs, PUEMilli: prof.PUEMilli}, energy.DefaultPowercapRoot)
	if err != nil {
		w.logf("worker %s: job %d: energy meter: %v (no receipt)", w.c.Address(), j.ID, err)
		return exec()
	}
	if err := exec(); err != nil {
		return err
	}
	ev, startMs, endMs, err := m.Stop()
	if err != nil {
		w.logf("worker %s: job %d: energy meter: %v (no receipt)", w.c.Address(), j.ID, err)
		return nil
	}
	if w.energy == nil {
		w.energy = map[uint64]*energyRun{}
	}
	w.energy[j.ID] = &energyRun{prof: prof, ev: ev, startMs: startMs, endMs: endMs}
	return nil
}

// sendReceipt sends the energy receipt of a job whose result is posted,
// once.
func (w *Worker) sendReceipt(j *app.OpmlJob) error {
	run := w.energy[j.ID]
	if run == nil || run.sent || run.tries >= receiptTries || j.Worker != w.c.Address() {
		return nil
	}
	run.tries++
	ec := w.c.(EnergyClient) // a run exists only for such clients
	p := run.prof
	hour := energy.HourOf(run.startMs / 1000)
	in, err := ec.EnergyIntensity(p.Zone, hour)
	if err != nil {
		return fmt.Errorf("job %d: energy receipt: %w", j.ID, err)
	}
	r := &energy.Receipt{
		JobID: strconv.FormatUint(j.ID, 10), Zone: p.Zone,
		StartMs: run.startMs, EndMs: run.endMs, Inferences: 1, Evidence: run.ev, Intensity: in,
		Embodied: energy.Embodied{TotalG: p.EmbodiedG, LifespanHours: p.LifespanHours, ReservedVCPUs: p.VCPUs, TotalVCPUs: p.MachineVCPUs},
	}
	if err := ec.SignReceipt(r); err != nil {
		return fmt.Errorf("job %d: sign energy receipt: %w", j.ID, err)
	}
	b, err := r.Encode()
	if err != nil {
		return fmt.Errorf("job %d: energy receipt: %w", j.ID, err)
	}
	if err := w.c.Send(tx.MsgEnergyReceipt{Receipt: b}); err != nil {
		return err
	}
	run.sent = true
	w.logf("worker %s: job %d: energy receipt sent (%s)", w.c.Address(), j.ID, r.Method())
	return nil
}

// EnergyProfile implements EnergyClient.
func (c *InProc) EnergyProfile() (*app.EnergyWorkerProfile, error) {
	var p *app.EnergyWorkerProfile
	_, err := c.Chain.Query(app.QueryEnergyWorker, []byte(c.Address().String()), &p)
	return p, err
}

// EnergyIntensity implements EnergyClient.
func (c *InProc) EnergyIntensity(zone string, hour int64) (energy.Intensity, error) {
	return ChainIntensity(func(path, data string, out any) error {
		_, err := c.Chain.Query(path, []byte(data), out)
		return err
	}, zone, hour)
}

// SignReceipt implements EnergyClient.
func (c *InProc) SignReceipt(r *energy.Receipt) error {
	r.Worker = c.Key.Public().(ed25519.PublicKey)
	return r.Sign(c.Key)
}

var _ EnergyClient = (*InProc)(nil)
