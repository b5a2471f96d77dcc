package tx

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/provena/provena/energy"
	"github.com/provena/provena/energy/wire"
)

func init() {
	RegisterMsg(TypeEnergySetOracles, "energy_set_oracles", energyDecoder(func(r *wire.Reader) MsgEnergySetOracles {
		m := MsgEnergySetOracles{Version: r.U64("version")}
		n := int(r.U8("oracle count"))
		if n > MaxEnergyOracles {
			r.Fail(fmt.Errorf("%d oracles, at most %d", n, MaxEnergyOracles))
		}
		for i := 0; i < n && r.Err() == nil; i++ {
			var a Address
			copy(a[:], r.Fixed(AddressLen, "oracle"))
			m.Oracles = append(m.Oracles, a)
		}
		m.AuthorityPubKey = r.Bytes(ed25519.PublicKeySize, "authority key")
		m.AuthoritySig = r.Bytes(ed25519.SignatureSize, "authority signature")
		return m
	}))
	RegisterMsg(TypeEnergyPostIntensity, "energy_post_intensity", energyDecoder(func(r *wire.Reader) MsgEnergyPostIntensity {
		m := MsgEnergyPostIntensity{Zone: r.String(energy.MaxZoneLen, "zone"), StartHour: r.I64("start hour"), Synthetic: r.U8("synthetic") == 1}
		n := int(r.U16("hour count"))
		if n > MaxEnergyIntensityHours {
			r.Fail(fmt.Errorf("%d hours, at most %d", n, MaxEnergyIntensityHours))
		}
		for i := 0; i < n && r.Err() == nil; i++ {
			m.MgPerKWh = append(m.MgPerKWh, r.U32("intensity"))
		}
		return m
	}))
}

// EnergyAuthorityDomain separates the oracle-set authority's signatures.
const EnergyAuthorityDomain = "provena/energy/oracles/v1\x00"

// MsgEnergySetOracles replaces the accounts allowed to post hourly grid
// intensity. It is authorised by AuthoritySig, an ed25519 signature by the
// module's authority key over EnergyAuthorityDomain and the oracle set
// (SignBytes), so any funded account can relay it. Version must be the
// stored version plus one (1 for the first set), which stops replays.
type MsgEnergySetOracles struct {
	Version         uint64            `json:"version"`
	Oracles         []Address         `json:"oracles"`
	AuthorityPubKey ed25519.PublicKey `json:"authority_pubkey"`
	AuthoritySig    []byte            `json:"authority_sig"`
}

// Type implements Msg.
func (MsgEnergySetOracles) Type() MsgType { return TypeEnergySetOracles }

// SignBytes are what the authority signs.
func (m MsgEnergySetOracles) SignBytes() []byte {
	b := wire.AppendU64([]byte(EnergyAuthorityDomain), m.Version)
	b = wire.AppendU8(b, uint8(len(m.Oracles)))
	for _, a := range m.Oracles {
		b = append(b, a[:]...)
	}
	return b
}

// AppendBody implements Msg.
func (m MsgEnergySetOracles) AppendBody(b []byte) []byte {
	b = wire.AppendU64(b, m.Version)
	b = wire.AppendU8(b, uint8(len(m.Oracles)))
	for _, a := range m.Oracles {
		b = append(b, a[:]...)
	}
	b = wire.AppendBytes(b, m.AuthorityPubKey)
	return wire.AppendBytes(b, m.AuthoritySig)
}

// ValidateBasic implements Msg; it checks the authority's signature.
func (m MsgEnergySetOracles) ValidateBasic() error {
	if m.Version == 0 {
		return errors.New("version must be at least 1")
	}
	if len(m.Oracles) > MaxEnergyOracles {
		return fmt.Errorf("%d oracles, at most %d", len(m.Oracles), MaxEnergyOracles)
	}
	for i, a := range m.Oracles {
		if a.IsZero() {
			return fmt.Errorf("oracle %d is the zero address", i)
		}
		for _, b := range m.Oracles[:i] {
			if a == b {
				return fmt.Errorf("oracle %s listed twice", a)
			}
		}
	}
	if len(m.AuthorityPubKey) != ed25519.PublicKeySize || len(m.AuthoritySig) != ed25519.SignatureSize ||
		!ed25519.Verify(m.AuthorityPubKey, m.SignBytes(), m.AuthoritySig) {
		return errors.New("bad authority signature over the oracle set")
	}
	return nil
}

// MsgEnergyPostIntensity posts hourly location-based grid intensity for a
// zone, in mgCO2e/kWh, for consecutive UTC hours from StartHour. Only
// registered oracles may post. Synthetic marks values from a model
// (energy.SyntheticHourly), which every display must say.
type MsgEnergyPostIntensity struct {
	Zone      string   `json:"zone"`
	StartHour int64    `json:"start_hour"`
	Synthetic bool     `json:"synthetic"`
	MgPerKWh  []uint32 `json:"mg_co2e_per_kwh"`
}

// Type implements Msg.
func (MsgEnergyPostIntensity) Type() MsgType { return TypeEnergyPostIntensity }

// AppendBody implements Msg.
func (m MsgEnergyPostIntensity) AppendBody(b []byte) []byte {
	b = wire.AppendString(b, m.Zone)
	b = wire.AppendI64(b, m.StartHour)
	s := uint8(0)
	if m.Synthetic {
		s = 1
	}
	b = wire.AppendU8(b, s)
	b = wire.AppendU16(b, uint16(len(m.MgPerKWh)))
	for _, v := range m.MgPerKWh {
		b = wire.AppendU32(b, v)
	}
	return b
}

// ValidateBasic implements Msg.
func (m MsgEnergyPostIntensity) ValidateBasic() error {
	if len(m.MgPerKWh) == 0 || len(m.MgPerKWh) > MaxEnergyIntensityHours {
		return fmt.Errorf("post 1..%d hours, got %d", MaxEnergyIntensityHours, len(m.MgPerKWh))
	}
	for i, v := range m.MgPerKWh {
		if v > 5_000_000 {
			return fmt.Errorf("hour %d: %d mg/kWh is implausible (> 5 kg/kWh)", i, v)
		}
	}
	if err := checkEnergyHour(m.StartHour); err != nil {
		return err
	}
	return CheckEnergyZone(m.Zone)
}
