package tee_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/tee"
)

// inWindow is a time at which every part of the sample collateral is
// current: after the TCB info's issue date (2023-06-18T08:42:58Z), before
// the earliest nextUpdate (QE identity, 2023-07-08T07:24:59Z).
var inWindow = time.Date(2023, 6, 20, 0, 0, 0, 0, time.UTC)

func sampleCollateral(t testing.TB) map[string]tee.HTTPResponse {
	t.Helper()
	m, err := tee.ParseCollateral(readTestdata(t, "tdx_collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const tcbInfoURL = "https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=50806f000000"

func TestVerifyTDXCollateral(t *testing.T) {
	info, err := tee.VerifyTDXCollateral(sampleCollateral(t), inWindow)
	if err != nil {
		t.Fatal(err)
	}
	if info.FMSPC != "50806f000000" || !info.Issued.Equal(time.Date(2023, 6, 18, 8, 42, 58, 0, time.UTC)) ||
		!info.NextUpdate.Equal(time.Date(2023, 7, 8, 7, 24, 59, 0, time.UTC)) || info.TCBLevels != 2 ||
		strings.Join(info.PCKCAs, ",") != "platform" || info.TCBEvaluationDataNumber != 15 {
		t.Fatalf("info %+v", info)
	}
	edit := func(f func(m map[string]tee.HTTPResponse)) map[string]tee.HTTPResponse {
		m := maps.Clone(sampleCollateral(t))
		f(m)
		return m
	}
	flip := func(url string, at func(b []byte) int) func(m map[string]tee.HTTPResponse) {
		return func(m map[string]tee.HTTPResponse) {
			r := m[url]
			r.Body = append([]byte(nil), r.Body...)
			r.Body[at(r.Body)] ^= 1
			m[url] = r
		}
	}
	// A byte inside the signed TCB info object (in its fmspc).
	inTCB := func(b []byte) int { return strings.Index(string(b), `"fmspc":"50806f`) + 10 }
	pckCRL := "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der"
	qe := "https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity"
	rootCRL := "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
	for _, tc := range []struct {
		name string
		set  map[string]tee.HTTPResponse
		at   time.Time
		want string
	}{
		{"after the QE identity's nextUpdate", sampleCollateral(t), time.Date(2023, 7, 8, 7, 26, 0, 0, time.UTC), "QE identity is outdated"},
		{"after the PCK CRL's nextUpdate", sampleCollateral(t), time.Date(2023, 7, 9, 0, 0, 0, 0, time.UTC), "PCK CRL (platform) is outdated"},
		{"before the TCB info was issued", sampleCollateral(t), time.Date(2023, 6, 10, 0, 0, 0, 0, time.UTC), "TCB info issued 2023-06-18T08:42:58Z, after"},
		{"a flipped byte in the TCB info", edit(flip(tcbInfoURL, inTCB)), inWindow, "TCB info: signature does not verify"},
		{"a flipped byte in the PCK CRL signature", edit(flip(pckCRL, func(b []byte) int { return len(b) - 5 })), inWindow, "PCK CRL (platform)"},
		{"a flipped byte in the root CRL", edit(flip(rootCRL, func(b []byte) int { return len(b) - 5 })), inWindow, "root CA CRL"},
		{"no QE identity", edit(func(m map[string]tee.HTTPResponse) { delete(m, qe) }), inWindow, "no TDX QE identity"},
		{"no root CRL", edit(func(m map[string]tee.HTTPResponse) { delete(m, rootCRL) }), inWindow, "root CA CRL (" + rootCRL + ") missing"},
		{"no issuer chain", edit(func(m map[string]tee.HTTPResponse) { r := m[qe]; r.Header = nil; m[qe] = r }), inWindow, "Sgx-Enclave-Identity-Issuer-Chain: 0 values"},
		{"an unknown URL", edit(func(m map[string]tee.HTTPResponse) { m["https://example.com/x"] = tee.HTTPResponse{Body: []byte("x")} }), inWindow, "not an Intel PCS collateral URL"},
		{"TCB info under another fmspc", edit(func(m map[string]tee.HTTPResponse) {
			m[strings.Replace(tcbInfoURL, "50806f", "00906e", 1)] = m[tcbInfoURL]
			delete(m, tcbInfoURL)
		}), inWindow, "stored under"},
		{"no time", sampleCollateral(t), time.Time{}, "no time given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := tee.VerifyTDXCollateral(tc.set, tc.at)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v %v, want error containing %q", info, err, tc.want)
			}
		})
	}
}

func TestCollateralSupersedes(t *testing.T) {
	d := func(day int) time.Time { return time.Date(2023, 6, day, 0, 0, 0, 0, time.UTC) }
	old := tee.CollateralInfo{Issued: d(10), QEIdentityIssued: d(10), PCKCRLIssued: d(10), RootCRLIssued: d(10)}
	for _, tc := range []struct {
		name string
		c    tee.CollateralInfo
		want string // "" accepted
	}{
		{"newer everywhere", tee.CollateralInfo{Issued: d(11), QEIdentityIssued: d(11), PCKCRLIssued: d(11), RootCRLIssued: d(11)}, ""},
		{"newer TCB info, same other parts", tee.CollateralInfo{Issued: d(11), QEIdentityIssued: d(10), PCKCRLIssued: d(10), RootCRLIssued: d(10)}, ""},
		{"the same set", old, "is not newer"},
		{"older TCB info", tee.CollateralInfo{Issued: d(9), QEIdentityIssued: d(11), PCKCRLIssued: d(11), RootCRLIssued: d(11)}, "is not newer"},
		{"newer TCB info, older PCK CRL", tee.CollateralInfo{Issued: d(11), QEIdentityIssued: d(10), PCKCRLIssued: d(9), RootCRLIssued: d(10)}, "PCK CRL issued"},
		{"newer TCB info, older root CRL", tee.CollateralInfo{Issued: d(11), QEIdentityIssued: d(10), PCKCRLIssued: d(10), RootCRLIssued: d(9)}, "root CA CRL issued"},
		{"newer TCB info, older QE identity", tee.CollateralInfo{Issued: d(11), QEIdentityIssued: d(9), PCKCRLIssued: d(10), RootCRLIssued: d(10)}, "QE identity issued"},
	} {
		err := tc.c.Supersedes(old)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// FuzzVerifyTDXCollateral feeds mutated collateral files: errors are fine,
// panics are not, and nothing but the real set verifies.
func FuzzVerifyTDXCollateral(f *testing.F) {
	real := readTestdata(f, "tdx_collateral.json")
	f.Add(real)
	f.Add(real[:len(real)/2])
	f.Add([]byte(`{"x":{"body":""}}`))
	f.Add([]byte(`{"https://certificates.trustedservices.intel.com/IntelSGXRootCA.der":{"body":"AA=="}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := tee.ParseCollateral(b)
		if err != nil {
			return
		}
		info, err := tee.VerifyTDXCollateral(m, inWindow)
		if err == nil && info == nil {
			t.Fatal("nil info without error")
		}
	})
}
