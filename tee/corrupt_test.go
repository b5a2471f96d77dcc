package tee_test

import (
	"bytes"
	"testing"

	"github.com/provena/provena/tee"
)

// TestEveryByteCorruptionFails flips one bit in every byte of each real
// quote's signed region, one byte at a time, and expects each to fail.
//
// TDX: bytes [0, start of the PEM PCK chain): header and TD body (signed by
// the attestation key), the signature, the attestation key, the QE report
// (signed by the PCK key), its signature and the QE auth data (hashed into
// the QE report). SEV-SNP: the whole 0x2A0-byte signed report plus the
// signature. Both flip the low bit and the high bit, so ~2,500 and ~1,600
// verifications; a fraction of a second each.
func TestEveryByteCorruptionFails(t *testing.T) {
	tdx := readTestdata(t, "tdx_prod_quote_SPR_E4.dat")
	snp := readTestdata(t, "attestation.bin")
	pem := bytes.Index(tdx, []byte("-----BEGIN CERTIFICATE-----"))
	if pem < 1218 {
		t.Fatalf("pck chain at %d, before the end of the QE report", pem)
	}
	tests := []struct {
		kind       string
		quote      []byte
		col        tee.Collateral
		start, end int
	}{
		{tee.KindTDX, tdx, tee.Collateral{}, 0, pem},
		{tee.KindSEVSNP, snp, tee.Collateral{SNPVCEK: readTestdata(t, "vcek.testcer")}, 0, 0x2A0 + 144},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			opts := tee.Options{Now: date(2026, 1, 1), Collateral: tc.col}
			if _, err := tee.Verify(tc.kind, tc.quote, opts); err != nil {
				t.Fatalf("original: %v", err)
			}
			q := bytes.Clone(tc.quote)
			n := 0
			for i := tc.start; i < tc.end; i++ {
				for _, bit := range []byte{0x01, 0x80} {
					q[i] ^= bit
					if rep, err := tee.Verify(tc.kind, q, opts); err == nil {
						t.Errorf("byte %d ^ %#x accepted (measurement %s)", i, bit, rep.Measurement)
					}
					q[i] ^= bit
					n++
				}
			}
			t.Logf("%d corruptions of bytes [%d,%d) all rejected", n, tc.start, tc.end)
		})
	}
}
