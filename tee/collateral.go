package tee

import (
	"encoding/json"
	"fmt"
	"os"
)

// ReadCollateralFile reads TDX collateral stored as JSON: an object from
// Intel PCS URL to {"header": {...}, "body": base64}. It is how collateral
// travels offline (and how it would be posted on chain).
func ReadCollateralFile(path string) (map[string]HTTPResponse, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read collateral: %w", err)
	}
	return ParseCollateral(b)
}

// ParseCollateral decodes the JSON form of ReadCollateralFile.
func ParseCollateral(b []byte) (map[string]HTTPResponse, error) {
	var m map[string]HTTPResponse
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse collateral: %w", err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("parse collateral: no responses")
	}
	return m, nil
}
