package app

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"

	"github.com/provena/provena/energy"
	"github.com/provena/provena/tx"
)

// The energy module: production devices, signed meter readings issued as
// granular certificate bundles (one per device-hour, whole Wh), their
// split, transfer, sale and retirement against consumption claims, and
// hourly grid intensity from oracles. Accounting is package energy.
func init() {
	RegisterHandler(tx.TypeEnergyRegisterDevice, HandlerFunc(handleEnergyRegisterDevice))
	RegisterHandler(tx.TypeEnergySubmitReadings, HandlerFunc(handleEnergySubmitReadings))
	RegisterHandler(tx.TypeEnergySplit, HandlerFunc(handleEnergySplit))
	RegisterHandler(tx.TypeEnergyTransfer, HandlerFunc(handleEnergyTransfer))
	RegisterHandler(tx.TypeEnergyOffer, HandlerFunc(handleEnergyOffer))
	RegisterHandler(tx.TypeEnergyCancelOffer, HandlerFunc(handleEnergyCancelOffer))
	RegisterHandler(tx.TypeEnergyBuy, HandlerFunc(handleEnergyBuy))
	RegisterHandler(tx.TypeEnergyRetire, HandlerFunc(handleEnergyRetire))
	RegisterHandler(tx.TypeEnergySetOracles, HandlerFunc(handleEnergySetOracles))
	RegisterHandler(tx.TypeEnergyPostIntensity, HandlerFunc(handleEnergyPostIntensity))
}

func handleEnergyRegisterDevice(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgEnergyRegisterDevice)
	id := energy.DeviceIDFromMeterKey(msg.MeterPubKey)
	var d EnergyDevice
	ok, err := energyGet(ctx, energyDeviceKey(id), &d)
	if err != nil {
		return err
	}
	if ok {
		return Fail(CodeEnergyState, "meter key already registered as device %s (owner %s)", id, d.Owner)
	}
	var own []string
	if _, err := energyGet(ctx, energyOwnDevKey(sender), &own); err != nil {
		return err
	}
	if len(own) >= energyMaxDevices {
		return Fail(CodeEnergyLimit, "%s already owns %d devices, the limit", sender, energyMaxDevices)
	}
	d = EnergyDevice{
		ID: id.String(), Owner: sender.String(), Tech: msg.Tech, CapacityW: msg.CapacityW, Zone: msg.Zone,
		MeterPubKey: append([]byte(nil), msg.MeterPubKey...), Registered: ctx.Height(),
	}
	if err := energyPut(ctx, energyDeviceKey(id), d); err != nil {
		return err
	}
	if err := energyPut(ctx, energyOwnDevKey(sender), append(own, d.ID)); err != nil {
		return err
	}
	t, err := energyLoadTotals(ctx)
	if err != nil {
		return err
	}
	t.Devices++
	if err := energyPut(ctx, energyKeyTotals, t); err != nil {
		return err
	}
	ctx.Emit("energy_device", "id", d.ID, "owner", d.Owner, "tech", d.Tech, "capacity_w", u64(d.CapacityW), "zone", d.Zone)
	return nil
}

func energyChainID(ctx *Context) (string, error) {
	b, err := ctx.Get(keyChainID)
	if err != nil {
		return "", fmt.Errorf("load chain id: %w", err)
	}
	if b == nil {
		return "", errors.New("load chain id: missing")
	}
	return string(b), nil
}

func handleEnergySubmitReadings(ctx *Context, _ tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgEnergySubmitReadings)
	var d EnergyDevice
	ok, err := energyGet(ctx, energyDeviceKey(msg.Device), &d)
	if err != nil {
		return err
	}
	if !ok {
		return Fail(CodeEnergyUnknown, "unknown device %s", msg.Device)
	}
	chainID, err := energyChainID(ctx)
	if err != nil {
		return err
	}
	for i, sr := range msg.Readings {
		r := msg.Reading(i)
		if err := energy.VerifyReading(energyMeterKey(&d), chainID, r, sr.Signature); err != nil {
			return Fail(CodeEnergyBadReading, "reading %d: %v", i, err)
		}
		if err := energy.CheckReading(r, d.CapacityW); err != nil {
			return Fail(CodeEnergyBadReading, "reading %d: %v", i, err)
		}
		if r.Start < d.LastEnd {
			return Fail(CodeEnergyBadReading, "reading %d: interval [%d, %d) overlaps or goes back before the device's last reading, which ended at %d", i, r.Start, r.End, d.LastEnd)
		}
		// A meter's register starts wherever it stood when the device was
		// registered: the first reading sets the baseline.
		if d.LastEnd == 0 && r.CumulativeWh >= r.Wh {
			d.CumulativeWh = r.CumulativeWh - r.Wh
		}
		if want := d.CumulativeWh + r.Wh; want < d.CumulativeWh || r.CumulativeWh != want {
			return Fail(CodeEnergyBadReading, "reading %d: cumulative register %d Wh, but the last register %d Wh plus %d Wh is %d", i, r.CumulativeWh, d.CumulativeWh, r.Wh, want)
		}
		hour := energy.HourOf(r.Start)
		if d.Pending && d.PendingHour != hour {
			if err := energyIssue(ctx, &d); err != nil {
				return err
			}
		}
		d.Pending, d.PendingHour = true, hour
		d.PendingWh += r.Wh // bounded by capacity × 1 h
		d.LastEnd, d.CumulativeWh = r.End, r.CumulativeWh
		if r.End == hour+3600 {
			if err := energyIssue(ctx, &d); err != nil {
				return err
			}
		}
	}
	id, _ := energy.ParseDeviceID(d.ID)
	if err := energyPut(ctx, energyDeviceKey(id), d); err != nil {
		return err
	}
	ctx.Emit("energy_readings", "device", d.ID, "count", i64(int64(len(msg.Readings))), "last_end", i64(d.LastEnd), "cumulative_wh", u64(d.CumulativeWh))
	return nil
}

// energyIssue closes the device's open hour: one bundle for its Wh, owned
// by the device's owner. An hour with no production issues nothing.
func energyIssue(ctx *Context, d *EnergyDevice) error {
	hour, wh := d.PendingHour, d.PendingWh
	d.Pending, d.PendingWh, d.PendingHour = false, 0, 0
	if wh == 0 {
		return nil
	}
	id, _ := energy.ParseDeviceID(d.ID)
	var prev EnergyDeviceHour
	ok, err := energyGet(ctx, energyDevHourKey(id, hour), &prev)
	if err != nil {
		return err
	}
	if ok {
		// Unreachable while readings move forward; kept as a guard
		// against issuing one device-hour twice.
		return fmt.Errorf("device %s hour %d already issued as bundle %d", d.ID, hour, prev.Cert)
	}
	cid, err := energyNextCert(ctx)
	if err != nil {
		return err
	}
	c := EnergyCert{ID: cid, Device: d.ID, Tech: d.Tech, Zone: d.Zone, Hour: hour, Owner: d.Owner, Wh: wh, Status: energyActive, Height: ctx.Height()}
	if err := energyPut(ctx, energyCertKey(cid), c); err != nil {
		return err
	}
	if err := energyPut(ctx, energyDevHourKey(id, hour), EnergyDeviceHour{Cert: cid, Wh: wh}); err != nil {
		return err
	}
	owner, err := tx.ParseAddress(d.Owner)
	if err != nil {
		return err
	}
	if err := energyListAdd(ctx, energyOwnCertKey(owner), cid, "the owner's bundle list"); err != nil {
		return err
	}
	t, err := energyLoadTotals(ctx)
	if err != nil {
		return err
	}
	t.Bundles++
	if t.IssuedWh, err = add(t.IssuedWh, wh, "issued Wh"); err != nil {
		return err
	}
	if err := energyPut(ctx, energyKeyTotals, t); err != nil {
		return err
	}
	d.IssuedWh += wh
	ctx.Emit("energy_issue", "cert", u64(cid), "device", d.ID, "hour", i64(hour), "wh", u64(wh), "owner", d.Owner)
	return nil
}

func handleEnergySplit(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgEnergySplit)
	c, err := energyOwned(ctx, sender, msg.Cert, energyActive)
	if err != nil {
		return err
	}
	if msg.Wh >= c.Wh {
		return Fail(CodeEnergyState, "bundle %d holds %d Wh; a split needs less than that", c.ID, c.Wh)
	}
	piece, err := energyTake(ctx, c, msg.Wh)
	if err != nil {
		return err
	}
	ctx.Emit("energy_split", "cert", u64(c.ID), "new", u64(piece.ID), "wh", u64(piece.Wh))
	return nil
}

func handleEnergyTransfer(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgEnergyTransfer)
	c, err := energyOwned(ctx, sender, msg.Cert, energyActive)
	if err != nil {
		return err
	}
	if msg.To == sender {
		return Fail(CodeEnergyState, "bundle %d already belongs to %s", c.ID, sender)
	}
	piece, err := energyTake(ctx, c, msg.Wh)
	if err != nil {
		return err
	}
	if err := energyMove(ctx, &piece, sender, msg.To); err != nil {
		return err
	}
	ctx.Emit("energy_transfer", "cert", u64(piece.ID), "from", sender.String(), "to", msg.To.String(), "wh", u64(piece.Wh))
	return nil
}

// energyMove changes a bundle's owner and both owners' indexes.
func energyMove(ctx *Context, c *EnergyCert, from, to tx.Address) error {
	if err := energyListRemove(ctx, energyOwnCertKey(from), c.ID); err != nil {
		return err
	}
	if err := energyListAdd(ctx, energyOwnCertKey(to), c.ID, "the recipient's bundle list"); err != nil {
		return err
	}
	c.Owner = to.String()
	return energyPut(ctx, energyCertKey(c.ID), *c)
}

func handleEnergyOffer(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgEnergyOffer)
	c, err := energyOwned(ctx, sender, msg.Cert, energyActive)
	if err != nil {
		return err
	}
	piece, err := energyTake(ctx, c, msg.Wh)
	if err != nil {
		return err
	}
	if hi, _ := bits.Mul64(piece.Wh, msg.PricePerWh); hi != 0 {
		return Fail(CodeOverflow, "offer of %d Wh at %d upv/Wh overflows", piece.Wh, msg.PricePerWh)
	}
	oid, err := energyNextOffer(ctx)
	if err != nil {
		return err
	}
	piece.Status, piece.Offer = energyOffered, oid
	if err := energyPut(ctx, energyCertKey(piece.ID), piece); err != nil {
		return err
	}
	o := EnergyOffer{ID: oid, Cert: piece.ID, Seller: sender.String(), PricePerWh: msg.PricePerWh}
	if err := energyPut(ctx, energyOfferKey(oid), o); err != nil {
		return err
	}
	if err := energyListAdd(ctx, energyKeyOffers, oid, "the open offer list"); err != nil {
		return err
	}
	ctx.Emit("energy_offer", "offer", u64(oid), "cert", u64(piece.ID), "wh", u64(piece.Wh), "price_per_wh", u64(msg.PricePerWh), "seller", sender.String())
	return nil
}

func energyLoadOffer(ctx *Context, id uint64) (EnergyOffer, EnergyCert, error) {
	var o EnergyOffer
	ok, err := energyGet(ctx, energyOfferKey(id), &o)
	if err != nil {
		return o, EnergyCert{}, err
	}
	if !ok {
		return o, EnergyCert{}, Fail(CodeEnergyUnknown, "no open offer %d", id)
	}
	c, err := energyLoadCert(ctx, o.Cert)
	if err != nil {
		return o, c, err
	}
	if c.Status != energyOffered || c.Offer != id {
		return o, c, fmt.Errorf("offer %d: bundle %d is %s (offer %d)", id, c.ID, c.Status, c.Offer)
	}
	return o, c, nil
}

func energyCloseOffer(ctx *Context, o EnergyOffer) error {
	if err := ctx.Delete(energyOfferKey(o.ID)); err != nil {
		return err
	}
	return energyListRemove(ctx, energyKeyOffers, o.ID)
}

func handleEnergyCancelOffer(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgEnergyCancelOffer)
	o, c, err := energyLoadOffer(ctx, msg.Offer)
	if err != nil {
		return err
	}
	if o.Seller != sender.String() {
		return Fail(CodeEnergyUnauthorized, "offer %d is %s's, not %s's", o.ID, o.Seller, sender)
	}
	c.Status, c.Offer = energyActive, 0
	if err := energyPut(ctx, energyCertKey(c.ID), c); err != nil {
		return err
	}
	if err := energyCloseOffer(ctx, o); err != nil {
		return err
	}
	ctx.Emit("energy_cancel_offer", "offer", u64(o.ID), "cert", u64(c.ID))
	return nil
}

func handleEnergyBuy(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgEnergyBuy)
	o, c, err := energyLoadOffer(ctx, msg.Offer)
	if err != nil {
		return err
	}
	seller, err := tx.ParseAddress(o.Seller)
	if err != nil {
		return err
	}
	if seller == sender {
		return Fail(CodeEnergyState, "offer %d is your own; cancel it instead", o.ID)
	}
	if msg.MaxPricePerWh != 0 && o.PricePerWh > msg.MaxPricePerWh {
		return Fail(CodeEnergyState, "offer %d asks %d upv/Wh, above your maximum %d", o.ID, o.PricePerWh, msg.MaxPricePerWh)
	}
	whole := msg.Wh == 0 || msg.Wh == c.Wh
	piece, err := energyTake(ctx, c, msg.Wh)
	if err != nil {
		return err
	}
	price := piece.Wh * o.PricePerWh // no overflow: checked when offered, piece.Wh <= offered Wh
	buyer, err := ctx.Account(sender)
	if err != nil {
		return err
	}
	if buyer.Balance < price {
		return Fail(CodeInsufficientFunds, "insufficient funds: balance %d %s after fee, %d Wh at %d upv/Wh cost %d %s", buyer.Balance, Denom, piece.Wh, o.PricePerWh, price, Denom)
	}
	sa, err := ctx.Account(seller)
	if err != nil {
		return err
	}
	if sa.Balance, err = add(sa.Balance, price, "seller balance"); err != nil {
		return err
	}
	buyer.Balance -= price
	if err := ctx.SetAccount(sender, &buyer); err != nil {
		return err
	}
	if err := ctx.SetAccount(seller, &sa); err != nil {
		return err
	}
	piece.Status, piece.Offer = energyActive, 0
	if err := energyMove(ctx, &piece, seller, sender); err != nil {
		return err
	}
	if whole {
		if err := energyCloseOffer(ctx, o); err != nil {
			return err
		}
	}
	t, err := energyLoadTotals(ctx)
	if err != nil {
		return err
	}
	if t.TradedWh, err = add(t.TradedWh, piece.Wh, "traded Wh"); err != nil {
		return err
	}
	if t.PaidUpv, err = add(t.PaidUpv, price, "paid upv"); err != nil {
		return err
	}
	if err := energyPut(ctx, energyKeyTotals, t); err != nil {
		return err
	}
	ctx.Emit("energy_buy", "offer", u64(o.ID), "cert", u64(piece.ID), "wh", u64(piece.Wh), "price", u64(price), "buyer", sender.String(), "seller", o.Seller)
	return nil
}

func handleEnergyRetire(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgEnergyRetire)
	c, err := energyOwned(ctx, sender, msg.Cert, energyActive)
	if err != nil {
		return err
	}
	if err := energyCheckJobClaim(ctx, sender, msg); err != nil {
		return err
	}
	ck := energyClaimKey(sender, msg.Claim)
	var cl EnergyClaim
	exists, err := energyGet(ctx, ck, &cl)
	if err != nil {
		return err
	}
	if exists {
		if cl.Ref != msg.Claim || cl.Zone != msg.Zone || cl.Hour != msg.Hour || cl.ConsumptionWh != msg.ConsumptionWh {
			return Fail(CodeEnergyState, "claim %q was recorded as %d Wh in %s at hour %d; restate it the same way", cl.Ref, cl.ConsumptionWh, cl.Zone, cl.Hour)
		}
	} else {
		cl = EnergyClaim{Owner: sender.String(), Ref: msg.Claim, Zone: msg.Zone, Hour: msg.Hour, ConsumptionWh: msg.ConsumptionWh}
		var refs []string
		if _, err := energyGet(ctx, energyOwnClaimKey(sender), &refs); err != nil {
			return err
		}
		if len(refs) >= energyMaxList {
			return Fail(CodeEnergyLimit, "%s already has %d claims, the limit", sender, energyMaxList)
		}
		if err := energyPut(ctx, energyOwnClaimKey(sender), append(refs, msg.Claim)); err != nil {
			return err
		}
	}
	if cl.RetiredWh+msg.Wh > cl.ConsumptionWh {
		return Fail(CodeEnergyState, "claim %q consumed %d Wh and already has %d Wh retired; %d more would over-claim", cl.Ref, cl.ConsumptionWh, cl.RetiredWh, msg.Wh)
	}
	if len(cl.Retirements) >= energyMaxRetires {
		return Fail(CodeEnergyLimit, "claim %q already has %d retirements, the limit", cl.Ref, energyMaxRetires)
	}
	if msg.Wh > c.Wh {
		return Fail(CodeEnergyState, "bundle %d holds %d Wh, cannot retire %d", c.ID, c.Wh, msg.Wh)
	}
	piece, err := energyTake(ctx, c, msg.Wh)
	if err != nil {
		return err
	}
	if err := energyListRemove(ctx, energyOwnCertKey(sender), piece.ID); err != nil {
		return err
	}
	piece.Status, piece.Claim = energyRetired, msg.Claim
	if err := energyPut(ctx, energyCertKey(piece.ID), piece); err != nil {
		return err
	}
	matched := piece.Zone == cl.Zone && piece.Hour == cl.Hour
	cl.RetiredWh += piece.Wh
	if matched {
		cl.Matched247Wh += piece.Wh
	}
	cl.Retirements = append(cl.Retirements, EnergyRetirement{Cert: piece.ID, Wh: piece.Wh, Zone: piece.Zone, Hour: piece.Hour, Matched: matched, Height: ctx.Height()})
	if err := energyPut(ctx, ck, cl); err != nil {
		return err
	}
	t, err := energyLoadTotals(ctx)
	if err != nil {
		return err
	}
	if t.RetiredWh, err = add(t.RetiredWh, piece.Wh, "retired Wh"); err != nil {
		return err
	}
	if err := energyPut(ctx, energyKeyTotals, t); err != nil {
		return err
	}
	ctx.Emit("energy_retire", "cert", u64(piece.ID), "wh", u64(piece.Wh), "claim", msg.Claim, "owner", sender.String(), "matched_247", fmt.Sprint(matched))
	return nil
}

func handleEnergySetOracles(ctx *Context, _ tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgEnergySetOracles)
	auth, err := energyAuthority(ctx)
	if err != nil {
		return err
	}
	if len(auth) == 0 {
		return Fail(CodeEnergyUnauthorized, "this chain's genesis names no energy authority (modules.energy.authority), so its oracle set cannot be changed")
	}
	if !bytes.Equal(msg.AuthorityPubKey, auth) {
		return Fail(CodeEnergyUnauthorized, "the oracle set must be signed by the module authority %x named in genesis", []byte(auth))
	}
	var p EnergyParams
	if _, err := energyGet(ctx, energyKeyParams, &p); err != nil {
		return err
	}
	if msg.Version != p.Version+1 {
		return Fail(CodeEnergyState, "oracle set version %d, expected %d", msg.Version, p.Version+1)
	}
	p = EnergyParams{Version: msg.Version, Oracles: []string{}}
	for _, a := range msg.Oracles {
		p.Oracles = append(p.Oracles, a.String())
	}
	if err := energyPut(ctx, energyKeyParams, p); err != nil {
		return err
	}
	ctx.Emit("energy_oracles", "version", u64(p.Version), "count", i64(int64(len(p.Oracles))))
	return nil
}

func handleEnergyPostIntensity(ctx *Context, sender tx.Address, m tx.Msg) error {
	msg := m.(tx.MsgEnergyPostIntensity)
	var p EnergyParams
	if _, err := energyGet(ctx, energyKeyParams, &p); err != nil {
		return err
	}
	ok := false
	for _, o := range p.Oracles {
		ok = ok || o == sender.String()
	}
	if !ok {
		return Fail(CodeEnergyUnauthorized, "%s is not a registered intensity oracle", sender)
	}
	for i, v := range msg.MgPerKWh {
		h := msg.StartHour + int64(i)*3600
		rec := EnergyIntensity{Zone: msg.Zone, Hour: h, MgPerKWh: uint64(v), Synthetic: msg.Synthetic, Oracle: sender.String(), Height: ctx.Height()}
		if err := energyPut(ctx, energyIntensityKey(msg.Zone, h), rec); err != nil {
			return err
		}
	}
	ctx.Emit("energy_intensity", "zone", msg.Zone, "start_hour", i64(msg.StartHour), "hours", i64(int64(len(msg.MgPerKWh))), "synthetic", fmt.Sprint(msg.Synthetic), "oracle", sender.String())
	return nil
}
