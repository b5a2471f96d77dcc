package app_test

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/app/apptest"
	"github.com/provena/provena/energy"
	"github.com/provena/provena/tx"
)

// enChain runs one transaction per committed block and tracks nonces.
type enChain struct {
	t     testing.TB
	a     *app.App
	nonce map[tx.Address]uint64
	time  time.Time
}

var (
	enProducer = apptest.Key(301)
	enBuyer    = apptest.Key(302)
	enWorker   = apptest.Key(303)
	enOracle   = apptest.Key(304)
	enMeter    = apptest.Key(305) // a meter key, not an account
	enProposer = apptest.Key(306)
	enHour     = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC).Unix()
)

const enBalance = 1_000_000

func newEnChain(t testing.TB) *enChain {
	a := app.OpenMem()
	t.Cleanup(func() { a.Close() })
	p := app.DefaultParams()
	if _, err := a.InitChain(apptest.ChainID, apptest.Genesis(p, enBalance, enProducer, enBuyer, enWorker, enOracle)); err != nil {
		t.Fatal(err)
	}
	return &enChain{t: t, a: a, nonce: map[tx.Address]uint64{}, time: time.Unix(enHour, 0)}
}

func (c *enChain) send(k ed25519.PrivateKey, msg tx.Msg) app.Result {
	c.t.Helper()
	addr := apptest.Addr(k)
	b := apptest.Sign(k, c.nonce[addr], app.DefaultParams().MinFee, msg)
	h, _ := c.a.Info()
	c.time = c.time.Add(time.Second)
	res, err := c.a.ExecuteBlock(app.Block{Height: h + 1, Time: c.time, Proposer: apptest.Addr(enProposer), Txs: [][]byte{b}})
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.a.Commit(); err != nil {
		c.t.Fatal(err)
	}
	r := res.TxResults[0]
	if r.Code != app.CodeBadEncoding && r.Code != app.CodeInvalidMsg {
		c.nonce[addr]++
	}
	return r
}

func (c *enChain) ok(k ed25519.PrivateKey, msg tx.Msg) {
	c.t.Helper()
	if r := c.send(k, msg); r.Code != app.CodeOK {
		c.t.Fatalf("%s: code %d: %s", tx.MsgName(msg.Type()), r.Code, r.Log)
	}
}

func (c *enChain) fails(k ed25519.PrivateKey, msg tx.Msg, code uint32, substr string) {
	c.t.Helper()
	r := c.send(k, msg)
	if r.Code != code || !strings.Contains(r.Log, substr) {
		c.t.Fatalf("%s: got code %d %q, want code %d containing %q", tx.MsgName(msg.Type()), r.Code, r.Log, code, substr)
	}
}

func (c *enChain) query(path string, data string, v any) {
	c.t.Helper()
	r := c.a.Query(path, []byte(data), 0, false)
	if r.Code != app.CodeOK {
		c.t.Fatalf("query %s %q: %d %s", path, data, r.Code, r.Log)
	}
	if err := json.Unmarshal(r.Value, v); err != nil {
		c.t.Fatalf("query %s: %v", path, err)
	}
}

func (c *enChain) cert(id uint64) app.EnergyCert {
	var ce *app.EnergyCert
	c.query(app.QueryEnergyCert, strconv.FormatUint(id, 10), &ce)
	if ce == nil {
		c.t.Fatalf("no bundle %d", id)
	}
	return *ce
}

func (c *enChain) balance(k ed25519.PrivateKey) uint64 {
	r := c.a.Query(app.QueryAccount, apptest.Addr(k).Bytes(), 0, false)
	var j app.AccountJSON
	if err := json.Unmarshal(r.Value, &j); err != nil {
		c.t.Fatal(err)
	}
	return j.Balance
}

// register registers a 5 kW solar device in DE with meter and returns its id.
func (c *enChain) register(owner, meter ed25519.PrivateKey) energy.DeviceID {
	c.t.Helper()
	pub := meter.Public().(ed25519.PublicKey)
	c.ok(owner, tx.MsgEnergyRegisterDevice{Tech: "solar", CapacityW: 5000, Zone: "DE", MeterPubKey: pub})
	return energy.DeviceIDFromMeterKey(pub)
}

// readings signs intervals [start_i, end_i) with wh_i, continuing the
// cumulative register from cum.
func readings(t testing.TB, meter ed25519.PrivateKey, dev energy.DeviceID, cum uint64, iv ...[3]int64) tx.MsgEnergySubmitReadings {
	m := tx.MsgEnergySubmitReadings{Device: dev}
	for _, v := range iv {
		cum += uint64(v[2])
		r := energy.Reading{Device: dev, Start: v[0], End: v[1], Wh: uint64(v[2]), CumulativeWh: cum}
		sig, err := energy.SignReading(meter, apptest.ChainID, r)
		if err != nil {
			t.Fatal(err)
		}
		m.Readings = append(m.Readings, tx.EnergySignedReading{Start: r.Start, End: r.End, Wh: r.Wh, CumulativeWh: r.CumulativeWh, Signature: sig})
	}
	return m
}

func TestEnergyReadings(t *testing.T) {
	c := newEnChain(t)
	dev := c.register(enProducer, enMeter)
	c.fails(enBuyer, tx.MsgEnergyRegisterDevice{Tech: "wind", CapacityW: 1, Zone: "FR", MeterPubKey: enMeter.Public().(ed25519.PublicKey)}, app.CodeEnergyState, "already registered")

	h := enHour
	// A meter whose register already stood at 5000 Wh: the first reading
	// sets the baseline, the next must continue it.
	m2 := apptest.Key(398)
	dev2 := c.register(enProducer, m2)
	c.ok(enBuyer, readings(t, m2, dev2, 5000, [3]int64{h, h + 60, 1}))
	c.fails(enBuyer, readings(t, m2, dev2, 0, [3]int64{h + 60, h + 120, 1}), app.CodeEnergyBadReading, "cumulative register")
	c.ok(enBuyer, readings(t, m2, dev2, 5001, [3]int64{h + 60, h + 120, 1}))
	// Four quarter hours; the last closes the hour and issues one bundle.
	c.ok(enBuyer, readings(t, enMeter, dev, 0, [3]int64{h, h + 900, 300}, [3]int64{h + 900, h + 1800, 400}, [3]int64{h + 1800, h + 2700, 500}, [3]int64{h + 2700, h + 3600, 600}))
	if ce := c.cert(1); ce.Wh != 1800 || ce.Hour != h || ce.Owner != apptest.Addr(enProducer).String() || ce.Status != "active" || ce.Zone != "DE" {
		t.Fatalf("bundle 1 = %+v", ce)
	}
	// A partial hour stays open until a reading of a later hour arrives.
	c.ok(enBuyer, readings(t, enMeter, dev, 1800, [3]int64{h + 3600, h + 4500, 100}))
	var dh *app.EnergyDeviceHour
	c.query(app.QueryEnergyDeviceHr, fmt.Sprintf("%s@%d", dev, h+3600), &dh)
	if dh != nil {
		t.Fatalf("open hour issued early: %+v", dh)
	}
	c.ok(enBuyer, readings(t, enMeter, dev, 1900, [3]int64{h + 7200, h + 7300, 10}))
	c.query(app.QueryEnergyDeviceHr, fmt.Sprintf("%s@%d", dev, h+3600), &dh)
	if dh == nil || dh.Wh != 100 || c.cert(dh.Cert).Wh != 100 {
		t.Fatalf("hour 2: %+v", dh)
	}

	other := apptest.Key(399)
	last := int64(h + 7300)
	cum := uint64(1910)
	forged := readings(t, other, dev, cum, [3]int64{last, last + 60, 1})
	tampered := readings(t, enMeter, dev, cum, [3]int64{last, last + 60, 1})
	tampered.Readings[0].Wh = 2
	tampered.Readings[0].CumulativeWh = cum + 2
	badCum := readings(t, enMeter, dev, cum+5, [3]int64{last, last + 60, 1})
	unknown := readings(t, other, energy.DeviceIDFromMeterKey(other.Public().(ed25519.PublicKey)), 0, [3]int64{h, h + 60, 1})
	tests := []struct {
		name string
		msg  tx.MsgEnergySubmitReadings
		code uint32
		want string
	}{
		{"forged signature", forged, app.CodeEnergyBadReading, "bad meter signature"},
		{"tampered reading", tampered, app.CodeEnergyBadReading, "bad meter signature"},
		{"overlapping", readings(t, enMeter, dev, cum, [3]int64{last - 60, last + 60, 1}), app.CodeEnergyBadReading, "overlaps"},
		{"replayed", readings(t, enMeter, dev, 1800, [3]int64{h + 3600, h + 4500, 100}), app.CodeEnergyBadReading, "overlaps"},
		{"backwards", readings(t, enMeter, dev, cum, [3]int64{last + 60, last, 1}), app.CodeEnergyBadReading, "backwards"},
		{"over capacity", readings(t, enMeter, dev, cum, [3]int64{last, last + 36, 51}), app.CodeEnergyBadReading, "above capacity"},
		{"crosses hour", readings(t, enMeter, dev, cum, [3]int64{h + 10000, h + 11000, 1}), app.CodeEnergyBadReading, "crosses a UTC hour"},
		{"register mismatch", badCum, app.CodeEnergyBadReading, "cumulative register"},
		{"unknown device", unknown, app.CodeEnergyUnknown, "unknown device"},
		// One bad reading rejects the whole message: the good first one is not applied.
		{"bad second reading", readings(t, enMeter, dev, cum, [3]int64{last, last + 60, 1}, [3]int64{last + 30, last + 90, 1}), app.CodeEnergyBadReading, "reading 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			c.fails(enBuyer, tc.msg, tc.code, tc.want)
		})
	}
	c.t = t
	var d *app.EnergyDevice
	c.query(app.QueryEnergyDevice, dev.String(), &d)
	if d.LastEnd != last || d.CumulativeWh != cum || d.IssuedWh != 1900 {
		t.Fatalf("device changed by rejected readings: %+v", d)
	}
	var tot app.EnergyTotals
	c.query(app.QueryEnergyTotals, "", &tot)
	if tot.IssuedWh != 1900 || tot.Bundles != 2 || tot.Devices != 2 {
		t.Fatalf("totals %+v", tot)
	}
}

// issue registers a device for owner and issues one bundle of wh in hour.
func (c *enChain) issue(owner, meter ed25519.PrivateKey, hour int64, wh int64) uint64 {
	c.t.Helper()
	dev := c.register(owner, meter)
	c.ok(owner, readings(c.t, meter, dev, 0, [3]int64{hour, hour + 3600, wh}))
	var dh *app.EnergyDeviceHour
	c.query(app.QueryEnergyDeviceHr, fmt.Sprintf("%s@%d", dev, hour), &dh)
	return dh.Cert
}

func TestEnergyMarketAndRetire(t *testing.T) {
	c := newEnChain(t)
	id := c.issue(enProducer, enMeter, enHour, 1000)
	p0, b0 := c.balance(enProducer), c.balance(enBuyer)
	fee := app.DefaultParams().MinFee

	c.ok(enProducer, tx.MsgEnergyOffer{Cert: id, Wh: 800, PricePerWh: 2})
	var offers []uint64
	c.query(app.QueryEnergyOffers, "", &offers)
	if len(offers) != 1 {
		t.Fatalf("offers %v", offers)
	}
	var o *app.EnergyOffer
	c.query(app.QueryEnergyOffer, "1", &o)
	escrow := c.cert(o.Cert)
	if escrow.Status != "offered" || escrow.Wh != 800 || c.cert(id).Wh != 200 {
		t.Fatalf("escrow %+v, rest %+v", escrow, c.cert(id))
	}
	// The escrowed bundle cannot be moved or retired by its seller.
	c.fails(enProducer, tx.MsgEnergyTransfer{Cert: o.Cert, To: apptest.Addr(enWorker)}, app.CodeEnergyState, "is offered")
	c.fails(enProducer, tx.MsgEnergyBuy{Offer: 1}, app.CodeEnergyState, "your own")
	c.fails(enBuyer, tx.MsgEnergyBuy{Offer: 1, MaxPricePerWh: 1}, app.CodeEnergyState, "above your maximum")
	c.fails(enBuyer, tx.MsgEnergyCancelOffer{Offer: 1}, app.CodeEnergyUnauthorized, "not")

	c.ok(enBuyer, tx.MsgEnergyBuy{Offer: 1, Wh: 300})
	c.ok(enBuyer, tx.MsgEnergyBuy{Offer: 1})
	c.fails(enBuyer, tx.MsgEnergyBuy{Offer: 1}, app.CodeEnergyUnknown, "no open offer")
	if got, want := c.balance(enProducer), p0-3*fee+1600; got != want {
		t.Fatalf("seller balance %d, want %d", got, want)
	}
	if got, want := c.balance(enBuyer), b0-5*fee-1600; got != want {
		t.Fatalf("buyer balance %d, want %d", got, want)
	}
	var mine []uint64
	c.query(app.QueryEnergyCerts, apptest.Addr(enBuyer).String(), &mine)
	if len(mine) != 2 {
		t.Fatalf("buyer bundles %v", mine)
	}
	big := mine[0]
	if c.cert(big).Wh != 300 {
		big = mine[1]
	}

	// Retire against a claim in the same zone and hour: 24/7 matched.
	claim := tx.MsgEnergyRetire{Cert: big, Wh: 120, Claim: "job-42", Zone: "DE", Hour: enHour, ConsumptionWh: 150}
	c.ok(enBuyer, claim)
	var cl *app.EnergyClaim
	c.query(app.QueryEnergyClaim, apptest.Addr(enBuyer).String()+"/job-42", &cl)
	if cl.RetiredWh != 120 || cl.Matched247Wh != 120 || len(cl.Retirements) != 1 {
		t.Fatalf("claim %+v", cl)
	}
	retired := c.cert(cl.Retirements[0].Cert)
	if retired.Status != "retired" || retired.Wh != 120 || retired.Claim != "job-42" {
		t.Fatalf("retired bundle %+v", retired)
	}
	// Nothing is retired twice: the retired bundle can do nothing more.
	c.fails(enBuyer, tx.MsgEnergyRetire{Cert: retired.ID, Wh: 120, Claim: "job-43", Zone: "DE", Hour: enHour, ConsumptionWh: 500}, app.CodeEnergyState, "is retired")
	c.fails(enBuyer, tx.MsgEnergyTransfer{Cert: retired.ID, To: apptest.Addr(enWorker)}, app.CodeEnergyState, "is retired")
	c.fails(enBuyer, tx.MsgEnergyOffer{Cert: retired.ID, PricePerWh: 1}, app.CodeEnergyState, "is retired")
	// Retiring beyond the claim's consumption would over-claim.
	c.fails(enBuyer, tx.MsgEnergyRetire{Cert: big, Wh: 31, Claim: "job-42", Zone: "DE", Hour: enHour, ConsumptionWh: 150}, app.CodeEnergyState, "over-claim")
	c.fails(enBuyer, tx.MsgEnergyRetire{Cert: big, Wh: 1, Claim: "job-42", Zone: "DE", Hour: enHour, ConsumptionWh: 999}, app.CodeEnergyState, "restate")
	// A claim for another hour retires, but is not 24/7 matched.
	c.ok(enBuyer, tx.MsgEnergyRetire{Cert: big, Wh: 10, Claim: "later", Zone: "DE", Hour: enHour + 3600, ConsumptionWh: 10})
	c.query(app.QueryEnergyClaim, apptest.Addr(enBuyer).String()+"/later", &cl)
	if cl.RetiredWh != 10 || cl.Matched247Wh != 0 {
		t.Fatalf("claim for another hour %+v", cl)
	}
	// Transfers and cancels.
	c.ok(enBuyer, tx.MsgEnergyTransfer{Cert: big, Wh: 70, To: apptest.Addr(enWorker)})
	c.ok(enProducer, tx.MsgEnergyOffer{Cert: id, PricePerWh: 5})
	c.ok(enProducer, tx.MsgEnergyCancelOffer{Offer: 2})
	if ce := c.cert(id); ce.Status != "active" || ce.Wh != 200 {
		t.Fatalf("cancelled offer bundle %+v", ce)
	}
	c.fails(enWorker, tx.MsgEnergySplit{Cert: id, Wh: 1}, app.CodeEnergyUnauthorized, "belongs to")
	var tot app.EnergyTotals
	c.query(app.QueryEnergyTotals, "", &tot)
	if tot.IssuedWh != 1000 || tot.RetiredWh != 130 || tot.TradedWh != 800 || tot.PaidUpv != 1600 {
		t.Fatalf("totals %+v", tot)
	}
}

func TestEnergyOracles(t *testing.T) {
	c := newEnChain(t)
	post := tx.MsgEnergyPostIntensity{Zone: "DE", StartHour: enHour, MgPerKWh: []uint32{300_000, 250_000}, Synthetic: true}
	c.fails(enOracle, post, app.CodeEnergyUnauthorized, "not a registered intensity oracle")

	set := func(k ed25519.PrivateKey, version uint64, oracles ...tx.Address) tx.MsgEnergySetOracles {
		m := tx.MsgEnergySetOracles{Version: version, Oracles: oracles, AuthorityPubKey: k.Public().(ed25519.PublicKey)}
		m.AuthoritySig = ed25519.Sign(k, m.SignBytes())
		return m
	}
	auth := energy.DevAuthorityKey()
	c.fails(enBuyer, set(enBuyer, 1, apptest.Addr(enOracle)), app.CodeEnergyUnauthorized, "module authority")
	bad := set(auth, 1, apptest.Addr(enOracle))
	bad.Oracles = []tx.Address{apptest.Addr(enBuyer)} // signature no longer covers the set
	c.fails(enBuyer, bad, app.CodeInvalidMsg, "bad authority signature")
	v1 := set(auth, 1, apptest.Addr(enOracle))
	c.ok(enBuyer, v1) // anyone may relay the authority's signed set
	c.fails(enBuyer, v1, app.CodeEnergyState, "version 1, expected 2")
	var p app.EnergyParams
	c.query(app.QueryEnergyParams, "", &p)
	if p.Version != 1 || len(p.Oracles) != 1 || p.Oracles[0] != apptest.Addr(enOracle).String() {
		t.Fatalf("params %+v", p)
	}
	c.ok(enOracle, post)
	c.fails(enBuyer, post, app.CodeEnergyUnauthorized, "not a registered")
	var iv *app.EnergyIntensity
	c.query(app.QueryEnergyIntensity, fmt.Sprintf("DE@%d", enHour+3600), &iv)
	if iv == nil || iv.MgPerKWh != 250_000 || !iv.Synthetic || iv.Oracle != apptest.Addr(enOracle).String() {
		t.Fatalf("intensity %+v", iv)
	}
	c.query(app.QueryEnergyIntensity, fmt.Sprintf("DE@%d", enHour+7200), &iv)
	if iv != nil {
		t.Fatalf("unposted hour: %+v", iv)
	}
}

// TestEnergyConservation runs random sequences of split, transfer, offer,
// buy, cancel and retire, and checks after every block that every issued
// Wh is in exactly one bundle, the retired total matches, owner indexes
// list exactly the live bundles, and tokens are conserved.
func TestEnergyConservation(t *testing.T) {
	steps := 250
	if testing.Short() {
		steps = 80
	}
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			c := newEnChain(t)
			rng := rand.New(rand.NewPCG(seed, 7))
			users := []ed25519.PrivateKey{enProducer, enBuyer, enWorker}
			var issued uint64
			for i, u := range users {
				wh := int64(500 + rng.IntN(4000))
				c.issue(u, apptest.Key(350+i), enHour+int64(i)*3600, wh)
				issued += uint64(wh)
			}
			claims := 0
			okOps := map[string]int{}
			for range steps {
				u := users[rng.IntN(len(users))]
				var ids []uint64
				c.query(app.QueryEnergyCerts, apptest.Addr(u).String(), &ids)
				var offers []uint64
				c.query(app.QueryEnergyOffers, "", &offers)
				pick := func() (app.EnergyCert, bool) {
					if len(ids) == 0 {
						return app.EnergyCert{}, false
					}
					return c.cert(ids[rng.IntN(len(ids))]), true
				}
				wh := func(ce app.EnergyCert) uint64 { return uint64(rng.IntN(int(ce.Wh) + 1)) } // 0 = all; may exceed nothing
				var msg tx.Msg
				switch op := rng.IntN(6); op {
				case 0:
					if ce, ok := pick(); ok {
						msg = tx.MsgEnergySplit{Cert: ce.ID, Wh: max(1, wh(ce))}
					}
				case 1:
					if ce, ok := pick(); ok {
						msg = tx.MsgEnergyTransfer{Cert: ce.ID, Wh: wh(ce), To: apptest.Addr(users[rng.IntN(len(users))])}
					}
				case 2:
					if ce, ok := pick(); ok {
						msg = tx.MsgEnergyOffer{Cert: ce.ID, Wh: wh(ce), PricePerWh: uint64(rng.IntN(5))}
					}
				case 3, 4:
					if len(offers) > 0 {
						var o *app.EnergyOffer
						c.query(app.QueryEnergyOffer, strconv.FormatUint(offers[rng.IntN(len(offers))], 10), &o)
						if op == 3 {
							msg = tx.MsgEnergyBuy{Offer: o.ID, Wh: wh(c.cert(o.Cert))}
						} else {
							msg = tx.MsgEnergyCancelOffer{Offer: o.ID}
						}
					}
				case 5:
					if ce, ok := pick(); ok {
						claims++
						w := max(1, wh(ce))
						msg = tx.MsgEnergyRetire{Cert: ce.ID, Wh: w, Claim: fmt.Sprint("claim-", claims), Zone: "DE", Hour: ce.Hour, ConsumptionWh: w + uint64(rng.IntN(3))}
					}
				}
				if msg == nil {
					continue
				}
				// Failures (wrong owner, status, over-take) are part of the test.
				if r := c.send(u, msg); r.Code == app.CodeOK {
					okOps[tx.MsgName(msg.Type())]++
				}
				c.checkConservation(issued, users)
			}
			for _, m := range []tx.Msg{tx.MsgEnergySplit{}, tx.MsgEnergyTransfer{}, tx.MsgEnergyOffer{}, tx.MsgEnergyBuy{}, tx.MsgEnergyCancelOffer{}, tx.MsgEnergyRetire{}} {
				if okOps[tx.MsgName(m.Type())] == 0 {
					t.Errorf("no successful %s in %d steps (%v): the sequence does not exercise it", tx.MsgName(m.Type()), steps, okOps)
				}
			}
			t.Logf("successful operations: %v", okOps)
		})
	}
}

func (c *enChain) checkConservation(issued uint64, users []ed25519.PrivateKey) {
	c.t.Helper()
	var tot app.EnergyTotals
	c.query(app.QueryEnergyTotals, "", &tot)
	var sum, retired uint64
	live := map[string]map[uint64]bool{}
	for id := uint64(1); ; id++ {
		var ce *app.EnergyCert
		c.query(app.QueryEnergyCert, strconv.FormatUint(id, 10), &ce)
		if ce == nil {
			if id-1 != tot.Bundles {
				c.t.Fatalf("bundles 1..%d exist, totals say %d", id-1, tot.Bundles)
			}
			break
		}
		if ce.Wh == 0 {
			c.t.Fatalf("empty bundle %+v", ce)
		}
		sum += ce.Wh
		if ce.Status == "retired" {
			retired += ce.Wh
		} else {
			if live[ce.Owner] == nil {
				live[ce.Owner] = map[uint64]bool{}
			}
			live[ce.Owner][ce.ID] = true
		}
	}
	if sum != issued || tot.IssuedWh != issued || tot.RetiredWh != retired {
		c.t.Fatalf("Wh not conserved: bundles hold %d, issued %d, totals %+v, retired bundles %d", sum, issued, tot, retired)
	}
	var balances uint64
	for _, u := range append(users, enOracle, enProposer) {
		balances += c.balance(u)
		var ids []uint64
		c.query(app.QueryEnergyCerts, apptest.Addr(u).String(), &ids)
		if len(ids) != len(live[apptest.Addr(u).String()]) {
			c.t.Fatalf("%s index %v, live bundles %v", apptest.Addr(u), ids, live[apptest.Addr(u).String()])
		}
		for _, id := range ids {
			if !live[apptest.Addr(u).String()][id] {
				c.t.Fatalf("%s index lists %d, which it does not own live", apptest.Addr(u), id)
			}
		}
	}
	r := c.a.Query(app.QuerySupply, nil, 0, false)
	var s app.SupplyJSON
	if err := json.Unmarshal(r.Value, &s); err != nil {
		c.t.Fatal(err)
	}
	if balances+s.Burned != 4*enBalance {
		c.t.Fatalf("tokens not conserved: balances %d + burned %d != %d", balances, s.Burned, 4*enBalance)
	}
}

// TestEnergyQueryProofs checks that every energy query path answers with a
// proof that verifies against the app hash, present and absent keys alike,
// and that a tampered value is caught.
func TestEnergyQueryProofs(t *testing.T) {
	c := newEnChain(t)
	id := c.issue(enProducer, enMeter, enHour, 700)
	c.ok(enProducer, tx.MsgEnergyOffer{Cert: id, Wh: 100, PricePerWh: 1})
	h, appHash := c.a.Info()
	c.send(enBuyer, tx.MsgEnergySplit{Cert: 99, Wh: 1}) // one more block so h is not the latest
	dev := energy.DeviceIDFromMeterKey(enMeter.Public().(ed25519.PublicKey))
	prod := apptest.Addr(enProducer).String()
	cases := []struct{ path, data string }{
		{app.QueryEnergyParams, ""},
		{app.QueryEnergyTotals, ""},
		{app.QueryEnergyDevice, dev.String()},
		{app.QueryEnergyDevices, prod},
		{app.QueryEnergyDeviceHr, fmt.Sprintf("%s@%d", dev, enHour)},
		{app.QueryEnergyCert, "1"},
		{app.QueryEnergyCert, "999"},
		{app.QueryEnergyCerts, prod},
		{app.QueryEnergyOffer, "1"},
		{app.QueryEnergyOffers, ""},
		{app.QueryEnergyClaim, prod + "/none"},
		{app.QueryEnergyClaims, prod},
		{app.QueryEnergyIntensity, fmt.Sprintf("DE@%d", enHour)},
		{app.QueryEnergyWorker, prod},
		{app.QueryEnergyReceipt, "1"},
		{app.QueryEnergyJobClaim, "1"},
	}
	for _, tc := range cases {
		t.Run(tc.path+" "+tc.data, func(t *testing.T) {
			r := c.a.Query(tc.path, []byte(tc.data), h, true)
			if r.Code != app.CodeOK {
				t.Fatalf("%d %s", r.Code, r.Log)
			}
			if err := app.VerifyQuery(appHash, tc.path, r); err != nil {
				t.Fatal(err)
			}
			r.Value = append([]byte(" "), r.Value...)
			if app.VerifyQuery(appHash, tc.path, r) == nil {
				t.Fatal("tampered value verified")
			}
		})
	}
	for _, bad := range []struct{ path, data string }{
		{app.QueryEnergyCert, "x"},
		{app.QueryEnergyDevice, "abc"},
		{app.QueryEnergyIntensity, "DE@5"},
		{app.QueryEnergyParams, "x"},
	} {
		if r := c.a.Query(bad.path, []byte(bad.data), 0, false); r.Code != app.CodeBadQuery {
			t.Errorf("%s %q: code %d", bad.path, bad.data, r.Code)
		}
	}
}
