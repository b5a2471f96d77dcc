package tee_test

import (
	"crypto/ed25519"
	"crypto/x509"
	"testing"

	"github.com/provena/provena/tee"
	"github.com/provena/provena/tee/sim"
)

// BenchmarkVerify measures one verification per kind on the test quotes.
func BenchmarkVerify(b *testing.B) {
	f := newNitroFixture(b)
	at := date(2026, 1, 1)
	cases := []struct {
		kind  string
		quote []byte
		opts  tee.Options
	}{
		{tee.KindTDX, readTestdata(b, "tdx_prod_quote_SPR_E4.dat"), tee.Options{Now: at}},
		{tee.KindSEVSNP, readTestdata(b, "attestation.bin"), tee.Options{Now: at, Collateral: tee.Collateral{SNPVCEK: readTestdata(b, "vcek.testcer")}}},
		{tee.KindNitro, f.document(b, []byte("rd"), 1), tee.Options{Now: at, Collateral: tee.Collateral{NitroRoots: []*x509.Certificate{f.root}}}},
		{tee.KindSim, sim.New(sim.MeasurementOf("b")).Quote([64]byte{}, at), tee.Options{Now: at, SimRoots: []ed25519.PublicKey{sim.TestRootPublic()}}},
	}
	for _, c := range cases {
		b.Run(c.kind, func(b *testing.B) {
			for b.Loop() {
				if _, err := tee.Verify(c.kind, c.quote, c.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
