package tee_test

import (
	"bytes"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/hf/nitrite"

	"github.com/provena/provena/tee"
	"github.com/provena/provena/tee/teetest"
)

// No real Nitro attestation document ships in any module we can use, so
// these tests build documents the way the Nitro Security Module does
// (COSE_Sign1, ES384, CBOR payload, leaf + CA bundle) under a test CA of
// our own (tee/teetest), passed as Collateral.NitroRoots. The default AWS
// root must then reject them: that is the case nitrite reports through its
// error while still returning a Result.
type nitroFixture struct {
	*teetest.Nitro
	root     *x509.Certificate
	notAfter time.Time
}

func newNitroFixture(t testing.TB) *nitroFixture {
	t.Helper()
	f := &nitroFixture{notAfter: date(2027, 1, 1)}
	n, err := teetest.NewNitro(date(2025, 1, 1), f.notAfter)
	if err != nil {
		t.Fatal(err)
	}
	f.Nitro, f.root = n, n.Root
	return f
}

func (f *nitroFixture) document(t testing.TB, userData []byte, pcr0 byte) []byte {
	t.Helper()
	d, err := f.Document(date(2026, 1, 1), userData, pcr0)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestVerifyNitroTestCA(t *testing.T) {
	f := newNitroFixture(t)
	rd := bytes.Repeat([]byte{7}, 64)
	doc := f.document(t, rd, 0xa0)
	ours := tee.Collateral{NitroRoots: []*x509.Certificate{f.root}}
	other := newNitroFixture(t)
	tests := []struct {
		name    string
		doc     []byte
		col     tee.Collateral
		at      time.Time
		wantErr string
	}{
		{"test root, inside validity", doc, ours, date(2026, 6, 1), ""},
		{"aws root rejects the test chain", doc, tee.Collateral{}, date(2026, 6, 1), "unknown authority"},
		{"another test root", doc, tee.Collateral{NitroRoots: []*x509.Certificate{other.root}}, date(2026, 6, 1), "unknown authority"},
		{"leaf expired", doc, ours, date(2027, 2, 1), "expired"},
		{"leaf not yet valid", doc, ours, date(2024, 6, 1), "expired"},
		{"user data over 64 bytes", f.document(t, bytes.Repeat([]byte{1}, 65), 0), ours, date(2026, 6, 1), "user_data is 65 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := tee.Verify(tee.KindNitro, tc.doc, tee.Options{Now: tc.at, Collateral: tc.col})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || rep != nil {
					t.Fatalf("err = %v (report %v), want %q", err, rep != nil, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.Measurement != strings.Repeat("a0", 48) || !bytes.Equal(rep.ReportData[:], rd) || len(rep.Measurements) != 4 || rep.Measurements[3].Name != "PCR3" {
				t.Fatalf("report %+v", rep)
			}
			if !rep.IssuedAt.Equal(date(2026, 1, 1)) || !rep.NotAfter.Equal(f.notAfter) {
				t.Fatalf("issued %s not after %s", rep.IssuedAt, rep.NotAfter)
			}
		})
	}
	t.Run("every byte", func(t *testing.T) {
		opts := tee.Options{Now: date(2026, 6, 1), Collateral: ours}
		q := bytes.Clone(doc)
		for i := range q {
			q[i] ^= 0x01
			if _, err := tee.Verify(tee.KindNitro, q, opts); err == nil {
				t.Errorf("byte %d of %d flipped: accepted", i, len(q))
			}
			q[i] ^= 0x01
		}
	})
}

// nitrite returns a Result together with its error when the chain does
// not verify; tee.Verify must not let that Result through.
func TestNitriteReturnsResultWithError(t *testing.T) {
	f := newNitroFixture(t)
	doc := f.document(t, []byte("x"), 1)
	res, err := nitrite.Verify(doc, nitrite.VerifyOptions{CurrentTime: date(2026, 6, 1)})
	if err == nil || res == nil {
		t.Fatalf("nitrite.Verify under the AWS root: result %v, err %v; the hazard this test documents is gone", res != nil, err)
	}
	if rep, err := tee.Verify(tee.KindNitro, doc, tee.Options{Now: date(2026, 6, 1)}); err == nil || rep != nil {
		t.Fatalf("tee.Verify accepted a document nitrite rejected: %+v", rep)
	}
}
