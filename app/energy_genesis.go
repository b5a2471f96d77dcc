package app

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/provena/provena/energy"
)

// energyKeyAuthority holds the ed25519 public key that may set the oracle
// set. Only the genesis writes it, so no transaction can seize the oracles.
var energyKeyAuthority = []byte("e/authority")

// EnergyGenesis is the "energy" section of Genesis.Modules.
type EnergyGenesis struct {
	// Authority is the hex ed25519 public key allowed to sign
	// tx.MsgEnergySetOracles. Development chains name
	// energy.DevAuthorityKey, whose seed is public; a network whose carbon
	// figures matter names a key of its own.
	Authority string `json:"authority"`
}

// DevEnergyGenesis is the energy section of development and test chains:
// it names the public development authority, explicitly.
func DevEnergyGenesis() json.RawMessage {
	pub := energy.DevAuthorityKey().Public().(ed25519.PublicKey)
	b, _ := json.Marshal(EnergyGenesis{Authority: hex.EncodeToString(pub)})
	return b
}

func init() {
	RegisterGenesisModule("energy", func(ctx *Context, raw json.RawMessage) error {
		var g EnergyGenesis
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&g); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		pub, err := hex.DecodeString(g.Authority)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return fmt.Errorf("authority %q is not a hex ed25519 public key", g.Authority)
		}
		return ctx.Set(energyKeyAuthority, pub)
	})
}

// energyAuthority is the key the genesis named, or nil when it named none.
func energyAuthority(ctx *Context) (ed25519.PublicKey, error) {
	b, err := ctx.Get(energyKeyAuthority)
	if err != nil {
		return nil, fmt.Errorf("load energy authority: %w", err)
	}
	return ed25519.PublicKey(b), nil
}
