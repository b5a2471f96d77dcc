package tx

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/provena/provena/vault"
)

// Wire types of the data module's messages (200-299), executed by
// app/data_*.go. Their bodies are canonical JSON: the decoder re-encodes
// what it parsed and refuses any body that does not come back byte for
// byte, so each message still has exactly one encoding.
const (
	TypeDataSetKey          MsgType = 200
	TypeDataRegister        MsgType = 201
	TypeDataAddVersion      MsgType = 202
	TypeDataGrant           MsgType = 203
	TypeDataRevoke          MsgType = 204
	TypeDataBuy             MsgType = 205
	TypeDataTransfer        MsgType = 206
	TypeDataWithdrawConsent MsgType = 207
	TypeDataClaim           MsgType = 208
)

// Limits of the data messages.
const (
	// DataMaxBlobSize equals blob.MaxSize (a test checks it); tx does not
	// import blob, which carries an HTTP handler.
	DataMaxBlobSize = 1 << 30
	// DataMaxGrantees bounds the grants of one asset, so that a new
	// version's key list fits one transaction.
	DataMaxGrantees = 128
	// DataMaxNameLen and DataMaxLicenceLen bound the text fields.
	DataMaxNameLen    = 128
	DataMaxLicenceLen = 64
	// DataMaxJobLen bounds a usage receipt's job reference.
	DataMaxJobLen = 128
	// DataMaxProofLen bounds a contributor proof (2^40 contributors).
	DataMaxProofLen = 40
	// BpsDenom is the denominator of every basis-point share.
	BpsDenom = 10_000
)

func init() {
	RegisterMsg(TypeDataSetKey, "data_set_key", jsonDecoder[MsgDataSetKey]())
	RegisterMsg(TypeDataRegister, "data_register", jsonDecoder[MsgDataRegister]())
	RegisterMsg(TypeDataAddVersion, "data_add_version", jsonDecoder[MsgDataAddVersion]())
	RegisterMsg(TypeDataGrant, "data_grant", jsonDecoder[MsgDataGrant]())
	RegisterMsg(TypeDataRevoke, "data_revoke", jsonDecoder[MsgDataRevoke]())
	RegisterMsg(TypeDataBuy, "data_buy", jsonDecoder[MsgDataBuy]())
	RegisterMsg(TypeDataTransfer, "data_transfer", jsonDecoder[MsgDataTransfer]())
	RegisterMsg(TypeDataWithdrawConsent, "data_withdraw_consent", jsonDecoder[MsgDataWithdrawConsent]())
	RegisterMsg(TypeDataClaim, "data_claim", jsonDecoder[MsgDataClaim]())
}

// jsonDecoder decodes a canonical JSON body into M.
func jsonDecoder[M Msg]() MsgDecoder {
	return func(body []byte) (Msg, error) {
		var m M
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			return nil, err
		}
		if !bytes.Equal(m.AppendBody(nil), body) {
			return nil, errors.New("body is not in canonical form")
		}
		return m, nil
	}
}

func appendJSON(b []byte, v any) []byte {
	j, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("tx: encode %T: %v", v, err)) // plain structs always marshal
	}
	return append(b, j...)
}

// DataHash is a 32-byte id: an asset id, a blob root, a contributors root.
// Its text form is 64 lowercase hex characters.
type DataHash [32]byte

// String returns the hex form.
func (h DataHash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zeros.
func (h DataHash) IsZero() bool { return h == DataHash{} }

// MarshalText implements encoding.TextMarshaler.
func (h DataHash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText accepts exactly 64 lowercase hex characters.
func (h *DataHash) UnmarshalText(b []byte) error {
	p, err := ParseDataHash(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

// ParseDataHash parses the 64-character lowercase hex form.
func ParseDataHash(s string) (DataHash, error) {
	var h DataHash
	if len(s) != 64 {
		return h, fmt.Errorf("parse id %q: want 64 hex characters", s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return h, fmt.Errorf("parse id %q: character %d is not lowercase hex", s, i)
		}
	}
	hex.Decode(h[:], []byte(s))
	return h, nil
}

// ContributorLeaf is the Merkle leaf data of one contributor: the 20
// address bytes then the weight as 8 bytes big-endian. A contributors root
// is the merkle root over the leaf hashes of these, in any order the owner
// chooses; a claim names its leaf index.
func ContributorLeaf(a Address, weight uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), a[:]...), weight)
}

// MsgDataSetKey publishes the sender's data recipient ("age1…", see
// package vault), the key grants are wrapped to.
type MsgDataSetKey struct {
	Recipient string `json:"recipient"`
}

// DataVersion is one version of an asset: the blob holding its ciphertext,
// its contributors, and its asset key wrapped to each reader.
type DataVersion struct {
	Root DataHash `json:"root"`
	Size int64    `json:"size"`
	// Contributors is the merkle root over ContributorLeaf values, zero
	// when the version names no contributors.
	Contributors     DataHash `json:"contributors"`
	ContributorCount uint64   `json:"contributor_count"`
	// ContributorWeight is the sum of the leaf weights: a contributor's
	// share of the pool is weight / ContributorWeight.
	ContributorWeight uint64 `json:"contributor_weight"`
	// Keys holds the version's asset key wrapped to the owner and to every
	// active grantee, sorted by address.
	Keys []WrappedKey `json:"keys"`
}

// WrappedKey is an asset key age-encrypted to one account.
type WrappedKey struct {
	To  Address `json:"to"`
	Key []byte  `json:"key"`
}

// MsgDataRegister registers a new asset owned by the sender; its id is the
// first version's blob root.
type MsgDataRegister struct {
	Name    string `json:"name"`
	Licence string `json:"licence"`
	// Price is what BuyAccess pays, in upv.
	Price uint64 `json:"price"`
	// ContributorBps is the part of every payment, in basis points, that
	// goes to the contributors' pool instead of the owner.
	ContributorBps uint32      `json:"contributor_bps"`
	Version        DataVersion `json:"version"`
}

// MsgDataAddVersion publishes a new version of an asset under a new asset
// key; Keys must cover exactly the owner and the active grantees.
type MsgDataAddVersion struct {
	Asset   DataHash    `json:"asset"`
	Version DataVersion `json:"version"`
}

// MsgDataGrant gives To the current version's asset key. If To bought
// access, the escrowed price is released to the owner.
type MsgDataGrant struct {
	Asset DataHash `json:"asset"`
	To    Address  `json:"to"`
	Key   []byte   `json:"key"`
}

// MsgDataRevoke ends a grant (sent by the owner) or cancels the sender's
// own pending purchase; a pending purchase's escrow is refunded.
type MsgDataRevoke struct {
	Asset   DataHash `json:"asset"`
	Grantee Address  `json:"grantee"`
}

// MsgDataBuy pays the asset's price into escrow and asks the owner for a
// grant. MaxPrice guards against a price the buyer did not expect.
type MsgDataBuy struct {
	Asset    DataHash `json:"asset"`
	MaxPrice uint64   `json:"max_price"`
}

// MsgDataTransfer hands the asset to To, with the current version's key
// wrapped to the new owner.
type MsgDataTransfer struct {
	Asset DataHash `json:"asset"`
	To    Address  `json:"to"`
	Key   []byte   `json:"key"`
}

// ContributorProof opens one contributor leaf of a version.
type ContributorProof struct {
	Version uint32     `json:"version"`
	Index   uint64     `json:"index"`
	Weight  uint64     `json:"weight"`
	Proof   []DataHash `json:"proof"`
}

// MsgDataWithdrawConsent records that the sender, a contributor of the
// asset's current version (proven), withdraws: it earns nothing accrued
// after this block and no later version may pay it.
type MsgDataWithdrawConsent struct {
	Asset DataHash         `json:"asset"`
	Leaf  ContributorProof `json:"leaf"`
}

// MsgDataClaim pays the sender its weighted share of a version's
// contributor pool, less what it claimed before.
type MsgDataClaim struct {
	Asset DataHash         `json:"asset"`
	Leaf  ContributorProof `json:"leaf"`
}

var (
	_ Msg = MsgDataSetKey{}
	_ Msg = MsgDataRegister{}
	_ Msg = MsgDataAddVersion{}
	_ Msg = MsgDataGrant{}
	_ Msg = MsgDataRevoke{}
	_ Msg = MsgDataBuy{}
	_ Msg = MsgDataTransfer{}
	_ Msg = MsgDataWithdrawConsent{}
	_ Msg = MsgDataClaim{}
)

// Type implements Msg.
func (MsgDataSetKey) Type() MsgType { return TypeDataSetKey }

// AppendBody implements Msg: canonical JSON.
func (m MsgDataSetKey) AppendBody(b []byte) []byte { return appendJSON(b, m) }

// ValidateBasic implements Msg.
func (m MsgDataSetKey) ValidateBasic() error {
	_, err := vault.ParseRecipient(m.Recipient)
	return err
}

// Type implements Msg.
func (MsgDataRegister) Type() MsgType { return TypeDataRegister }

// AppendBody implements Msg: canonical JSON.
func (m MsgDataRegister) AppendBody(b []byte) []byte { return appendJSON(b, m) }

// ValidateBasic implements Msg.
func (m MsgDataRegister) ValidateBasic() error {
	if err := checkText("name", m.Name, DataMaxNameLen); err != nil {
		return err
	}
	if err := checkText("licence", m.Licence, DataMaxLicenceLen); err != nil {
		return err
	}
	if m.ContributorBps > BpsDenom {
		return fmt.Errorf("contributor share %d bps is over %d", m.ContributorBps, BpsDenom)
	}
	if m.ContributorBps > 0 && m.Version.Contributors.IsZero() {
		return errors.New("contributor share set but the version names no contributors")
	}
	return m.Version.validate()
}

func checkText(what, s string, limit int) error {
	if s == "" || len(s) > limit {
		return fmt.Errorf("%s must be 1 to %d bytes, got %d", what, limit, len(s))
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s contains a control character", what)
		}
	}
	return nil
}

func (v DataVersion) validate() error {
	if v.Root.IsZero() {
		return errors.New("blob root is zero")
	}
	if v.Size < 0 || v.Size > DataMaxBlobSize {
		return fmt.Errorf("blob size %d out of range 0..%d", v.Size, DataMaxBlobSize)
	}
	if v.Contributors.IsZero() != (v.ContributorCount == 0) || v.Contributors.IsZero() != (v.ContributorWeight == 0) {
		return errors.New("contributors root, count and total weight must be all set or all zero")
	}
	if len(v.Keys) == 0 || len(v.Keys) > DataMaxGrantees+1 {
		return fmt.Errorf("version carries %d wrapped keys, want 1 to %d", len(v.Keys), DataMaxGrantees+1)
	}
	for i, k := range v.Keys {
		if i > 0 && bytes.Compare(v.Keys[i-1].To[:], k.To[:]) >= 0 {
			return errors.New("wrapped keys must be sorted by address without duplicates")
		}
		if err := vault.CheckWrapped(k.Key); err != nil {
			return fmt.Errorf("key for %s: %w", k.To, err)
		}
	}
	return nil
}

// Type implements Msg.
func (MsgDataAddVersion) Type() MsgType { return TypeDataAddVersion }

// AppendBody implements Msg: canonical JSON.
func (m MsgDataAddVersion) AppendBody(b []byte) []byte { return appendJSON(b, m) }

// ValidateBasic implements Msg.
func (m MsgDataAddVersion) ValidateBasic() error { return m.Version.validate() }

// Type implements Msg.
func (MsgDataGrant) Type() MsgType { return TypeDataGrant }

// AppendBody implements Msg: canonical JSON.
func (m MsgDataGrant) AppendBody(b []byte) []byte { return appendJSON(b, m) }

// ValidateBasic implements Msg.
func (m MsgDataGrant) ValidateBasic() error { return vault.CheckWrapped(m.Key) }

// Type implements Msg.
func (MsgDataRevoke) Type() MsgType { return TypeDataRevoke }

// AppendBody implements Msg: canonical JSON.
func (m MsgDataRevoke) AppendBody(b []byte) []byte { return appendJSON(b, m) }

// ValidateBasic implements Msg.
func (m MsgDataRevoke) ValidateBasic() error { return nil }

// Type implements Msg.
func (MsgDataBuy) Type() MsgType { return TypeDataBuy }

// AppendBody implements Msg: canonical JSON.
func (m MsgDataBuy) AppendBody(b []byte) []byte { return appendJSON(b, m) }

// ValidateBasic implements Msg.
func (m MsgDataBuy) ValidateBasic() error { return nil }

// Type implements Msg.
func (MsgDataTransfer) Type() MsgType { return TypeDataTransfer }

// AppendBody implements Msg: canonical JSON.
func (m MsgDataTransfer) AppendBody(b []byte) []byte { return appendJSON(b, m) }

// ValidateBasic implements Msg.
func (m MsgDataTransfer) ValidateBasic() error { return vault.CheckWrapped(m.Key) }

func (p ContributorProof) validate() error {
	if p.Weight == 0 {
		return errors.New("contributor weight must be positive")
	}
	if len(p.Proof) > DataMaxProofLen {
		return fmt.Errorf("contributor proof has %d hashes, limit %d", len(p.Proof), DataMaxProofLen)
	}
	return nil
}

// Type implements Msg.
func (MsgDataWithdrawConsent) Type() MsgType { return TypeDataWithdrawConsent }

// AppendBody implements Msg: canonical JSON.
func (m MsgDataWithdrawConsent) AppendBody(b []byte) []byte { return appendJSON(b, m) }

// ValidateBasic implements Msg.
func (m MsgDataWithdrawConsent) ValidateBasic() error { return m.Leaf.validate() }

// Type implements Msg.
func (MsgDataClaim) Type() MsgType { return TypeDataClaim }

// AppendBody implements Msg: canonical JSON.
func (m MsgDataClaim) AppendBody(b []byte) []byte { return appendJSON(b, m) }

// ValidateBasic implements Msg.
func (m MsgDataClaim) ValidateBasic() error { return m.Leaf.validate() }
