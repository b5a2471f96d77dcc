package app

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/provena/provena/tx"
)

// State layout. Every key starts with a one-letter namespace and '/'.
var (
	prefixAccount   = []byte("a/") // a/<20-byte address> -> Account binary
	prefixUnbonding = []byte("q/") // q/<8-byte BE height><address> -> empty: unbonding that matures then
	keyParams       = []byte("p/params")
	keyChainID      = []byte("p/chain_id")
	keySupply       = []byte("s/supply")
)

// AccountKey is the state key of an account, the key its proofs are for.
func AccountKey(a tx.Address) []byte {
	return append(append(make([]byte, 0, len(prefixAccount)+tx.AddressLen), prefixAccount...), a[:]...)
}

func unbondingQueueKey(height int64, a tx.Address) []byte {
	k := append(make([]byte, 0, len(prefixUnbonding)+8+tx.AddressLen), prefixUnbonding...)
	k = binary.BigEndian.AppendUint64(k, uint64(height))
	return append(k, a[:]...)
}

func unbondingQueuePrefix(height int64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), prefixUnbonding...), uint64(height))
}

// Account is the state of one address. A missing account reads as the zero
// Account.
type Account struct {
	Balance   uint64           // spendable upv
	Nonce     uint64           // number of transactions sent; the next tx must carry it
	Bonded    uint64           // upv locked as stake
	Unbonding []UnbondingEntry // stake on its way back, oldest first
}

// UnbondingEntry is stake that becomes balance at the end of block MaturesAt.
type UnbondingEntry struct {
	Amount    uint64
	MaturesAt int64
}

// accountVersion leads the account encoding so that a later layout can be
// told apart.
const accountVersion = 1

// maxUnbondingEntries bounds an account's queue so one account cannot grow
// its state value without limit.
const maxUnbondingEntries = 32

// Encode returns the canonical binary form stored in state.
func (a *Account) Encode() []byte {
	b := make([]byte, 0, 1+8*3+2+16*len(a.Unbonding))
	b = append(b, accountVersion)
	b = binary.BigEndian.AppendUint64(b, a.Balance)
	b = binary.BigEndian.AppendUint64(b, a.Nonce)
	b = binary.BigEndian.AppendUint64(b, a.Bonded)
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.Unbonding)))
	for _, e := range a.Unbonding {
		b = binary.BigEndian.AppendUint64(b, e.Amount)
		b = binary.BigEndian.AppendUint64(b, uint64(e.MaturesAt))
	}
	return b
}

// DecodeAccount parses Encode's output (for instance a proven state value).
func DecodeAccount(b []byte) (Account, error) {
	var a Account
	if len(b) < 27 {
		return a, fmt.Errorf("decode account: %d bytes, want at least 27", len(b))
	}
	if b[0] != accountVersion {
		return a, fmt.Errorf("decode account: version %d, want %d", b[0], accountVersion)
	}
	a.Balance = binary.BigEndian.Uint64(b[1:])
	a.Nonce = binary.BigEndian.Uint64(b[9:])
	a.Bonded = binary.BigEndian.Uint64(b[17:])
	n := int(binary.BigEndian.Uint16(b[25:]))
	if len(b) != 27+16*n {
		return Account{}, fmt.Errorf("decode account: %d bytes for %d unbonding entries, want %d", len(b), n, 27+16*n)
	}
	if n > 0 {
		a.Unbonding = make([]UnbondingEntry, n)
	}
	for i := range a.Unbonding {
		o := 27 + 16*i
		h := binary.BigEndian.Uint64(b[o+8:])
		if h > math.MaxInt64 {
			return Account{}, fmt.Errorf("decode account: unbonding entry %d height out of range", i)
		}
		a.Unbonding[i] = UnbondingEntry{Amount: binary.BigEndian.Uint64(b[o:]), MaturesAt: int64(h)}
	}
	return a, nil
}

// AccountJSON is the JSON view of an account served by the /account query.
type AccountJSON struct {
	Address   string          `json:"address"`
	Balance   uint64          `json:"balance"`
	Nonce     uint64          `json:"nonce"`
	Bonded    uint64          `json:"bonded"`
	Unbonding []UnbondingJSON `json:"unbonding"`
}

// UnbondingJSON is one unbonding entry in AccountJSON.
type UnbondingJSON struct {
	Amount    uint64 `json:"amount"`
	MaturesAt int64  `json:"matures_at"`
}

// JSON returns the account's JSON view.
func (a *Account) JSON(addr tx.Address) AccountJSON {
	j := AccountJSON{Address: addr.String(), Balance: a.Balance, Nonce: a.Nonce, Bonded: a.Bonded, Unbonding: []UnbondingJSON{}}
	for _, e := range a.Unbonding {
		j.Unbonding = append(j.Unbonding, UnbondingJSON{Amount: e.Amount, MaturesAt: e.MaturesAt})
	}
	return j
}

// Supply tracks where the genesis supply is. Conservation:
// sum(balances) + Bonded + Unbonding + Burned == Genesis.
type Supply struct {
	Genesis   uint64
	Bonded    uint64
	Unbonding uint64
	Burned    uint64
}

// Circulating is the spendable part of the supply.
func (s Supply) Circulating() uint64 { return s.Genesis - s.Bonded - s.Unbonding - s.Burned }

func (s Supply) encode() []byte {
	b := make([]byte, 0, 32)
	b = binary.BigEndian.AppendUint64(b, s.Genesis)
	b = binary.BigEndian.AppendUint64(b, s.Bonded)
	b = binary.BigEndian.AppendUint64(b, s.Unbonding)
	return binary.BigEndian.AppendUint64(b, s.Burned)
}

// DecodeSupply parses the stored supply record.
func DecodeSupply(b []byte) (Supply, error) {
	if len(b) != 32 {
		return Supply{}, fmt.Errorf("decode supply: %d bytes, want 32", len(b))
	}
	s := Supply{
		Genesis:   binary.BigEndian.Uint64(b),
		Bonded:    binary.BigEndian.Uint64(b[8:]),
		Unbonding: binary.BigEndian.Uint64(b[16:]),
		Burned:    binary.BigEndian.Uint64(b[24:]),
	}
	if s.Bonded > s.Genesis || s.Unbonding > s.Genesis-s.Bonded || s.Burned > s.Genesis-s.Bonded-s.Unbonding {
		return Supply{}, fmt.Errorf("decode supply: parts exceed the genesis supply %d", s.Genesis)
	}
	return s, nil
}

// SupplyJSON is the JSON view served by the /supply query.
type SupplyJSON struct {
	GenesisSupply uint64 `json:"genesis_supply"`
	Circulating   uint64 `json:"circulating"`
	Bonded        uint64 `json:"bonded"`
	Unbonding     uint64 `json:"unbonding"`
	Burned        uint64 `json:"burned"`
}

// JSON returns the supply's JSON view.
func (s Supply) JSON() SupplyJSON {
	return SupplyJSON{GenesisSupply: s.Genesis, Circulating: s.Circulating(), Bonded: s.Bonded, Unbonding: s.Unbonding, Burned: s.Burned}
}

// add returns a+b or an overflow error naming what was added.
func add(a, b uint64, what string) (uint64, error) {
	if a > math.MaxUint64-b {
		return 0, &codedError{CodeOverflow, fmt.Sprintf("%s overflows: %d + %d", what, a, b)}
	}
	return a + b, nil
}
