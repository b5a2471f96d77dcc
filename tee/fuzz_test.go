package tee_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/provena/provena/tee"
	"github.com/provena/provena/tee/sim"
)

// FuzzVerify feeds arbitrary bytes to every kind: errors are fine, panics
// and reports for corrupted quotes are not. Seeds: the real quotes, a
// simulated quote and a test-CA Nitro document, plus truncations.
func FuzzVerify(f *testing.F) {
	tdx := readTestdata(f, "tdx_prod_quote_SPR_E4.dat")
	snp := readTestdata(f, "attestation.bin")
	simq := sim.New(sim.MeasurementOf("fuzz")).Quote([64]byte{1}, date(2026, 1, 1))
	nitro := newNitroFixture(f).document(f, []byte("rd"), 1)
	for k, q := range [][]byte{tdx, snp, simq, nitro} {
		f.Add(uint8(k), q)
		f.Add(uint8(k), q[:len(q)/2])
		f.Add(uint8(k), q[:48])
	}
	f.Add(uint8(0), []byte{4, 0, 2, 0, 0x81, 0, 0, 0})
	vcek := readTestdata(f, "vcek.testcer")
	f.Fuzz(func(t *testing.T, k uint8, quote []byte) {
		kind := tee.Kinds[int(k)%len(tee.Kinds)]
		opts := tee.Options{
			Now:        date(2026, 1, 1),
			Collateral: tee.Collateral{SNPVCEK: vcek},
			SimRoots:   []ed25519.PublicKey{sim.TestRootPublic()},
		}
		rep, err := tee.Verify(kind, quote, opts)
		if err == nil && rep == nil {
			t.Fatal("nil report without error")
		}
	})
}
