package chart

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot/vg"
)

func TestWriteSVG(t *testing.T) {
	day := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	r := Report{Title: "energy of pvtest", Notes: []string{"24/7 matched 40%", "intensity: synthetic"}}
	for h := range 24 {
		r.Hours = append(r.Hours, Hour{Start: day.Add(time.Duration(h) * time.Hour), ProductionWh: uint64(h * 10), ConsumptionWh: 50, MatchedWh: uint64(min(h*10, 50))})
	}
	var b bytes.Buffer
	if err := WriteSVG(&b, r, 20*vg.Centimeter, 10*vg.Centimeter); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{"<svg", "production", "matched 24/7", "synthetic", "06-01 00"} {
		if !strings.Contains(s, want) {
			t.Errorf("svg lacks %q", want)
		}
	}
	if err := WriteSVG(&b, Report{}, vg.Centimeter, vg.Centimeter); err == nil {
		t.Fatal("empty report drew")
	}
}
