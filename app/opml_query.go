package app

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/provena/provena/tx"
)

// Query paths of the opML module. Values are the stored records' JSON
// (OpmlJob, OpmlModel, OpmlWorker), or null when absent.
const (
	QueryOpmlJob    = "/job"    // data: job id in decimal (or 8 bytes big-endian)
	QueryOpmlModel  = "/model"  // data: model id in hex (or 32 bytes)
	QueryOpmlWorker = "/worker" // data: worker address ("pv…" or 20 bytes)
)

func init() {
	RegisterQuery(QueryOpmlJob, QueryRoute{
		Key: func(d []byte) ([]byte, error) {
			if len(d) == 8 {
				return OpmlJobKey(binary.BigEndian.Uint64(d)), nil
			}
			id, err := strconv.ParseUint(string(d), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("job query data must be a decimal job id: %q", d)
			}
			return OpmlJobKey(id), nil
		},
		Render: opmlRender[OpmlJob](prefixOpmlJob, 8),
	})
	RegisterQuery(QueryOpmlModel, QueryRoute{
		Key: func(d []byte) ([]byte, error) {
			var id [32]byte
			switch {
			case len(d) == 32:
				copy(id[:], d)
			case len(d) == 64:
				if _, err := hex.Decode(id[:], d); err != nil {
					return nil, fmt.Errorf("model query data: %w", err)
				}
			default:
				return nil, fmt.Errorf("model query data must be a 64-character hex model id, got %d bytes", len(d))
			}
			return OpmlModelKey(id), nil
		},
		Render: opmlRender[OpmlModel](prefixOpmlModel, 32),
	})
	RegisterQuery(QueryOpmlWorker, QueryRoute{
		Key: func(d []byte) ([]byte, error) {
			a, err := parseQueryAddress(d)
			if err != nil {
				return nil, err
			}
			return OpmlWorkerKey(a), nil
		},
		Render: opmlRender[OpmlWorker](prefixOpmlWorker, tx.AddressLen),
	})
}

// opmlRender renders a stored JSON record after checking it parses as T,
// so a proven raw value and the served JSON can be compared.
func opmlRender[T any](prefix []byte, suffix int) func(key, raw []byte) ([]byte, error) {
	return func(key, raw []byte) ([]byte, error) {
		if len(key) != len(prefix)+suffix || !bytes.HasPrefix(key, prefix) {
			return nil, fmt.Errorf("key %x is not a %q key", key, prefix)
		}
		if raw == nil {
			return []byte("null"), nil
		}
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("decode %q record: %w", prefix, err)
		}
		return json.Marshal(v)
	}
}
