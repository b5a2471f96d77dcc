package energy

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/provena/provena/energy/wire"
)

// MeterDomain separates meter-reading signatures from any other use of a
// meter key.
const MeterDomain = "provena/energy/meter/v1\x00"

// DeviceIDLen is the length of a DeviceID.
const DeviceIDLen = 16

// DeviceID names a production device: a hash of its meter's public key, so
// one meter can back only one device.
type DeviceID [DeviceIDLen]byte

// DeviceIDFromMeterKey derives the device id of a meter key.
func DeviceIDFromMeterKey(pub ed25519.PublicKey) DeviceID {
	h := sha256.Sum256(append([]byte("provena/energy/device/v1\x00"), pub...))
	var id DeviceID
	copy(id[:], h[:DeviceIDLen])
	return id
}

func (d DeviceID) String() string { return hex.EncodeToString(d[:]) }

// ParseDeviceID parses String's output.
func ParseDeviceID(s string) (DeviceID, error) {
	var d DeviceID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != DeviceIDLen {
		return d, fmt.Errorf("device id %q: want %d hex characters", s, 2*DeviceIDLen)
	}
	copy(d[:], b)
	return d, nil
}

// MaxReadingSeconds is the longest interval one reading may cover.
const MaxReadingSeconds = 3600

// Reading is one metered interval of a production device: Wh produced in
// [Start, End) (unix seconds, UTC), and the meter's cumulative register
// after it. The meter signs it with its ed25519 key.
type Reading struct {
	Device       DeviceID `json:"device"`
	Start        int64    `json:"start"`
	End          int64    `json:"end"`
	Wh           uint64   `json:"wh"`
	CumulativeWh uint64   `json:"cumulative_wh"`
}

// SignBytes are the bytes the meter signs: the domain, the chain id (so a
// reading cannot be replayed on another chain) and the reading.
func (r Reading) SignBytes(chainID string) []byte {
	b := append([]byte(MeterDomain), byte(len(chainID)))
	b = append(b, chainID...)
	return r.Append(b)
}

// Append appends the reading's canonical bytes.
func (r Reading) Append(b []byte) []byte {
	b = append(b, r.Device[:]...)
	b = wire.AppendI64(b, r.Start)
	b = wire.AppendI64(b, r.End)
	b = wire.AppendU64(b, r.Wh)
	return wire.AppendU64(b, r.CumulativeWh)
}

// ReadReading reads what Append wrote.
func ReadReading(rd *wire.Reader) Reading {
	var r Reading
	copy(r.Device[:], rd.Fixed(DeviceIDLen, "device id"))
	r.Start = rd.I64("start")
	r.End = rd.I64("end")
	r.Wh = rd.U64("wh")
	r.CumulativeWh = rd.U64("cumulative wh")
	return r
}

// SignReading signs r for chainID with the meter key.
func SignReading(meter ed25519.PrivateKey, chainID string, r Reading) ([]byte, error) {
	if len(meter) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("sign reading: meter key is %d bytes, want %d", len(meter), ed25519.PrivateKeySize)
	}
	return ed25519.Sign(meter, r.SignBytes(chainID)), nil
}

// Why a reading is rejected. The ledger reports these in its result log.
var (
	ErrBadMeterSignature = errors.New("bad meter signature")
	ErrEmptyInterval     = errors.New("interval is empty or goes backwards (end <= start)")
	ErrLongInterval      = fmt.Errorf("interval longer than %d s", MaxReadingSeconds)
	ErrCrossesHour       = errors.New("interval crosses a UTC hour boundary (split it at the hour)")
	ErrOverCapacity      = errors.New("reading above capacity × duration")
)

// VerifyReading checks the meter's signature.
func VerifyReading(meter ed25519.PublicKey, chainID string, r Reading, sig []byte) error {
	if len(meter) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize || !ed25519.Verify(meter, r.SignBytes(chainID), sig) {
		return ErrBadMeterSignature
	}
	return nil
}

// CheckReading checks what a reading can be checked for without the
// device's history: a forward interval of at most an hour inside one UTC
// hour, and no more energy than capacityW could produce in it.
func CheckReading(r Reading, capacityW uint64) error {
	switch {
	case r.End <= r.Start:
		return fmt.Errorf("%w: [%d, %d)", ErrEmptyInterval, r.Start, r.End)
	case r.End-r.Start > MaxReadingSeconds:
		return fmt.Errorf("%w: %d s", ErrLongInterval, r.End-r.Start)
	case HourOf(r.Start) != HourOf(r.End-1):
		return fmt.Errorf("%w: [%d, %d)", ErrCrossesHour, r.Start, r.End)
	}
	// Wh·3600 ≤ W·s, in 128 bits via ratio's exact arithmetic.
	limit, err := ratio([]uint64{capacityW, uint64(r.End - r.Start)}, nil)
	if err != nil {
		return err
	}
	whs, err := ratio([]uint64{r.Wh, 3600}, nil)
	if err != nil || whs > limit {
		return fmt.Errorf("%w: %d Wh in %d s, capacity %d W allows %d Wh", ErrOverCapacity, r.Wh, r.End-r.Start, capacityW, limit/3600)
	}
	return nil
}
