package tx

import (
	"bytes"
	"testing"
)

func opmlSamples() []Msg {
	return []Msg{
		MsgRegisterModel{ModelID: [32]byte{1}, Fee: 50, NumNodes: 7,
			Inputs:  []TensorSig{{DType: 1, Shape: []uint32{1, 3, 20, 20}}},
			Outputs: []OutputSig{{Node: 6, Output: 0, Sig: TensorSig{DType: 1, Shape: []uint32{1, 8, 20, 20}}}}},
		MsgRegisterWorker{Bond: 10_000},
		MsgUnregisterWorker{},
		MsgSubmitJob{ModelID: [32]byte{1}, InputsRoot: [32]byte{2}, WorkerFee: 7},
		MsgSubmitJob{ModelID: [32]byte{1}, InputsRoot: [32]byte{2}, WorkerFee: 7, Green: true, MaxGCO2Ug: 9, EstimateWh: 3},
		MsgPostResult{Job: 3, Outputs: [][32]byte{{5}}},
		MsgPostResult{Job: 3, Outputs: [][32]byte{{5}, {6}, {7}}},
		MsgChallenge{Job: 3, NodesRoot: [32]byte{8}},
		MsgDisputeMove{Job: 3, Kind: 1, Payload: make([]byte, 64)},
		MsgDisputeMove{Job: 3, Kind: 7, Payload: make([]byte, 8<<10)},
		MsgOneStep{Job: 3, Proof: []byte{1, 2, 3}},
	}
}

func TestOpmlMsgRoundTrip(t *testing.T) {
	for _, m := range opmlSamples() {
		name := MsgName(m.Type())
		if err := m.ValidateBasic(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body := m.AppendBody(nil)
		d, err := decodeMsg(m.Type(), body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(d.AppendBody(nil), body) {
			t.Fatalf("%s: round trip differs", name)
		}
		if len(body) > 0 {
			if _, err := decodeMsg(m.Type(), body[:len(body)-1]); err == nil {
				t.Fatalf("%s: truncated body decoded", name)
			}
		}
		if _, err := decodeMsg(m.Type(), append(body, 0)); err == nil {
			t.Fatalf("%s: trailing byte decoded", name)
		}
	}
}

func TestOpmlValidateBasic(t *testing.T) {
	bad := []Msg{
		MsgRegisterModel{Fee: 1, NumNodes: 1, Inputs: []TensorSig{{}}, Outputs: []OutputSig{{}}},
		MsgRegisterModel{ModelID: [32]byte{1}, NumNodes: 0, Inputs: []TensorSig{{}}, Outputs: []OutputSig{{}}},
		MsgRegisterModel{ModelID: [32]byte{1}, NumNodes: 2, Inputs: []TensorSig{{}}, Outputs: []OutputSig{{Node: 2}}},
		MsgRegisterModel{ModelID: [32]byte{1}, NumNodes: 2, Outputs: []OutputSig{{}}},
		MsgRegisterWorker{},
		MsgSubmitJob{ModelID: [32]byte{1}},
		MsgSubmitJob{ModelID: [32]byte{1}, InputsRoot: [32]byte{2}, Green: true},
		MsgPostResult{Job: 1},
		MsgPostResult{Job: 1, Outputs: make([][32]byte, MaxModelIO+1)},
		MsgDisputeMove{Payload: make([]byte, MaxMovePayload+1)},
		MsgOneStep{Job: 1},
	}
	for _, m := range bad {
		if err := m.ValidateBasic(); err == nil {
			t.Fatalf("%s %+v passed ValidateBasic", MsgName(m.Type()), m)
		}
	}
}

func FuzzOpmlMsgs(f *testing.F) {
	for _, m := range opmlSamples() {
		f.Add(uint16(m.Type()), m.AppendBody(nil))
	}
	f.Fuzz(func(t *testing.T, typ uint16, body []byte) {
		mt := TypeRegisterModel + MsgType(typ%8)
		m, err := decodeMsg(mt, body)
		if err != nil {
			return
		}
		if !bytes.Equal(m.AppendBody(nil), body) {
			t.Fatalf("%s: decoded body re-encodes differently", MsgName(mt))
		}
	})
}
