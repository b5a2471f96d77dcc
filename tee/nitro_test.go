package tee_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/provena/provena/tee"
)

// No real Nitro attestation document ships in any module we can use, so
// these tests build documents the way the Nitro Security Module does
// (COSE_Sign1, ES384, CBOR payload, leaf + CA bundle) under a test CA of
// our own, passed as Collateral.NitroRoots. The default AWS root must then
// reject them: that is the case nitrite reports through its error while
// still returning a Result.
type nitroFixture struct {
	root     *x509.Certificate
	rootKey  *ecdsa.PrivateKey
	leaf     *x509.Certificate
	leafKey  *ecdsa.PrivateKey
	notAfter time.Time
}

func newNitroFixture(t testing.TB) *nitroFixture {
	t.Helper()
	f := &nitroFixture{notAfter: date(2027, 1, 1)}
	var err error
	f.rootKey, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	f.leafKey, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "provena test nitro root"},
		NotBefore: date(2024, 1, 1), NotAfter: date(2030, 1, 1),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &f.rootKey.PublicKey, f.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	f.root, _ = x509.ParseCertificate(der)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "i-test-enc0"},
		NotBefore: date(2025, 1, 1), NotAfter: f.notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err = x509.CreateCertificate(rand.Reader, leafTmpl, f.root, &f.leafKey.PublicKey, f.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	f.leaf, _ = x509.ParseCertificate(der)
	return f
}

type nitroDoc struct {
	ModuleID    string          `cbor:"module_id"`
	Timestamp   uint64          `cbor:"timestamp"`
	Digest      string          `cbor:"digest"`
	PCRs        map[uint][]byte `cbor:"pcrs"`
	Certificate []byte          `cbor:"certificate"`
	CABundle    [][]byte        `cbor:"cabundle"`
	PublicKey   []byte          `cbor:"public_key,omitempty"`
	UserData    []byte          `cbor:"user_data,omitempty"`
	Nonce       []byte          `cbor:"nonce,omitempty"`
}

type coseSign1 struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected map[int]any
	Payload     []byte
	Signature   []byte
}

type sigStructure struct {
	_           struct{} `cbor:",toarray"`
	Context     string
	Protected   []byte
	ExternalAAD []byte
	Payload     []byte
}

func (f *nitroFixture) document(t testing.TB, userData []byte, pcr0 byte) []byte {
	t.Helper()
	pcrs := map[uint][]byte{}
	for i := uint(0); i < 4; i++ {
		pcrs[i] = bytes.Repeat([]byte{pcr0 + byte(i)}, 48)
	}
	payload, err := cbor.Marshal(nitroDoc{
		ModuleID: "i-test-enc0", Timestamp: uint64(date(2026, 1, 1).UnixMilli()), Digest: "SHA384",
		PCRs: pcrs, Certificate: f.leaf.Raw, CABundle: [][]byte{f.root.Raw}, UserData: userData,
	})
	if err != nil {
		t.Fatal(err)
	}
	protected, _ := cbor.Marshal(map[int]any{1: -35})
	toSign, _ := cbor.Marshal(sigStructure{Context: "Signature1", Protected: protected, ExternalAAD: []byte{}, Payload: payload})
	h := sha512.Sum384(toSign)
	r, s, err := ecdsa.Sign(rand.Reader, f.leafKey, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 96)
	r.FillBytes(sig[:48])
	s.FillBytes(sig[48:])
	out, err := cbor.Marshal(coseSign1{Protected: protected, Unprotected: map[int]any{}, Payload: payload, Signature: sig})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifyNitroTestCA(t *testing.T) {
	f := newNitroFixture(t)
	rd := bytes.Repeat([]byte{7}, 64)
	doc := f.document(t, rd, 0xa0)
	ours := tee.Collateral{NitroRoots: []*x509.Certificate{f.root}}
	other := newNitroFixture(t)
	tests := []struct {
		name    string
		doc     []byte
		col     tee.Collateral
		at      time.Time
		wantErr string
	}{
		{"test root, inside validity", doc, ours, date(2026, 6, 1), ""},
		{"aws root rejects the test chain", doc, tee.Collateral{}, date(2026, 6, 1), "unknown authority"},
		{"another test root", doc, tee.Collateral{NitroRoots: []*x509.Certificate{other.root}}, date(2026, 6, 1), "unknown authority"},
		{"leaf expired", doc, ours, date(2027, 2, 1), "expired"},
		{"leaf not yet valid", doc, ours, date(2024, 6, 1), "expired"},
		{"user data over 64 bytes", f.document(t, bytes.Repeat([]byte{1}, 65), 0), ours, date(2026, 6, 1), "user_data is 65 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := tee.Verify(tee.KindNitro, tc.doc, tee.Options{Now: tc.at, Collateral: tc.col})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || rep != nil {
					t.Fatalf("err = %v (report %v), want %q", err, rep != nil, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.Measurement != strings.Repeat("a0", 48) || !bytes.Equal(rep.ReportData[:], rd) || len(rep.Measurements) != 4 || rep.Measurements[3].Name != "PCR3" {
				t.Fatalf("report %+v", rep)
			}
			if !rep.IssuedAt.Equal(date(2026, 1, 1)) || !rep.NotAfter.Equal(f.notAfter) {
				t.Fatalf("issued %s not after %s", rep.IssuedAt, rep.NotAfter)
			}
		})
	}
	t.Run("every byte", func(t *testing.T) {
		opts := tee.Options{Now: date(2026, 6, 1), Collateral: ours}
		q := bytes.Clone(doc)
		for i := range q {
			q[i] ^= 0x01
			if _, err := tee.Verify(tee.KindNitro, q, opts); err == nil {
				t.Errorf("byte %d of %d flipped: accepted", i, len(q))
			}
			q[i] ^= 0x01
		}
	})
}
