package energy

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// CPUFamily is one row of the Cloud Carbon Footprint (CCF) compute
// coefficients: the average power of one vCPU of that microarchitecture at
// idle (Min) and at full load (Max), in milliwatts.
type CPUFamily struct {
	Name      string `json:"name"`
	MinMilliW uint64 `json:"min_milliwatts_per_vcpu"`
	MaxMilliW uint64 `json:"max_milliwatts_per_vcpu"`
}

// cpuFamilies are CCF's min_watts_avg / max_watts_avg per vCPU, copied as
// facts from cloud-carbon-footprint/cloud-carbon-footprint,
// packages/core/src/compute/ComputeProcessorTypes.ts (commit e851afc,
// COMPUTE_PROCESSOR_TYPES), themselves derived from SPECpower_ssj2008 results
// (https://www.cloudcarbonfootprint.org/docs/methodology). The "Unknown" row
// is CCF's AWS fallback (MIN_WATTS_AVG 0.74, MAX_WATTS_AVG 3.5) from
// packages/aws/src/domain/AwsFootprintEstimationConstants.ts. Ice Lake has
// no CCF values and is deliberately absent.
var cpuFamilies = []CPUFamily{
	{"Cascade Lake", 640, 3970},
	{"Skylake", 650, 4260},
	{"Broadwell", 710, 3690},
	{"Haswell", 1000, 4740},
	{"Coffee Lake", 1140, 5420},
	{"Sandy Bridge", 2170, 8580},
	{"Ivy Bridge", 3040, 8250},
	{"AMD EPYC 1st Gen", 820, 2550},
	{"AMD EPYC 2nd Gen", 470, 1690},
	{"AMD EPYC 3rd Gen", 450, 2020},
	{"AWS Graviton", 470, 1690},
	{"AWS Graviton2", 470, 1690},
	{"Unknown", 740, 3500},
}

// CCF constants used as defaults, from the same AWS constants file.
const (
	// DefaultPUEMilli is CCF's AWS PUE_AVG, 1.135, in thousandths.
	DefaultPUEMilli = 1135
	// DefaultLifespanHours is CCF's SERVER_EXPECTED_LIFESPAN: 4 years.
	DefaultLifespanHours = 35040
)

// CPUFamilies lists the known families, sorted by name.
func CPUFamilies() []CPUFamily {
	out := append([]CPUFamily(nil), cpuFamilies...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupCPUFamily finds a family by name, ignoring case.
func LookupCPUFamily(name string) (CPUFamily, error) {
	for _, f := range cpuFamilies {
		if strings.EqualFold(f.Name, name) {
			return f, nil
		}
	}
	names := make([]string, len(cpuFamilies))
	for i, f := range CPUFamilies() {
		names[i] = f.Name
	}
	return CPUFamily{}, fmt.Errorf("unknown CPU family %q (CCF coefficients exist for: %s)", name, strings.Join(names, ", "))
}

// Limits that keep every formula far from overflow and reject nonsense.
const (
	maxVCPUs     = 1 << 16
	maxPUEMilli  = 5000 // PUE 5.0
	maxMilliW    = 1_000_000
	maxWallMs    = 366 * 24 * 3600 * 1000
	maxCounterUJ = 1 << 62
)

// Estimated is the evidence of an estimated receipt: the CCF model's
// parameters and the job's CPU time. Its energy is
//
//	E = (VCPUs·Min·Wall + (Max−Min)·min(CPU, VCPUs·Wall)) · PUE
//
// i.e. minW + utilisation × (maxW − minW) per reserved vCPU over the wall
// time, with utilisation = CPU time / (VCPUs × wall time) capped at 1.
type Estimated struct {
	Family    string `json:"cpu_family"`
	MinMilliW uint64 `json:"min_milliwatts_per_vcpu"`
	MaxMilliW uint64 `json:"max_milliwatts_per_vcpu"`
	VCPUs     uint32 `json:"vcpus"`
	WallMs    uint64 `json:"wall_ms"`
	CPUMs     uint64 `json:"cpu_ms"`
	PUEMilli  uint32 `json:"pue_milli"`
}

// Measured is the evidence of a measured receipt: RAPL counter readings at
// the start and end of the job, and the PUE applied on top (the counters
// see the CPU package, not the data centre's overhead).
type Measured struct {
	Counters []Counter `json:"counters"`
	PUEMilli uint32    `json:"pue_milli"`
}

// Counter is one energy counter read twice.
type Counter struct {
	Zone       string `json:"zone"` // powercap zone name, e.g. "package-0"
	StartUJ    uint64 `json:"start_uj"`
	EndUJ      uint64 `json:"end_uj"`
	MaxRangeUJ uint64 `json:"max_energy_range_uj"`
}

// Evidence is what a receipt's energy figure is computed from. It is
// sealed: only *Measured and *Estimated implement it.
type Evidence interface {
	Method() Method
	// EnergyMWh computes the energy, PUE included, in mWh.
	EnergyMWh() (uint64, error)
	validate() error
}

// Method says how a receipt's energy was obtained.
type Method uint8

// Methods.
const (
	MethodEstimated Method = 1
	MethodMeasured  Method = 2
)

func (m Method) String() string {
	switch m {
	case MethodEstimated:
		return "estimated"
	case MethodMeasured:
		return "measured"
	}
	return fmt.Sprintf("method(%d)", uint8(m))
}

var (
	_ Evidence = (*Estimated)(nil)
	_ Evidence = (*Measured)(nil)
)

// NewEstimated fills an Estimated from a CCF family name.
func NewEstimated(family string, vcpus uint32, wallMs, cpuMs uint64, pueMilli uint32) (*Estimated, error) {
	f, err := LookupCPUFamily(family)
	if err != nil {
		return nil, err
	}
	e := &Estimated{Family: f.Name, MinMilliW: f.MinMilliW, MaxMilliW: f.MaxMilliW, VCPUs: vcpus, WallMs: wallMs, CPUMs: cpuMs, PUEMilli: pueMilli}
	if err := e.validate(); err != nil {
		return nil, err
	}
	return e, nil
}

// Method implements Evidence.
func (*Estimated) Method() Method { return MethodEstimated }

func checkPUE(p uint32) error {
	if p < 1000 || p > maxPUEMilli {
		return fmt.Errorf("PUE %d.%03d out of range 1.000..5.000", p/1000, p%1000)
	}
	return nil
}

func (e *Estimated) validate() error {
	switch {
	case e.Family == "" || len(e.Family) > 64:
		return errors.New("estimate: CPU family must be 1..64 bytes")
	case e.VCPUs == 0 || e.VCPUs > maxVCPUs:
		return fmt.Errorf("estimate: vcpus %d out of range 1..%d", e.VCPUs, maxVCPUs)
	case e.MinMilliW > e.MaxMilliW || e.MaxMilliW == 0 || e.MaxMilliW > maxMilliW:
		return fmt.Errorf("estimate: need 0 <= min (%d mW) <= max (%d mW) <= %d mW per vCPU", e.MinMilliW, e.MaxMilliW, maxMilliW)
	case e.WallMs == 0 || e.WallMs > maxWallMs:
		return fmt.Errorf("estimate: wall time %d ms out of range 1..%d", e.WallMs, uint64(maxWallMs))
	case e.CPUMs > uint64(e.VCPUs)*e.WallMs*2:
		// Some slack for accounting skew; more is not a real measurement.
		return fmt.Errorf("estimate: CPU time %d ms exceeds twice vcpus × wall time", e.CPUMs)
	}
	return checkPUE(e.PUEMilli)
}

// Utilisation is CPU time over reserved vCPU time, capped at 1.
func (e *Estimated) Utilisation() float64 {
	return float64(min(e.CPUMs, uint64(e.VCPUs)*e.WallMs)) / float64(uint64(e.VCPUs)*e.WallMs)
}

// EnergyMWh implements Evidence.
func (e *Estimated) EnergyMWh() (uint64, error) {
	if err := e.validate(); err != nil {
		return 0, err
	}
	busy := min(e.CPUMs, uint64(e.VCPUs)*e.WallMs)
	// mW·ms summed exactly; bounded by 2^16·10^6·3.2·10^10 < 2^62.
	mWms := uint64(e.VCPUs)*e.MinMilliW*e.WallMs + (e.MaxMilliW-e.MinMilliW)*busy
	// mW·ms → mWh: / 3.6e6; PUE in thousandths: / 1e3.
	return ratio([]uint64{mWms, uint64(e.PUEMilli)}, []uint64{3_600_000, 1000})
}

// Method implements Evidence.
func (*Measured) Method() Method { return MethodMeasured }

func (m *Measured) validate() error {
	if len(m.Counters) == 0 {
		return errors.New("measured: no counter readings (a measurement needs at least one)")
	}
	if len(m.Counters) > 16 {
		return fmt.Errorf("measured: %d counters, at most 16", len(m.Counters))
	}
	for i, c := range m.Counters {
		if _, err := c.DeltaUJ(); err != nil {
			return fmt.Errorf("measured: counter %d: %w", i, err)
		}
	}
	return checkPUE(m.PUEMilli)
}

// DeltaUJ is the energy the counter advanced, in µJ, allowing for one
// wrap-around at MaxRangeUJ.
func (c Counter) DeltaUJ() (uint64, error) {
	switch {
	case c.Zone == "" || len(c.Zone) > 64:
		return 0, errors.New("counter zone name must be 1..64 bytes")
	case c.MaxRangeUJ == 0 || c.MaxRangeUJ > maxCounterUJ:
		return 0, fmt.Errorf("counter %s: max_energy_range_uj %d out of range", c.Zone, c.MaxRangeUJ)
	case c.StartUJ > c.MaxRangeUJ || c.EndUJ > c.MaxRangeUJ:
		return 0, fmt.Errorf("counter %s: reading above max_energy_range_uj %d", c.Zone, c.MaxRangeUJ)
	}
	if c.EndUJ >= c.StartUJ {
		return c.EndUJ - c.StartUJ, nil
	}
	return c.MaxRangeUJ - c.StartUJ + c.EndUJ, nil
}

// EnergyMWh implements Evidence.
func (m *Measured) EnergyMWh() (uint64, error) {
	if err := m.validate(); err != nil {
		return 0, err
	}
	var uj uint64
	for _, c := range m.Counters {
		d, _ := c.DeltaUJ()
		var err error
		if uj, err = addU(uj, d); err != nil {
			return 0, err
		}
	}
	// 1 mWh = 3.6 J = 3.6e6 µJ.
	return ratio([]uint64{uj, uint64(m.PUEMilli)}, []uint64{3_600_000, 1000})
}
