package tee

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/google/go-tdx-guest/pcs"
)

// CollateralInfo summarises a verified collateral set: what a ledger keeps
// beside the responses, to order sets and to show them.
type CollateralInfo struct {
	Kind string `json:"kind"`
	// FMSPC is the platform family the TCB info lists levels for.
	FMSPC string `json:"fmspc"`
	// Issued is the TCB info's issue date: the set's date.
	Issued                  time.Time `json:"issued"`
	QEIdentityIssued        time.Time `json:"qe_identity_issued"`
	PCKCRLIssued            time.Time `json:"pck_crl_issued"` // the oldest PCK CRL in the set
	RootCRLIssued           time.Time `json:"root_crl_issued"`
	NextUpdate              time.Time `json:"next_update"` // the earliest nextUpdate of any part
	TCBEvaluationDataNumber int       `json:"tcb_evaluation_data_number"`
	TCBLevels               int       `json:"tcb_levels"`
	PCKCAs                  []string  `json:"pck_cas"` // "platform", "processor"
}

// Supersedes says whether c may replace old: its TCB info is strictly
// newer, and no other part is older than old's, so that a newer TCB info
// cannot carry an older CRL back (un-revoking a certificate).
func (c CollateralInfo) Supersedes(old CollateralInfo) error {
	switch {
	case !c.Issued.After(old.Issued):
		return fmt.Errorf("TCB info issued %s is not newer than the stored one's (%s)", c.Issued.Format(time.RFC3339), old.Issued.Format(time.RFC3339))
	case c.QEIdentityIssued.Before(old.QEIdentityIssued):
		return fmt.Errorf("QE identity issued %s is older than the stored one's (%s)", c.QEIdentityIssued.Format(time.RFC3339), old.QEIdentityIssued.Format(time.RFC3339))
	case c.PCKCRLIssued.Before(old.PCKCRLIssued):
		return fmt.Errorf("PCK CRL issued %s is older than the stored one's (%s)", c.PCKCRLIssued.Format(time.RFC3339), old.PCKCRLIssued.Format(time.RFC3339))
	case c.RootCRLIssued.Before(old.RootCRLIssued):
		return fmt.Errorf("root CA CRL issued %s is older than the stored one's (%s)", c.RootCRLIssued.Format(time.RFC3339), old.RootCRLIssued.Format(time.RFC3339))
	}
	return nil
}

// Intel PCS issuer-chain headers and certificate subjects (the PCS API).
const (
	hdrTcbInfoChain  = "Tcb-Info-Issuer-Chain"
	hdrQEIDChain     = "Sgx-Enclave-Identity-Issuer-Chain"
	hdrPCKCRLChain   = "Sgx-Pck-Crl-Issuer-Chain"
	cnTCBSigning     = "Intel SGX TCB Signing"
	tdxTCBInfoPrefix = "https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc="
)

// pckCAName is the PCK CRL issuer's subject for each ca= parameter.
var pckCAName = map[string]string{"platform": "Intel SGX PCK Platform CA", "processor": "Intel SGX PCK Processor CA"}

// VerifyTDXCollateral checks a set of Intel PCS responses on its own,
// without a quote, at now: exactly one TDX TCB info, the TDX QE identity,
// the Intel root CA CRL and one or two PCK CRLs, each signed through an
// issuer chain ending at the embedded Intel SGX Root CA, none of whose
// signing certificates the root CRL revokes, each valid at now (issued
// before, nextUpdate after). A set that passes is self-authenticating:
// whoever posts it, Intel signed every part. Any other URL is an error, so
// nothing but collateral can be stored this way.
func VerifyTDXCollateral(set map[string]HTTPResponse, now time.Time) (*CollateralInfo, error) {
	if now.IsZero() {
		return nil, errors.New("verify tdx collateral: no time given")
	}
	root, err := x509.ParseCertificate(firstPEM(intelRootPEM))
	if err != nil {
		return nil, fmt.Errorf("verify tdx collateral: embedded root: %w", err)
	}
	info := &CollateralInfo{Kind: KindTDX}
	// Sorted, so the first error reported is the same on every machine.
	urls := make([]string, 0, len(set))
	for u := range set {
		urls = append(urls, u)
	}
	sort.Strings(urls)

	// The root CRL first: it decides whether the other parts' signing
	// certificates still count.
	rootCRLURL := ""
	if len(root.CRLDistributionPoints) > 0 {
		rootCRLURL = root.CRLDistributionPoints[0]
	}
	r, ok := set[rootCRLURL]
	if !ok || rootCRLURL == "" {
		return nil, fmt.Errorf("verify tdx collateral: root CA CRL (%s) missing", rootCRLURL)
	}
	rootCRL, err := checkCRL("root CA CRL", r.Body, root, now)
	if err != nil {
		return nil, fmt.Errorf("verify tdx collateral: %w", err)
	}
	info.RootCRLIssued, info.NextUpdate = rootCRL.ThisUpdate.UTC(), rootCRL.NextUpdate.UTC()
	earliest := func(t time.Time) {
		if t.Before(info.NextUpdate) {
			info.NextUpdate = t.UTC()
		}
	}

	var sawTCB, sawQE bool
	for _, u := range urls {
		r := set[u]
		var err error
		switch {
		case u == rootCRLURL:
			continue
		case strings.HasPrefix(u, tdxTCBInfoPrefix):
			if sawTCB {
				return nil, errors.New("verify tdx collateral: more than one TCB info (one FMSPC per set)")
			}
			sawTCB = true
			var ti pcs.TdxTcbInfo
			err = checkSignedJSON("TCB info", "tcbInfo", r, hdrTcbInfoChain, root, rootCRL, now, &ti)
			if err == nil {
				t := ti.TcbInfo
				switch {
				case t.ID != "TDX":
					err = fmt.Errorf("TCB info id %q, want TDX", t.ID)
				case u != pcs.TcbInfoURL(t.Fmspc):
					err = fmt.Errorf("TCB info for fmspc %q stored under %s", t.Fmspc, u)
				case len(t.TcbLevels) == 0:
					err = errors.New("TCB info lists no TCB level")
				default:
					err = checkWindow("TCB info", t.IssueDate, t.NextUpdate, now)
				}
				info.FMSPC, info.Issued, info.TCBLevels = t.Fmspc, t.IssueDate.UTC(), len(t.TcbLevels)
				info.TCBEvaluationDataNumber = t.TcbEvaluationDataNumber
				earliest(t.NextUpdate)
			}
		case u == pcs.QeIdentityURL():
			sawQE = true
			var qe pcs.QeIdentity
			err = checkSignedJSON("QE identity", "enclaveIdentity", r, hdrQEIDChain, root, rootCRL, now, &qe)
			if err == nil {
				e := qe.EnclaveIdentity
				if e.ID != "TD_QE" {
					err = fmt.Errorf("QE identity id %q, want TD_QE", e.ID)
				} else {
					err = checkWindow("QE identity", e.IssueDate, e.NextUpdate, now)
				}
				info.QEIdentityIssued = e.IssueDate.UTC()
				earliest(e.NextUpdate)
			}
		default:
			ca := ""
			for _, c := range []string{"platform", "processor"} {
				if u == pcs.PckCrlURL(c) {
					ca = c
				}
			}
			if ca == "" {
				return nil, fmt.Errorf("verify tdx collateral: %s is not an Intel PCS collateral URL", u)
			}
			var crl *x509.RevocationList
			crl, err = checkPCKCRL(ca, r, root, rootCRL, now)
			if err == nil {
				if info.PCKCRLIssued.IsZero() || crl.ThisUpdate.Before(info.PCKCRLIssued) {
					info.PCKCRLIssued = crl.ThisUpdate.UTC()
				}
				earliest(crl.NextUpdate)
				info.PCKCAs = append(info.PCKCAs, ca)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("verify tdx collateral: %w", err)
		}
	}
	switch {
	case !sawTCB:
		return nil, errors.New("verify tdx collateral: no TDX TCB info")
	case !sawQE:
		return nil, errors.New("verify tdx collateral: no TDX QE identity")
	case len(info.PCKCAs) == 0:
		return nil, errors.New("verify tdx collateral: no PCK CRL")
	}
	return info, nil
}

// checkWindow says whether a document issued at issued and due for
// replacement at next is current at now.
func checkWindow(what string, issued, next, now time.Time) error {
	if now.Before(issued) {
		return fmt.Errorf("%s issued %s, after the time of verification %s", what, issued.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if now.After(next) {
		return fmt.Errorf("%s is outdated: its nextUpdate %s has passed (time of verification %s)", what, next.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkCRL parses a DER CRL signed by issuer and current at now.
func checkCRL(what string, der []byte, issuer *x509.Certificate, now time.Time) (*x509.RevocationList, error) {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("%s: signature: %w", what, err)
	}
	if err := checkWindow(what, crl.ThisUpdate, crl.NextUpdate, now); err != nil {
		return nil, err
	}
	return crl, nil
}

// issuerChain reads a PCS issuer-chain header (URL-escaped PEM: signing
// certificate, root) and checks it: the root is the embedded Intel root,
// the signing certificate has subject cn, is signed by it, valid at now and
// not on the root CRL.
func issuerChain(r HTTPResponse, header, cn string, root *x509.Certificate, rootCRL *x509.RevocationList, now time.Time) (*x509.Certificate, error) {
	vals := r.Header[header]
	if len(vals) != 1 {
		return nil, fmt.Errorf("header %s: %d values, want 1", header, len(vals))
	}
	chain, err := url.QueryUnescape(vals[0])
	if err != nil {
		return nil, fmt.Errorf("header %s: %w", header, err)
	}
	certs, err := pemCerts([]byte(chain))
	if err != nil {
		return nil, fmt.Errorf("header %s: %w", header, err)
	}
	if len(certs) != 2 || !certs[1].Equal(root) {
		return nil, fmt.Errorf("header %s: want a signing certificate and the Intel SGX Root CA", header)
	}
	sc := certs[0]
	if sc.Subject.CommonName != cn {
		return nil, fmt.Errorf("header %s: signing certificate is %q, want %q", header, sc.Subject.CommonName, cn)
	}
	if err := sc.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("header %s: signing certificate: %w", header, err)
	}
	if now.Before(sc.NotBefore) || now.After(sc.NotAfter) {
		return nil, fmt.Errorf("header %s: signing certificate valid %s .. %s, not at %s", header,
			sc.NotBefore.UTC().Format(time.RFC3339), sc.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	for _, rc := range rootCRL.RevokedCertificateEntries {
		if rc.SerialNumber.Cmp(sc.SerialNumber) == 0 {
			return nil, fmt.Errorf("header %s: signing certificate %x revoked by the root CA CRL", header, sc.SerialNumber)
		}
	}
	return sc, nil
}

// checkSignedJSON verifies a PCS JSON response {"<field>": {...},
// "signature": hex r||s}: the signature over the field's exact bytes, by
// the TCB signing certificate of its issuer chain; then decodes it into v.
func checkSignedJSON(what, field string, r HTTPResponse, header string, root *x509.Certificate, rootCRL *x509.RevocationList, now time.Time, v any) error {
	sc, err := issuerChain(r, header, cnTCBSigning, root, rootCRL, now)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var sigHex string
	if err := json.Unmarshal(raw["signature"], &sigHex); err != nil {
		return fmt.Errorf("%s: signature: %w", what, err)
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil || len(sig) != 64 {
		return fmt.Errorf("%s: signature must be 64 hex bytes (r||s)", what)
	}
	pub, ok := sc.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("%s: signing key is %T, want ECDSA", what, sc.PublicKey)
	}
	body, ok := raw[field]
	if !ok {
		return fmt.Errorf("%s: no %q field", what, field)
	}
	h := sha256.Sum256(body)
	if !ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return fmt.Errorf("%s: signature does not verify under %q", what, sc.Subject.CommonName)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func checkPCKCRL(ca string, r HTTPResponse, root *x509.Certificate, rootCRL *x509.RevocationList, now time.Time) (*x509.RevocationList, error) {
	what := "PCK CRL (" + ca + ")"
	sc, err := issuerChain(r, hdrPCKCRLChain, pckCAName[ca], root, rootCRL, now)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return checkCRL(what, r.Body, sc, now)
}

func firstPEM(b []byte) []byte {
	blk, _ := pem.Decode(bytes.TrimSpace(b))
	if blk == nil {
		return nil
	}
	return blk.Bytes
}
