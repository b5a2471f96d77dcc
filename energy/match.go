package energy

import (
	"sort"
	"time"
)

// Slot is energy in one zone and one UTC hour: a consumption claim or a
// certificate bundle.
type Slot struct {
	Zone string `json:"zone"`
	Hour int64  `json:"hour"` // unix seconds at the start of the UTC hour
	Wh   uint64 `json:"wh"`
}

// HourMatch is one zone-hour of a matching.
type HourMatch struct {
	Zone          string `json:"zone"`
	Hour          int64  `json:"hour"`
	ConsumptionWh uint64 `json:"consumption_wh"`
	SupplyWh      uint64 `json:"supply_wh"`
	MatchedWh     uint64 `json:"matched_wh"` // min of the two
}

// Matching compares consumption with certificate supply two ways.
// Hourly247Wh counts only supply of the same zone and the same UTC hour
// (24/7, EnergyTag-style); AnnualWh the volume matched per zone and UTC
// year, the traditional claim. Annual is never called 24/7.
type Matching struct {
	ConsumptionWh uint64      `json:"consumption_wh"`
	SupplyWh      uint64      `json:"supply_wh"`
	Hourly247Wh   uint64      `json:"matched_247_wh"`
	AnnualWh      uint64      `json:"matched_annual_wh"`
	Hours         []HourMatch `json:"hours"`
}

// Share247 is the 24/7-matched share of consumption (0 with none).
func (m Matching) Share247() float64 {
	if m.ConsumptionWh == 0 {
		return 0
	}
	return float64(m.Hourly247Wh) / float64(m.ConsumptionWh)
}

// ShareAnnual is the annually matched share of consumption.
func (m Matching) ShareAnnual() float64 {
	if m.ConsumptionWh == 0 {
		return 0
	}
	return float64(m.AnnualWh) / float64(m.ConsumptionWh)
}

type zoneHour struct {
	zone string
	hour int64
}

type zoneYear struct {
	zone string
	year int
}

// Match matches consumption against supply. Sums saturate at the uint64
// maximum rather than wrap.
func Match(consumption, supply []Slot) Matching {
	cons := map[zoneHour]uint64{}
	sup := map[zoneHour]uint64{}
	var m Matching
	for _, s := range consumption {
		k := zoneHour{s.Zone, HourOf(s.Hour)}
		cons[k] = satAdd(cons[k], s.Wh)
		m.ConsumptionWh = satAdd(m.ConsumptionWh, s.Wh)
	}
	for _, s := range supply {
		k := zoneHour{s.Zone, HourOf(s.Hour)}
		sup[k] = satAdd(sup[k], s.Wh)
		m.SupplyWh = satAdd(m.SupplyWh, s.Wh)
	}
	keys := make([]zoneHour, 0, len(cons)+len(sup))
	for k := range cons {
		keys = append(keys, k)
	}
	for k := range sup {
		if _, ok := cons[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].hour != keys[j].hour {
			return keys[i].hour < keys[j].hour
		}
		return keys[i].zone < keys[j].zone
	})
	yc, ys := map[zoneYear]uint64{}, map[zoneYear]uint64{}
	for _, k := range keys {
		c, s := cons[k], sup[k]
		hm := HourMatch{Zone: k.zone, Hour: k.hour, ConsumptionWh: c, SupplyWh: s, MatchedWh: min(c, s)}
		m.Hours = append(m.Hours, hm)
		m.Hourly247Wh = satAdd(m.Hourly247Wh, hm.MatchedWh)
		y := zoneYear{k.zone, time.Unix(k.hour, 0).UTC().Year()}
		yc[y] = satAdd(yc[y], c)
		ys[y] = satAdd(ys[y], s)
	}
	for y, c := range yc {
		m.AnnualWh = satAdd(m.AnnualWh, min(c, ys[y]))
	}
	return m
}

func satAdd(a, b uint64) uint64 {
	if a+b < a {
		return ^uint64(0)
	}
	return a + b
}
