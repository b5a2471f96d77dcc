package tx_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/provena/provena/tx"
)

func sampleLineageMsgs() []tx.Msg {
	return []tx.Msg{
		tx.MsgModelLineage{Model: tx.DataHash{1}, TrainedOn: []tx.LineageShare{{Asset: tx.DataHash{2}, Bps: 3000}, {Asset: tx.DataHash{3}, Bps: 2000}}},
		tx.MsgEnergySubmitDeferred{DeferHours: 6, Job: tx.MsgSubmitJob{ModelID: [32]byte{4}, InputsRoot: [32]byte{5}, WorkerFee: 100, Green: true, EstimateWh: 2}},
	}
}

func TestLineageMsgsRoundTrip(t *testing.T) {
	for _, m := range sampleLineageMsgs() {
		d, err := tx.Decode(rawTx(m.Type(), m.AppendBody(nil)))
		if err != nil {
			t.Fatalf("%s: %v", tx.MsgName(m.Type()), err)
		}
		if !bytes.Equal(d.Msg.AppendBody(nil), m.AppendBody(nil)) {
			t.Fatalf("%s: round trip changed the body", tx.MsgName(m.Type()))
		}
		if err := d.Msg.ValidateBasic(); err != nil {
			t.Fatalf("%s: %v", tx.MsgName(m.Type()), err)
		}
	}
}

func TestLineageValidateBasic(t *testing.T) {
	a, b := tx.DataHash{2}, tx.DataHash{3}
	job := tx.MsgSubmitJob{ModelID: [32]byte{4}, InputsRoot: [32]byte{5}}
	tests := []struct {
		name string
		m    tx.Msg
		want string
	}{
		{"no datasets", tx.MsgModelLineage{Model: tx.DataHash{1}}, "no datasets"},
		{"zero model", tx.MsgModelLineage{TrainedOn: []tx.LineageShare{{Asset: a, Bps: 1}}}, "model id is zero"},
		{"zero share", tx.MsgModelLineage{Model: tx.DataHash{1}, TrainedOn: []tx.LineageShare{{Asset: a}}}, "0 share"},
		{"duplicate", tx.MsgModelLineage{Model: tx.DataHash{1}, TrainedOn: []tx.LineageShare{{Asset: a, Bps: 1}, {Asset: a, Bps: 2}}}, "named twice"},
		{"over 100%", tx.MsgModelLineage{Model: tx.DataHash{1}, TrainedOn: []tx.LineageShare{{Asset: a, Bps: 6000}, {Asset: b, Bps: 4001}}}, "over 10000"},
		{"exactly 100%", tx.MsgModelLineage{Model: tx.DataHash{1}, TrainedOn: []tx.LineageShare{{Asset: a, Bps: 6000}, {Asset: b, Bps: 4000}}}, ""},
		{"no deferral", tx.MsgEnergySubmitDeferred{Job: job}, "want 1 to 168"},
		{"deferral too long", tx.MsgEnergySubmitDeferred{DeferHours: 169, Job: job}, "want 1 to 168"},
		{"bad inner job", tx.MsgEnergySubmitDeferred{DeferHours: 2, Job: tx.MsgSubmitJob{}}, "must be set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.m.ValidateBasic()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzLineageMsgDecode(f *testing.F) {
	for _, m := range sampleLineageMsgs() {
		f.Add(m.Type() == tx.TypeModelLineage, m.AppendBody(nil))
	}
	f.Add(true, []byte(`{"model":"00","trained_on":null}`))
	f.Add(false, []byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, lineage bool, body []byte) {
		mt := tx.TypeEnergySubmitDeferred
		if lineage {
			mt = tx.TypeModelLineage
		}
		d, err := tx.Decode(rawTx(mt, body))
		if err != nil {
			return
		}
		if !bytes.Equal(d.Msg.AppendBody(nil), body) {
			t.Fatalf("accepted a non-canonical %s body %q", tx.MsgName(mt), body)
		}
		d.Msg.ValidateBasic() // must not panic
	})
}
