package energy

import (
	"errors"
	"fmt"
	"time"
)

// Profile is what a worker's receipts are estimated with when its machine
// has no readable energy counters.
type Profile struct {
	Family   string // CCF CPU family
	VCPUs    uint32 // vCPUs a job reserves
	PUEMilli uint32
}

// JobMeter accounts one job: RAPL counters when readable, otherwise the
// process's CPU time for a CCF estimate. CPU time is the whole process's
// (getrusage), so a worker that runs other work concurrently over-counts;
// the estimate is labelled as such by its method.
type JobMeter struct {
	profile  Profile
	rapl     *RAPL
	snap     Snapshot
	start    time.Time
	startCPU time.Duration
}

// StartJob starts accounting a job. powercapRoot is normally
// DefaultPowercapRoot; "" skips RAPL and always estimates.
func StartJob(p Profile, powercapRoot string) (*JobMeter, error) {
	if _, err := LookupCPUFamily(p.Family); err != nil {
		return nil, err
	}
	m := &JobMeter{profile: p}
	if powercapRoot != "" {
		if r, err := OpenRAPL(powercapRoot); err == nil {
			if s, err := r.Read(); err == nil {
				m.rapl, m.snap = r, s
			}
		}
	}
	cpu, err := processCPUTime()
	if err != nil && m.rapl == nil {
		return nil, fmt.Errorf("start job meter: no RAPL and no CPU time: %w", err)
	}
	m.start, m.startCPU = time.Now(), cpu
	return m, nil
}

// Measuring reports whether the job is measured (RAPL) rather than
// estimated.
func (m *JobMeter) Measuring() bool { return m.rapl != nil }

// Stop ends the job and returns its evidence and its start and end times
// in unix milliseconds, ready for a Receipt.
func (m *JobMeter) Stop() (ev Evidence, startMs, endMs int64, err error) {
	end := time.Now()
	startMs, endMs = m.start.UnixMilli(), end.UnixMilli()
	if endMs <= startMs {
		endMs = startMs + 1 // a job shorter than a millisecond still took time
	}
	if m.rapl != nil {
		s, err := m.rapl.Read()
		if err != nil {
			return nil, 0, 0, fmt.Errorf("stop job meter: %w", err)
		}
		meas, err := Between(m.snap, s, m.profile.PUEMilli)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("stop job meter: %w", err)
		}
		return meas, startMs, endMs, nil
	}
	cpu, err := processCPUTime()
	if err != nil {
		return nil, 0, 0, fmt.Errorf("stop job meter: %w", err)
	}
	if cpu < m.startCPU {
		return nil, 0, 0, errors.New("stop job meter: CPU time went backwards")
	}
	est, err := NewEstimated(m.profile.Family, m.profile.VCPUs, uint64(endMs-startMs), uint64((cpu - m.startCPU).Milliseconds()), m.profile.PUEMilli)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("stop job meter: %w", err)
	}
	return est, startMs, endMs, nil
}
