package sim

import (
	"encoding/hex"
	"strings"
	"testing"
)

// The test root is named by chain configs (provena tee config --sim-root
// test writes its hex): it must never change.
func TestTestRootKnownAnswer(t *testing.T) {
	got := hex.EncodeToString(TestRootPublic())
	if got != knownTestRoot {
		t.Fatalf("test root %s, want %s", got, knownTestRoot)
	}
}

func TestParseMeasurement(t *testing.T) {
	m := MeasurementOf("w")
	tests := []struct {
		in      string
		wantErr bool
	}{
		{hex.EncodeToString(m[:]), false},
		{"zz", true},
		{strings.Repeat("00", 47), true},
	}
	for _, tc := range tests {
		got, err := ParseMeasurement(tc.in)
		if (err != nil) != tc.wantErr {
			t.Fatalf("%q: err %v", tc.in, err)
		}
		if err == nil && got != m {
			t.Fatalf("%q: %x", tc.in, got)
		}
	}
	if MeasurementOf("w") != m || MeasurementOf("v") == m {
		t.Fatal("MeasurementOf not a function of its label")
	}
}

const knownTestRoot = "d58a795d17152e14ccaf65098cf69f864a5f8092038ba2c1e05844b85af7d781"
