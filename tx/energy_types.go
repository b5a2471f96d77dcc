package tx

import (
	"errors"
	"fmt"

	"github.com/provena/provena/energy"
	"github.com/provena/provena/energy/wire"
)

// Wire types of the energy module's messages (300-399). They are executed
// by app/energy_*.go; the accounting they rely on is package energy.
const (
	TypeEnergyRegisterDevice MsgType = 300
	TypeEnergySubmitReadings MsgType = 301
	TypeEnergySplit          MsgType = 302
	TypeEnergyTransfer       MsgType = 303
	TypeEnergyOffer          MsgType = 304
	TypeEnergyCancelOffer    MsgType = 305
	TypeEnergyBuy            MsgType = 306
	TypeEnergyRetire         MsgType = 307
	TypeEnergySetOracles     MsgType = 308
	TypeEnergyPostIntensity  MsgType = 309
)

// Limits of the energy messages.
const (
	// MaxEnergyReadings bounds one submission: a day of 15-minute readings.
	MaxEnergyReadings = 96
	// MaxEnergyIntensityHours bounds one intensity post: a week.
	MaxEnergyIntensityHours = 168
	// MaxEnergyOracles bounds the oracle set.
	MaxEnergyOracles = 32
	// MaxEnergyClaimLen bounds a retirement's claim reference (a job id or
	// any consumption claim).
	MaxEnergyClaimLen = 128
	// MaxEnergyPricePerWh bounds an offer's price so price × Wh cannot
	// overflow for any bundle that fits a uint32 of Wh.
	MaxEnergyPricePerWh = 1 << 32
)

// EnergyTechnologies are the production technologies a device may declare.
var EnergyTechnologies = []string{"solar", "wind", "hydro", "geothermal", "biomass", "nuclear", "other"}

// energyDecoder adapts a wire.Reader body decoder to MsgDecoder.
func energyDecoder[M Msg](read func(r *wire.Reader) M) MsgDecoder {
	return func(body []byte) (Msg, error) {
		r := wire.NewReader(body)
		m := read(r)
		if err := r.Done(); err != nil {
			return nil, err
		}
		// Canonical: re-encoding must give the same bytes (rejects, for
		// instance, a non-0/1 boolean byte).
		if string(m.AppendBody(nil)) != string(body) {
			return nil, errors.New("body is not in canonical form")
		}
		return m, nil
	}
}

// CheckEnergyZone checks a zone code: 1..32 bytes of A-Z, 0-9 and '-'
// (Electricity Maps zone keys such as "DE" or "US-CAL-CISO").
func CheckEnergyZone(z string) error {
	if len(z) == 0 || len(z) > energy.MaxZoneLen {
		return fmt.Errorf("zone %q must be 1..%d characters", z, energy.MaxZoneLen)
	}
	for _, c := range []byte(z) {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("zone %q: only A-Z, 0-9 and '-' are allowed", z)
		}
	}
	return nil
}

func checkEnergyHour(h int64) error {
	if h < 0 || h%3600 != 0 {
		return fmt.Errorf("hour %d must be unix seconds at the start of a UTC hour", h)
	}
	return nil
}
