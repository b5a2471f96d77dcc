// Package tx owns what a Provena transaction is: addresses, the message
// kinds, the canonical binary encoding, and ed25519 signing and
// verification. It knows nothing about state; package app decides what a
// transaction does.
//
// # Wire format (version 1)
//
// All integers are big-endian and fixed width, so each transaction has one
// encoding and Decode rejects every other byte string:
//
//	version   1 byte  (1)
//	chain id  1 byte length (1..50) + bytes
//	nonce     8 bytes
//	fee       8 bytes (upv)
//	pubkey    32 bytes (ed25519)
//	msg type  2 bytes
//	msg body  4 bytes length + body (the message's canonical encoding)
//	signature 64 bytes
//
// The signature is ed25519 over SignDomain followed by every field above
// except the signature itself, so a signature for one chain, nonce, fee or
// message is worthless for any other.
package tx

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
)

const (
	// Version is the only encoding version Decode accepts.
	Version = 1
	// MaxTxBytes is the hard upper bound on an encoded transaction. The
	// chain's own limit (genesis params) may be lower, never higher.
	MaxTxBytes = 1 << 20
	// MaxChainIDLen matches CometBFT's limit on chain ids.
	MaxChainIDLen = 50
	// SignatureSize is the ed25519 signature length.
	SignatureSize = ed25519.SignatureSize
)

// SignDomain separates transaction signatures from any other use of an
// account key.
const SignDomain = "provena/tx/v1\x00"

// minTxBytes is the size of a transaction with a one-byte chain id and an
// empty body.
const minTxBytes = 1 + 1 + 1 + 8 + 8 + ed25519.PublicKeySize + 2 + 4 + SignatureSize

// Tx is a signed transaction carrying one message.
type Tx struct {
	ChainID   string
	Nonce     uint64 // the sender's account nonce: 0 for its first transaction
	Fee       uint64 // upv paid whatever the message's outcome
	PubKey    ed25519.PublicKey
	Msg       Msg
	Signature []byte
}

// TooLargeError reports a transaction over a size limit.
type TooLargeError struct {
	Size, Max int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("tx is %d bytes, limit is %d", e.Size, e.Max)
}

// Sign builds, signs and encodes a transaction.
func Sign(priv ed25519.PrivateKey, chainID string, nonce, fee uint64, msg Msg) ([]byte, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("sign tx: private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	t := &Tx{
		ChainID: chainID,
		Nonce:   nonce,
		Fee:     fee,
		PubKey:  priv.Public().(ed25519.PublicKey),
		Msg:     msg,
	}
	sb, err := t.SignBytes()
	if err != nil {
		return nil, fmt.Errorf("sign tx: %w", err)
	}
	t.Signature = ed25519.Sign(priv, sb)
	b, err := t.Encode()
	if err != nil {
		return nil, fmt.Errorf("sign tx: %w", err)
	}
	return b, nil
}

// SignBytes returns the bytes the sender signs.
func (t *Tx) SignBytes() ([]byte, error) {
	b := append(make([]byte, 0, 256), SignDomain...)
	return t.appendUnsigned(b)
}

func (t *Tx) appendUnsigned(b []byte) ([]byte, error) {
	if len(t.ChainID) == 0 || len(t.ChainID) > MaxChainIDLen {
		return nil, fmt.Errorf("chain id must be 1 to %d bytes, got %d", MaxChainIDLen, len(t.ChainID))
	}
	if len(t.PubKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key is %d bytes, want %d", len(t.PubKey), ed25519.PublicKeySize)
	}
	if t.Msg == nil {
		return nil, errors.New("tx has no message")
	}
	b = append(b, Version, byte(len(t.ChainID)))
	b = append(b, t.ChainID...)
	b = binary.BigEndian.AppendUint64(b, t.Nonce)
	b = binary.BigEndian.AppendUint64(b, t.Fee)
	b = append(b, t.PubKey...)
	b = binary.BigEndian.AppendUint16(b, uint16(t.Msg.Type()))
	lenAt := len(b)
	b = append(b, 0, 0, 0, 0)
	b = t.Msg.AppendBody(b)
	binary.BigEndian.PutUint32(b[lenAt:], uint32(len(b)-lenAt-4))
	return b, nil
}

// Encode returns the canonical wire bytes of a signed transaction.
func (t *Tx) Encode() ([]byte, error) {
	if len(t.Signature) != SignatureSize {
		return nil, fmt.Errorf("signature is %d bytes, want %d", len(t.Signature), SignatureSize)
	}
	b, err := t.appendUnsigned(make([]byte, 0, 256))
	if err != nil {
		return nil, err
	}
	b = append(b, t.Signature...)
	if len(b) > MaxTxBytes {
		return nil, &TooLargeError{Size: len(b), Max: MaxTxBytes}
	}
	return b, nil
}

// Decode parses wire bytes. It accepts only the canonical encoding (Encode of
// the result gives b back exactly) and never panics.
func Decode(b []byte) (*Tx, error) {
	if len(b) > MaxTxBytes {
		return nil, &TooLargeError{Size: len(b), Max: MaxTxBytes}
	}
	if len(b) < minTxBytes {
		return nil, fmt.Errorf("decode tx: %d bytes is shorter than the smallest tx (%d)", len(b), minTxBytes)
	}
	if b[0] != Version {
		return nil, fmt.Errorf("decode tx: unsupported version %d (want %d)", b[0], Version)
	}
	r := b[1:]
	n := int(r[0])
	r = r[1:]
	if n == 0 || n > MaxChainIDLen {
		return nil, fmt.Errorf("decode tx: chain id length %d out of range 1..%d", n, MaxChainIDLen)
	}
	// Fixed-size fields after the chain id: nonce, fee, pubkey, type, length, signature.
	if len(r) < n+8+8+ed25519.PublicKeySize+2+4+SignatureSize {
		return nil, errors.New("decode tx: truncated")
	}
	t := &Tx{ChainID: string(r[:n])}
	r = r[n:]
	t.Nonce = binary.BigEndian.Uint64(r)
	t.Fee = binary.BigEndian.Uint64(r[8:])
	r = r[16:]
	t.PubKey = ed25519.PublicKey(bytes.Clone(r[:ed25519.PublicKeySize]))
	r = r[ed25519.PublicKeySize:]
	mt := MsgType(binary.BigEndian.Uint16(r))
	bodyLen := binary.BigEndian.Uint32(r[2:])
	r = r[6:]
	if uint64(bodyLen) != uint64(len(r))-SignatureSize {
		return nil, fmt.Errorf("decode tx: message body length %d does not match the %d bytes left before the signature", bodyLen, len(r)-SignatureSize)
	}
	body := r[:bodyLen]
	t.Signature = bytes.Clone(r[bodyLen:])
	m, err := decodeMsg(mt, body)
	if err != nil {
		return nil, fmt.Errorf("decode tx: %w", err)
	}
	if !bytes.Equal(m.AppendBody(nil), body) {
		return nil, fmt.Errorf("decode tx: %s message body is not in canonical form", MsgName(mt))
	}
	t.Msg = m
	return t, nil
}

// Sender is the address of the signing key.
func (t *Tx) Sender() Address { return AddressFromPubKey(t.PubKey) }

// ErrBadSignature is returned by VerifySignature for a signature that does
// not verify.
var ErrBadSignature = errors.New("signature does not verify for the tx's public key")

// VerifySignature checks the signature with CometBFT's ed25519 rules
// (ZIP-215), the same rules its batch verifier applies, so a transaction
// verifies the same way whether checked alone or in a batch.
func (t *Tx) VerifySignature() error {
	sb, err := t.SignBytes()
	if err != nil {
		return fmt.Errorf("verify signature: %w", err)
	}
	if len(t.Signature) != SignatureSize {
		return fmt.Errorf("verify signature: signature is %d bytes, want %d", len(t.Signature), SignatureSize)
	}
	if !cmted25519.PubKey(t.PubKey).VerifySignature(sb, t.Signature) {
		return ErrBadSignature
	}
	return nil
}

// Hash returns SHA-256 of the raw transaction bytes, the same hash CometBFT
// indexes transactions by.
func Hash(b []byte) [32]byte { return sha256.Sum256(b) }

// BatchVerify checks the signatures of txs together. ok[i] reports whether
// txs[i] verified; a transaction that cannot be encoded fails. Batch
// verification is several times faster per signature than one by one.
func BatchVerify(txs []*Tx) (ok []bool) {
	ok = make([]bool, len(txs))
	if len(txs) == 0 {
		return ok
	}
	bv := cmted25519.NewBatchVerifier()
	idx := make([]int, 0, len(txs))
	for i, t := range txs {
		sb, err := t.SignBytes()
		if err != nil {
			continue
		}
		if err := bv.Add(cmted25519.PubKey(t.PubKey), sb, t.Signature); err != nil {
			continue
		}
		idx = append(idx, i)
	}
	if len(idx) == 0 {
		return ok
	}
	all, each := bv.Verify()
	for j, i := range idx {
		ok[i] = all || each[j]
	}
	return ok
}

// txJSON is the JSON view of a transaction for APIs and the CLI.
type txJSON struct {
	ChainID   string          `json:"chain_id"`
	Nonce     uint64          `json:"nonce"`
	Fee       uint64          `json:"fee"`
	Sender    Address         `json:"sender"`
	PubKey    string          `json:"pub_key"`
	Type      string          `json:"type"`
	Msg       json.RawMessage `json:"msg"`
	Signature string          `json:"signature"`
}

// MarshalJSON gives a readable view: hex keys and signature, the message
// under its registered name.
func (t *Tx) MarshalJSON() ([]byte, error) {
	if t.Msg == nil {
		return nil, errors.New("marshal tx: no message")
	}
	mj, err := json.Marshal(t.Msg)
	if err != nil {
		return nil, fmt.Errorf("marshal tx message: %w", err)
	}
	return json.Marshal(txJSON{
		ChainID:   t.ChainID,
		Nonce:     t.Nonce,
		Fee:       t.Fee,
		Sender:    t.Sender(),
		PubKey:    hex.EncodeToString(t.PubKey),
		Type:      MsgName(t.Msg.Type()),
		Msg:       mj,
		Signature: hex.EncodeToString(t.Signature),
	})
}
