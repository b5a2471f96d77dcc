package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/energy"
	"github.com/provena/provena/keys"
	"github.com/provena/provena/tx"
)

func energyRunCLI(args ...string) (string, error) {
	root := NewRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String() + errb.String(), err
}

func TestParseEnergyReadingsCSV(t *testing.T) {
	tests := []struct {
		name, in string
		want     int
		err      string
	}{
		{"header and rows", "start,end,wh\n2026-06-01T11:00:00Z,2026-06-01T11:30:00Z,1500\n# note\n2026-06-01T11:30:00Z,2026-06-01T12:00:00Z,1600\n", 2, ""},
		{"no header", "2026-06-01T11:00:00Z,2026-06-01T11:30:00Z,0\n", 1, ""},
		{"bad time", "2026-06-01 11:00,2026-06-01T11:30:00Z,1\n", 0, "RFC 3339"},
		{"fraction", "2026-06-01T11:00:00Z,2026-06-01T11:30:00Z,1.5\n", 0, "whole number"},
		{"wrong fields", "a,b\n", 0, "wrong number of fields"},
		{"empty", "start,end,wh\n", 0, "no rows"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := parseEnergyReadingsCSV(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want error with %q", err, tc.err)
				}
				return
			}
			if err != nil || len(rows) != tc.want {
				t.Fatalf("rows %v, err %v", rows, err)
			}
		})
	}
}

func TestParseEnergySeriesCSV(t *testing.T) {
	s, err := parseEnergySeriesCSV(strings.NewReader("# synthetic: model\nhour,gco2_per_kwh\n2026-06-01T00:00:00Z,341.5\n2026-06-01T01:00:00Z,300\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Synthetic || len(s.Hours) != 2 || s.Hours[0].MgPerKWh != 341_500 {
		t.Fatalf("%+v", s)
	}
	for _, bad := range []string{
		"2026-06-01T00:00:00Z,1\n2026-06-01T02:00:00Z,1\n", // gap
		"2026-06-01T00:30:00Z,1\n",                         // mid-hour
		"2026-06-01T00:00:00Z,-1\n",                        // negative
		"",
	} {
		if _, err := parseEnergySeriesCSV(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	// A synthesised series round-trips through the CSV, synthetic flag included.
	syn, err := energy.SyntheticHourly("FR", 2024, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := writeEnergySeriesCSV(&b, syn); err != nil {
		t.Fatal(err)
	}
	back, err := parseEnergySeriesCSV(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Synthetic || len(back.Hours) != 24 || back.Hours[12] != syn.Hours[12] {
		t.Fatalf("round trip: %+v", back)
	}
	msgs := energyPostMsgs("FR", back)
	if len(msgs) != 1 || !msgs[0].Synthetic || msgs[0].ValidateBasic() != nil {
		t.Fatalf("post msgs %+v", msgs)
	}
}

func TestEnergyReadingMsgs(t *testing.T) {
	_, meter, _ := ed25519.GenerateKey(nil)
	id := energy.DeviceIDFromMeterKey(meter.Public().(ed25519.PublicKey))
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var rows []energyCSVRow
	for i := range 200 {
		s := start.Add(time.Duration(i) * 15 * time.Minute)
		rows = append(rows, energyCSVRow{Start: s, End: s.Add(15 * time.Minute), Wh: 10})
	}
	d := &app.EnergyDevice{LastEnd: start.Add(30 * time.Minute).Unix(), CumulativeWh: 1000}
	msgs, skipped, err := energyReadingMsgs(meter, "c", id, d, rows)
	if err != nil {
		t.Fatal(err)
	}
	if skipped != 2 || len(msgs) != 3 || len(msgs[0].Readings) != tx.MaxEnergyReadings || len(msgs[2].Readings) != 198-2*tx.MaxEnergyReadings {
		t.Fatalf("skipped %d, %d messages", skipped, len(msgs))
	}
	if r := msgs[0].Readings[0]; r.CumulativeWh != 1010 {
		t.Fatalf("first cumulative %d", r.CumulativeWh)
	}
	if err := energy.VerifyReading(meter.Public().(ed25519.PublicKey), "c", msgs[1].Reading(0), msgs[1].Readings[0].Signature); err != nil {
		t.Fatal(err)
	}
}

// TestEnergyCLIEndToEnd runs a real single-validator node and drives the
// issue's command sequence through the command line: meter keygen, device
// register, meter submit, certs, offer, buy, retire, oracles, intensity
// and report --svg.
func TestEnergyCLIEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	dir := t.TempDir()
	home, _ := startTestNode(t, dir, "energy-e2e", 50)
	kr, _ := keys.Open(keys.Dir(home), keys.BackendTest)
	for _, k := range []string{"solar1", "w1", "oracle1"} {
		if _, err := kr.Add(k); err != nil {
			t.Fatal(err)
		}
	}
	K := []string{"--home", home, "--keyring-backend", "test"}
	run := func(args ...string) string {
		t.Helper()
		out, err := energyRunCLI(append(args, K...)...)
		if err != nil {
			t.Fatalf("provena %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	for _, k := range []string{"solar1", "w1", "oracle1"} {
		run("tx", "send", "--from", "alice", "--to", k, "--amount", "1000000", "--wait")
	}
	keyPath := filepath.Join(dir, "meter.key")
	if out, err := energyRunCLI("energy", "meter", "keygen", "-o", keyPath); err != nil {
		t.Fatal(err, out)
	}
	pub, err := energyReadHexFile(filepath.Join(dir, "meter.pub"), ed25519.PublicKeySize)
	if err != nil {
		t.Fatal(err)
	}
	dev := energy.DeviceIDFromMeterKey(pub).String()
	run("energy", "device", "register", "--from", "solar1", "--tech", "solar", "--capacity-w", "5000", "--zone", "DE", "--meter-pubkey", filepath.Join(dir, "meter.pub"))
	csvPath := filepath.Join(dir, "readings.csv")
	os.WriteFile(csvPath, []byte("start,end,wh\n2026-06-01T11:00:00Z,2026-06-01T11:30:00Z,1500\n2026-06-01T11:30:00Z,2026-06-01T12:00:00Z,1600\n2026-06-01T12:00:00Z,2026-06-01T13:00:00Z,3500\n"), 0o644)
	run("energy", "meter", "submit", "--from", "solar1", "--device", dev, "--readings", csvPath, "--meter-key", keyPath)
	// Submitting the same file again is a resumed upload: nothing new, no error.
	run("energy", "meter", "submit", "--from", "solar1", "--device", dev, "--readings", csvPath, "--meter-key", keyPath)

	var certs []app.EnergyCert
	if err := json.Unmarshal([]byte(run("energy", "certs", "--owner", "solar1", "--json")), &certs); err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || certs[0].Wh != 3100 || certs[1].Wh != 3500 {
		t.Fatalf("certs %+v", certs)
	}
	out := run("energy", "offer", "1", "--wh", "800", "--price", "2", "--from", "solar1")
	if !strings.Contains(out, "offer=1") {
		t.Fatalf("offer output %q", out)
	}
	run("energy", "buy", "1", "--from", "w1")
	if err := json.Unmarshal([]byte(run("energy", "certs", "--owner", "w1", "--json")), &certs); err != nil {
		t.Fatal(err)
	}
	if len(certs) != 1 || certs[0].Wh != 800 {
		t.Fatalf("w1 certs %+v", certs)
	}
	bought := certs[0].ID
	run("energy", "retire", jsonNum(bought), "--wh", "120", "--claim", "batch-7", "--zone", "DE", "--hour", "2026-06-01T11", "--consumption-wh", "150", "--from", "w1")
	if out, err := energyRunCLI(append([]string{"energy", "retire", jsonNum(bought), "--wh", "40", "--claim", "batch-7", "--zone", "DE", "--hour", "2026-06-01T11", "--consumption-wh", "150", "--from", "w1"}, K...)...); err == nil || !strings.Contains(err.Error(), "over-claim") {
		t.Fatalf("over-claiming retirement: %v %s", err, out)
	}

	run("energy", "oracles", "set", "--from", "w1", "--oracle", "oracle1")
	grid := filepath.Join(dir, "grid.csv")
	if out, err := energyRunCLI("energy", "intensity", "synth", "--zone", "DE", "--day", "2026-06-01", "-o", grid); err != nil {
		t.Fatal(err, out)
	}
	run("energy", "intensity", "post", "--from", "oracle1", "--zone", "DE", "--series", grid)
	if out := run("energy", "intensity", "show", "--zone", "DE", "--day", "2026-06-01"); strings.Count(out, "SYNTHETIC") != 24 {
		t.Fatalf("intensity show does not label every synthetic hour:\n%s", out)
	}
	svg := filepath.Join(dir, "report.svg")
	var rep energyReport
	if err := json.Unmarshal([]byte(run("energy", "report", "--account", "w1", "--day", "2026-06-01", "--zone", "DE", "--svg", svg, "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.ConsumptionWh != 150 || rep.Matched247Wh != 120 || !rep.Synthetic || rep.Annual.AnnualWh != 120 {
		t.Fatalf("report %+v", rep)
	}
	b, err := os.ReadFile(svg)
	if err != nil || !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte("SYNTHETIC")) {
		t.Fatalf("svg: %v", err)
	}
	// A worker's profile, and a receipt for a job that does not exist: the
	// receipt is built, signed and checked by the ledger, which refuses it.
	run("energy", "worker-profile", "--from", "w1", "--zone", "DE", "--cpu", "AMD EPYC 2nd Gen", "--vcpus", "4", "--machine-vcpus", "64", "--pue", "1.2", "--embodied-g", "1200000")
	if out, err := energyRunCLI(append([]string{"energy", "receipt", "post", "--from", "w1", "--job", "424242", "--start", "2026-06-01T12:10:00Z", "--wall", "2s", "--cpu-time", "3s"}, K...)...); err == nil || !strings.Contains(err.Error(), "no job 424242") {
		t.Fatalf("receipt for a missing job: %v\n%s", err, out)
	}
	if out, err := energyRunCLI(append([]string{"energy", "receipt", "show", "424242"}, K...)...); err == nil || !strings.Contains(err.Error(), "no energy receipt") {
		t.Fatalf("receipt show of a missing job: %v\n%s", err, out)
	}
	if err := json.Unmarshal([]byte(run("energy", "report", "--account", "solar1", "--day", "2026-06-01", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.ProductionWh != 6600 || rep.Hours[11].ProductionWh != 3100 {
		t.Fatalf("producer report %+v", rep)
	}
}

func jsonNum(v uint64) string { b, _ := json.Marshal(v); return string(b) }

func TestEnergyBenchSmall(t *testing.T) {
	r, err := runEnergyBench(6, 4)
	if err != nil {
		t.Fatal(err)
	}
	if r.IssuedBundles != 144 || r.Retirements != 30 || r.IssuancesPerSec <= 0 || r.ReceiptUs <= 0 {
		t.Fatalf("%+v", r)
	}
}

func TestEnergyDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a node through a simulated day")
	}
	svg := filepath.Join(t.TempDir(), "demo.svg")
	var out bytes.Buffer
	rep, err := runEnergyDemo(context.Background(), &out, "", svg, false)
	if err != nil {
		t.Fatal(err, out.String())
	}
	// The half-sine day: production only between 06:00 and 18:00, so the
	// 24/7 share is well below 1 and the matched Wh never exceed either side.
	if rep.Matched247Wh == 0 || rep.Matched247Wh > rep.ConsumptionWh || rep.Share247 >= 0.5 {
		t.Fatalf("report %+v", rep)
	}
	for _, h := range rep.Hours {
		if h.Matched247Wh > h.ProductionWh || h.Matched247Wh > h.ConsumptionWh {
			t.Fatalf("hour %d matched %d of %d produced, %d consumed", h.Hour, h.Matched247Wh, h.ProductionWh, h.ConsumptionWh)
		}
	}
	if !strings.Contains(out.String(), "synthetic") || !strings.Contains(out.String(), "ESTIMATED") {
		t.Fatalf("demo output does not label synthetic intensity and estimated energy:\n%s", out.String())
	}
	if b, err := os.ReadFile(svg); err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Fatalf("chart: %v", err)
	}
}

func FuzzParseEnergyCSV(f *testing.F) {
	f.Add("start,end,wh\n2026-06-01T11:00:00Z,2026-06-01T11:30:00Z,1500\n")
	f.Add("# synthetic: x\nhour,gco2_per_kwh\n2026-06-01T00:00:00Z,341.5\n2026-06-01T01:00:00Z,300\n")
	f.Add("2026-06-01T00:00:00Z,NaN\n")
	f.Add("\"a,b\",c,d\n")
	f.Fuzz(func(t *testing.T, s string) {
		if rows, err := parseEnergyReadingsCSV(strings.NewReader(s)); err == nil && len(rows) == 0 {
			t.Fatal("no rows and no error")
		}
		if ser, err := parseEnergySeriesCSV(strings.NewReader(s)); err == nil {
			for i, h := range ser.Hours {
				if h.Hour%3600 != 0 || h.MgPerKWh > 5_000_000 || (i > 0 && h.Hour != ser.Hours[i-1].Hour+3600) {
					t.Fatalf("accepted bad hour %+v", h)
				}
			}
		}
	})
}

func TestEnergyNodeBenchSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	r, err := runEnergyNodeBench(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if r.IssuancesPerSec <= 0 || r.RetiresPerSec <= 0 {
		t.Fatalf("%+v", r)
	}
}
