package app

import (
	"encoding/hex"
	"fmt"

	"github.com/provena/provena/tx"
)

// Result codes of the zk job mode (500-509).
const (
	CodeZkUnknown  uint32 = 500 // the model has no zk registration, or is not registered
	CodeZkNotOwner uint32 = 501 // only the model's owner registers its circuit
	CodeZkExists   uint32 = 502 // the model already has a zk registration
	CodeZkBadKey   uint32 = 503 // the verifying key does not decode for its system
	CodeZkBadProof uint32 = 504 // the proof does not verify against the job's and the model's commitments
)

// QueryZkModel is the query path of a model's zk registration (ZkModel
// JSON, or null); data: model id in hex.
const QueryZkModel = "/zk/model"

var prefixZkModel = []byte("z/m/") // <model id 32> -> ZkModel JSON

// ZkModel is a model's registered circuit.
type ZkModel struct {
	Model         OpmlHash   `json:"model"`
	System        string     `json:"system"`
	VerifyingKey  []byte     `json:"verifying_key"`
	WeightsCommit []byte     `json:"weights_commit"` // zk.G1Bytes: the Pedersen commitment every proof carries
	Prover        tx.Address `json:"prover"`
	ProverKey     string     `json:"prover_key"`
	Height        int64      `json:"height"`
}

// ZkModelKey is the state key of a model's zk registration.
func ZkModelKey(id [32]byte) []byte {
	return append(append([]byte(nil), prefixZkModel...), id[:]...)
}

func zkLoadModel(ctx *Context, id [32]byte) (*ZkModel, error) {
	var z ZkModel
	ok, err := opmlGet(ctx, ZkModelKey(id), &z)
	if err != nil || !ok {
		return nil, err
	}
	return &z, nil
}

func init() {
	RegisterQuery(QueryZkModel, QueryRoute{
		Key: func(d []byte) ([]byte, error) {
			var id [32]byte
			if len(d) != 64 {
				return nil, fmt.Errorf("zk model query data must be a 64-character hex model id, got %d bytes", len(d))
			}
			if _, err := hex.Decode(id[:], d); err != nil {
				return nil, fmt.Errorf("zk model query data: %w", err)
			}
			return ZkModelKey(id), nil
		},
		Render: opmlRender[ZkModel](prefixZkModel, 32),
	})
}
