package tee

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/google/go-sev-guest/abi"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"
)

func verifySNP(quote []byte, opts Options) (*Report, error) {
	if len(quote) != abi.ReportSize {
		return nil, fmt.Errorf("report is %d bytes, want %d", len(quote), abi.ReportSize)
	}
	if len(opts.Collateral.SNPVCEK) == 0 {
		return nil, errors.New("no VCEK certificate supplied (collateral)")
	}
	vcek, err := x509.ParseCertificate(opts.Collateral.SNPVCEK)
	if err != nil {
		return nil, fmt.Errorf("parse VCEK: %w", err)
	}
	report, err := abi.ReportToProto(quote)
	if err != nil {
		return nil, fmt.Errorf("parse report: %w", err)
	}
	line := opts.Collateral.SNPProduct
	if line == "" {
		line = "Milan"
	}
	product, err := productFromLine(line)
	if err != nil {
		return nil, err
	}
	roots, err := trust.GetDefaultRootCerts(line)
	if err != nil {
		return nil, fmt.Errorf("amd roots for %s: %w", line, err)
	}
	att := &spb.Attestation{
		Report: report,
		CertificateChain: &spb.CertificateChain{
			VcekCert: opts.Collateral.SNPVCEK,
			AskCert:  roots.ProductCerts.Ask.Raw,
			ArkCert:  roots.ProductCerts.Ark.Raw,
		},
		Product: product,
	}
	vo := &verify.Options{Now: opts.Now, DisableCertFetching: true, Product: product, Getter: noGetter{}}
	if err := verify.SnpAttestation(att, vo); err != nil {
		return nil, err
	}
	rep := &Report{
		Measurement: fmt.Sprintf("%x", report.GetMeasurement()),
		Measurements: []Measurement{
			{"MEASUREMENT", fmt.Sprintf("%x", report.GetMeasurement())},
			{"HOST_DATA", fmt.Sprintf("%x", report.GetHostData())},
			{"ID_KEY_DIGEST", fmt.Sprintf("%x", report.GetIdKeyDigest())},
		},
		TCB: TCB{
			// The VCEK is issued for one reported TCB, which the library
			// checks; whether that TCB is current needs AMD's list.
			Status: "unchecked",
			SVN:    fmt.Sprintf("current=%016x reported=%016x committed=%016x", report.GetCurrentTcb(), report.GetReportedTcb(), report.GetCommittedTcb()),
		},
		Platform: fmt.Sprintf("chip %x", report.GetChipId()),
	}
	copy(rep.ReportData[:], report.GetReportData())
	rep.QuoteID = fmt.Sprintf("%x", sha256.Sum256(quote[:snpSignedSize]))
	rep.NotBefore, rep.NotAfter = chainWindow([]*x509.Certificate{vcek, roots.ProductCerts.Ask, roots.ProductCerts.Ark})
	return rep, nil
}

// snpSignedSize is the part of a report the VCEK signs (the signature
// starts at 0x2A0).
const snpSignedSize = 0x2A0

func productFromLine(line string) (*spb.SevProduct, error) {
	switch line {
	case "Milan":
		return &spb.SevProduct{Name: spb.SevProduct_SEV_PRODUCT_MILAN}, nil
	case "Genoa":
		return &spb.SevProduct{Name: spb.SevProduct_SEV_PRODUCT_GENOA}, nil
	}
	return nil, fmt.Errorf("unknown SEV-SNP product line %q (want Milan or Genoa)", line)
}

// noGetter refuses every fetch: verification is offline.
type noGetter struct{}

func (noGetter) Get(url string) ([]byte, error) {
	return nil, fmt.Errorf("fetch %s: offline verification", url)
}
