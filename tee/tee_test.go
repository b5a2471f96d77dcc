package tee_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/tee"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// The real quotes' certificate chains: TDX PCK chain 2022-09-20..2029-09-20
// (leaf), SEV-SNP VCEK 2022-09-24..2029-09-24.
func TestVerifyRealQuotes(t *testing.T) {
	tdx := readTestdata(t, "tdx_prod_quote_SPR_E4.dat")
	snp := readTestdata(t, "attestation.bin")
	snpOpts := tee.Collateral{SNPVCEK: readTestdata(t, "vcek.testcer")}
	tests := []struct {
		name    string
		kind    string
		quote   []byte
		col     tee.Collateral
		at      time.Time
		wantErr string
	}{
		{"tdx inside validity", tee.KindTDX, tdx, tee.Collateral{}, date(2026, 1, 1), ""},
		{"tdx just after notBefore", tee.KindTDX, tdx, tee.Collateral{}, date(2022, 9, 21), ""},
		{"tdx before notBefore", tee.KindTDX, tdx, tee.Collateral{}, date(2022, 9, 1), "expired"},
		{"tdx after notAfter", tee.KindTDX, tdx, tee.Collateral{}, date(2029, 10, 1), "expired"},
		{"snp inside validity", tee.KindSEVSNP, snp, snpOpts, date(2026, 1, 1), ""},
		{"snp before notBefore", tee.KindSEVSNP, snp, snpOpts, date(2022, 9, 1), "certificate"},
		{"snp after notAfter", tee.KindSEVSNP, snp, snpOpts, date(2029, 10, 1), "certificate"},
		{"snp without vcek", tee.KindSEVSNP, snp, tee.Collateral{}, date(2026, 1, 1), "no VCEK"},
		{"snp wrong product", tee.KindSEVSNP, snp, tee.Collateral{SNPVCEK: snpOpts.SNPVCEK, SNPProduct: "Genoa"}, date(2026, 1, 1), "verify"},
		{"tdx quote as snp", tee.KindSEVSNP, tdx, snpOpts, date(2026, 1, 1), "bytes, want"},
		{"snp report as tdx", tee.KindTDX, snp, tee.Collateral{}, date(2026, 1, 1), "parse quote"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := tee.Verify(tc.kind, tc.quote, tee.Options{Now: tc.at, Collateral: tc.col})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				if rep != nil {
					t.Fatal("report returned with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.Simulated || rep.Kind != tc.kind || len(rep.Measurement) != 96 || len(rep.ReportHex) != 128 {
				t.Fatalf("report %+v", rep)
			}
			if tc.at.Before(rep.NotBefore) || tc.at.After(rep.NotAfter) {
				t.Fatalf("at %s outside reported window %s..%s", tc.at, rep.NotBefore, rep.NotAfter)
			}
			t.Logf("%s: measurement %s platform %q window %s..%s tcb %+v", tc.kind, rep.Measurement, rep.Platform, rep.NotBefore, rep.NotAfter, rep.TCB)
		})
	}
}

// With the library's sample PCS responses as collateral the collateral's
// signatures, the CRLs and the TCB level are checked too. These samples are
// signed by Intel but list no TCB level matching this quote (the library's
// own test expects the same error), so the strongest real outcome is that
// rejection; a tampered response and expired collateral are rejected
// earlier. No UpToDate positive case exists in the vendor testdata.
func TestVerifyTDXWithCollateral(t *testing.T) {
	tdx := readTestdata(t, "tdx_prod_quote_SPR_E4.dat")
	col, err := tee.ReadCollateralFile(filepath.Join("testdata", "tdx_collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	partial := map[string]tee.HTTPResponse{}
	for url, r := range col {
		if !strings.Contains(url, "pckcrl") {
			partial[url] = r
		}
	}
	tampered := map[string]tee.HTTPResponse{}
	for url, r := range col {
		if strings.Contains(url, "/tcb?") {
			body := bytes.Replace(r.Body, []byte(`"OutOfDate"`), []byte(`"UpToDate"`), 1)
			r = tee.HTTPResponse{Header: r.Header, Body: body}
		}
		tampered[url] = r
	}
	inside := time.Date(2023, 7, 1, 1, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		col     map[string]tee.HTTPResponse
		at      time.Time
		wantErr string
	}{
		{"collateral current, tcb level unknown", col, inside, "no matching TCB level"},
		{"tcb info tampered", tampered, inside, "tcbInfo response verification failed"},
		{"collateral expired", col, date(2026, 1, 1), "expired"},
		{"collateral missing a crl", partial, time.Date(2023, 7, 1, 1, 0, 0, 0, time.UTC), "not supplied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := tee.Verify(tee.KindTDX, tdx, tee.Options{Now: tc.at, Collateral: tee.Collateral{TDX: tc.col}})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.TCB.Status != "UpToDate" {
				t.Fatalf("tcb %+v", rep.TCB)
			}
		})
	}
}

// QuoteID names what the vendor signed: re-encoding a quote (here, the TDX
// sample's unsigned trailing bytes) keeps it, another quote changes it.
func TestQuoteID(t *testing.T) {
	tdx := readTestdata(t, "tdx_prod_quote_SPR_E4.dat")
	at := tee.Options{Now: date(2026, 1, 1)}
	a, err := tee.Verify(tee.KindTDX, tdx, at)
	if err != nil {
		t.Fatal(err)
	}
	padded := append(bytes.Clone(tdx), "more"...)
	b, err := tee.Verify(tee.KindTDX, padded, at)
	if err != nil {
		t.Fatal(err)
	}
	if a.QuoteID != b.QuoteID || len(a.QuoteID) != 64 {
		t.Fatalf("quote id changed with unsigned bytes: %s %s", a.QuoteID, b.QuoteID)
	}
	snp, err := tee.Verify(tee.KindSEVSNP, readTestdata(t, "attestation.bin"), tee.Options{Now: at.Now, Collateral: tee.Collateral{SNPVCEK: readTestdata(t, "vcek.testcer")}})
	if err != nil {
		t.Fatal(err)
	}
	if snp.QuoteID == a.QuoteID || len(snp.QuoteID) != 64 {
		t.Fatalf("quote ids %s %s", a.QuoteID, snp.QuoteID)
	}
}
