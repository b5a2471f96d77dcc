package app

import (
	"bytes"
	"fmt"

	"github.com/provena/provena/tx"
)

// Query paths of the teeML module: the stored records' JSON, or null.
const (
	QueryTeeConfig      = "/tee/config"      // data: empty
	QueryTeeAttestation = "/tee/attestation" // data: "<worker pv…>/<model hex>"
)

func init() {
	RegisterQuery(QueryTeeConfig, QueryRoute{
		Key: func(d []byte) ([]byte, error) {
			if len(d) != 0 {
				return nil, fmt.Errorf("tee config query takes no data")
			}
			return keyTeeConfig, nil
		},
		Render: opmlRender[TeeConfig](keyTeeConfig, 0),
	})
	RegisterQuery(QueryTeeAttestation, QueryRoute{
		Key: func(d []byte) ([]byte, error) {
			w, m, ok := bytes.Cut(d, []byte("/"))
			if !ok {
				return nil, fmt.Errorf("tee attestation query data must be <worker>/<model id hex>")
			}
			a, err := tx.ParseAddress(string(w))
			if err != nil {
				return nil, fmt.Errorf("tee attestation query: %w", err)
			}
			id, err := tx.ParseTeeModelID(string(m))
			if err != nil {
				return nil, fmt.Errorf("tee attestation query: %w", err)
			}
			return TeeAttestationKey(a, id), nil
		},
		Render: opmlRender[TeeAttestation](prefixTeeAtt, tx.AddressLen+32),
	})
}
