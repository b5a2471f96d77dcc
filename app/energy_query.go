package app

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/provena/provena/energy"
	"github.com/provena/provena/tx"
)

// Energy query paths. Each answers from one state key, so it can carry a
// proof like the built-in queries.
const (
	QueryEnergyParams    = "/energy/params"      // data: none; value: EnergyParams (version 0, no oracles before the first set)
	QueryEnergyTotals    = "/energy/totals"      // data: none; value: EnergyTotals
	QueryEnergyDevice    = "/energy/device"      // data: device id (32 hex); value: EnergyDevice or null
	QueryEnergyDevices   = "/energy/devices"     // data: owner address; value: [device id]
	QueryEnergyDeviceHr  = "/energy/device_hour" // data: "<device id>@<unix hour>"; value: EnergyDeviceHour or null
	QueryEnergyCert      = "/energy/cert"        // data: bundle id (decimal); value: EnergyCert or null
	QueryEnergyCerts     = "/energy/certs"       // data: owner address; value: [bundle id] (active and offered)
	QueryEnergyOffer     = "/energy/offer"       // data: offer id (decimal); value: EnergyOffer or null
	QueryEnergyOffers    = "/energy/offers"      // data: none; value: [open offer id]
	QueryEnergyClaim     = "/energy/claim"       // data: "<owner address>/<claim ref>"; value: EnergyClaim or null
	QueryEnergyClaims    = "/energy/claims"      // data: owner address; value: [claim ref]
	QueryEnergyIntensity = "/energy/intensity"   // data: "<ZONE>@<unix hour>"; value: EnergyIntensity or null
)

func init() {
	fixed := func(k []byte) func([]byte) ([]byte, error) {
		return func(data []byte) ([]byte, error) {
			if len(data) != 0 {
				return nil, errors.New("takes no data")
			}
			return k, nil
		}
	}
	byAddr := func(key func(tx.Address) []byte) func([]byte) ([]byte, error) {
		return func(data []byte) ([]byte, error) {
			a, err := parseQueryAddress(data)
			if err != nil {
				return nil, err
			}
			return key(a), nil
		}
	}
	byID := func(key func(uint64) []byte) func([]byte) ([]byte, error) {
		return func(data []byte) ([]byte, error) {
			id, err := strconv.ParseUint(string(data), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("want a decimal id, got %q", data)
			}
			return key(id), nil
		}
	}
	RegisterQuery(QueryEnergyParams, QueryRoute{Key: fixed(energyKeyParams), Render: energyRender(energyKeyParams, false, func() any {
		return &EnergyParams{Oracles: []string{}}
	})})
	RegisterQuery(QueryEnergyTotals, QueryRoute{Key: fixed(energyKeyTotals), Render: energyRender(energyKeyTotals, false, func() any { return &EnergyTotals{} })})
	RegisterQuery(QueryEnergyOffers, QueryRoute{Key: fixed(energyKeyOffers), Render: energyRender(energyKeyOffers, false, func() any { return &[]uint64{} })})
	RegisterQuery(QueryEnergyDevice, QueryRoute{
		Key: func(data []byte) ([]byte, error) {
			id, err := energy.ParseDeviceID(string(data))
			if err != nil {
				return nil, err
			}
			return energyDeviceKey(id), nil
		},
		Render: energyRender(energyPfxDevice, true, func() any { return &EnergyDevice{} }),
	})
	RegisterQuery(QueryEnergyDevices, QueryRoute{Key: byAddr(energyOwnDevKey), Render: energyRender(energyPfxOwnDev, false, func() any { return &[]string{} })})
	RegisterQuery(QueryEnergyCerts, QueryRoute{Key: byAddr(energyOwnCertKey), Render: energyRender(energyPfxOwnCert, false, func() any { return &[]uint64{} })})
	RegisterQuery(QueryEnergyClaims, QueryRoute{Key: byAddr(energyOwnClaimKey), Render: energyRender(energyPfxOwnClm, false, func() any { return &[]string{} })})
	RegisterQuery(QueryEnergyCert, QueryRoute{Key: byID(energyCertKey), Render: energyRender(energyPfxCert, true, func() any { return &EnergyCert{} })})
	RegisterQuery(QueryEnergyOffer, QueryRoute{Key: byID(energyOfferKey), Render: energyRender(energyPfxOffer, true, func() any { return &EnergyOffer{} })})
	RegisterQuery(QueryEnergyDeviceHr, QueryRoute{
		Key: func(data []byte) ([]byte, error) {
			d, h, ok := strings.Cut(string(data), "@")
			if !ok {
				return nil, errors.New(`want "<device id>@<unix hour>"`)
			}
			id, err := energy.ParseDeviceID(d)
			if err != nil {
				return nil, err
			}
			hour, err := energyParseHour(h)
			if err != nil {
				return nil, err
			}
			return energyDevHourKey(id, hour), nil
		},
		Render: energyRender(energyPfxDevHour, true, func() any { return &EnergyDeviceHour{} }),
	})
	RegisterQuery(QueryEnergyClaim, QueryRoute{
		Key: func(data []byte) ([]byte, error) {
			a, ref, ok := strings.Cut(string(data), "/")
			if !ok || ref == "" {
				return nil, errors.New(`want "<owner address>/<claim ref>"`)
			}
			addr, err := tx.ParseAddress(a)
			if err != nil {
				return nil, err
			}
			return energyClaimKey(addr, ref), nil
		},
		Render: energyRender(energyPfxClaim, true, func() any { return &EnergyClaim{} }),
	})
	RegisterQuery(QueryEnergyIntensity, QueryRoute{
		Key: func(data []byte) ([]byte, error) {
			z, h, ok := strings.Cut(string(data), "@")
			if !ok {
				return nil, errors.New(`want "<ZONE>@<unix hour>"`)
			}
			if err := tx.CheckEnergyZone(z); err != nil {
				return nil, err
			}
			hour, err := energyParseHour(h)
			if err != nil {
				return nil, err
			}
			return energyIntensityKey(z, hour), nil
		},
		Render: energyRender(energyPfxInt, true, func() any { return &EnergyIntensity{} }),
	})
}

func energyParseHour(s string) (int64, error) {
	h, err := strconv.ParseInt(s, 10, 64)
	if err != nil || h < 0 || h%3600 != 0 {
		return 0, fmt.Errorf("hour %q must be unix seconds at the start of a UTC hour", s)
	}
	return h, nil
}

// energyRender re-decodes a stored record and re-encodes it as JSON, a pure
// function of (key, raw). Absent records render as null when nullable,
// else as the zero value newV returns.
func energyRender(pfx []byte, nullable bool, newV func() any) func(key, raw []byte) ([]byte, error) {
	return func(key, raw []byte) ([]byte, error) {
		if !bytes.HasPrefix(key, pfx) {
			return nil, fmt.Errorf("key %q is not under %q", key, pfx)
		}
		if raw == nil {
			if nullable {
				return []byte("null"), nil
			}
			return json.Marshal(newV())
		}
		v := newV()
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			return nil, fmt.Errorf("decode %q: %w", key, err)
		}
		return json.Marshal(v)
	}
}
