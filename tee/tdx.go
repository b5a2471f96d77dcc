package tee

import (
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	tdxverify "github.com/google/go-tdx-guest/verify"
)

// intelRootPEM is go-tdx-guest@v0.3.1's verify/trusted_root.pem (Intel
// SGX Root CA), passed explicitly: when the library falls back to its own
// copy it logs a warning to stdout, which would corrupt --json output.
//
//go:embed intel_sgx_root.pem
var intelRootPEM []byte

var intelRoots = func() *x509.CertPool {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(intelRootPEM) {
		panic("tee: embedded Intel root does not parse")
	}
	return p
}()

// tdxSignedSize is what the attestation key signs in a v4 quote: the
// 48-byte header and the 584-byte TD quote body.
const tdxSignedSize = 48 + 584

// offlineGetter answers collateral requests from what the caller supplied
// and never from the network.
type offlineGetter map[string]HTTPResponse

func (g offlineGetter) Get(url string) (map[string][]string, []byte, error) {
	r, ok := g[url]
	if !ok {
		return nil, nil, fmt.Errorf("collateral %s not supplied (offline verification)", url)
	}
	return r.Header, r.Body, nil
}

func verifyTDX(quote []byte, opts Options) (*Report, error) {
	parsed, err := abi.QuoteToProto(quote)
	if err != nil {
		return nil, fmt.Errorf("parse quote: %w", err)
	}
	q, ok := parsed.(*pb.QuoteV4)
	if !ok {
		return nil, fmt.Errorf("quote format %T is not supported (want v4)", parsed)
	}
	vo := &tdxverify.Options{Now: opts.Now, Getter: offlineGetter(nil), TrustedRoots: intelRoots}
	status := "unchecked"
	if len(opts.Collateral.TDX) > 0 {
		// The library only reads collateral through its getter; ours is
		// the supplied map, so "GetCollateral" stays offline.
		vo.GetCollateral, vo.CheckRevocations = true, true
		vo.Getter = offlineGetter(opts.Collateral.TDX)
		// With collateral the library rejects any TCB level but UpToDate.
		status = "UpToDate"
	}
	if err := tdxverify.TdxQuote(q, vo); err != nil {
		return nil, err
	}
	body := q.GetTdQuoteBody()
	rep := &Report{
		Measurement: fmt.Sprintf("%x", body.GetMrTd()),
		Measurements: []Measurement{
			{"MRTD", fmt.Sprintf("%x", body.GetMrTd())},
			{"MRSEAM", fmt.Sprintf("%x", body.GetMrSeam())},
			{"MRCONFIGID", fmt.Sprintf("%x", body.GetMrConfigId())},
			{"MROWNER", fmt.Sprintf("%x", body.GetMrOwner())},
		},
		TCB: TCB{Status: status, SVN: fmt.Sprintf("%x", body.GetTeeTcbSvn())},
	}
	for i, r := range body.GetRtmrs() {
		rep.Measurements = append(rep.Measurements, Measurement{fmt.Sprintf("RTMR%d", i), fmt.Sprintf("%x", r)})
	}
	// QuoteToProto has checked the quote is longer than tdxSignedSize.
	rep.QuoteID = fmt.Sprintf("%x", sha256.Sum256(quote[:tdxSignedSize]))
	if n := copy(rep.ReportData[:], body.GetReportData()); n != 64 {
		return nil, fmt.Errorf("report data is %d bytes, want 64", n)
	}
	certs, err := pemCerts(q.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetPckCertificateChainData().GetPckCertChain())
	if err != nil {
		return nil, fmt.Errorf("pck chain: %w", err)
	}
	rep.NotBefore, rep.NotAfter = chainWindow(certs)
	rep.Platform = certs[0].Subject.CommonName
	return rep, nil
}

func pemCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate")
	}
	return out, nil
}
