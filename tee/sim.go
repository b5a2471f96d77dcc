package tee

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Simulated quote layout (tee/sim writes it): a magic, the root's public
// key, a 48-byte measurement, 64 bytes of report data, the issue time in
// Unix seconds (big endian), then an ed25519 signature by the root over all
// of the above.
const (
	SimMagic       = "PVSIMTEE1"
	SimMeasureSize = 48
	simSignedSize  = len(SimMagic) + ed25519.PublicKeySize + SimMeasureSize + 64 + 8
	SimQuoteSize   = simSignedSize + ed25519.SignatureSize
	// simValidity is how long a simulated quote's "certificate" lasts,
	// so expiry is exercised like a real chain's.
	simValidity = 30 * 24 * time.Hour
	// SimClockSkew is how far before its issue time a simulated quote is
	// already valid: a quote made now must pass CheckTx against the last
	// block's time, which trails the attester's clock.
	SimClockSkew = 5 * time.Minute
)

// ErrSimNotAllowed is returned for a simulated quote whose root the verifier
// does not trust (a chain whose genesis names no simulated root).
var ErrSimNotAllowed = errors.New("simulated attestation root not allowed")

// SimSigned returns the bytes a simulated quote's signature covers.
func SimSigned(root ed25519.PublicKey, measurement [SimMeasureSize]byte, reportData [64]byte, issued time.Time) []byte {
	b := make([]byte, 0, SimQuoteSize)
	b = append(b, SimMagic...)
	b = append(b, root...)
	b = append(b, measurement[:]...)
	b = append(b, reportData[:]...)
	return binary.BigEndian.AppendUint64(b, uint64(issued.Unix()))
}

func verifySim(quote []byte, opts Options) (*Report, error) {
	if len(quote) != SimQuoteSize {
		return nil, fmt.Errorf("simulated quote is %d bytes, want %d", len(quote), SimQuoteSize)
	}
	if string(quote[:len(SimMagic)]) != SimMagic {
		return nil, errors.New("not a simulated quote (bad magic)")
	}
	off := len(SimMagic)
	root := ed25519.PublicKey(quote[off : off+ed25519.PublicKeySize])
	off += ed25519.PublicKeySize
	trusted := false
	for _, r := range opts.SimRoots {
		if bytes.Equal(r, root) {
			trusted = true
		}
	}
	if !trusted {
		return nil, fmt.Errorf("%w: %x", ErrSimNotAllowed, []byte(root))
	}
	if !ed25519.Verify(root, quote[:simSignedSize], quote[simSignedSize:]) {
		return nil, errors.New("simulated quote signature invalid")
	}
	rep := &Report{Simulated: true, TCB: TCB{Status: "SIMULATED"}}
	rep.QuoteID = fmt.Sprintf("%x", sha256.Sum256(quote[:simSignedSize]))
	meas := quote[off : off+SimMeasureSize]
	off += SimMeasureSize
	copy(rep.ReportData[:], quote[off:off+64])
	off += 64
	secs := binary.BigEndian.Uint64(quote[off:])
	if secs > 1<<40 {
		return nil, fmt.Errorf("simulated quote issue time %d out of range", secs)
	}
	rep.IssuedAt = time.Unix(int64(secs), 0).UTC()
	rep.NotBefore, rep.NotAfter = rep.IssuedAt.Add(-SimClockSkew), rep.IssuedAt.Add(simValidity)
	if opts.Now.Before(rep.NotBefore) || opts.Now.After(rep.NotAfter) {
		return nil, fmt.Errorf("simulated quote valid from %s to %s, not at %s",
			rep.NotBefore.Format(time.RFC3339), rep.NotAfter.Format(time.RFC3339), opts.Now.UTC().Format(time.RFC3339))
	}
	rep.Measurement = fmt.Sprintf("%x", meas)
	rep.Measurements = []Measurement{{"SIM_MEASUREMENT", rep.Measurement}}
	rep.Platform = fmt.Sprintf("SIMULATED root %x", []byte(root))
	return rep, nil
}
