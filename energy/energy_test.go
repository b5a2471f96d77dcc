package energy

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("energy test key " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func TestEstimateEnergy(t *testing.T) {
	tests := []struct {
		name   string
		family string
		vcpus  uint32
		wall   uint64
		cpu    uint64
		pue    uint32
		want   uint64 // mWh, computed by hand below
	}{
		// 4 vCPUs, 1 h, half busy: (0.47 + 0.5·1.22) W · 4 · 1.2 = 5.184 W·h.
		{"epyc2 half load", "AMD EPYC 2nd Gen", 4, 3_600_000, 7_200_000, 1200, 5184},
		// Idle: 0.64 W · 2 vCPUs · 0.5 h · 1.0 = 0.64 Wh.
		{"cascade idle", "cascade lake", 2, 1_800_000, 0, 1000, 640},
		// Over-reported CPU time is capped at full load: 3.97 W · 1 · 1 h.
		{"capped at full load", "Cascade Lake", 1, 3_600_000, 7_000_000, 1000, 3970},
		// 100 ms at full load on 1 vCPU of Skylake, PUE 1.135:
		// 4.26 W · 0.1 s = 0.426 J = 0.11833 mWh · 1.135 = 0.1343 → 0.
		{"tiny job rounds", "Skylake", 1, 100, 100, 1135, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewEstimated(tc.family, tc.vcpus, tc.wall, tc.cpu, tc.pue)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.EnergyMWh()
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("energy %d mWh, want %d", got, tc.want)
			}
		})
	}
	if _, err := NewEstimated("Ice Lake", 1, 1, 1, 1000); err == nil || !strings.Contains(err.Error(), "unknown CPU family") {
		t.Fatalf("Ice Lake (no CCF values) accepted: %v", err)
	}
	if _, err := NewEstimated("Skylake", 1, 1000, 0, 900); err == nil {
		t.Fatal("PUE below 1 accepted")
	}
}

// fakeRAPL writes a powercap tree with one package zone and one subzone.
func fakeRAPL(t *testing.T, uj, max uint64) (root string, set func(uint64)) {
	root = t.TempDir()
	pkg := filepath.Join(root, "intel-rapl:0")
	sub := filepath.Join(root, "intel-rapl:0:0")
	for _, d := range []string{pkg, sub} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(pkg, "name"), "package-0")
	write(filepath.Join(pkg, "max_energy_range_uj"), itoa(max))
	write(filepath.Join(sub, "max_energy_range_uj"), itoa(max))
	write(filepath.Join(sub, "energy_uj"), "5")
	set = func(v uint64) { write(filepath.Join(pkg, "energy_uj"), itoa(v)) }
	set(uj)
	return root, set
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for ; v > 0; v /= 10 {
		b = append([]byte{byte('0' + v%10)}, b...)
	}
	return string(b)
}

func TestRAPL(t *testing.T) {
	tests := []struct {
		name       string
		start, end uint64
		wantUJ     uint64
	}{
		{"forward", 1_000_000, 8_200_000, 7_200_000},
		{"wraps", 262_143_000_000, 7_000_000, 262_143_328_850 - 262_143_000_000 + 7_000_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, set := fakeRAPL(t, tc.start, 262_143_328_850)
			r, err := OpenRAPL(root)
			if err != nil {
				t.Fatal(err)
			}
			if z := r.Zones(); len(z) != 1 || z[0] != "package-0@intel-rapl:0" {
				t.Fatalf("zones %v: the subzone must not be counted", z)
			}
			a, err := r.Read()
			if err != nil {
				t.Fatal(err)
			}
			set(tc.end)
			b, err := r.Read()
			if err != nil {
				t.Fatal(err)
			}
			m, err := Between(a, b, 1000)
			if err != nil {
				t.Fatal(err)
			}
			d, _ := m.Counters[0].DeltaUJ()
			if d != tc.wantUJ {
				t.Fatalf("delta %d µJ, want %d", d, tc.wantUJ)
			}
			e, _ := m.EnergyMWh()
			if want := (tc.wantUJ + 1_800_000) / 3_600_000; e != want {
				t.Fatalf("energy %d mWh, want %d", e, want)
			}
		})
	}
	if _, err := OpenRAPL(t.TempDir()); err == nil {
		t.Fatal("OpenRAPL of an empty tree succeeded")
	}
	if _, err := Between(Snapshot{}, Snapshot{}, 1000); err == nil {
		t.Fatal("Between of zero snapshots succeeded")
	}
}

// hourStart is 2026-06-01T12:00:00Z.
var hourStart = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func testReceipt(t *testing.T, ev Evidence) *Receipt {
	t.Helper()
	w := testKey("worker")
	r := &Receipt{
		JobID: "job-1", Worker: w.Public().(ed25519.PublicKey), Zone: "DE",
		StartMs: hourStart.UnixMilli(), EndMs: hourStart.UnixMilli() + 3_600_000, Inferences: 1000,
		Evidence:  ev,
		Intensity: Intensity{MgPerKWh: 380_000, Source: SourceOracle, Ref: "test"},
		Embodied:  Embodied{TotalG: 1_200_000, LifespanHours: DefaultLifespanHours, ReservedVCPUs: 4, TotalVCPUs: 64},
	}
	if err := r.Sign(w); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSCIHandComputed checks the SCI of a known job against a value worked
// out by hand:
//
//	E = (0.47 + 0.5·(1.69−0.47)) W × 4 vCPU × 1 h × PUE 1.2 = 5.184 Wh
//	E×I = 0.005184 kWh × 380 g/kWh = 1.96992 g = 1 969 920 µg
//	M = 1 200 000 g × (1 h / 35 040 h) × (4 / 64) = 2.140410958… g → 2 140 411 µg
//	SCI = (1 969 920 + 2 140 411) µg / 1000 inferences = 4110.331 → 4110 µg
func TestSCIHandComputed(t *testing.T) {
	e, err := NewEstimated("AMD EPYC 2nd Gen", 4, 3_600_000, 7_200_000, 1200)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ComputeSCI(testReceipt(t, e))
	if err != nil {
		t.Fatal(err)
	}
	want := SCI{Method: "estimated", EnergyMWh: 5184, OperationalUg: 1_969_920, EmbodiedUg: 2_140_411, TotalUg: 4_110_331, Inferences: 1000, PerInferenceUg: 4110}
	if s != want {
		t.Fatalf("SCI\n got %+v\nwant %+v", s, want)
	}
	// Certificates make the market-based figure smaller, never the SCI.
	mk, err := MarketBased(s, 3, 2, 380_000)
	if err != nil {
		t.Fatal(err)
	}
	if mk.UncoveredMWh != 2184 || mk.OperationalUg != 829_920 || mk.Covered247MWh != 2000 || mk.LocationBasedUg != s.OperationalUg {
		t.Fatalf("market %+v", mk)
	}
	if s2, _ := ComputeSCI(testReceipt(t, e)); s2 != s {
		t.Fatal("SCI changed")
	}
}

func TestReceiptMeasuredNeedsCounters(t *testing.T) {
	// The only way to say "measured" is *Measured evidence, and it is
	// rejected without counter readings: energy is computed from them.
	w := testKey("worker")
	r := &Receipt{
		JobID: "job-1", Worker: w.Public().(ed25519.PublicKey), Zone: "DE",
		StartMs: 1, EndMs: 2, Inferences: 1, Evidence: &Measured{PUEMilli: 1000},
		Intensity: Intensity{MgPerKWh: 1, Source: SourceAnnual},
		Embodied:  Embodied{TotalG: 1, LifespanHours: 1, ReservedVCPUs: 1, TotalVCPUs: 1},
	}
	if err := r.Sign(w); err == nil || !strings.Contains(err.Error(), "no counter readings") {
		t.Fatalf("signed a measured receipt without counters: %v", err)
	}
	if _, err := ComputeSCI(r); err == nil {
		t.Fatal("computed the SCI of a measured receipt without counters")
	}
	// A hand-made encoding with method=measured and zero counters fails to decode.
	r.Evidence = &Measured{PUEMilli: 1000, Counters: []Counter{{Zone: "p", StartUJ: 1, EndUJ: 2, MaxRangeUJ: 10}}}
	if err := r.Sign(w); err != nil {
		t.Fatal(err)
	}
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	r.Evidence = &Measured{PUEMilli: 1000}
	forged := r.appendUnsigned(nil)
	forged = append(forged, r.Signature...)
	if _, err := DecodeReceipt(forged); err == nil {
		t.Fatal("decoded a measured receipt without counters")
	}
	if _, err := DecodeReceipt(b); err != nil {
		t.Fatal(err)
	}
}

func TestReceiptSignVerify(t *testing.T) {
	e, _ := NewEstimated("Skylake", 2, 3_600_000, 1_000_000, 1135)
	r := testReceipt(t, e)
	if err := r.Verify(); err != nil {
		t.Fatal(err)
	}
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeReceipt(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Verify(); err != nil {
		t.Fatal(err)
	}
	b2, _ := back.Encode()
	if string(b2) != string(b) {
		t.Fatal("decode/encode not byte-identical")
	}
	tamper := []struct {
		name string
		mut  func(r *Receipt)
	}{
		{"inferences", func(r *Receipt) { r.Inferences++ }},
		{"intensity", func(r *Receipt) { r.Intensity.MgPerKWh-- }},
		{"cpu time", func(r *Receipt) { r.Evidence.(*Estimated).CPUMs++ }},
		{"zone", func(r *Receipt) { r.Zone = "FR" }},
	}
	for _, tc := range tamper {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := DecodeReceipt(b)
			tc.mut(c)
			if err := c.Verify(); err == nil {
				t.Fatal("tampered receipt verified")
			}
		})
	}
	other := testKey("other")
	if err := r.Sign(other); err == nil {
		t.Fatal("signed with a key other than the worker's")
	}
	if _, err := r.JSON(); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecodeReceipt(f *testing.F) {
	w := testKey("worker")
	for _, ev := range []Evidence{
		&Estimated{Family: "Skylake", MinMilliW: 650, MaxMilliW: 4260, VCPUs: 2, WallMs: 1000, CPUMs: 500, PUEMilli: 1135},
		&Measured{PUEMilli: 1100, Counters: []Counter{{Zone: "package-0", StartUJ: 5, EndUJ: 1, MaxRangeUJ: 100}}},
	} {
		r := &Receipt{
			JobID: "j", Worker: w.Public().(ed25519.PublicKey), Zone: "DE", StartMs: 0, EndMs: 1000, Inferences: 1, Evidence: ev,
			Intensity: Intensity{MgPerKWh: 1, Source: SourceSynthetic}, Embodied: Embodied{TotalG: 1, LifespanHours: 1, ReservedVCPUs: 1, TotalVCPUs: 2},
		}
		if err := r.Sign(w); err != nil {
			f.Fatal(err)
		}
		b, err := r.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeReceipt(b)
		if err != nil {
			return
		}
		b2, err := r.Encode()
		if err != nil {
			t.Fatalf("decoded receipt does not encode: %v", err)
		}
		if string(b2) != string(b) {
			t.Fatal("decode/encode not byte-identical")
		}
		if _, err := ComputeSCI(r); err != nil {
			t.Fatalf("valid receipt has no SCI: %v", err)
		}
	})
}

func TestAnnualAndSynthetic(t *testing.T) {
	de, err := AnnualIntensity("DE", 2024)
	if err != nil {
		t.Fatal(err)
	}
	// Electricity Maps 2024, Germany: 341 gCO2eq/kWh (@tgwf/co2@0.19.0).
	if de.MgPerKWh != 341_000 || de.Name != "Germany" {
		t.Fatalf("DE 2024 = %+v", de)
	}
	if _, err := AnnualIntensity("XX", 2024); err == nil {
		t.Fatal("unknown zone accepted")
	}
	if _, err := AnnualIntensity("DE", 2019); err == nil {
		t.Fatal("year outside the extract accepted")
	}
	if !strings.Contains(DataAttribution(), "Electricity Maps") || !strings.Contains(DataAttribution(), "ODbL") {
		t.Fatalf("attribution %q", DataAttribution())
	}
	s, err := SyntheticHourly("DE", 2024, hourStart, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Label, "synthetic") || len(s.Hours) != 24 {
		t.Fatalf("series %q with %d hours", s.Label, len(s.Hours))
	}
	var sum uint64
	for _, h := range s.Hours {
		sum += h.MgPerKWh
	}
	if mean := sum / 24; mean < 340_990 || mean > 341_010 {
		t.Fatalf("synthetic mean %d, want the annual 341000", mean)
	}
	if s.Hours[12].MgPerKWh >= s.Hours[0].MgPerKWh {
		t.Fatalf("no midday dip: noon %d, midnight %d", s.Hours[12].MgPerKWh, s.Hours[0].MgPerKWh)
	}
}

func TestSolarProfile(t *testing.T) {
	var b strings.Builder
	b.WriteString("Time,E/Cap ratio (kWh/kW),5 MW example (kWh)\n")
	start := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 8760 * 4 {
		tm := start.Add(time.Duration(i) * 15 * time.Minute)
		v := "0"
		if tm.Hour() == 12 {
			v = "0.2"
		}
		b.WriteString(tm.Format("02.01.2006 15:04") + "," + v + ",0\n")
	}
	p, err := ParseSolarProfile(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	d := p.Day(152)
	if d[12] < 0.79 || d[12] > 0.81 || d[11] != 0 {
		t.Fatalf("day 152: %v", d)
	}
	if _, err := ParseSolarProfile(strings.NewReader("bad\n")); err == nil {
		t.Fatal("bad header accepted")
	}
	if path := os.Getenv("PROVENA_ENERGY_FIXTURES"); path != "" {
		f, err := os.Open(filepath.Join(path, "solar", "data.csv"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := ParseSolarProfile(f); err != nil {
			t.Fatalf("real profile: %v", err)
		}
	}
}

func TestReadings(t *testing.T) {
	meter := testKey("meter")
	pub := meter.Public().(ed25519.PublicKey)
	dev := DeviceIDFromMeterKey(pub)
	h := hourStart.Unix()
	ok := Reading{Device: dev, Start: h, End: h + 900, Wh: 1000, CumulativeWh: 1000}
	sig, err := SignReading(meter, "c1", ok)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyReading(pub, "c1", ok, sig); err != nil {
		t.Fatal(err)
	}
	if err := VerifyReading(pub, "c2", ok, sig); !errors.Is(err, ErrBadMeterSignature) {
		t.Fatal("reading replayed on another chain")
	}
	forged := ok
	forged.Wh++
	if err := VerifyReading(pub, "c1", forged, sig); !errors.Is(err, ErrBadMeterSignature) {
		t.Fatal("forged reading verified")
	}
	tests := []struct {
		name string
		r    Reading
		want error
	}{
		{"ok", ok, nil},
		{"at capacity", Reading{Start: h, End: h + 3600, Wh: 5000}, nil},
		{"backwards", Reading{Start: h + 10, End: h}, ErrEmptyInterval},
		{"empty", Reading{Start: h, End: h}, ErrEmptyInterval},
		{"too long", Reading{Start: h - 1, End: h + 3600}, ErrLongInterval},
		{"crosses hour", Reading{Start: h + 1800, End: h + 5400}, ErrCrossesHour},
		{"over capacity", Reading{Start: h, End: h + 3600, Wh: 5001}, ErrOverCapacity},
		{"over capacity short", Reading{Start: h, End: h + 36, Wh: 51}, ErrOverCapacity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckReading(tc.r, 5000)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	h := hourStart.Unix()
	cons := []Slot{{"DE", h, 100}, {"DE", h + 3600, 100}, {"FR", h, 50}}
	sup := []Slot{{"DE", h, 60}, {"DE", h + 1800, 60}, {"DE", h + 7200, 500}, {"FR", h + 3600, 50}}
	m := Match(cons, sup)
	// Hourly: DE h: min(100, 120)=100; DE h+1: min(100, 0)=0; FR h: 0.
	if m.Hourly247Wh != 100 || m.ConsumptionWh != 250 || m.SupplyWh != 670 {
		t.Fatalf("hourly %+v", m)
	}
	// Annual: DE min(200, 620)=200, FR min(50, 50)=50.
	if m.AnnualWh != 250 {
		t.Fatalf("annual %d, want 250", m.AnnualWh)
	}
	if m.Share247() != 0.4 || m.ShareAnnual() != 1 {
		t.Fatalf("shares %v %v", m.Share247(), m.ShareAnnual())
	}
	if len(m.Hours) != 5 || m.Hours[0].Hour != h {
		t.Fatalf("hours %+v", m.Hours)
	}
}

func TestLowestHour(t *testing.T) {
	h := hourStart.Unix()
	s := []HourValue{{h, 300}, {h + 3600, 120}, {h + 7200, 90}, {h + 10800, 90}, {h + 14400, 50}}
	tests := []struct {
		name           string
		from, deadline int64
		want           int64
		err            error
	}{
		{"whole window", h, h + 14400, h + 14400, nil},
		{"deadline cuts the best", h, h + 10800, h + 7200, nil}, // tie 90: earliest
		{"from mid-hour", h + 1800, h + 3600, h + 3600, nil},    // h itself is still current
		{"nothing in window", h + 20000, h + 30000, 0, ErrNoHour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LowestHour(s, tc.from, tc.deadline)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err == nil && got.Hour != tc.want {
				t.Fatalf("hour %d, want %d", got.Hour-h, tc.want-h)
			}
		})
	}
}

func FuzzParseSolarProfile(f *testing.F) {
	f.Add("Time,E/Cap ratio (kWh/kW),5 MW example (kWh)\n01.01.2015 00:00,0,0.00\n")
	f.Add("Time,E/Cap ratio (kWh/kW),5 MW example (kWh)\n01.01.2015 10:00,0.241819,\"1,209.10\"\n")
	f.Add("Time,E/Cap ratio\n")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseSolarProfile(strings.NewReader(s))
		if err == nil && len(p.Hours) != 8760 {
			t.Fatal("profile without 8760 hours")
		}
	})
}

func TestJobMeter(t *testing.T) {
	p := Profile{Family: "Skylake", VCPUs: 2, PUEMilli: 1100}
	// No counters: an estimate from CPU time.
	m, err := StartJob(p, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if m.Measuring() {
		t.Fatal("measuring without counters")
	}
	x := 0.0
	for i := range 3_000_000 {
		x += float64(i % 7)
	}
	ev, s, e, err := m.Stop()
	if err != nil || x < 0 {
		t.Fatal(err)
	}
	est, ok := ev.(*Estimated)
	if !ok || est.WallMs != uint64(e-s) || est.Family != "Skylake" || est.PUEMilli != 1100 {
		t.Fatalf("evidence %#v", ev)
	}
	// Readable counters: a measurement.
	root, set := fakeRAPL(t, 1000, 1<<32)
	m, err = StartJob(p, root)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Measuring() {
		t.Fatal("not measuring with readable counters")
	}
	set(3_600_001_000)
	ev, _, _, err = m.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if meas, ok := ev.(*Measured); !ok || len(meas.Counters) != 1 {
		t.Fatalf("evidence %#v", ev)
	}
	if mwh, _ := ev.EnergyMWh(); mwh != 1100 { // 3600 J = 1 Wh, × PUE 1.1
		t.Fatalf("measured %d mWh, want 1100", mwh)
	}
	if _, err := StartJob(Profile{Family: "Z80"}, ""); err == nil {
		t.Fatal("unknown family accepted")
	}
}
