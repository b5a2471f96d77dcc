package cli

import (
	"strings"
	"testing"

	"github.com/provena/provena/app"
	"github.com/provena/provena/tx"
)

func TestParseTrainedOn(t *testing.T) {
	a := strings.Repeat("ab", 32)
	b := strings.Repeat("cd", 32)
	tests := []struct {
		in   string
		want []uint32
		err  string
	}{
		{a + ":30," + b + ":20", []uint32{3000, 2000}, ""},
		{a + ":12.5", []uint32{1250}, ""},
		{a + ":0.01%", []uint32{1}, ""},
		{a + ":100", []uint32{10000}, ""},
		{a + ":0", nil, "from 0.01 to 100"},
		{a + ":101", nil, "from 0.01 to 100"},
		{a + ":1.234", nil, "two decimals"},
		{a + ":-3", nil, "from 0.01 to 100"},
		{a, nil, "want ASSET:PERCENT"},
		{"xyz:30", nil, "hex"},
	}
	for _, tc := range tests {
		got, err := parseTrainedOn(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Fatalf("%q: %v %v", tc.in, got, err)
		}
		for i, s := range got {
			if s.Bps != tc.want[i] {
				t.Errorf("%q: share %d is %d bps, want %d", tc.in, i, s.Bps, tc.want[i])
			}
		}
	}
}

func TestParseDeferHours(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint32
		err  bool
	}{
		{"", 0, false}, {"6h", 6, false}, {"168h", 168, false},
		{"169h", 0, true}, {"90m", 0, true}, {"0h", 0, true}, {"soon", 0, true},
	} {
		got, err := parseDeferHours(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("%q: %d %v", tc.in, got, err)
		}
	}
	if tx.MaxDeferHours != 168 {
		t.Fatalf("the table assumes a one-week limit, have %d h", tx.MaxDeferHours)
	}
}

func TestPrintJobEnergy(t *testing.T) {
	var b strings.Builder
	j := &app.OpmlJob{State: app.OpmlJobFinal, Energy: app.EnergyJobConstraints{
		Green: true, EstimateWh: 6, DeferUntil: 1780315200,
		Schedule: "deferred to 2026-06-01T09:00Z, the lowest posted intensity for DE up to 2026-06-01T12:00Z (300000 mg/kWh)",
		Retired:  &app.EnergyAutoRetire{Basis: "receipt", Zone: "DE", Hour: 1780304400, ConsumptionWh: 6, RetiredWh: 6, Certs: []uint64{2, 3}},
	}}
	printJobEnergy(&b, j)
	for _, want := range []string{
		"energy: green, deferrable until 2026-06-01T12:00Z (estimate 6 Wh)",
		"schedule: deferred to 2026-06-01T09:00Z",
		"certificates retired at settlement: 6 of 6 Wh (receipt, DE, hour 2026-06-01T09Z), bundles [2 3]",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	printJobEnergy(&b, &app.OpmlJob{State: app.OpmlJobFinal})
	if b.Len() != 0 {
		t.Errorf("an unconstrained job printed:\n%s", b.String())
	}
}
