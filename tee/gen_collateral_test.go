package tee_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	tdxtesting "github.com/google/go-tdx-guest/testing"

	"github.com/provena/provena/tee"
)

// libraryTDXCollateral is go-tdx-guest's own sample PCS responses for the
// sample quote (TCB info, QE identity, PCK CRL, root CRL), as a Collateral.
func libraryTDXCollateral() map[string]tee.HTTPResponse {
	out := map[string]tee.HTTPResponse{}
	for url, r := range tdxtesting.TestGetter.Responses {
		out[url] = tee.HTTPResponse{Header: r.Header, Body: r.Body}
	}
	return out
}

// TestTDXCollateralFile keeps testdata/tdx_collateral.json (what the CLI
// reads with --collateral) equal to the library's sample responses;
// PROVENA_WRITE_TESTDATA=1 rewrites it.
func TestTDXCollateralFile(t *testing.T) {
	want := libraryTDXCollateral()
	path := filepath.Join("testdata", "tdx_collateral.json")
	if os.Getenv("PROVENA_WRITE_TESTDATA") == "1" {
		b, err := json.MarshalIndent(want, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := tee.ReadCollateralFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("testdata/tdx_collateral.json differs from go-tdx-guest's TestGetter")
	}
}
