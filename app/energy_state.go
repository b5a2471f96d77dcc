package app

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/provena/provena/energy"
	"github.com/provena/provena/tx"
)

// The energy module's state. Records are JSON of plain structs (no maps,
// no floats), so their bytes are deterministic. Handlers cannot iterate
// state, so every listing a client needs is an explicit index key whose
// value is a sorted list; each list is capped so no value grows without
// bound.
var (
	energyKeyParams  = []byte("e/params")
	energyKeyTotals  = []byte("e/totals")
	energyKeySeq     = []byte("e/seq")
	energyKeyOffers  = []byte("e/offers")  // sorted open offer ids
	energyPfxDevice  = []byte("e/dev/")    // <16-byte device id> -> energyDevice
	energyPfxOwnDev  = []byte("e/odev/")   // <address> -> sorted device ids (hex)
	energyPfxDevHour = []byte("e/dh/")     // <device id><8-byte hour> -> energyDeviceHour
	energyPfxCert    = []byte("e/cert/")   // <8-byte id> -> energyCert
	energyPfxOwnCert = []byte("e/own/")    // <address> -> sorted ids of active and offered bundles
	energyPfxOffer   = []byte("e/offer/")  // <8-byte id> -> energyOffer
	energyPfxClaim   = []byte("e/claim/")  // <address><16-byte claim hash> -> energyClaim
	energyPfxOwnClm  = []byte("e/oclaim/") // <address> -> claim references, in creation order
	energyPfxInt     = []byte("e/int/")    // <zone>/<8-byte hour> -> energyIntensity
	energyMaxList    = 4096                // entries in one index list
	energyMaxDevices = 256                 // devices of one owner
	energyMaxRetires = 256                 // retirements against one claim
)

// Certificate bundle statuses.
const (
	energyActive  = "active"
	energyOffered = "offered"
	energyRetired = "retired"
)

// EnergyParams are the module's parameters: who may post hourly grid
// intensity. Set by tx.MsgEnergySetOracles (see energy.DevAuthorityKey).
type EnergyParams struct {
	Version uint64   `json:"version"`
	Oracles []string `json:"oracles"`
}

// EnergyTotals are the module's conservation counters: every issued Wh is
// in exactly one bundle, and IssuedWh = Σ bundle Wh; RetiredWh = Σ retired
// bundle Wh.
type EnergyTotals struct {
	Devices   uint64 `json:"devices"`
	Bundles   uint64 `json:"bundles"`
	IssuedWh  uint64 `json:"issued_wh"`
	RetiredWh uint64 `json:"retired_wh"`
	TradedWh  uint64 `json:"traded_wh"`
	PaidUpv   uint64 `json:"paid_upv"`
}

// EnergyDevice is a registered production device.
type EnergyDevice struct {
	ID          string `json:"id"`
	Owner       string `json:"owner"`
	Tech        string `json:"tech"`
	CapacityW   uint64 `json:"capacity_w"`
	Zone        string `json:"zone"`
	MeterPubKey []byte `json:"meter_pubkey"`
	Registered  int64  `json:"registered_height"`
	// LastEnd is where the last accepted reading ended (unix s); the next
	// must start at or after it.
	LastEnd      int64  `json:"last_end"`
	CumulativeWh uint64 `json:"cumulative_wh"`
	// The open device-hour: readings of PendingHour not yet issued.
	PendingHour int64  `json:"pending_hour"`
	PendingWh   uint64 `json:"pending_wh"`
	Pending     bool   `json:"pending"`
	IssuedWh    uint64 `json:"issued_wh"`
}

// EnergyDeviceHour records the bundle issued for one device-hour.
type EnergyDeviceHour struct {
	Cert uint64 `json:"cert"`
	Wh   uint64 `json:"wh"`
}

// EnergyCert is a certificate bundle: Wh of one device's production in one
// UTC hour.
type EnergyCert struct {
	ID     uint64 `json:"id"`
	Device string `json:"device"`
	Tech   string `json:"tech"`
	Zone   string `json:"zone"`
	Hour   int64  `json:"hour"`
	Owner  string `json:"owner"`
	Wh     uint64 `json:"wh"`
	Status string `json:"status"`
	Parent uint64 `json:"parent,omitempty"` // the bundle it was split from
	Offer  uint64 `json:"offer,omitempty"`  // while offered
	Claim  string `json:"claim,omitempty"`  // once retired
	Height int64  `json:"height"`           // created at
}

// EnergyOffer is an open sale of an escrowed bundle.
type EnergyOffer struct {
	ID         uint64 `json:"id"`
	Cert       uint64 `json:"cert"`
	Seller     string `json:"seller"`
	PricePerWh uint64 `json:"price_per_wh"`
}

// EnergyRetirement is one retirement against a claim.
type EnergyRetirement struct {
	Cert    uint64 `json:"cert"`
	Wh      uint64 `json:"wh"`
	Zone    string `json:"cert_zone"`
	Hour    int64  `json:"cert_hour"`
	Matched bool   `json:"matched_247"` // same zone and UTC hour as the claim
	Height  int64  `json:"height"`
}

// EnergyClaim is a consumption claim and the certificates retired for it.
type EnergyClaim struct {
	Owner         string             `json:"owner"`
	Ref           string             `json:"ref"`
	Zone          string             `json:"zone"`
	Hour          int64              `json:"hour"`
	ConsumptionWh uint64             `json:"consumption_wh"`
	RetiredWh     uint64             `json:"retired_wh"`
	Matched247Wh  uint64             `json:"matched_247_wh"`
	Retirements   []EnergyRetirement `json:"retirements"`
}

// EnergyIntensity is one posted hour of grid intensity.
type EnergyIntensity struct {
	Zone      string `json:"zone"`
	Hour      int64  `json:"hour"`
	MgPerKWh  uint64 `json:"mg_co2e_per_kwh"`
	Synthetic bool   `json:"synthetic"`
	Oracle    string `json:"oracle"`
	Height    int64  `json:"height"`
}

type energySeq struct {
	NextCert  uint64 `json:"next_cert"`
	NextOffer uint64 `json:"next_offer"`
}

func energyKey(pfx []byte, parts ...[]byte) []byte {
	k := append([]byte(nil), pfx...)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

func energyU64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func energyDeviceKey(id energy.DeviceID) []byte { return energyKey(energyPfxDevice, id[:]) }
func energyCertKey(id uint64) []byte            { return energyKey(energyPfxCert, energyU64(id)) }
func energyOfferKey(id uint64) []byte           { return energyKey(energyPfxOffer, energyU64(id)) }
func energyOwnCertKey(a tx.Address) []byte      { return energyKey(energyPfxOwnCert, a[:]) }
func energyOwnDevKey(a tx.Address) []byte       { return energyKey(energyPfxOwnDev, a[:]) }
func energyOwnClaimKey(a tx.Address) []byte     { return energyKey(energyPfxOwnClm, a[:]) }
func energyDevHourKey(id energy.DeviceID, hour int64) []byte {
	return energyKey(energyPfxDevHour, id[:], energyU64(uint64(hour)))
}
func energyIntensityKey(zone string, hour int64) []byte {
	return energyKey(energyPfxInt, []byte(zone), []byte("/"), energyU64(uint64(hour)))
}

// energyClaimKey hashes the reference so any string is a fixed-size key.
func energyClaimKey(owner tx.Address, ref string) []byte {
	h := sha256.Sum256([]byte(ref))
	return energyKey(energyPfxClaim, owner[:], h[:16])
}

// energyGet loads a JSON record; ok is false when the key is absent.
func energyGet(ctx *Context, key []byte, v any) (bool, error) {
	b, err := ctx.Get(key)
	if err != nil {
		return false, fmt.Errorf("load %q: %w", key, err)
	}
	if b == nil {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}

func energyPut(ctx *Context, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %q: %w", key, err)
	}
	return ctx.Set(key, b)
}

func energyLoadTotals(ctx *Context) (EnergyTotals, error) {
	var t EnergyTotals
	_, err := energyGet(ctx, energyKeyTotals, &t)
	return t, err
}

func energyNextCert(ctx *Context) (uint64, error) {
	var s energySeq
	if _, err := energyGet(ctx, energyKeySeq, &s); err != nil {
		return 0, err
	}
	s.NextCert++
	return s.NextCert, energyPut(ctx, energyKeySeq, s)
}

func energyNextOffer(ctx *Context) (uint64, error) {
	var s energySeq
	if _, err := energyGet(ctx, energyKeySeq, &s); err != nil {
		return 0, err
	}
	s.NextOffer++
	return s.NextOffer, energyPut(ctx, energyKeySeq, s)
}

// energyListAdd inserts id into the sorted list at key.
func energyListAdd(ctx *Context, key []byte, id uint64, what string) error {
	var l []uint64
	if _, err := energyGet(ctx, key, &l); err != nil {
		return err
	}
	i, found := slices.BinarySearch(l, id)
	if found {
		return nil
	}
	if len(l) >= energyMaxList {
		return Fail(CodeEnergyLimit, "%s already holds %d entries, the limit; retire or merge some first", what, energyMaxList)
	}
	return energyPut(ctx, key, slices.Insert(l, i, id))
}

func energyListRemove(ctx *Context, key []byte, id uint64) error {
	var l []uint64
	if _, err := energyGet(ctx, key, &l); err != nil {
		return err
	}
	i, found := slices.BinarySearch(l, id)
	if !found {
		return fmt.Errorf("index %q lacks %d", key, id)
	}
	l = slices.Delete(l, i, i+1)
	if len(l) == 0 {
		return ctx.Delete(key)
	}
	return energyPut(ctx, key, l)
}

func energyLoadCert(ctx *Context, id uint64) (EnergyCert, error) {
	var c EnergyCert
	ok, err := energyGet(ctx, energyCertKey(id), &c)
	if err != nil {
		return c, err
	}
	if !ok {
		return c, Fail(CodeEnergyUnknown, "unknown certificate bundle %d", id)
	}
	return c, nil
}

// energyTake returns a bundle holding exactly wh of c (all of it when wh
// is 0 or c.Wh): c itself, or a new bundle split off c with the same
// owner and status, c keeping the rest. Wh are conserved.
func energyTake(ctx *Context, c EnergyCert, wh uint64) (EnergyCert, error) {
	if wh == 0 || wh == c.Wh {
		return c, nil
	}
	if wh > c.Wh {
		return EnergyCert{}, Fail(CodeEnergyState, "bundle %d holds %d Wh, cannot take %d", c.ID, c.Wh, wh)
	}
	id, err := energyNextCert(ctx)
	if err != nil {
		return EnergyCert{}, err
	}
	piece := c
	piece.ID, piece.Wh, piece.Parent, piece.Height = id, wh, c.ID, ctx.Height()
	c.Wh -= wh
	if err := energyPut(ctx, energyCertKey(c.ID), c); err != nil {
		return EnergyCert{}, err
	}
	t, err := energyLoadTotals(ctx)
	if err != nil {
		return EnergyCert{}, err
	}
	t.Bundles++
	if err := energyPut(ctx, energyKeyTotals, t); err != nil {
		return EnergyCert{}, err
	}
	if piece.Status != energyRetired {
		owner, err := tx.ParseAddress(piece.Owner)
		if err != nil {
			return EnergyCert{}, err
		}
		if err := energyListAdd(ctx, energyOwnCertKey(owner), piece.ID, "the owner's bundle list"); err != nil {
			return EnergyCert{}, err
		}
	}
	return piece, energyPut(ctx, energyCertKey(piece.ID), piece)
}

// energyOwned loads bundle id and checks the sender owns it and it is in
// status want.
func energyOwned(ctx *Context, sender tx.Address, id uint64, want string) (EnergyCert, error) {
	c, err := energyLoadCert(ctx, id)
	if err != nil {
		return c, err
	}
	if c.Owner != sender.String() {
		return c, Fail(CodeEnergyUnauthorized, "bundle %d belongs to %s, not %s", id, c.Owner, sender)
	}
	if c.Status != want {
		return c, Fail(CodeEnergyState, "bundle %d is %s, must be %s", id, c.Status, want)
	}
	return c, nil
}

func energyMeterKey(d *EnergyDevice) ed25519.PublicKey { return ed25519.PublicKey(d.MeterPubKey) }
