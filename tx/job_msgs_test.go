package tx_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/provena/provena/tx"
	"github.com/provena/provena/vault"
)

func sampleJobMsgs(t testing.TB) []tx.Msg {
	seed := sha256.Sum256([]byte("job"))
	priv := ed25519.NewKeyFromSeed(seed[:])
	id, err := vault.AccountIdentity(priv)
	if err != nil {
		t.Fatal(err)
	}
	r := id.Recipient().String()
	h := tx.DataHash{1, 2, 3}
	return []tx.Msg{
		tx.MsgTeeSubmitJob{ModelID: h, InputsRoot: tx.DataHash{4}, WorkerFee: 10, Recipient: r},
		tx.MsgJobDeliverInput{Job: 3, Sealed: tx.DataHash{5}},
		tx.MsgTeePostResult{Job: 3, OutputRoots: []tx.DataHash{{6}}, SealedOutput: tx.DataHash{7}, Signature: make([]byte, 64)},
		tx.MsgZkRegister{ModelID: h, System: "groth16", VerifyingKey: []byte{1, 2}, WeightsCommit: bytes.Repeat([]byte{8}, tx.ZkWeightsCommitBytes), Prover: tx.AddressFromPubKey(priv.Public().(ed25519.PublicKey)), ProverKey: r},
		tx.MsgZkSubmitJob{ModelID: h, InputCommit: tx.DataHash{9}, WorkerFee: 1, Recipient: r},
		tx.MsgZkPostResult{Job: 4, Proof: []byte{1}, Output: []int64{-5, 7, 1 << 40}, SealedOutput: tx.DataHash{10}},
	}
}

var jobMsgTypes = []tx.MsgType{tx.TypeTeeSubmitJob, tx.TypeJobDeliverInput, tx.TypeTeePostResult, tx.TypeZkRegister, tx.TypeZkSubmitJob, tx.TypeZkPostResult}

func TestJobMsgsRoundTrip(t *testing.T) {
	for _, m := range sampleJobMsgs(t) {
		if err := m.ValidateBasic(); err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		d, err := tx.Decode(teeRawTx(m.Type(), m.AppendBody(nil)))
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		if !bytes.Equal(d.Msg.AppendBody(nil), m.AppendBody(nil)) {
			t.Fatalf("%T does not round-trip", m)
		}
	}
}

func TestJobMsgsValidateBasic(t *testing.T) {
	ms := sampleJobMsgs(t)
	sub, res, reg, zsub, zres := ms[0].(tx.MsgTeeSubmitJob), ms[2].(tx.MsgTeePostResult), ms[3].(tx.MsgZkRegister), ms[4].(tx.MsgZkSubmitJob), ms[5].(tx.MsgZkPostResult)
	cases := []struct {
		name string
		m    tx.Msg
		err  string
	}{
		{"tee no root", func() tx.Msg { m := sub; m.InputsRoot = tx.DataHash{}; return m }(), "inputs root"},
		{"tee bad recipient", func() tx.Msg { m := sub; m.Recipient = "age1x"; return m }(), "recipient"},
		{"deliver no job", tx.MsgJobDeliverInput{Sealed: tx.DataHash{1}}, "must be set"},
		{"tee short sig", func() tx.Msg { m := res; m.Signature = m.Signature[:63]; return m }(), "signature is 63 bytes"},
		{"tee no outputs", func() tx.Msg { m := res; m.OutputRoots = nil; return m }(), "output roots"},
		{"zk system", func() tx.Msg { m := reg; m.System = "stark"; return m }(), "proof system"},
		{"zk empty key", func() tx.Msg { m := reg; m.VerifyingKey = nil; return m }(), "verifying key is 0 bytes"},
		{"zk huge key", func() tx.Msg { m := reg; m.VerifyingKey = make([]byte, tx.ZkMaxKey+1); return m }(), "verifying key is"},
		{"zk no prover", func() tx.Msg { m := reg; m.Prover = tx.Address{}; return m }(), "prover address"},
		{"zk short weights commitment", func() tx.Msg { m := reg; m.WeightsCommit = m.WeightsCommit[:32]; return m }(), "weights commitment is 32 bytes"},
		{"zk no weights commitment", func() tx.Msg { m := reg; m.WeightsCommit = nil; return m }(), "weights commitment is 0 bytes"},
		{"zk job recipient", func() tx.Msg { m := zsub; m.Recipient = ""; return m }(), "recipient"},
		{"zk empty proof", func() tx.Msg { m := zres; m.Proof = nil; return m }(), "proof is 0 bytes"},
		{"zk no output", func() tx.Msg { m := zres; m.Output = nil; return m }(), "output values"},
	}
	for _, c := range cases {
		err := c.m.ValidateBasic()
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want %q", c.name, err, c.err)
		}
	}
}

// The signed message differs for another job, input, output or sealed
// output, so a signature cannot be moved.
func TestTeeResultMessageBinds(t *testing.T) {
	base := tx.TeeResultMessage(1, [32]byte{1}, []tx.DataHash{{2}}, tx.DataHash{3})
	for i, m := range [][]byte{
		tx.TeeResultMessage(2, [32]byte{1}, []tx.DataHash{{2}}, tx.DataHash{3}),
		tx.TeeResultMessage(1, [32]byte{9}, []tx.DataHash{{2}}, tx.DataHash{3}),
		tx.TeeResultMessage(1, [32]byte{1}, []tx.DataHash{{9}}, tx.DataHash{3}),
		tx.TeeResultMessage(1, [32]byte{1}, []tx.DataHash{{2}, {2}}, tx.DataHash{3}),
		tx.TeeResultMessage(1, [32]byte{1}, []tx.DataHash{{2}}, tx.DataHash{9}),
	} {
		if bytes.Equal(m, base) {
			t.Errorf("variant %d signs the same bytes", i)
		}
	}
}

func FuzzJobMsgDecode(f *testing.F) {
	for _, m := range sampleJobMsgs(f) {
		for i, t := range jobMsgTypes {
			if t == m.Type() {
				f.Add(uint16(i), m.AppendBody(nil))
			}
		}
	}
	f.Add(uint16(5), []byte(`{"job":1,"proof":"AA==","output":[1.5],"sealed_output":""}`))
	f.Add(uint16(3), []byte(`{"model_id":"00","system":"groth16"}`))
	f.Fuzz(func(t *testing.T, typ uint16, body []byte) {
		mt := jobMsgTypes[int(typ)%len(jobMsgTypes)]
		d, err := tx.Decode(teeRawTx(mt, body))
		if err != nil {
			return
		}
		if !bytes.Equal(d.Msg.AppendBody(nil), body) {
			t.Fatalf("accepted a non-canonical %s body %q", tx.MsgName(mt), body)
		}
		d.Msg.ValidateBasic() // must not panic
	})
}
