package tee

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hf/nitrite"
)

func verifyNitro(quote []byte, opts Options) (*Report, error) {
	vo := nitrite.VerifyOptions{CurrentTime: opts.Now}
	if len(opts.Collateral.NitroRoots) > 0 {
		vo.Roots = x509.NewCertPool()
		for _, c := range opts.Collateral.NitroRoots {
			vo.Roots.AddCert(c)
		}
	}
	res, err := nitrite.Verify(quote, vo)
	// nitrite returns a Result with an error when the chain or the
	// signature fails; only the error decides.
	if err != nil {
		return nil, err
	}
	if res == nil || res.Document == nil || !res.SignatureOK {
		return nil, errors.New("nitro document not verified")
	}
	doc := res.Document
	if len(doc.UserData) > 64 {
		return nil, fmt.Errorf("user_data is %d bytes, want at most 64", len(doc.UserData))
	}
	pcr0, ok := doc.PCRs[0]
	if !ok {
		return nil, errors.New("document has no PCR0")
	}
	rep := &Report{
		Measurement: fmt.Sprintf("%x", pcr0),
		TCB:         TCB{Status: "not reported", SVN: ""},
		Platform:    doc.ModuleID,
		IssuedAt:    time.UnixMilli(int64(doc.Timestamp)).UTC(),
	}
	idx := make([]uint, 0, len(doc.PCRs))
	for i := range doc.PCRs {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		rep.Measurements = append(rep.Measurements, Measurement{fmt.Sprintf("PCR%d", i), fmt.Sprintf("%x", doc.PCRs[i])})
	}
	copy(rep.ReportData[:], doc.UserData)
	// COSESign1 is the Sig_structure the leaf key signed.
	rep.QuoteID = fmt.Sprintf("%x", sha256.Sum256(res.COSESign1))
	rep.NotBefore, rep.NotAfter = chainWindow(res.Certificates)
	return rep, nil
}
