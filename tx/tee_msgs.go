package tx

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/provena/provena/vault"
)

// Wire types of the teeML messages (400-499), executed by app/tee_*.go.
// Bodies are canonical JSON, like the data module's.
const (
	TypeTeeConfig   MsgType = 400
	TypeTeeAllow    MsgType = 401
	TypeTeeRegister MsgType = 402
)

// Limits of the teeML messages.
const (
	// TeeMaxQuote equals tee.MaxQuoteSize (a test checks it); tx does not
	// import tee, which carries the vendor verifiers.
	TeeMaxQuote = 64 << 10
	// TeeMaxCert bounds a VCEK certificate.
	TeeMaxCert = 8 << 10
	// TeeMaxSimRoots bounds the simulated roots a chain trusts.
	TeeMaxSimRoots = 8
	// TeeMaxAgeLimit bounds the freshness parameter (one year, seconds).
	TeeMaxAgeLimit = 365 * 24 * 3600
)

// TeeKinds are the attestation kinds messages may name (tee.Kinds).
var TeeKinds = []string{"tdx", "sev-snp", "nitro", "sim"}

func init() {
	RegisterMsg(TypeTeeConfig, "tee_config", jsonDecoder[MsgTeeConfig]())
	RegisterMsg(TypeTeeAllow, "tee_allow", jsonDecoder[MsgTeeAllow]())
	RegisterMsg(TypeTeeRegister, "tee_register", jsonDecoder[MsgTeeRegister]())
}

// MsgTeeConfig fixes the module's chain-wide settings: the simulated
// attestation roots it trusts (hex ed25519 keys; empty: none, simulated
// quotes are rejected) and the freshness of an attestation in seconds. It
// is the module's genesis: accepted only in the chain's first blocks
// (app.TeeConfigMaxHeight), once, before any registration, since
// app.Genesis has no field for it (see docs/tee.md).
type MsgTeeConfig struct {
	SimRoots   []string `json:"sim_roots"`
	MaxAgeSecs uint64   `json:"max_age_secs"`
}

// MsgTeeAllow lets the owner of a registered model allow (or, with
// Revoke, withdraw) an enclave code identity for it: a kind and the hex
// measurement tee.Report.Measurement gives.
type MsgTeeAllow struct {
	ModelID     string `json:"model_id"`
	Kind        string `json:"kind"`
	Measurement string `json:"measurement"`
	Revoke      bool   `json:"revoke,omitempty"`
}

// MsgTeeRegister is a worker's attestation for a model: the quote, the
// keys its report data must bind (tee.BindingReportData): the sender's
// ed25519 key and the enclave's age X25519 recipient, which requesters
// encrypt inputs to. VCEK is the SEV-SNP chip certificate (DER), empty
// for other kinds.
type MsgTeeRegister struct {
	ModelID string `json:"model_id"`
	Kind    string `json:"kind"`
	Quote   []byte `json:"quote"`
	SignKey []byte `json:"sign_key"`
	X25519  string `json:"x25519"`
	VCEK    []byte `json:"vcek,omitempty"`
}

func (MsgTeeConfig) Type() MsgType   { return TypeTeeConfig }
func (MsgTeeAllow) Type() MsgType    { return TypeTeeAllow }
func (MsgTeeRegister) Type() MsgType { return TypeTeeRegister }

func (m MsgTeeConfig) AppendBody(b []byte) []byte   { return appendJSON(b, m) }
func (m MsgTeeAllow) AppendBody(b []byte) []byte    { return appendJSON(b, m) }
func (m MsgTeeRegister) AppendBody(b []byte) []byte { return appendJSON(b, m) }

// ValidateBasic implements Msg.
func (m MsgTeeConfig) ValidateBasic() error {
	if len(m.SimRoots) > TeeMaxSimRoots {
		return fmt.Errorf("tee config: %d simulated roots, limit %d", len(m.SimRoots), TeeMaxSimRoots)
	}
	for i, r := range m.SimRoots {
		if b, err := hex.DecodeString(r); err != nil || len(b) != ed25519.PublicKeySize || hex.EncodeToString(b) != r {
			return fmt.Errorf("tee config: sim_roots[%d] must be %d lowercase hex bytes", i, ed25519.PublicKeySize)
		}
	}
	if m.MaxAgeSecs < 1 || m.MaxAgeSecs > TeeMaxAgeLimit {
		return fmt.Errorf("tee config: max_age_secs %d out of range 1..%d", m.MaxAgeSecs, TeeMaxAgeLimit)
	}
	return nil
}

// ValidateBasic implements Msg.
func (m MsgTeeAllow) ValidateBasic() error {
	if _, err := ParseTeeModelID(m.ModelID); err != nil {
		return fmt.Errorf("tee allow: %w", err)
	}
	if err := checkTeeKind(m.Kind); err != nil {
		return fmt.Errorf("tee allow: %w", err)
	}
	if b, err := hex.DecodeString(m.Measurement); err != nil || len(b) < 16 || len(b) > 64 || hex.EncodeToString(b) != m.Measurement {
		return errors.New("tee allow: measurement must be 16 to 64 lowercase hex bytes")
	}
	return nil
}

// ValidateBasic implements Msg.
func (m MsgTeeRegister) ValidateBasic() error {
	if _, err := ParseTeeModelID(m.ModelID); err != nil {
		return fmt.Errorf("tee register: %w", err)
	}
	if err := checkTeeKind(m.Kind); err != nil {
		return fmt.Errorf("tee register: %w", err)
	}
	if len(m.Quote) == 0 || len(m.Quote) > TeeMaxQuote {
		return fmt.Errorf("tee register: quote is %d bytes, want 1..%d", len(m.Quote), TeeMaxQuote)
	}
	if len(m.SignKey) != ed25519.PublicKeySize {
		return fmt.Errorf("tee register: sign_key is %d bytes, want %d", len(m.SignKey), ed25519.PublicKeySize)
	}
	if _, err := vault.ParseRecipient(m.X25519); err != nil {
		return fmt.Errorf("tee register: x25519: %w", err)
	}
	if len(m.VCEK) > TeeMaxCert || (len(m.VCEK) > 0 && m.Kind != "sev-snp") {
		return errors.New("tee register: vcek is only for kind sev-snp, at most 8 KiB")
	}
	return nil
}

// ParseTeeModelID reads a 64-character lowercase hex model id.
func ParseTeeModelID(s string) ([32]byte, error) {
	var id [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 || hex.EncodeToString(b) != s {
		return id, fmt.Errorf("model id %q must be 64 lowercase hex characters", s)
	}
	copy(id[:], b)
	return id, nil
}

func checkTeeKind(k string) error {
	for _, want := range TeeKinds {
		if k == want {
			return nil
		}
	}
	return fmt.Errorf("kind %q: want one of %v", k, TeeKinds)
}
