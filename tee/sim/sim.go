// Package sim is Provena's simulated attester: with no TEE hardware at
// hand, it signs quotes of kind "sim" with a test root so the binding, the
// job flow and the demo can run. A simulated quote proves nothing about
// hardware; a chain accepts it only if its genesis names the root, and
// every report of one says SIMULATED.
package sim

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/provena/provena/tee"
)

// testRootSeed derives the well-known test root. It is public on purpose:
// anyone can sign simulated quotes, which is why a genesis must opt in.
const testRootSeed = "provena/tee/sim/test-root/v1"

// TestRoot returns the well-known simulated root key.
func TestRoot() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(testRootSeed))
	return ed25519.NewKeyFromSeed(seed[:])
}

// TestRootPublic is the public half of TestRoot, the value a genesis names.
func TestRootPublic() ed25519.PublicKey {
	return TestRoot().Public().(ed25519.PublicKey)
}

// Attester signs simulated quotes.
type Attester struct {
	Root ed25519.PrivateKey
	// Measurement is the code identity the simulated enclave claims.
	Measurement [tee.SimMeasureSize]byte
}

// New returns an attester with the test root claiming measurement.
func New(measurement [tee.SimMeasureSize]byte) *Attester {
	return &Attester{Root: TestRoot(), Measurement: measurement}
}

// MeasurementOf derives a simulated measurement from a label (for example
// a worker build id): SHA-384-sized, SHA-256 of the label then zeros.
func MeasurementOf(label string) [tee.SimMeasureSize]byte {
	var m [tee.SimMeasureSize]byte
	h := sha256.Sum256([]byte("provena/tee/sim/measurement\x00" + label))
	copy(m[:], h[:])
	return m
}

// ParseMeasurement reads a hex simulated measurement.
func ParseMeasurement(s string) ([tee.SimMeasureSize]byte, error) {
	var m [tee.SimMeasureSize]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(m) {
		return m, fmt.Errorf("simulated measurement %q: want %d hex bytes", s, len(m))
	}
	copy(m[:], b)
	return m, nil
}

// Quote returns a simulated quote over reportData issued at t.
func (a *Attester) Quote(reportData [64]byte, t time.Time) []byte {
	root := a.Root.Public().(ed25519.PublicKey)
	msg := tee.SimSigned(root, a.Measurement, reportData, t)
	return append(msg, ed25519.Sign(a.Root, msg)...)
}

// QuoteFor returns a simulated quote binding the worker's signing key and
// X25519 recipient (tee.BindingReportData).
func (a *Attester) QuoteFor(signKey ed25519.PublicKey, x25519Recipient string, t time.Time) []byte {
	return a.Quote(tee.BindingReportData(signKey, x25519Recipient), t)
}
