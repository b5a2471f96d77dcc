// Package tee verifies hardware attestations (teeML): Intel TDX quotes,
// AMD SEV-SNP reports and AWS Nitro Enclaves documents, with the vendors'
// own Go libraries, plus Provena's simulated attestations (see tee/sim).
//
// Use Verify(kind, quote, Options{Now: t}). Verification is offline and
// deterministic: the caller supplies "now" (the block time on chain, never
// the wall clock) and any collateral; nothing is fetched from the network.
// The result is a Report: the measured code identity, the 64 bytes of report
// data the enclave chose (Provena binds a worker's keys there, see
// BindingReportData), and the TCB information.
//
// # Kinds
//
//   - "tdx": a TDX quote v4 (go-tdx-guest). Without collateral the PCK
//     certificate chain up to Intel's embedded root, the QE report and the
//     quote signature are checked, and the TCB status is "unchecked".
//   - "sev-snp": a raw SEV-SNP attestation report (go-sev-guest) plus its
//     VCEK certificate in Options.Collateral; ASK and ARK are AMD's embedded
//     roots.
//   - "nitro": a COSE_Sign1 attestation document (nitrite), chained to the
//     AWS Nitro root unless Options.Collateral.NitroRoots says otherwise.
//   - "sim": a simulated quote, accepted only when its root is one of
//     Options.SimRoots (the genesis names them); Report.Simulated is set.
package tee

import (
	"crypto/ed25519"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// Kinds, as written in messages and on the command line.
const (
	KindTDX    = "tdx"
	KindSEVSNP = "sev-snp"
	KindNitro  = "nitro"
	KindSim    = "sim"
)

// Kinds lists the kinds Verify accepts, in a fixed order.
var Kinds = []string{KindTDX, KindSEVSNP, KindNitro, KindSim}

// MaxQuoteSize bounds a quote before any parsing: real TDX quotes are about
// 5 KiB, Nitro documents about 4.5 KiB.
const MaxQuoteSize = 64 << 10

// ErrUnknownKind is returned for a kind not in Kinds.
var ErrUnknownKind = errors.New("unknown attestation kind")

// Options are the inputs of a verification besides the quote.
type Options struct {
	// Now is the time at which certificates are checked. It is required:
	// a zero Now is an error, so that no verifier falls back to the clock.
	Now time.Time
	// Collateral is what a kind needs beyond the quote itself.
	Collateral Collateral
	// SimRoots are the simulated attestation roots this verifier trusts;
	// empty means simulated quotes are rejected.
	SimRoots []ed25519.PublicKey
}

// Collateral is per-kind verification material supplied by the caller.
type Collateral struct {
	// TDX maps Intel PCS URLs to their responses (TCB info, QE identity,
	// CRLs). When set, TCB status and revocation are checked from it and
	// nothing else: an URL it lacks is an error, never a network request.
	TDX map[string]HTTPResponse
	// SNPVCEK is the DER VCEK certificate of the chip that signed the report.
	SNPVCEK []byte
	// SNPProduct is the product line of that chip ("Milan", "Genoa"); empty
	// means "Milan".
	SNPProduct string
	// NitroRoots replaces the AWS Nitro root (tests with their own CA).
	NitroRoots []*x509.Certificate
}

// HTTPResponse is one stored answer of a collateral service.
type HTTPResponse struct {
	Header map[string][]string `json:"header,omitempty"`
	Body   []byte              `json:"body"`
}

// Measurement is one named code-identity register.
type Measurement struct {
	Name string `json:"name"`
	Hex  string `json:"hex"`
}

// TCB is the trusted computing base the quote reports.
type TCB struct {
	// Status is "UpToDate", "OutOfDate", ... when collateral was checked,
	// "unchecked" when the kind's TCB collateral was not supplied, or
	// "SIMULATED".
	Status string `json:"status"`
	// SVN is the raw security version(s), hex.
	SVN string `json:"svn"`
}

// Report is a verified attestation.
type Report struct {
	Kind string `json:"kind"`
	// Simulated is true for quotes signed by a simulated root: they prove
	// nothing about hardware.
	Simulated bool `json:"simulated"`
	// Measurement is the register allow-lists match: TDX MRTD, SEV-SNP
	// MEASUREMENT, Nitro PCR0, the simulated measurement.
	Measurement string `json:"measurement"`
	// Measurements lists every register, in the vendor's order.
	Measurements []Measurement `json:"measurements"`
	ReportData   [64]byte      `json:"-"`
	// QuoteID is SHA-256 of what the vendor key signed (not of the quote
	// bytes: TDX quotes may carry unsigned trailing bytes, and ECDSA
	// signatures are malleable), so one attestation has one id however
	// it is re-encoded. The ledger refuses a QuoteID seen before.
	QuoteID   string `json:"quote_id"`
	ReportHex string `json:"report_data"`
	TCB       TCB    `json:"tcb"`
	// Platform names the signer: the PCK certificate subject, the SEV chip
	// id, the Nitro module id, the simulated root.
	Platform string `json:"platform"`
	// NotBefore and NotAfter bound the validity of the certificates used.
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// IssuedAt is when the quote was made, where the format says (Nitro,
	// simulated); zero otherwise.
	IssuedAt time.Time `json:"issued_at,omitzero"`
}

// Verify checks quote as an attestation of the given kind at opts.Now and
// returns what it attests. Any failure (parse, certificate chain, validity
// at Now, signature, TCB, root not trusted) is an error; a non-nil Report
// is only returned with a nil error.
func Verify(kind string, quote []byte, opts Options) (rep *Report, err error) {
	if opts.Now.IsZero() {
		return nil, errors.New("verify attestation: no time given (Options.Now)")
	}
	if len(quote) == 0 {
		return nil, fmt.Errorf("verify %s attestation: empty quote", kind)
	}
	if len(quote) > MaxQuoteSize {
		return nil, fmt.Errorf("verify %s attestation: quote is %d bytes, limit %d", kind, len(quote), MaxQuoteSize)
	}
	// The vendor parsers are not all hardened (nitrite panics on an
	// unknown curve); a panic in them is a rejected quote, not a crash.
	defer func() {
		if r := recover(); r != nil {
			rep, err = nil, fmt.Errorf("verify %s attestation: malformed quote: %v", kind, r)
		}
	}()
	switch kind {
	case KindTDX:
		rep, err = verifyTDX(quote, opts)
	case KindSEVSNP:
		rep, err = verifySNP(quote, opts)
	case KindNitro:
		rep, err = verifyNitro(quote, opts)
	case KindSim:
		rep, err = verifySim(quote, opts)
	default:
		return nil, fmt.Errorf("verify attestation: %w %q (want one of %v)", ErrUnknownKind, kind, Kinds)
	}
	if err != nil {
		return nil, fmt.Errorf("verify %s attestation: %w", kind, err)
	}
	rep.Kind = kind
	rep.ReportHex = fmt.Sprintf("%x", rep.ReportData[:])
	return rep, nil
}

// bindingDomain separates the binding hash from any other use of SHA-512.
const bindingDomain = "provena/tee/bind/v1\x00"

// BindingReportData is the report data a worker's enclave must put in its
// quote: SHA-512 of a domain tag, the worker's ed25519 signing key and its
// age X25519 recipient ("age1..."). The chain recomputes it, so a quote
// made for other keys (another worker, another machine) does not count.
func BindingReportData(signKey ed25519.PublicKey, x25519Recipient string) [64]byte {
	h := sha512.New()
	h.Write([]byte(bindingDomain))
	h.Write(signKey)
	h.Write([]byte(x25519Recipient))
	var out [64]byte
	copy(out[:], h.Sum(nil))
	return out
}

// chainWindow narrows [nb, na] to the validity of each certificate.
func chainWindow(certs []*x509.Certificate) (nb, na time.Time) {
	for _, c := range certs {
		if nb.IsZero() || c.NotBefore.After(nb) {
			nb = c.NotBefore
		}
		if na.IsZero() || c.NotAfter.Before(na) {
			na = c.NotAfter
		}
	}
	return nb.UTC(), na.UTC()
}
