// Package vault owns client-side encryption of Provena data assets with age
// (filippo.io/age, X25519): account data keys, per-version asset keys, and
// key wrapping for grants. Nothing here touches the ledger or the network;
// nodes only ever see what this package outputs.
//
// # Account data keys
//
// Each account has an X25519 key derived from its ed25519 seed:
//
//	scalar = HKDF-SHA256(secret = ed25519 seed (32 bytes), salt = none,
//	                     info = "provena/vault/x25519/v1", length = 32)
//	identity = age.ParseX25519Identity(bech32("AGE-SECRET-KEY-", scalar))
//
// so the keyring holds no second secret. Others cannot compute the public
// half from an address, so the account publishes its recipient ("age1…")
// on chain once (the data module's set-data-key message); grants are
// wrapped to that recipient.
//
// # Asset keys
//
// Each version of an asset is age-encrypted to its own random X25519
// identity, the asset key. A grant is that identity's text form age-encrypted
// to the grantee's account recipient (WrapKey). Revocation cannot take back a
// key already given: the owner publishes the next version under a new asset
// key wrapped only to the remaining grantees.
package vault

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
)

// DeriveInfo is the HKDF info label of account data keys.
const DeriveInfo = "provena/vault/x25519/v1"

// AccountIdentity derives an account's X25519 data identity from its
// ed25519 private key.
func AccountIdentity(priv ed25519.PrivateKey) (*age.X25519Identity, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("derive data key: private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	scalar, err := hkdf.Key(sha256.New, priv.Seed(), nil, DeriveInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive data key: %w", err)
	}
	id, err := age.ParseX25519Identity(strings.ToUpper(bech32Encode("age-secret-key-", scalar)))
	if err != nil {
		return nil, fmt.Errorf("derive data key: %w", err)
	}
	return id, nil
}

// ParseRecipient parses an "age1…" X25519 recipient and requires its
// canonical form, so that one key has one text on chain.
func ParseRecipient(s string) (*age.X25519Recipient, error) {
	r, err := age.ParseX25519Recipient(s)
	if err != nil {
		return nil, fmt.Errorf("parse data key: %w", err)
	}
	if r.String() != s {
		return nil, fmt.Errorf("parse data key: %q is not in canonical lowercase form", s)
	}
	return r, nil
}

// NewAssetKey returns a fresh random asset key for one asset version.
func NewAssetKey() (*age.X25519Identity, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("new asset key: %w", err)
	}
	return id, nil
}

// Encrypt age-encrypts src to dst for key's recipient: a standard age v1
// file whose payload chunks are sealed on every CPU (stream.go).
func Encrypt(dst io.Writer, src io.Reader, key *age.X25519Identity) error {
	if err := encryptParallel(dst, src, key.Recipient()); err != nil {
		return fmt.Errorf("encrypt: %w", err)
	}
	return nil
}

func encryptTo(dst io.Writer, src io.Reader, to age.Recipient) error {
	w, err := age.Encrypt(dst, to)
	if err != nil {
		return fmt.Errorf("encrypt: %w", err)
	}
	if _, err := io.Copy(w, src); err != nil {
		return fmt.Errorf("encrypt: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("encrypt: %w", err)
	}
	return nil
}

// Seal age-encrypts a small message (a job's prompt or answer) to every
// recipient at once, for instance the requester and the worker that must
// read it; any one of their identities opens it with Open.
func Seal(plain []byte, to ...*age.X25519Recipient) ([]byte, error) {
	if len(to) == 0 {
		return nil, errors.New("seal: no recipients")
	}
	rs := make([]age.Recipient, len(to))
	for i, r := range to {
		rs[i] = r
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rs...)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if _, err := w.Write(plain); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return buf.Bytes(), nil
}

// Open decrypts Seal's output with one of its recipients' identities,
// reading at most limit bytes of plaintext.
func Open(sealed []byte, id *age.X25519Identity, limit int64) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(sealed), id)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("open: plaintext over %d bytes", limit)
	}
	return b, nil
}

// Decrypt age-decrypts src to dst with key. A wrong key fails before any
// plaintext is written; a tampered payload fails at the damaged chunk.
// Any age v1 file for key opens, whoever wrote it; its payload chunks are
// opened on every CPU (stream.go), and written in order.
func Decrypt(dst io.Writer, src io.Reader, key *age.X25519Identity) error {
	if err := decryptParallel(dst, src, key); err != nil {
		return fmt.Errorf("decrypt: %w", err)
	}
	return nil
}

// WrapKey encrypts an asset key to a grantee's recipient.
func WrapKey(key *age.X25519Identity, to *age.X25519Recipient) ([]byte, error) {
	var buf bytes.Buffer
	if err := encryptTo(&buf, strings.NewReader(key.String()), to); err != nil {
		return nil, fmt.Errorf("wrap key: %w", err)
	}
	return buf.Bytes(), nil
}

// UnwrapKey decrypts a wrapped asset key with the grantee's identity.
func UnwrapKey(wrapped []byte, id *age.X25519Identity) (*age.X25519Identity, error) {
	if err := CheckWrapped(wrapped); err != nil {
		return nil, err
	}
	r, err := age.Decrypt(bytes.NewReader(wrapped), id)
	if err != nil {
		return nil, fmt.Errorf("unwrap key: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(r, 256))
	if err != nil {
		return nil, fmt.Errorf("unwrap key: %w", err)
	}
	key, err := age.ParseX25519Identity(string(b))
	if err != nil {
		return nil, errors.New("unwrap key: the wrapped payload is not an asset key")
	}
	return key, nil
}

// Wrapped-key bounds: an age header with one X25519 stanza, then the
// 74-character identity sealed in one payload chunk (16-byte nonce, 16-byte
// tag).
const (
	MaxWrappedLen     = 512
	wrappedPayloadLen = 16 + 74 + 16
	ageMagic          = "age-encryption.org/v1\n"
)

// CheckWrapped checks, without any key, that b has the shape of a wrapped
// asset key: an age file whose header is one X25519 stanza and whose
// payload is exactly one sealed identity. It is deterministic, so the
// ledger uses it to refuse malformed grants.
func CheckWrapped(b []byte) error {
	if len(b) > MaxWrappedLen {
		return fmt.Errorf("wrapped key is %d bytes, limit %d", len(b), MaxWrappedLen)
	}
	if !bytes.HasPrefix(b, []byte(ageMagic+"-> X25519 ")) {
		return errors.New("wrapped key is not an age file for one X25519 recipient")
	}
	hdr, err := age.ExtractHeader(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("wrapped key: %v", err)
	}
	if !bytes.Equal(hdr, b[:len(hdr)]) {
		return errors.New("wrapped key: header is not canonical")
	}
	if strings.Count(string(hdr), "\n-> ") != 1 {
		return errors.New("wrapped key: header must hold exactly one recipient stanza")
	}
	if n := len(b) - len(hdr); n != wrappedPayloadLen {
		return fmt.Errorf("wrapped key: payload is %d bytes, want %d", n, wrappedPayloadLen)
	}
	return nil
}
