package energy

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/provena/provena/energy/wire"
)

// ReceiptDomain separates receipt signatures from every other use of a
// worker key.
const ReceiptDomain = "provena/energy/receipt/v1\x00"

// receiptVersion leads the encoding.
const receiptVersion = 1

// Limits on receipt fields.
const (
	MaxJobIDLen = 128
	MaxZoneLen  = 32
	maxRefLen   = 128
)

// IntensitySource says where a receipt's grid intensity came from.
type IntensitySource uint8

// Intensity sources. Synthetic series are for demos and tests and must be
// shown as such.
const (
	SourceAnnual    IntensitySource = 1 // zone annual average (Electricity Maps yearly, ODbL)
	SourceOracle    IntensitySource = 2 // hourly value posted on chain by a registered oracle
	SourceSynthetic IntensitySource = 3 // hourly value from SyntheticHourly
)

func (s IntensitySource) String() string {
	switch s {
	case SourceAnnual:
		return "annual-average"
	case SourceOracle:
		return "hourly-oracle"
	case SourceSynthetic:
		return "hourly-synthetic"
	}
	return fmt.Sprintf("source(%d)", uint8(s))
}

// Intensity is the location-based grid intensity I of the worker's zone
// for the hour the job ran.
type Intensity struct {
	MgPerKWh uint64          `json:"mg_co2e_per_kwh"`
	Source   IntensitySource `json:"source"`
	Ref      string          `json:"ref"` // e.g. "electricitymaps:2024:DE" or the oracle's address
}

// Embodied are the SCI's embodied-carbon inputs: M = TE × (TiR/EL) ×
// (RR/ToR), with TiR the job's wall time.
type Embodied struct {
	TotalG        uint64 `json:"total_embodied_g"`    // TE, gCO2e of the whole machine
	LifespanHours uint64 `json:"expected_lifespan_h"` // EL
	ReservedVCPUs uint32 `json:"reserved_vcpus"`      // RR
	TotalVCPUs    uint32 `json:"machine_vcpus"`       // ToR
}

// Receipt is a worker's signed account of one job's energy and carbon.
// Its energy is computed from Evidence, never stored beside it.
type Receipt struct {
	JobID      string            `json:"job_id"`
	Worker     ed25519.PublicKey `json:"worker"`
	Zone       string            `json:"zone"`
	StartMs    int64             `json:"start_unix_ms"`
	EndMs      int64             `json:"end_unix_ms"`
	Inferences uint64            `json:"inferences"` // R
	Evidence   Evidence          `json:"-"`
	Intensity  Intensity         `json:"intensity"`
	Embodied   Embodied          `json:"embodied"`
	Signature  []byte            `json:"signature,omitempty"`
}

// Validate checks the receipt's fields (not the signature).
func (r *Receipt) Validate() error {
	switch {
	case r.JobID == "" || len(r.JobID) > MaxJobIDLen:
		return fmt.Errorf("receipt: job id must be 1..%d bytes", MaxJobIDLen)
	case len(r.Worker) != ed25519.PublicKeySize:
		return fmt.Errorf("receipt: worker key is %d bytes, want %d", len(r.Worker), ed25519.PublicKeySize)
	case r.Zone == "" || len(r.Zone) > MaxZoneLen:
		return fmt.Errorf("receipt: zone must be 1..%d bytes", MaxZoneLen)
	case r.EndMs <= r.StartMs || r.StartMs < 0:
		return fmt.Errorf("receipt: end %d must be after start %d (unix ms)", r.EndMs, r.StartMs)
	case uint64(r.EndMs-r.StartMs) > maxWallMs:
		return errors.New("receipt: job longer than a year")
	case r.Inferences == 0:
		return errors.New("receipt: inferences (R) must be positive")
	case r.Evidence == nil:
		return errors.New("receipt: no evidence (measured counters or an estimate)")
	case r.Intensity.Source < SourceAnnual || r.Intensity.Source > SourceSynthetic:
		return fmt.Errorf("receipt: unknown intensity source %d", r.Intensity.Source)
	case r.Intensity.MgPerKWh > 5_000_000:
		return fmt.Errorf("receipt: intensity %d mg/kWh is implausible (> 5 kg/kWh)", r.Intensity.MgPerKWh)
	case len(r.Intensity.Ref) > maxRefLen:
		return fmt.Errorf("receipt: intensity ref longer than %d bytes", maxRefLen)
	case r.Embodied.LifespanHours == 0 || r.Embodied.TotalVCPUs == 0:
		return errors.New("receipt: embodied lifespan and machine vcpus must be positive")
	case r.Embodied.ReservedVCPUs == 0 || r.Embodied.ReservedVCPUs > r.Embodied.TotalVCPUs:
		return fmt.Errorf("receipt: reserved vcpus %d must be 1..%d", r.Embodied.ReservedVCPUs, r.Embodied.TotalVCPUs)
	case r.Embodied.TotalG > 1e9:
		return errors.New("receipt: embodied carbon above 1000 t is implausible")
	}
	if err := r.Evidence.validate(); err != nil {
		return fmt.Errorf("receipt: %w", err)
	}
	if e, ok := r.Evidence.(*Estimated); ok {
		if uint64(r.EndMs-r.StartMs) != e.WallMs {
			return fmt.Errorf("receipt: estimate's wall time %d ms differs from end-start %d ms", e.WallMs, r.EndMs-r.StartMs)
		}
	}
	return nil
}

// Method is the receipt's method, from its evidence.
func (r *Receipt) Method() Method {
	if r.Evidence == nil {
		return 0
	}
	return r.Evidence.Method()
}

// Hour is the UTC hour the job started in, as unix seconds.
func (r *Receipt) Hour() int64 { return HourOf(r.StartMs / 1000) }

// HourOf truncates unix seconds to the start of their UTC hour.
func HourOf(unix int64) int64 { return unix - ((unix%3600)+3600)%3600 }

func (r *Receipt) appendUnsigned(b []byte) []byte {
	b = wire.AppendU8(b, receiptVersion)
	b = wire.AppendString(b, r.JobID)
	b = append(b, r.Worker...)
	b = wire.AppendString(b, r.Zone)
	b = wire.AppendI64(b, r.StartMs)
	b = wire.AppendI64(b, r.EndMs)
	b = wire.AppendU64(b, r.Inferences)
	switch e := r.Evidence.(type) {
	case *Estimated:
		b = wire.AppendU8(b, uint8(MethodEstimated))
		b = wire.AppendString(b, e.Family)
		b = wire.AppendU64(b, e.MinMilliW)
		b = wire.AppendU64(b, e.MaxMilliW)
		b = wire.AppendU32(b, e.VCPUs)
		b = wire.AppendU64(b, e.WallMs)
		b = wire.AppendU64(b, e.CPUMs)
		b = wire.AppendU32(b, e.PUEMilli)
	case *Measured:
		b = wire.AppendU8(b, uint8(MethodMeasured))
		b = wire.AppendU8(b, uint8(len(e.Counters)))
		for _, c := range e.Counters {
			b = wire.AppendString(b, c.Zone)
			b = wire.AppendU64(b, c.StartUJ)
			b = wire.AppendU64(b, c.EndUJ)
			b = wire.AppendU64(b, c.MaxRangeUJ)
		}
		b = wire.AppendU32(b, e.PUEMilli)
	}
	b = wire.AppendU64(b, r.Intensity.MgPerKWh)
	b = wire.AppendU8(b, uint8(r.Intensity.Source))
	b = wire.AppendString(b, r.Intensity.Ref)
	b = wire.AppendU64(b, r.Embodied.TotalG)
	b = wire.AppendU64(b, r.Embodied.LifespanHours)
	b = wire.AppendU32(b, r.Embodied.ReservedVCPUs)
	return wire.AppendU32(b, r.Embodied.TotalVCPUs)
}

// SignBytes are the bytes the worker signs.
func (r *Receipt) SignBytes() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r.appendUnsigned([]byte(ReceiptDomain)), nil
}

// Sign validates the receipt and signs it with the worker's key, which
// must match r.Worker.
func (r *Receipt) Sign(priv ed25519.PrivateKey) error {
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("sign receipt: private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	if !priv.Public().(ed25519.PublicKey).Equal(r.Worker) {
		return errors.New("sign receipt: key is not the receipt's worker key")
	}
	sb, err := r.SignBytes()
	if err != nil {
		return fmt.Errorf("sign receipt: %w", err)
	}
	r.Signature = ed25519.Sign(priv, sb)
	return nil
}

// Verify checks the receipt's fields and the worker's signature.
func (r *Receipt) Verify() error {
	sb, err := r.SignBytes()
	if err != nil {
		return fmt.Errorf("verify receipt: %w", err)
	}
	if len(r.Signature) != ed25519.SignatureSize || !ed25519.Verify(r.Worker, sb, r.Signature) {
		return errors.New("verify receipt: bad worker signature")
	}
	return nil
}

// Encode returns the canonical bytes of a signed receipt.
func (r *Receipt) Encode() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("encode receipt: %w", err)
	}
	if len(r.Signature) != ed25519.SignatureSize {
		return nil, errors.New("encode receipt: not signed")
	}
	return append(r.appendUnsigned(nil), r.Signature...), nil
}

// DecodeReceipt parses Encode's output and validates the fields (call
// Verify for the signature). It never panics.
func DecodeReceipt(b []byte) (*Receipt, error) {
	rd := wire.NewReader(b)
	if v := rd.U8("version"); rd.Err() == nil && v != receiptVersion {
		return nil, fmt.Errorf("decode receipt: version %d, want %d", v, receiptVersion)
	}
	r := &Receipt{}
	r.JobID = rd.String(MaxJobIDLen, "job id")
	r.Worker = rd.Fixed(ed25519.PublicKeySize, "worker key")
	r.Zone = rd.String(MaxZoneLen, "zone")
	r.StartMs = rd.I64("start")
	r.EndMs = rd.I64("end")
	r.Inferences = rd.U64("inferences")
	switch m := Method(rd.U8("method")); {
	case rd.Err() != nil:
	case m == MethodEstimated:
		e := &Estimated{}
		e.Family = rd.String(64, "cpu family")
		e.MinMilliW = rd.U64("min mW")
		e.MaxMilliW = rd.U64("max mW")
		e.VCPUs = rd.U32("vcpus")
		e.WallMs = rd.U64("wall ms")
		e.CPUMs = rd.U64("cpu ms")
		e.PUEMilli = rd.U32("pue")
		r.Evidence = e
	case m == MethodMeasured:
		e := &Measured{}
		n := int(rd.U8("counters"))
		if n > 16 {
			return nil, fmt.Errorf("decode receipt: %d counters, at most 16", n)
		}
		for i := 0; i < n && rd.Err() == nil; i++ {
			e.Counters = append(e.Counters, Counter{
				Zone: rd.String(64, "counter zone"), StartUJ: rd.U64("start uj"), EndUJ: rd.U64("end uj"), MaxRangeUJ: rd.U64("max uj"),
			})
		}
		e.PUEMilli = rd.U32("pue")
		r.Evidence = e
	default:
		return nil, fmt.Errorf("decode receipt: unknown method %d", m)
	}
	r.Intensity.MgPerKWh = rd.U64("intensity")
	r.Intensity.Source = IntensitySource(rd.U8("intensity source"))
	r.Intensity.Ref = rd.String(maxRefLen, "intensity ref")
	r.Embodied.TotalG = rd.U64("embodied g")
	r.Embodied.LifespanHours = rd.U64("lifespan")
	r.Embodied.ReservedVCPUs = rd.U32("reserved vcpus")
	r.Embodied.TotalVCPUs = rd.U32("total vcpus")
	r.Signature = rd.Fixed(ed25519.SignatureSize, "signature")
	if err := rd.Done(); err != nil {
		return nil, fmt.Errorf("decode receipt: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("decode receipt: %w", err)
	}
	return r, nil
}

// ReceiptJSON is the display form of a receipt with its computed figures.
type ReceiptJSON struct {
	JobID      string     `json:"job_id"`
	Worker     string     `json:"worker"`
	Zone       string     `json:"zone"`
	Start      time.Time  `json:"start"`
	End        time.Time  `json:"end"`
	Method     string     `json:"method"`
	Estimated  *Estimated `json:"estimate,omitempty"`
	Measured   *Measured  `json:"measurement,omitempty"`
	Intensity  Intensity  `json:"intensity"`
	SourceName string     `json:"intensity_source"`
	Embodied   Embodied   `json:"embodied"`
	SCI        SCI        `json:"sci"`
}

// JSON returns the display form; it fails if the figures cannot be computed.
func (r *Receipt) JSON() (ReceiptJSON, error) {
	s, err := ComputeSCI(r)
	if err != nil {
		return ReceiptJSON{}, err
	}
	j := ReceiptJSON{
		JobID: r.JobID, Worker: fmt.Sprintf("%x", []byte(r.Worker)), Zone: r.Zone,
		Start: time.UnixMilli(r.StartMs).UTC(), End: time.UnixMilli(r.EndMs).UTC(),
		Method: r.Method().String(), Intensity: r.Intensity, SourceName: r.Intensity.Source.String(),
		Embodied: r.Embodied, SCI: s,
	}
	switch e := r.Evidence.(type) {
	case *Estimated:
		j.Estimated = e
	case *Measured:
		j.Measured = e
	}
	return j, nil
}
