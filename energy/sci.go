package energy

import (
	"fmt"
)

// SCI is a receipt's carbon, location-based, per the Green Software
// Foundation's Software Carbon Intensity specification (ISO/IEC 21031):
//
//	SCI = (E × I + M) per R
//
// E the job's energy (PUE included), I the location-based grid intensity
// of the worker's zone and hour, M the embodied carbon amortised over the
// time reserved, R one inference. Certificates never lower it: see
// MarketBased for the separate market-based figure.
type SCI struct {
	Method         string `json:"method"`
	EnergyMWh      uint64 `json:"energy_mwh"`
	OperationalUg  uint64 `json:"operational_ug"` // E × I
	EmbodiedUg     uint64 `json:"embodied_ug"`    // M
	TotalUg        uint64 `json:"total_ug"`       // E × I + M
	Inferences     uint64 `json:"inferences"`     // R
	PerInferenceUg uint64 `json:"sci_ug_per_inference"`
}

// ComputeSCI computes r's SCI. Each term is rounded half up once, in µg;
// the per-inference figure divides the rounded total.
func ComputeSCI(r *Receipt) (SCI, error) {
	if err := r.Validate(); err != nil {
		return SCI{}, fmt.Errorf("sci: %w", err)
	}
	e, err := r.Evidence.EnergyMWh()
	if err != nil {
		return SCI{}, fmt.Errorf("sci: energy: %w", err)
	}
	// mWh·(mg/kWh) = 1e-6 kWh · 1e3 µg/kWh, so µg = mWh·mg/1000.
	op, err := ratio([]uint64{e, r.Intensity.MgPerKWh}, []uint64{1000})
	if err != nil {
		return SCI{}, fmt.Errorf("sci: operational: %w", err)
	}
	wallMs := uint64(r.EndMs - r.StartMs)
	em := r.Embodied
	// TE[g]·1e6 µg/g × (wall ms / (EL h · 3.6e6 ms/h)) × RR/ToR.
	m, err := ratio([]uint64{em.TotalG, 1_000_000, wallMs, uint64(em.ReservedVCPUs)},
		[]uint64{em.LifespanHours, 3_600_000, uint64(em.TotalVCPUs)})
	if err != nil {
		return SCI{}, fmt.Errorf("sci: embodied: %w", err)
	}
	total, err := addU(op, m)
	if err != nil {
		return SCI{}, fmt.Errorf("sci: %w", err)
	}
	per, err := ratio([]uint64{total}, []uint64{r.Inferences})
	if err != nil {
		return SCI{}, fmt.Errorf("sci: %w", err)
	}
	return SCI{
		Method: r.Method().String(), EnergyMWh: e, OperationalUg: op, EmbodiedUg: m,
		TotalUg: total, Inferences: r.Inferences, PerInferenceUg: per,
	}, nil
}

// Market is the market-based view of a job: its energy less the energy
// covered by retired certificates, at the residual intensity. It is shown
// beside the SCI, never in place of it.
type Market struct {
	CoveredMWh      uint64 `json:"covered_mwh"`     // min(E, certificates retired for the job)
	Covered247MWh   uint64 `json:"covered_247_mwh"` // the part matched in the same zone and UTC hour
	UncoveredMWh    uint64 `json:"uncovered_mwh"`   // E − covered
	OperationalUg   uint64 `json:"operational_ug"`  // uncovered × residual intensity
	ResidualMgKWh   uint64 `json:"residual_mg_per_kwh"`
	LocationBasedUg uint64 `json:"location_based_ug"` // the SCI's E × I, for comparison
}

// MarketBased computes the market-based operational carbon of a job whose
// energy is energyMWh, given certificates retired for it (retiredWh, of
// which matched247Wh in the same zone and hour) and a residual-mix
// intensity. Provena has no published residual mix per zone, so callers
// pass the location-based intensity, which makes this conservative.
func MarketBased(s SCI, retiredWh, matched247Wh, residualMgPerKWh uint64) (Market, error) {
	if matched247Wh > retiredWh {
		return Market{}, fmt.Errorf("market: 24/7-matched %d Wh exceeds retired %d Wh", matched247Wh, retiredWh)
	}
	retiredMWh, err := ratio([]uint64{retiredWh, 1000}, nil)
	if err != nil {
		return Market{}, err
	}
	m247, _ := ratio([]uint64{matched247Wh, 1000}, nil)
	cov := min(s.EnergyMWh, retiredMWh)
	unc := s.EnergyMWh - cov
	op, err := ratio([]uint64{unc, residualMgPerKWh}, []uint64{1000})
	if err != nil {
		return Market{}, err
	}
	return Market{
		CoveredMWh: cov, Covered247MWh: min(cov, m247), UncoveredMWh: unc, OperationalUg: op,
		ResidualMgKWh: residualMgPerKWh, LocationBasedUg: s.OperationalUg,
	}, nil
}
