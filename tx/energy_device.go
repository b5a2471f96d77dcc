package tx

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"

	"github.com/provena/provena/energy"
	"github.com/provena/provena/energy/wire"
)

func init() {
	RegisterMsg(TypeEnergyRegisterDevice, "energy_register_device", energyDecoder(readEnergyRegisterDevice))
	RegisterMsg(TypeEnergySubmitReadings, "energy_submit_readings", energyDecoder(readEnergySubmitReadings))
}

// MsgEnergyRegisterDevice registers a production device owned by the
// sender. Its id is energy.DeviceIDFromMeterKey(MeterPubKey): a meter backs
// one device only.
type MsgEnergyRegisterDevice struct {
	Tech        string            `json:"tech"`
	CapacityW   uint64            `json:"capacity_w"`
	Zone        string            `json:"zone"`
	MeterPubKey ed25519.PublicKey `json:"meter_pubkey"`
}

// Type implements Msg.
func (MsgEnergyRegisterDevice) Type() MsgType { return TypeEnergyRegisterDevice }

// AppendBody implements Msg.
func (m MsgEnergyRegisterDevice) AppendBody(b []byte) []byte {
	b = wire.AppendString(b, m.Tech)
	b = wire.AppendU64(b, m.CapacityW)
	b = wire.AppendString(b, m.Zone)
	return wire.AppendBytes(b, m.MeterPubKey)
}

func readEnergyRegisterDevice(r *wire.Reader) MsgEnergyRegisterDevice {
	return MsgEnergyRegisterDevice{
		Tech: r.String(32, "tech"), CapacityW: r.U64("capacity"), Zone: r.String(energy.MaxZoneLen, "zone"),
		MeterPubKey: r.Bytes(ed25519.PublicKeySize, "meter key"),
	}
}

// ValidateBasic implements Msg.
func (m MsgEnergyRegisterDevice) ValidateBasic() error {
	if !slices.Contains(EnergyTechnologies, m.Tech) {
		return fmt.Errorf("technology %q is not one of %v", m.Tech, EnergyTechnologies)
	}
	if m.CapacityW == 0 || m.CapacityW > 10_000_000_000 {
		return fmt.Errorf("capacity %d W out of range 1..10 GW", m.CapacityW)
	}
	if len(m.MeterPubKey) != ed25519.PublicKeySize {
		return fmt.Errorf("meter public key is %d bytes, want %d", len(m.MeterPubKey), ed25519.PublicKeySize)
	}
	return CheckEnergyZone(m.Zone)
}

// EnergySignedReading is a meter reading with the meter's signature (see
// energy.Reading.SignBytes).
type EnergySignedReading struct {
	Start        int64  `json:"start"`
	End          int64  `json:"end"`
	Wh           uint64 `json:"wh"`
	CumulativeWh uint64 `json:"cumulative_wh"`
	Signature    []byte `json:"signature"`
}

// MsgEnergySubmitReadings submits a device's signed meter readings, oldest
// first. Anyone may relay them: the meter signature is what counts. Each
// completed device-hour becomes one certificate bundle owned by the
// device's owner.
type MsgEnergySubmitReadings struct {
	Device   energy.DeviceID       `json:"device"`
	Readings []EnergySignedReading `json:"readings"`
}

// Type implements Msg.
func (MsgEnergySubmitReadings) Type() MsgType { return TypeEnergySubmitReadings }

// Reading returns the i-th reading as an energy.Reading.
func (m MsgEnergySubmitReadings) Reading(i int) energy.Reading {
	r := m.Readings[i]
	return energy.Reading{Device: m.Device, Start: r.Start, End: r.End, Wh: r.Wh, CumulativeWh: r.CumulativeWh}
}

// AppendBody implements Msg.
func (m MsgEnergySubmitReadings) AppendBody(b []byte) []byte {
	b = append(b, m.Device[:]...)
	b = wire.AppendU16(b, uint16(len(m.Readings)))
	for _, r := range m.Readings {
		b = wire.AppendI64(b, r.Start)
		b = wire.AppendI64(b, r.End)
		b = wire.AppendU64(b, r.Wh)
		b = wire.AppendU64(b, r.CumulativeWh)
		b = wire.AppendBytes(b, r.Signature)
	}
	return b
}

func readEnergySubmitReadings(r *wire.Reader) MsgEnergySubmitReadings {
	var m MsgEnergySubmitReadings
	copy(m.Device[:], r.Fixed(energy.DeviceIDLen, "device"))
	n := int(r.U16("reading count"))
	if n > MaxEnergyReadings {
		r.Fail(fmt.Errorf("%d readings, at most %d in one message", n, MaxEnergyReadings))
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		m.Readings = append(m.Readings, EnergySignedReading{
			Start: r.I64("start"), End: r.I64("end"), Wh: r.U64("wh"), CumulativeWh: r.U64("cumulative"),
			Signature: r.Bytes(ed25519.SignatureSize, "signature"),
		})
	}
	return m
}

// ValidateBasic implements Msg.
func (m MsgEnergySubmitReadings) ValidateBasic() error {
	if len(m.Readings) == 0 {
		return errors.New("no readings")
	}
	if len(m.Readings) > MaxEnergyReadings {
		return fmt.Errorf("more than %d readings in one message", MaxEnergyReadings)
	}
	for i, r := range m.Readings {
		if len(r.Signature) != ed25519.SignatureSize {
			return fmt.Errorf("reading %d: signature is %d bytes, want %d", i, len(r.Signature), ed25519.SignatureSize)
		}
	}
	return nil
}
