package cli

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/tee/sim"
)

func TestTeeVerifyCmd(t *testing.T) {
	dir := t.TempDir()
	simQuote := filepath.Join(dir, "sim.quote")
	q := sim.New(sim.MeasurementOf("cli")).Quote([64]byte{9}, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err := os.WriteFile(simQuote, q, 0o600); err != nil {
		t.Fatal(err)
	}
	root := hex.EncodeToString(sim.TestRootPublic())
	tdx := "../tee/testdata/tdx_prod_quote_SPR_E4.dat"
	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr string
	}{
		{"tdx valid", []string{"--kind", "tdx", "--quote", tdx, "--at", "2026-01-01T00:00:00Z"},
			[]string{"valid:        yes", "MRTD          6363b804", "tcb:          unchecked"}, ""},
		{"tdx expired", []string{"--kind", "tdx", "--quote", tdx, "--at", "2030-01-01T00:00:00Z"}, nil, "expired"},
		{"tdx collateral", []string{"--kind", "tdx", "--quote", tdx, "--collateral", "../tee/testdata", "--at", "2023-07-01T01:00:00Z"}, nil, "no matching TCB level"},
		{"snp valid", []string{"--kind", "sev-snp", "--quote", "../tee/testdata/attestation.bin", "--collateral", "../tee/testdata", "--at", "2026-01-01T00:00:00Z"},
			[]string{"MEASUREMENT   b07af962"}, ""},
		{"snp without vcek", []string{"--kind", "sev-snp", "--quote", "../tee/testdata/attestation.bin", "--at", "2026-01-01T00:00:00Z"}, nil, "no VCEK"},
		{"sim trusted", []string{"--kind", "sim", "--quote", simQuote, "--sim-root", root, "--at", "2026-01-02T00:00:00Z"},
			[]string{"SIMULATED attestation", "tcb:          SIMULATED"}, ""},
		{"sim untrusted", []string{"--kind", "sim", "--quote", simQuote, "--at", "2026-01-02T00:00:00Z"}, nil, "root not allowed"},
		{"bad time", []string{"--kind", "tdx", "--quote", tdx, "--at", "yesterday"}, nil, "RFC 3339"},
		{"garbage", []string{"--kind", "nitro", "--quote", "tee_test.go", "--at", "2026-01-01T00:00:00Z"}, nil, "INVALID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := teeRunCLI(append([]string{"tee", "verify"}, tc.args...)...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q\n%s", err, tc.wantErr, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	out, err := teeRunCLI("tee", "verify", "--kind", "tdx", "--quote", tdx, "--at", "2026-01-01T00:00:00Z", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Valid       bool   `json:"valid"`
		Measurement string `json:"measurement"`
		ReportData  string `json:"report_data"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("json output: %v\n%s", err, out)
	}
	if !got.Valid || !strings.HasPrefix(got.Measurement, "6363b804") || len(got.ReportData) != 128 {
		t.Fatalf("json %+v", got)
	}
}

func teeRunCLI(args ...string) (string, error) {
	root := NewRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

func TestTeeConfigMsg(t *testing.T) {
	tests := []struct {
		name    string
		roots   []string
		maxAge  time.Duration
		want    int
		wantErr string
	}{
		{"test root", []string{"test"}, time.Hour, 1, ""},
		{"no roots", nil, time.Hour, 0, ""},
		{"bad root", []string{"zz"}, time.Hour, 0, "sim_roots[0]"},
		{"zero age", nil, 0, 0, "max_age_secs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := teeConfigMsg(tc.roots, tc.maxAge)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(m.SimRoots) != tc.want {
				t.Fatalf("%+v %v", m, err)
			}
			if tc.want == 1 && m.SimRoots[0] != hex.EncodeToString(sim.TestRootPublic()) {
				t.Fatal("test root not substituted")
			}
		})
	}
}

func TestBenchTee(t *testing.T) {
	rows, err := benchTee("../tee/testdata", time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows {
		if r.Verifies < 1 || r.PerSec <= 0 {
			t.Fatalf("row %+v", r)
		}
	}
	if _, err := benchTee(t.TempDir(), time.Millisecond); err == nil {
		t.Fatal("missing testdata accepted")
	}
}
