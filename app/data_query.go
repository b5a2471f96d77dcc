package app

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/provena/provena/tx"
)

// Query paths of the data module. Data is text, parts separated by "/":
// an asset id or blob root is 64 hex characters, an address "pv…".
const (
	QueryDataAsset      = "/data/asset"      // data: ASSET; value: AssetRecord or null
	QueryDataVersion    = "/data/version"    // data: ASSET/N; value: VersionRecord or null
	QueryDataWrapped    = "/data/key"        // data: ASSET/N/ADDRESS; value: WrappedKeyJSON or null
	QueryDataOwner      = "/data/owner"      // data: ADDRESS; value: OwnerIndex
	QueryDataReceipt    = "/data/receipt"    // data: ASSET/SEQ; value: Receipt or null
	QueryDataBlob       = "/data/blob"       // data: ROOT; value: BlobAssetJSON or null
	QueryDataRecipient  = "/data/datakey"    // data: ADDRESS; value: DataKeyJSON
	QueryDataWithdrawal = "/data/withdrawal" // data: ASSET/ADDRESS; value: Withdrawal or null
	QueryDataGranted    = "/data/granted"    // data: ADDRESS; value: GranteeIndex
)

// WrappedKeyJSON is the /data/key value.
type WrappedKeyJSON struct {
	Asset   tx.DataHash `json:"asset"`
	Version uint32      `json:"version"`
	To      tx.Address  `json:"to"`
	Key     []byte      `json:"key"`
}

// BlobAssetJSON is the /data/blob value.
type BlobAssetJSON struct {
	Root  tx.DataHash `json:"root"`
	Asset tx.DataHash `json:"asset"`
}

// DataKeyJSON is the /data/datakey value; Recipient is "" if the account
// never published one.
type DataKeyJSON struct {
	Address   tx.Address `json:"address"`
	Recipient string     `json:"recipient"`
}

func init() {
	RegisterQuery(QueryDataAsset, QueryRoute{
		Key: func(d []byte) ([]byte, error) {
			id, err := parseParts(d, "ASSET")
			if err != nil {
				return nil, err
			}
			return DataAssetKey(id.asset), nil
		},
		Render: renderStored[AssetRecord](prefixDataAsset, 32),
	})
	RegisterQuery(QueryDataVersion, QueryRoute{
		Key: func(d []byte) ([]byte, error) {
			p, err := parseParts(d, "ASSET/N")
			if err != nil {
				return nil, err
			}
			if p.n > math.MaxUint32 {
				return nil, fmt.Errorf("version %d out of range", p.n)
			}
			return DataVersionKey(p.asset, uint32(p.n)), nil
		},
		Render: renderStored[VersionRecord](prefixDataVersion, 36),
	})
	RegisterQuery(QueryDataReceipt, QueryRoute{
		Key: func(d []byte) ([]byte, error) {
			p, err := parseParts(d, "ASSET/N")
			if err != nil {
				return nil, err
			}
			return DataReceiptKey(p.asset, p.n), nil
		},
		Render: renderStored[Receipt](prefixDataReceipt, 40),
	})
	RegisterQuery(QueryDataWrapped, QueryRoute{
		Key: func(d []byte) ([]byte, error) {
			p, err := parseParts(d, "ASSET/N/ADDRESS")
			if err != nil {
				return nil, err
			}
			if p.n > math.MaxUint32 {
				return nil, fmt.Errorf("version %d out of range", p.n)
			}
			return DataWrappedKey(p.asset, uint32(p.n), p.addr), nil
		},
		Render: func(key, raw []byte) ([]byte, error) {
			rest, err := keySuffix(key, prefixDataWrapped, 32+4+tx.AddressLen)
			if err != nil || raw == nil {
				return nullOr(err)
			}
			j := WrappedKeyJSON{Version: binary.BigEndian.Uint32(rest[32:]), Key: raw}
			copy(j.Asset[:], rest)
			copy(j.To[:], rest[36:])
			return json.Marshal(j)
		},
	})
	RegisterQuery(QueryDataBlob, QueryRoute{
		Key: func(d []byte) ([]byte, error) {
			p, err := parseParts(d, "ASSET")
			if err != nil {
				return nil, err
			}
			return DataBlobKey(p.asset), nil
		},
		Render: func(key, raw []byte) ([]byte, error) {
			rest, err := keySuffix(key, prefixDataBlob, 32)
			if err != nil || raw == nil {
				return nullOr(err)
			}
			if len(raw) != 32 {
				return nil, fmt.Errorf("blob index value is %d bytes", len(raw))
			}
			var j BlobAssetJSON
			copy(j.Root[:], rest)
			copy(j.Asset[:], raw)
			return json.Marshal(j)
		},
	})
	RegisterQuery(QueryDataWithdrawal, QueryRoute{
		Key: func(d []byte) ([]byte, error) {
			asset, addr, ok := strings.Cut(string(d), "/")
			if !ok {
				return nil, fmt.Errorf("query data %q: want ASSET/ADDRESS", d)
			}
			id, err := tx.ParseDataHash(asset)
			if err != nil {
				return nil, err
			}
			a, err := tx.ParseAddress(addr)
			if err != nil {
				return nil, err
			}
			return dataWithdrawKey(id, a), nil
		},
		Render: renderStored[Withdrawal](prefixDataWithdraw, 32+tx.AddressLen),
	})
	RegisterQuery(QueryDataOwner, QueryRoute{
		Key: func(d []byte) ([]byte, error) {
			a, err := parseQueryAddress(d)
			if err != nil {
				return nil, err
			}
			return DataOwnerKey(a), nil
		},
		Render: func(key, raw []byte) ([]byte, error) {
			rest, err := keySuffix(key, prefixDataOwner, tx.AddressLen)
			if err != nil {
				return nil, err
			}
			idx := OwnerIndex{Assets: []tx.DataHash{}}
			copy(idx.Owner[:], rest)
			if raw != nil {
				if err := json.Unmarshal(raw, &idx); err != nil {
					return nil, fmt.Errorf("decode owner index: %w", err)
				}
			}
			return json.Marshal(idx)
		},
	})
	RegisterQuery(QueryDataGranted, QueryRoute{
		Key: func(d []byte) ([]byte, error) {
			a, err := parseQueryAddress(d)
			if err != nil {
				return nil, err
			}
			return DataGranteeKey(a), nil
		},
		Render: func(key, raw []byte) ([]byte, error) {
			rest, err := keySuffix(key, prefixDataGrantee, tx.AddressLen)
			if err != nil {
				return nil, err
			}
			idx := GranteeIndex{Assets: []tx.DataHash{}}
			copy(idx.Grantee[:], rest)
			if raw != nil {
				if err := json.Unmarshal(raw, &idx); err != nil {
					return nil, fmt.Errorf("decode grantee index: %w", err)
				}
			}
			return json.Marshal(idx)
		},
	})
	RegisterQuery(QueryDataRecipient, QueryRoute{
		Key: func(d []byte) ([]byte, error) {
			a, err := parseQueryAddress(d)
			if err != nil {
				return nil, err
			}
			return DataRecipientKey(a), nil
		},
		Render: func(key, raw []byte) ([]byte, error) {
			rest, err := keySuffix(key, prefixDataKey, tx.AddressLen)
			if err != nil {
				return nil, err
			}
			var j DataKeyJSON
			copy(j.Address[:], rest)
			j.Recipient = string(raw)
			return json.Marshal(j)
		},
	})
}

func nullOr(err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return []byte("null"), nil
}

func keySuffix(key, prefix []byte, n int) ([]byte, error) {
	if len(key) != len(prefix)+n || !bytes.HasPrefix(key, prefix) {
		return nil, fmt.Errorf("key %x is not a %q key", key, prefix)
	}
	return key[len(prefix):], nil
}

// renderStored re-encodes a stored JSON record (null when absent).
func renderStored[T any](prefix []byte, n int) func(key, raw []byte) ([]byte, error) {
	return func(key, raw []byte) ([]byte, error) {
		if _, err := keySuffix(key, prefix, n); err != nil || raw == nil {
			return nullOr(err)
		}
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("decode %T: %w", v, err)
		}
		return json.Marshal(v)
	}
}

type queryParts struct {
	asset tx.DataHash
	n     uint64
	addr  tx.Address
}

// parseParts parses query data of the given shape, e.g. "ASSET/N/ADDRESS".
func parseParts(d []byte, shape string) (queryParts, error) {
	var p queryParts
	parts := strings.Split(string(d), "/")
	names := strings.Split(shape, "/")
	if len(parts) != len(names) {
		return p, fmt.Errorf("query data %q: want %s", d, shape)
	}
	var err error
	if p.asset, err = tx.ParseDataHash(parts[0]); err != nil {
		return p, err
	}
	if len(parts) > 1 {
		if p.n, err = strconv.ParseUint(parts[1], 10, 64); err != nil {
			return p, fmt.Errorf("query data %q: %q is not a number", d, parts[1])
		}
	}
	if len(parts) > 2 {
		if p.addr, err = tx.ParseAddress(parts[2]); err != nil {
			return p, err
		}
	}
	return p, nil
}
