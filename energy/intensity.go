package energy

import (
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// zonesJSON is an extract of Electricity Maps yearly averages made by
// scripts/fixtures-energy.sh --regen from @tgwf/co2@0.19.0. ODbL-1.0:
// Contains data from Electricity Maps.
//
//go:embed data/zones.json
var zonesJSON []byte

type zonesFile struct {
	Source      string                                `json:"source"`
	License     string                                `json:"license"`
	Attribution string                                `json:"attribution"`
	Unit        string                                `json:"unit"`
	Years       map[string]map[string]zonesFileRecord `json:"years"`
}

type zonesFileRecord struct {
	Name      string `json:"name"`
	Intensity uint64 `json:"intensity"`
}

var (
	zonesOnce sync.Once
	zonesData zonesFile
	zonesErr  error
)

func loadZones() (*zonesFile, error) {
	zonesOnce.Do(func() {
		zonesErr = json.Unmarshal(zonesJSON, &zonesData)
		if zonesErr == nil && zonesData.Unit != "gCO2eq/kWh" {
			zonesErr = fmt.Errorf("zones.json: unit %q, want gCO2eq/kWh", zonesData.Unit)
		}
	})
	if zonesErr != nil {
		return nil, fmt.Errorf("load zone intensities: %w", zonesErr)
	}
	return &zonesData, nil
}

// ZoneIntensity is one zone's yearly average, location-based, life-cycle
// grid intensity.
type ZoneIntensity struct {
	Zone     string `json:"zone"`
	Name     string `json:"name"`
	Year     int    `json:"year"`
	MgPerKWh uint64 `json:"mg_co2e_per_kwh"`
}

// Ref is the receipt reference of the figure.
func (z ZoneIntensity) Ref() string { return fmt.Sprintf("electricitymaps:%d:%s", z.Year, z.Zone) }

// DataAttribution is the attribution the ODbL requires wherever the annual
// figures are shown.
func DataAttribution() string {
	z, err := loadZones()
	if err != nil {
		return "Electricity Maps (ODbL)"
	}
	return z.Attribution + ". License: " + z.License + "."
}

// AnnualIntensity returns zone's yearly average for year (2021..2025).
func AnnualIntensity(zone string, year int) (ZoneIntensity, error) {
	z, err := loadZones()
	if err != nil {
		return ZoneIntensity{}, err
	}
	y, ok := z.Years[strconv.Itoa(year)]
	if !ok {
		return ZoneIntensity{}, fmt.Errorf("no annual intensities for %d (have %s)", year, strings.Join(AnnualYears(), ", "))
	}
	rec, ok := y[zone]
	if !ok {
		return ZoneIntensity{}, fmt.Errorf("zone %q not in the annual extract (have %s; add it to ZONES in scripts/fixtures-energy.sh and run it with --regen)", zone, strings.Join(Zones(), " "))
	}
	return ZoneIntensity{Zone: zone, Name: rec.Name, Year: year, MgPerKWh: rec.Intensity * 1000}, nil
}

// AnnualYears lists the years of the extract.
func AnnualYears() []string {
	z, err := loadZones()
	if err != nil {
		return nil
	}
	var ys []string
	for y := range z.Years {
		ys = append(ys, y)
	}
	sort.Strings(ys)
	return ys
}

// Zones lists the zones of the extract.
func Zones() []string {
	z, err := loadZones()
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	for _, y := range z.Years {
		for k := range y {
			seen[k] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// HourValue is one hour of a series.
type HourValue struct {
	Hour     int64  `json:"hour"` // unix seconds at the start of the UTC hour
	MgPerKWh uint64 `json:"mg_co2e_per_kwh"`
}

// Series is an hourly intensity series for one zone.
type Series struct {
	Zone  string      `json:"zone"`
	Label string      `json:"label"` // says "synthetic" for SyntheticHourly
	Hours []HourValue `json:"hours"`
}

// SyntheticAmplitude is the synthetic model's depth of the midday dip.
const SyntheticAmplitude = 0.35

// SyntheticHourly builds a SYNTHETIC hourly series for zone over the 24 UTC
// hours of day, from the zone's real annual average A and a solar shape
// s(h) in [0,1] (the real 2015 solar profile of @energyweb/solar-simulator
// when solar is non-nil, else a clear-sky half-sine from 06:00 to 18:00):
//
//	I(h) = A × (1 − α·(s(h) − mean(s)))     α = SyntheticAmplitude
//
// so the day's mean is exactly A (before rounding) and intensity dips when
// solar output peaks, the pattern of solar-rich grids. It is a model, not
// data: the series' Label says so and so must anything that shows it.
func SyntheticHourly(zone string, year int, day time.Time, solar *SolarProfile) (Series, error) {
	a, err := AnnualIntensity(zone, year)
	if err != nil {
		return Series{}, err
	}
	day = day.UTC().Truncate(24 * time.Hour)
	var shape [24]float64
	label := "synthetic: Electricity Maps " + strconv.Itoa(year) + " annual mean of " + zone + " shaped by a clear-sky half-sine"
	if solar != nil {
		shape = solar.Day(day.YearDay())
		label = "synthetic: Electricity Maps " + strconv.Itoa(year) + " annual mean of " + zone + " shaped by the 2015 solar profile of @energyweb/solar-simulator"
	} else {
		for h := range shape {
			x := (float64(h) + 0.5 - 6) / 12
			if x > 0 && x < 1 {
				shape[h] = math.Sin(math.Pi * x)
			}
		}
	}
	peak, mean := 0.0, 0.0
	for _, v := range shape {
		peak = max(peak, v)
		mean += v
	}
	mean /= 24
	s := Series{Zone: zone, Label: label}
	for h := range 24 {
		v := 0.0
		if peak > 0 {
			v = (shape[h] - mean) / peak
		}
		mg := math.Round(float64(a.MgPerKWh) * (1 - SyntheticAmplitude*v))
		s.Hours = append(s.Hours, HourValue{Hour: day.Unix() + int64(h)*3600, MgPerKWh: uint64(mg)})
	}
	return s, nil
}

// SolarProfile is a year of hourly solar output as a fraction of capacity
// (kWh per kW of peak in each hour).
type SolarProfile struct {
	Hours []float64 // 8760 values from 1 January 00:00
}

// ParseSolarProfile reads @energyweb/solar-simulator's config/data.csv
// (GPL-3.0, fetched by scripts/fixtures-energy.sh, never committed):
// "Time,E/Cap ratio (kWh/kW),5 MW example (kWh)" with 15-minute rows
// "DD.MM.YYYY HH:MM". Quarter hours are summed into hours.
func ParseSolarProfile(r io.Reader) (*SolarProfile, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 3 // the kWh column is quoted when it has a thousands comma
	p := &SolarProfile{Hours: make([]float64, 8760)}
	rows := 0
	for line := 1; ; line++ {
		f, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("solar profile: %w", err)
		}
		if line == 1 {
			if !strings.HasPrefix(f[0]+","+f[1], "Time,E/Cap ratio") {
				return nil, fmt.Errorf("solar profile: unexpected header %q", strings.Join(f, ","))
			}
			continue
		}
		t, err := time.Parse("02.01.2006 15:04", f[0])
		if err != nil {
			return nil, fmt.Errorf("solar profile line %d: %w", line, err)
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil || v < 0 || v > 1 {
			return nil, fmt.Errorf("solar profile line %d: bad ratio %q", line, f[1])
		}
		h := (t.YearDay()-1)*24 + t.Hour()
		if h < 0 || h >= len(p.Hours) {
			return nil, fmt.Errorf("solar profile line %d: time %s outside a 365-day year", line, f[0])
		}
		p.Hours[h] += v
		rows++
	}
	if rows != 8760*4 {
		return nil, fmt.Errorf("solar profile: %d rows, want %d quarter hours", rows, 8760*4)
	}
	return p, nil
}

// Day returns the 24 hourly fractions of day-of-year yday (1..366; 366
// reads as 365, the profile's year having 365 days).
func (p *SolarProfile) Day(yday int) [24]float64 {
	var out [24]float64
	yday = min(max(yday, 1), 365)
	copy(out[:], p.Hours[(yday-1)*24:yday*24])
	return out
}

// ErrNoHour is returned when a window has no hour with a posted value.
var ErrNoHour = errors.New("no hour with a known intensity in the window")

// LowestHour picks, among the hours of series in [from, deadline], the one
// with the lowest intensity; ties go to the earliest hour, so the choice is
// deterministic. Deferrable jobs wait for it.
func LowestHour(series []HourValue, from, deadline int64) (HourValue, error) {
	best := HourValue{}
	found := false
	for _, h := range series {
		if h.Hour < HourOf(from) || h.Hour > deadline {
			continue
		}
		if !found || h.MgPerKWh < best.MgPerKWh || (h.MgPerKWh == best.MgPerKWh && h.Hour < best.Hour) {
			best, found = h, true
		}
	}
	if !found {
		return HourValue{}, ErrNoHour
	}
	return best, nil
}

// AnnualIntensityOrLatest is AnnualIntensity, except that a year after the
// extract's last one uses the last year's figure (ledger and workers agree
// on it for receipts of the current year).
func AnnualIntensityOrLatest(zone string, year int) (ZoneIntensity, error) {
	z, err := AnnualIntensity(zone, year)
	if err == nil {
		return z, nil
	}
	ys := AnnualYears()
	if len(ys) == 0 {
		return ZoneIntensity{}, err
	}
	last, _ := strconv.Atoi(ys[len(ys)-1])
	if year <= last {
		return ZoneIntensity{}, err
	}
	return AnnualIntensity(zone, last)
}
