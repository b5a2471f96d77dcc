package tee_test

import (
	"bytes"
	"testing"

	"github.com/provena/provena/tee"
)

// TestEveryByteCorruptionFails flips one bit in every byte of each real
// quote's signed region, one byte at a time, and expects each to fail.
//
// TDX: every byte but the 39 trailing "extra bytes" the sample carries
// outside the quote structure (the library ignores them; QuoteID does too):
// header and TD body (signed by the attestation key), the signature, the
// attestation key, the QE report (signed by the PCK key), its signature,
// the QE auth data (hashed into the QE report) and the PEM PCK chain.
// Bytes before the PEM chain get the low and the high bit flipped, the PEM
// chain the low bit (every 8th byte with -short). SEV-SNP: the 0x2A0-byte
// signed report and the signature, both bits. About 6,200 and 1,600
// verifications of 1-3 ms.
func TestEveryByteCorruptionFails(t *testing.T) {
	tdx := readTestdata(t, "tdx_prod_quote_SPR_E4.dat")
	snp := readTestdata(t, "attestation.bin")
	pem := bytes.Index(tdx, []byte("-----BEGIN CERTIFICATE-----"))
	extra := bytes.LastIndex(tdx, []byte("-----END CERTIFICATE-----")) + len("-----END CERTIFICATE-----\n")
	if pem < 1218 || extra != len(tdx)-39 {
		t.Fatalf("pck chain at %d..%d of %d: not the sample's layout", pem, extra, len(tdx))
	}
	pemStep := 1
	if testing.Short() {
		pemStep = 8
	}
	tests := []struct {
		kind       string
		quote      []byte
		col        tee.Collateral
		start, end int
		both       int // bytes before this get both bits flipped
		step       int // stride after it
	}{
		{tee.KindTDX, tdx, tee.Collateral{}, 0, extra, pem, pemStep},
		{tee.KindSEVSNP, snp, tee.Collateral{SNPVCEK: readTestdata(t, "vcek.testcer")}, 0, 0x2A0 + 144, 0x2A0 + 144, 1},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			opts := tee.Options{Now: date(2026, 1, 1), Collateral: tc.col}
			if _, err := tee.Verify(tc.kind, tc.quote, opts); err != nil {
				t.Fatalf("original: %v", err)
			}
			q := bytes.Clone(tc.quote)
			n := 0
			for i := tc.start; i < tc.end; {
				bits := []byte{0x01, 0x80}
				next := i + 1
				if i >= tc.both {
					bits, next = bits[:1], i+tc.step
				}
				for _, bit := range bits {
					q[i] ^= bit
					if rep, err := tee.Verify(tc.kind, q, opts); err == nil {
						t.Errorf("byte %d ^ %#x accepted (measurement %s)", i, bit, rep.Measurement)
					}
					q[i] ^= bit
					n++
				}
				i = next
			}
			t.Logf("%d corruptions of bytes [%d,%d) all rejected", n, tc.start, tc.end)
		})
	}
}
