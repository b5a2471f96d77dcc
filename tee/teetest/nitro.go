// Package teetest builds attestation material for tests and benchmarks:
// AWS Nitro attestation documents under a test CA, since no real Nitro
// document is available in any module Provena can use.
package teetest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Nitro is a test CA and an enclave leaf certificate, shaped like the Nitro
// Security Module's: P-384 keys, ECDSA-SHA384 signatures.
type Nitro struct {
	Root    *x509.Certificate
	Leaf    *x509.Certificate
	leafKey *ecdsa.PrivateKey
}

// NewNitro makes a root valid 2024-2030 and a leaf valid from notBefore
// to notAfter.
func NewNitro(notBefore, notAfter time.Time) (*Nitro, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "provena test nitro root"},
		NotBefore: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("nitro test root: %w", err)
	}
	n := &Nitro{leafKey: leafKey}
	if n.Root, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "i-test-enc0"},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if der, err = x509.CreateCertificate(rand.Reader, leafTmpl, n.Root, &leafKey.PublicKey, rootKey); err != nil {
		return nil, fmt.Errorf("nitro test leaf: %w", err)
	}
	if n.Leaf, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	return n, nil
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

// Document returns a signed attestation document issued at ts with PCR i =
// 48 bytes of pcr0+i (i = 0..3) and userData.
func (n *Nitro) Document(ts time.Time, userData []byte, pcr0 byte) ([]byte, error) {
	pcrs := map[uint][]byte{}
	for i := uint(0); i < 4; i++ {
		pcrs[i] = bytes.Repeat([]byte{pcr0 + byte(i)}, 48)
	}
	payload, err := cbor.Marshal(nitroDoc{
		ModuleID: "i-test-enc0", Timestamp: uint64(ts.UnixMilli()), Digest: "SHA384",
		PCRs: pcrs, Certificate: n.Leaf.Raw, CABundle: [][]byte{n.Root.Raw}, UserData: userData,
	})
	if err != nil {
		return nil, err
	}
	protected, err := cbor.Marshal(map[int]any{1: -35})
	if err != nil {
		return nil, err
	}
	toSign, err := cbor.Marshal(sigStructure{Context: "Signature1", Protected: protected, ExternalAAD: []byte{}, Payload: payload})
	if err != nil {
		return nil, err
	}
	h := sha512.Sum384(toSign)
	r, s, err := ecdsa.Sign(rand.Reader, n.leafKey, h[:])
	if err != nil {
		return nil, err
	}
	sig := make([]byte, 96)
	r.FillBytes(sig[:48])
	s.FillBytes(sig[48:])
	return cbor.Marshal(coseSign1{Protected: protected, Unprotected: map[int]any{}, Payload: payload, Signature: sig})
}
