package tx

import (
	"errors"
	"fmt"

	"github.com/provena/provena/energy"
	"github.com/provena/provena/energy/wire"
)

func init() {
	RegisterMsg(TypeEnergySplit, "energy_split", energyDecoder(func(r *wire.Reader) MsgEnergySplit {
		return MsgEnergySplit{Cert: r.U64("cert"), Wh: r.U64("wh")}
	}))
	RegisterMsg(TypeEnergyTransfer, "energy_transfer", energyDecoder(func(r *wire.Reader) MsgEnergyTransfer {
		m := MsgEnergyTransfer{Cert: r.U64("cert"), Wh: r.U64("wh")}
		copy(m.To[:], r.Fixed(AddressLen, "recipient"))
		return m
	}))
	RegisterMsg(TypeEnergyOffer, "energy_offer", energyDecoder(func(r *wire.Reader) MsgEnergyOffer {
		return MsgEnergyOffer{Cert: r.U64("cert"), Wh: r.U64("wh"), PricePerWh: r.U64("price")}
	}))
	RegisterMsg(TypeEnergyCancelOffer, "energy_cancel_offer", energyDecoder(func(r *wire.Reader) MsgEnergyCancelOffer {
		return MsgEnergyCancelOffer{Offer: r.U64("offer")}
	}))
	RegisterMsg(TypeEnergyBuy, "energy_buy", energyDecoder(func(r *wire.Reader) MsgEnergyBuy {
		return MsgEnergyBuy{Offer: r.U64("offer"), Wh: r.U64("wh"), MaxPricePerWh: r.U64("max price")}
	}))
	RegisterMsg(TypeEnergyRetire, "energy_retire", energyDecoder(func(r *wire.Reader) MsgEnergyRetire {
		return MsgEnergyRetire{
			Cert: r.U64("cert"), Wh: r.U64("wh"), Claim: r.String(MaxEnergyClaimLen, "claim"),
			Zone: r.String(energy.MaxZoneLen, "zone"), Hour: r.I64("hour"), ConsumptionWh: r.U64("consumption"),
		}
	}))
}

// MsgEnergySplit splits Wh off the sender's certificate bundle Cert into a
// new bundle of the same device and hour, also the sender's.
type MsgEnergySplit struct {
	Cert uint64 `json:"cert"`
	Wh   uint64 `json:"wh"`
}

// MsgEnergyTransfer gives Wh of bundle Cert (all of it when Wh is 0) to To.
type MsgEnergyTransfer struct {
	Cert uint64  `json:"cert"`
	Wh   uint64  `json:"wh"`
	To   Address `json:"to"`
}

// MsgEnergyOffer puts Wh of bundle Cert (all when 0) up for sale at
// PricePerWh upv per Wh. The offered Wh are escrowed in a bundle of their
// own that only a buy or a cancel can release.
type MsgEnergyOffer struct {
	Cert       uint64 `json:"cert"`
	Wh         uint64 `json:"wh"`
	PricePerWh uint64 `json:"price_per_wh"`
}

// MsgEnergyCancelOffer returns an open offer's bundle to its seller.
type MsgEnergyCancelOffer struct {
	Offer uint64 `json:"offer"`
}

// MsgEnergyBuy buys Wh of an offer (all when 0), paying the seller Wh ×
// price atomically. MaxPricePerWh (0: no limit) guards against paying more
// than the buyer expected.
type MsgEnergyBuy struct {
	Offer         uint64 `json:"offer"`
	Wh            uint64 `json:"wh"`
	MaxPricePerWh uint64 `json:"max_price_per_wh"`
}

// MsgEnergyRetire retires Wh of bundle Cert against a consumption claim:
// Claim names it (a job id or any reference), Zone, Hour and
// ConsumptionWh describe the consumption. The first retirement against a
// (sender, Claim) records the claim; later ones must restate it. Retired Wh
// never exceed the claim's consumption, and a retired bundle can do
// nothing else.
type MsgEnergyRetire struct {
	Cert          uint64 `json:"cert"`
	Wh            uint64 `json:"wh"`
	Claim         string `json:"claim"`
	Zone          string `json:"zone"`
	Hour          int64  `json:"hour"`
	ConsumptionWh uint64 `json:"consumption_wh"`
}

var (
	_ Msg = MsgEnergySplit{}
	_ Msg = MsgEnergyTransfer{}
	_ Msg = MsgEnergyOffer{}
	_ Msg = MsgEnergyCancelOffer{}
	_ Msg = MsgEnergyBuy{}
	_ Msg = MsgEnergyRetire{}
)

// Type implements Msg.
func (MsgEnergySplit) Type() MsgType { return TypeEnergySplit }

// AppendBody implements Msg.
func (m MsgEnergySplit) AppendBody(b []byte) []byte {
	return wire.AppendU64(wire.AppendU64(b, m.Cert), m.Wh)
}

// ValidateBasic implements Msg.
func (m MsgEnergySplit) ValidateBasic() error {
	if m.Wh == 0 {
		return errors.New("split needs a positive Wh")
	}
	return nil
}

// Type implements Msg.
func (MsgEnergyTransfer) Type() MsgType { return TypeEnergyTransfer }

// AppendBody implements Msg.
func (m MsgEnergyTransfer) AppendBody(b []byte) []byte {
	return append(wire.AppendU64(wire.AppendU64(b, m.Cert), m.Wh), m.To[:]...)
}

// ValidateBasic implements Msg.
func (m MsgEnergyTransfer) ValidateBasic() error {
	if m.To.IsZero() {
		return errors.New("transfer needs a recipient")
	}
	return nil
}

// Type implements Msg.
func (MsgEnergyOffer) Type() MsgType { return TypeEnergyOffer }

// AppendBody implements Msg.
func (m MsgEnergyOffer) AppendBody(b []byte) []byte {
	return wire.AppendU64(wire.AppendU64(wire.AppendU64(b, m.Cert), m.Wh), m.PricePerWh)
}

// ValidateBasic implements Msg.
func (m MsgEnergyOffer) ValidateBasic() error {
	if m.PricePerWh > MaxEnergyPricePerWh {
		return fmt.Errorf("price %d upv/Wh above the limit %d", m.PricePerWh, uint64(MaxEnergyPricePerWh))
	}
	return nil
}

// Type implements Msg.
func (MsgEnergyCancelOffer) Type() MsgType { return TypeEnergyCancelOffer }

// AppendBody implements Msg.
func (m MsgEnergyCancelOffer) AppendBody(b []byte) []byte { return wire.AppendU64(b, m.Offer) }

// ValidateBasic implements Msg.
func (m MsgEnergyCancelOffer) ValidateBasic() error { return nil }

// Type implements Msg.
func (MsgEnergyBuy) Type() MsgType { return TypeEnergyBuy }

// AppendBody implements Msg.
func (m MsgEnergyBuy) AppendBody(b []byte) []byte {
	return wire.AppendU64(wire.AppendU64(wire.AppendU64(b, m.Offer), m.Wh), m.MaxPricePerWh)
}

// ValidateBasic implements Msg.
func (m MsgEnergyBuy) ValidateBasic() error { return nil }

// Type implements Msg.
func (MsgEnergyRetire) Type() MsgType { return TypeEnergyRetire }

// AppendBody implements Msg.
func (m MsgEnergyRetire) AppendBody(b []byte) []byte {
	b = wire.AppendU64(wire.AppendU64(b, m.Cert), m.Wh)
	b = wire.AppendString(b, m.Claim)
	b = wire.AppendString(b, m.Zone)
	b = wire.AppendI64(b, m.Hour)
	return wire.AppendU64(b, m.ConsumptionWh)
}

// ValidateBasic implements Msg.
func (m MsgEnergyRetire) ValidateBasic() error {
	switch {
	case m.Wh == 0:
		return errors.New("retire needs a positive Wh")
	case m.Claim == "" || len(m.Claim) > MaxEnergyClaimLen:
		return fmt.Errorf("claim must be 1..%d bytes", MaxEnergyClaimLen)
	case m.ConsumptionWh == 0:
		return errors.New("the claim's consumption must be positive")
	case m.Wh > m.ConsumptionWh:
		return fmt.Errorf("retiring %d Wh against a claim of %d Wh consumed", m.Wh, m.ConsumptionWh)
	}
	if err := checkEnergyHour(m.Hour); err != nil {
		return err
	}
	return CheckEnergyZone(m.Zone)
}
