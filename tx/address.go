package tx

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// AddressLen is the length of an account address in bytes.
const AddressLen = 20

// AddressPrefix starts the text form of every address.
const AddressPrefix = "pv"

// Address identifies an account: the first 20 bytes of SHA-256 of the
// account's ed25519 public key. This is how CometBFT derives an ed25519
// validator address, so a validator's consensus key is also an account.
type Address [AddressLen]byte

// AddressFromPubKey derives the account address of pub.
func AddressFromPubKey(pub ed25519.PublicKey) Address {
	sum := sha256.Sum256(pub)
	var a Address
	copy(a[:], sum[:AddressLen])
	return a
}

// String returns "pv" followed by 40 lowercase hex characters.
func (a Address) String() string {
	return AddressPrefix + hex.EncodeToString(a[:])
}

// Bytes returns the 20 address bytes.
func (a Address) Bytes() []byte { return a[:] }

// IsZero reports whether a is the all-zero address.
func (a Address) IsZero() bool { return a == Address{} }

// MarshalText implements encoding.TextMarshaler so JSON shows the text form.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Address) UnmarshalText(b []byte) error {
	p, err := ParseAddress(string(b))
	if err != nil {
		return err
	}
	*a = p
	return nil
}

// ParseAddress parses the text form produced by String. Only lowercase hex is
// accepted so that every address has exactly one text form.
func ParseAddress(s string) (Address, error) {
	var a Address
	if !strings.HasPrefix(s, AddressPrefix) {
		return a, fmt.Errorf("parse address %q: missing %q prefix", s, AddressPrefix)
	}
	h := s[len(AddressPrefix):]
	if len(h) != 2*AddressLen {
		return a, fmt.Errorf("parse address %q: want %d hex characters after %q, got %d", s, 2*AddressLen, AddressPrefix, len(h))
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return a, fmt.Errorf("parse address %q: character %q at %d is not lowercase hex", s, c, len(AddressPrefix)+i)
		}
	}
	if _, err := hex.Decode(a[:], []byte(h)); err != nil {
		return a, fmt.Errorf("parse address %q: %w", s, err)
	}
	return a, nil
}

// AddressFromBytes converts a 20-byte slice, such as CometBFT's
// ProposerAddress, to an Address.
func AddressFromBytes(b []byte) (Address, error) {
	var a Address
	if len(b) != AddressLen {
		return a, fmt.Errorf("address must be %d bytes, got %d", AddressLen, len(b))
	}
	copy(a[:], b)
	return a, nil
}
