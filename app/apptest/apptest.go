// Package apptest builds deterministic keys, genesis files and signed
// transactions for tests of the ledger and of what runs on it.
package apptest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/provena/provena/app"
	"github.com/provena/provena/tx"
)

// ChainID is the chain id the helpers sign for.
const ChainID = "provena-test"

// Key returns the i-th deterministic test key.
func Key(i int) ed25519.PrivateKey {
	seed := sha256.Sum256(fmt.Appendf(nil, "provena test key %d", i))
	return ed25519.NewKeyFromSeed(seed[:])
}

// Addr returns the address of priv.
func Addr(priv ed25519.PrivateKey) tx.Address {
	return tx.AddressFromPubKey(priv.Public().(ed25519.PublicKey))
}

// Genesis returns app_state JSON giving each of keys balance upv.
func Genesis(p app.Params, balance uint64, keys ...ed25519.PrivateKey) []byte {
	g := app.Genesis{Params: p, Modules: map[string]json.RawMessage{"energy": app.DevEnergyGenesis()}}
	for _, k := range keys {
		g.Accounts = append(g.Accounts, app.GenesisAccount{Address: Addr(k).String(), Balance: balance})
	}
	b, err := json.Marshal(g)
	if err != nil {
		panic(err) // plain structs always marshal
	}
	return b
}

// Sign signs msg for ChainID; it panics on error, which for valid test
// inputs cannot happen.
func Sign(priv ed25519.PrivateKey, nonce, fee uint64, msg tx.Msg) []byte {
	b, err := tx.Sign(priv, ChainID, nonce, fee, msg)
	if err != nil {
		panic(err)
	}
	return b
}

// Transfer is Sign of a MsgTransfer.
func Transfer(from ed25519.PrivateKey, nonce, fee uint64, to tx.Address, amount uint64) []byte {
	return Sign(from, nonce, fee, tx.MsgTransfer{To: to, Amount: amount})
}
