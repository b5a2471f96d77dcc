package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/tee"
)

func TestTeeCollateralMsgFromFile(t *testing.T) {
	msg, err := teeCollateralMsg("tdx", "../tee/testdata")
	if err != nil {
		t.Fatal(err)
	}
	set, err := tee.ParseCollateral(msg.Collateral)
	if err != nil || len(set) != 4 || bytes.Contains(msg.Collateral, []byte("\n")) {
		t.Fatalf("posted body: %d responses, %v", len(set), err)
	}
	for _, tc := range []struct{ name, kind, path, want string }{
		{"sev-snp", "sev-snp", "../tee/testdata", "has no on-chain collateral"},
		{"missing file", "tdx", "../tee/testdata/nothing.json", "read collateral"},
		{"not collateral", "tdx", "../tee/testdata/README.md", "parse collateral"},
	} {
		if _, err := teeCollateralMsg(tc.kind, tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestTeeCollateralPrint(t *testing.T) {
	set, err := tee.ReadCollateralFile("../tee/testdata/tdx_collateral.json")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2023, 6, 20, 0, 0, 0, 0, time.UTC)
	info, err := tee.VerifyTDXCollateral(set, at)
	if err != nil {
		t.Fatal(err)
	}
	c := &app.TeeCollateral{Kind: "tdx", Info: *info, Responses: set, Height: 7, PostedAt: at, Sender: "pv1x"}
	for _, tc := range []struct {
		now  time.Time
		want []string
	}{
		{at, []string{"tdx collateral, fmspc 50806f000000, TCB evaluation data 15 (2 TCB levels)", "issued       2023-06-18T08:42:58Z", "2023-07-08T07:24:59Z (current)", "PCK CRLs     platform", "height 7"}},
		{at.AddDate(1, 0, 0), []string{"(OUTDATED: registrations against it are rejected"}},
	} {
		var b bytes.Buffer
		printTeeCollateral(&b, c, tc.now)
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("output lacks %q:\n%s", w, b.String())
			}
		}
	}
}

// TestTeeCollateralCLIEndToEnd posts Intel's sample collateral to a real
// node through the command line. The node's block time is today's, long
// after the sample's nextUpdate (2023-07-08), so the chain refuses it with
// that reason and keeps nothing.
func TestTeeCollateralCLIEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	home, _ := startTestNode(t, t.TempDir(), "tee-coll-e2e", 500)
	common := []string{"--home", home, "--keyring-backend", "test"}
	cli := func(args ...string) (string, error) { return teeRunCLI(append(args, common...)...) }
	if out, err := cli("tee", "collateral", "show", "--kind", "tdx"); err == nil || !strings.Contains(err.Error(), "no tdx collateral on chain") {
		t.Fatalf("show before any post: %v\n%s", err, out)
	}
	out, err := cli("tee", "collateral", "post", "--kind", "tdx", "--collateral", "../tee/testdata", "--from", "alice")
	if err == nil || !strings.Contains(err.Error(), "is outdated: its nextUpdate") {
		t.Fatalf("post of the 2023 sample: %v\n%s", err, out)
	}
	t.Logf("chain refused the sample collateral: %v", err)
	if _, err := cli("tee", "collateral", "show", "--kind", "tdx"); err == nil || !strings.Contains(err.Error(), "no tdx collateral on chain") {
		t.Fatalf("show after a refused post: %v", err)
	}
}
