package energy

import (
	"crypto/ed25519"
	"crypto/sha256"
)

// devAuthoritySeed is public on purpose: see DevAuthorityKey.
const devAuthoritySeed = "provena energy oracle-set authority for development chains (this seed is public)"

// DevAuthorityKey is the key that authorises the ledger's oracle set
// (tx.MsgEnergySetOracles) on development and test chains. Its seed is in
// this source file, so anyone can sign with it. The ledger only honours the
// key that its genesis names (modules.energy.authority, docs/genesis.md):
// local chains name this one explicitly; a chain whose oracles matter names
// its own.
func DevAuthorityKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte(devAuthoritySeed))
	return ed25519.NewKeyFromSeed(seed[:])
}
