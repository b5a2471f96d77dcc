package energy_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/provena/provena/energy"
)

// A worker estimates a one-hour job, signs its receipt and reports the SCI.
func ExampleComputeSCI() {
	seed := sha256.Sum256([]byte("example worker"))
	worker := ed25519.NewKeyFromSeed(seed[:])
	ev, _ := energy.NewEstimated("AMD EPYC 2nd Gen", 4, 3_600_000, 7_200_000, 1200)
	de, _ := energy.AnnualIntensity("DE", 2024)
	start := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	r := &energy.Receipt{
		JobID: "7", Worker: worker.Public().(ed25519.PublicKey), Zone: "DE",
		StartMs: start.UnixMilli(), EndMs: start.UnixMilli() + 3_600_000, Inferences: 1000, Evidence: ev,
		Intensity: energy.Intensity{MgPerKWh: de.MgPerKWh, Source: energy.SourceAnnual, Ref: de.Ref()},
		Embodied:  energy.Embodied{TotalG: 1_200_000, LifespanHours: energy.DefaultLifespanHours, ReservedVCPUs: 4, TotalVCPUs: 64},
	}
	if err := r.Sign(worker); err != nil {
		panic(err)
	}
	s, _ := energy.ComputeSCI(r)
	fmt.Printf("%s: %d mWh, E×I %d µg + M %d µg; SCI %d µgCO2e per inference\n", s.Method, s.EnergyMWh, s.OperationalUg, s.EmbodiedUg, s.PerInferenceUg)
	fmt.Println("verified:", r.Verify() == nil)
	// Output:
	// estimated: 5184 mWh, E×I 1767744 µg + M 2140411 µg; SCI 3908 µgCO2e per inference
	// verified: true
}
