package tx

import (
	"crypto/ed25519"
	"reflect"
	"strings"
	"testing"

	"github.com/provena/provena/energy"
)

func energyTestMsgs() []Msg {
	k := testKey(40)
	set := MsgEnergySetOracles{Version: 1, Oracles: []Address{AddressFromPubKey(testKey(41).Public().(ed25519.PublicKey))}, AuthorityPubKey: k.Public().(ed25519.PublicKey)}
	set.AuthoritySig = ed25519.Sign(k, set.SignBytes())
	return []Msg{
		MsgEnergyRegisterDevice{Tech: "solar", CapacityW: 5000, Zone: "DE", MeterPubKey: k.Public().(ed25519.PublicKey)},
		MsgEnergySubmitReadings{Device: energy.DeviceID{1, 2}, Readings: []EnergySignedReading{{Start: 3600, End: 4500, Wh: 7, CumulativeWh: 7, Signature: make([]byte, 64)}}},
		MsgEnergySplit{Cert: 3, Wh: 4},
		MsgEnergyTransfer{Cert: 3, Wh: 0, To: Address{9}},
		MsgEnergyOffer{Cert: 3, Wh: 800, PricePerWh: 2},
		MsgEnergyCancelOffer{Offer: 1},
		MsgEnergyBuy{Offer: 1, Wh: 10, MaxPricePerWh: 3},
		MsgEnergyRetire{Cert: 3, Wh: 120, Claim: "job-1", Zone: "DE", Hour: 7200, ConsumptionWh: 150},
		set,
		MsgEnergyPostIntensity{Zone: "US-CAL-CISO", StartHour: 3600, Synthetic: true, MgPerKWh: []uint32{1, 2, 3}},
		MsgEnergyWorkerProfile{Zone: "DE", CPUFamily: "AMD EPYC 2nd Gen", VCPUs: 4, MachineVCPUs: 64, PUEMilli: 1200, EmbodiedG: 1, LifespanHours: 35040},
		MsgEnergyReceipt{Receipt: energyTestReceipt(k)},
	}
}

func energyTestReceipt(k ed25519.PrivateKey) []byte {
	ev, err := energy.NewEstimated("Skylake", 1, 1000, 500, 1135)
	if err != nil {
		panic(err)
	}
	r := &energy.Receipt{
		JobID: "7", Worker: k.Public().(ed25519.PublicKey), Zone: "DE", StartMs: 0, EndMs: 1000, Inferences: 1, Evidence: ev,
		Intensity: energy.Intensity{MgPerKWh: 1, Source: energy.SourceAnnual}, Embodied: energy.Embodied{TotalG: 1, LifespanHours: 1, ReservedVCPUs: 1, TotalVCPUs: 1},
	}
	if err := r.Sign(k); err != nil {
		panic(err)
	}
	b, err := r.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

func TestEnergyMsgRoundTrip(t *testing.T) {
	k := testKey(42)
	for _, m := range energyTestMsgs() {
		t.Run(MsgName(m.Type()), func(t *testing.T) {
			if err := m.ValidateBasic(); err != nil {
				t.Fatal(err)
			}
			b, err := Sign(k, "c", 0, 1, m)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.Msg, m) {
				t.Fatalf("round trip\n got %#v\nwant %#v", back.Msg, m)
			}
		})
	}
}

func TestEnergyValidateBasic(t *testing.T) {
	k := testKey(43)
	set := MsgEnergySetOracles{Version: 1, Oracles: []Address{{1}}, AuthorityPubKey: k.Public().(ed25519.PublicKey)}
	set.AuthoritySig = ed25519.Sign(k, set.SignBytes())
	forgedSet := set
	forgedSet.Oracles = []Address{{2}}
	tests := []struct {
		name string
		m    Msg
		want string
	}{
		{"bad tech", MsgEnergyRegisterDevice{Tech: "coal", CapacityW: 1, Zone: "DE", MeterPubKey: make([]byte, 32)}, "technology"},
		{"zero capacity", MsgEnergyRegisterDevice{Tech: "solar", Zone: "DE", MeterPubKey: make([]byte, 32)}, "capacity"},
		{"bad zone", MsgEnergyRegisterDevice{Tech: "solar", CapacityW: 1, Zone: "de", MeterPubKey: make([]byte, 32)}, "zone"},
		{"no readings", MsgEnergySubmitReadings{}, "no readings"},
		{"zero split", MsgEnergySplit{Cert: 1}, "positive"},
		{"no recipient", MsgEnergyTransfer{Cert: 1}, "recipient"},
		{"retire over consumption", MsgEnergyRetire{Cert: 1, Wh: 5, Claim: "j", Zone: "DE", ConsumptionWh: 4}, "against a claim of 4"},
		{"retire mid-hour", MsgEnergyRetire{Cert: 1, Wh: 1, Claim: "j", Zone: "DE", Hour: 5, ConsumptionWh: 4}, "start of a UTC hour"},
		{"forged oracle set", forgedSet, "bad authority signature"},
		{"oracle version 0", MsgEnergySetOracles{}, "version"},
		{"empty post", MsgEnergyPostIntensity{Zone: "DE"}, "post 1.."},
		{"implausible intensity", MsgEnergyPostIntensity{Zone: "DE", MgPerKWh: []uint32{6_000_000}}, "implausible"},
		{"unknown cpu", MsgEnergyWorkerProfile{Zone: "DE", CPUFamily: "Z80", VCPUs: 1, MachineVCPUs: 1, PUEMilli: 1000, LifespanHours: 1}, "unknown CPU family"},
		{"forged receipt", MsgEnergyReceipt{Receipt: func() []byte { b := energyTestReceipt(k); b[len(b)-1] ^= 1; return b }()}, "bad worker signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.m.ValidateBasic()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func FuzzEnergyMsgDecode(f *testing.F) {
	for _, m := range energyTestMsgs() {
		f.Add(uint16(m.Type()), m.AppendBody(nil))
	}
	f.Add(uint16(TypeEnergySubmitReadings), []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, typ uint16, body []byte) {
		if typ < 300 || typ > 311 {
			typ = 300 + typ%12
		}
		m, err := decodeMsg(MsgType(typ), body)
		if err != nil {
			return
		}
		if got := m.AppendBody(nil); string(got) != string(body) {
			t.Fatalf("decode/encode not byte-identical: %x vs %x", got, body)
		}
		_ = m.ValidateBasic()
	})
}
