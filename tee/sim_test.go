package tee_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/tee"
	"github.com/provena/provena/tee/sim"
)

func TestVerifySimulated(t *testing.T) {
	signPub := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	const x = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
	issued := date(2026, 3, 1)
	a := sim.New(sim.MeasurementOf("worker v1"))
	q := a.QuoteFor(signPub, x, issued)
	otherSeed := sha256.Sum256([]byte("another root"))
	other := &sim.Attester{Root: ed25519.NewKeyFromSeed(otherSeed[:]), Measurement: a.Measurement}
	roots := []ed25519.PublicKey{sim.TestRootPublic()}
	tests := []struct {
		name    string
		quote   []byte
		roots   []ed25519.PublicKey
		at      time.Time
		wantErr string
	}{
		{"allowed root", q, roots, issued.Add(time.Hour), ""},
		{"genesis names no root", q, nil, issued.Add(time.Hour), "simulated attestation root not allowed"},
		{"another root", other.QuoteFor(signPub, x, issued), roots, issued.Add(time.Hour), "not allowed"},
		{"just before issue (clock skew)", q, roots, issued.Add(-time.Minute), ""},
		{"before issue", q, roots, issued.Add(-tee.SimClockSkew - time.Second), "valid from"},
		{"after 30 days", q, roots, issued.Add(31 * 24 * time.Hour), "valid from"},
		{"truncated", q[:len(q)-1], roots, issued, "bytes, want"},
		{"bad magic", append([]byte("X"), q[1:]...), roots, issued, "bad magic"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := tee.Verify(tee.KindSim, tc.quote, tee.Options{Now: tc.at, SimRoots: tc.roots})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Simulated || rep.TCB.Status != "SIMULATED" || !strings.Contains(rep.Platform, "SIMULATED") {
				t.Fatalf("simulated report not marked: %+v", rep)
			}
			if rep.ReportData != tee.BindingReportData(signPub, x) {
				t.Fatal("report data is not the binding")
			}
			if rep.Measurement != hexOf(a.Measurement[:]) || !rep.IssuedAt.Equal(issued) || !rep.NotBefore.Equal(issued.Add(-tee.SimClockSkew)) {
				t.Fatalf("report %+v", rep)
			}
		})
	}
	if _, err := tee.Verify(tee.KindSim, q, tee.Options{Now: issued}); !errors.Is(err, tee.ErrSimNotAllowed) {
		t.Fatalf("err = %v, want ErrSimNotAllowed", err)
	}
	t.Run("every byte", func(t *testing.T) {
		opts := tee.Options{Now: issued.Add(time.Hour), SimRoots: roots}
		b := append([]byte(nil), q...)
		for i := range b {
			b[i] ^= 0x01
			if _, err := tee.Verify(tee.KindSim, b, opts); err == nil {
				t.Errorf("byte %d flipped: accepted", i)
			}
			b[i] ^= 0x01
		}
	})
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestBindingReportData(t *testing.T) {
	k1 := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	seed := make([]byte, 32)
	seed[0] = 1
	k2 := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	base := tee.BindingReportData(k1, "age1a")
	for name, other := range map[string][64]byte{
		"another signing key": tee.BindingReportData(k2, "age1a"),
		"another x25519 key":  tee.BindingReportData(k1, "age1b"),
	} {
		if other == base {
			t.Errorf("%s gives the same binding", name)
		}
	}
	if tee.BindingReportData(k1, "age1a") != base {
		t.Error("binding not deterministic")
	}
}

func TestVerifyInputErrors(t *testing.T) {
	tests := []struct {
		name, kind string
		quote      []byte
		opts       tee.Options
		wantErr    string
	}{
		{"no time", tee.KindTDX, []byte{1}, tee.Options{}, "no time given"},
		{"unknown kind", "sgx", []byte{1}, tee.Options{Now: date(2026, 1, 1)}, "unknown attestation kind"},
		{"empty", tee.KindNitro, nil, tee.Options{Now: date(2026, 1, 1)}, "empty quote"},
		{"huge", tee.KindTDX, make([]byte, tee.MaxQuoteSize+1), tee.Options{Now: date(2026, 1, 1)}, "limit"},
		{"garbage tdx", tee.KindTDX, []byte("hello"), tee.Options{Now: date(2026, 1, 1)}, "parse quote"},
		{"garbage nitro", tee.KindNitro, []byte("hello"), tee.Options{Now: date(2026, 1, 1)}, "COSESign1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tee.Verify(tc.kind, tc.quote, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
