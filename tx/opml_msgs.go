package tx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Wire types of the opML messages: the range 100..119 is reserved for them.
const (
	TypeRegisterModel    MsgType = 100
	TypeRegisterWorker   MsgType = 101
	TypeUnregisterWorker MsgType = 102
	TypeSubmitJob        MsgType = 103
	TypePostResult       MsgType = 104
	TypeChallenge        MsgType = 105
	TypeDisputeMove      MsgType = 106
	TypeOneStep          MsgType = 107
)

// Limits on opML message fields, checked by ValidateBasic and the decoders.
const (
	MaxModelIO     = 16       // graph inputs or outputs in a model signature
	MaxRank        = 8        // dimensions of a signature shape
	MaxMovePayload = 64 << 10 // bytes of a dispute move (a commit move opens up to MaxModelIO node leaves)
	MaxStepProof   = 1 << 20  // bytes of a one-step proof (the chain's max_tx_bytes is the real bound)
)

func init() {
	RegisterMsg(TypeRegisterModel, "opml_register_model", decodeInto(func() opmlMsg { return &MsgRegisterModel{} }))
	RegisterMsg(TypeRegisterWorker, "opml_register_worker", decodeInto(func() opmlMsg { return &MsgRegisterWorker{} }))
	RegisterMsg(TypeUnregisterWorker, "opml_unregister_worker", decodeInto(func() opmlMsg { return &MsgUnregisterWorker{} }))
	RegisterMsg(TypeSubmitJob, "opml_submit_job", decodeInto(func() opmlMsg { return &MsgSubmitJob{} }))
	RegisterMsg(TypePostResult, "opml_post_result", decodeInto(func() opmlMsg { return &MsgPostResult{} }))
	RegisterMsg(TypeChallenge, "opml_challenge", decodeInto(func() opmlMsg { return &MsgChallenge{} }))
	RegisterMsg(TypeDisputeMove, "opml_dispute_move", decodeInto(func() opmlMsg { return &MsgDisputeMove{} }))
	RegisterMsg(TypeOneStep, "opml_one_step", decodeInto(func() opmlMsg { return &MsgOneStep{} }))
}

// TensorSig is a tensor's element type (tensor.DType's value) and shape.
type TensorSig struct {
	DType uint8    `json:"dtype"`
	Shape []uint32 `json:"shape"`
}

// OutputSig is a graph output: the node output producing it, and its type.
type OutputSig struct {
	Node   uint32    `json:"node"`
	Output uint32    `json:"output"`
	Sig    TensorSig `json:"sig"`
}

// MsgRegisterModel puts a model on chain: its id (the package's Merkle
// root), its input/output signature and trace length, and the fee in upv
// each job pays the sender, the model's owner. The package itself stays off
// chain.
type MsgRegisterModel struct {
	ModelID  [32]byte    `json:"model_id"`
	Fee      uint64      `json:"fee"`
	NumNodes uint32      `json:"num_nodes"`
	Inputs   []TensorSig `json:"inputs"`
	Outputs  []OutputSig `json:"outputs"`
}

// MsgRegisterWorker locks Bond upv of the sender's balance as a worker bond
// (added to an existing registration) and makes the sender eligible for
// jobs.
type MsgRegisterWorker struct {
	Bond uint64 `json:"bond"`
}

// MsgUnregisterWorker returns the worker's bond; it fails while the worker
// holds an unfinished job.
type MsgUnregisterWorker struct{}

// MsgSubmitJob asks for one inference of ModelID on the input committed by
// InputsRoot (the trace's inputs root: the Merkle root over the value roots
// of the graph inputs, in model order). The sender escrows the model's fee
// plus WorkerFee.
//
// Green, MaxGCO2Ug and EstimateWh are energy constraints on the worker (see
// docs/energy.md): only workers the energy module clears for a job of
// EstimateWh watt-hours at the block's hour are assigned.
type MsgSubmitJob struct {
	ModelID    [32]byte `json:"model_id"`
	InputsRoot [32]byte `json:"inputs_root"`
	WorkerFee  uint64   `json:"worker_fee"`
	Green      bool     `json:"green"`
	MaxGCO2Ug  uint64   `json:"max_gco2_ug"`
	EstimateWh uint64   `json:"estimate_wh"`
}

// MsgPostResult is the assigned worker's result: the value root of each
// graph output, in model order (model.ValueRoot: the Merkle root over
// 256-byte chunks of the output's canonical bytes, the root a trace would
// give it). The worker runs plainly; it commits a trace only if challenged
// (the commit move of the dispute, opml.MoveCommit).
type MsgPostResult struct {
	Job     uint64     `json:"job"`
	Outputs [][32]byte `json:"outputs"`
}

// MsgChallenge disputes a posted result with the sender's own nodes root;
// the worker then owes its trace commitment, and loses if it cannot make
// one that ends in its posted outputs. The challenge bond is a chain
// parameter.
type MsgChallenge struct {
	Job       uint64   `json:"job"`
	NodesRoot [32]byte `json:"nodes_root"`
}

// MsgDisputeMove is one bisection move; Kind and Payload are opml.MoveKind
// and opml.Move.Encode.
type MsgDisputeMove struct {
	Job     uint64 `json:"job"`
	Kind    uint8  `json:"kind"`
	Payload []byte `json:"payload"`
}

// MsgOneStep settles a dispute with the worker's one-step proof
// (opml.EncodeStepProof).
type MsgOneStep struct {
	Job   uint64 `json:"job"`
	Proof []byte `json:"proof"`
}

// opmlMsg is a message with a symmetric binary codec.
type opmlMsg interface {
	Msg
	codec(c *opmlWire)
}

func decodeInto(mk func() opmlMsg) MsgDecoder {
	return func(body []byte) (Msg, error) {
		m := mk()
		c := &opmlWire{in: body, reading: true}
		m.codec(c)
		if c.err != nil {
			return nil, c.err
		}
		if len(c.in) != 0 {
			return nil, fmt.Errorf("%d trailing bytes", len(c.in))
		}
		if !bytes.Equal(m.AppendBody(nil), body) {
			return nil, errors.New("not the canonical encoding")
		}
		return deref(m), nil
	}
}

// deref returns the message by value, as handlers type-assert it.
func deref(m opmlMsg) Msg {
	switch v := m.(type) {
	case *MsgRegisterModel:
		return *v
	case *MsgRegisterWorker:
		return *v
	case *MsgUnregisterWorker:
		return *v
	case *MsgSubmitJob:
		return *v
	case *MsgPostResult:
		return *v
	case *MsgChallenge:
		return *v
	case *MsgDisputeMove:
		return *v
	case *MsgOneStep:
		return *v
	}
	return m
}

func encodeWith(m opmlMsg, b []byte) []byte {
	c := &opmlWire{out: b}
	m.codec(c)
	return c.out
}

// opmlWire reads or writes a message with one description of its fields.
type opmlWire struct {
	reading bool
	in, out []byte
	err     error
}

func (c *opmlWire) take(n int) []byte {
	if c.err != nil {
		return nil
	}
	if n > len(c.in) {
		c.err = fmt.Errorf("truncated: need %d bytes, have %d", n, len(c.in))
		return nil
	}
	p := c.in[:n]
	c.in = c.in[n:]
	return p
}

func (c *opmlWire) u8(v *uint8) {
	if !c.reading {
		c.out = append(c.out, *v)
	} else if p := c.take(1); p != nil {
		*v = p[0]
	}
}

func (c *opmlWire) u32(v *uint32) {
	if !c.reading {
		c.out = binary.BigEndian.AppendUint32(c.out, *v)
	} else if p := c.take(4); p != nil {
		*v = binary.BigEndian.Uint32(p)
	}
}

func (c *opmlWire) u64(v *uint64) {
	if !c.reading {
		c.out = binary.BigEndian.AppendUint64(c.out, *v)
	} else if p := c.take(8); p != nil {
		*v = binary.BigEndian.Uint64(p)
	}
}

func (c *opmlWire) hash(h *[32]byte) {
	if !c.reading {
		c.out = append(c.out, h[:]...)
	} else if p := c.take(32); p != nil {
		copy(h[:], p)
	}
}

// count writes n or reads a count of at most max items of at least size
// bytes each.
func (c *opmlWire) count(n int, max, size int) int {
	v := uint32(n)
	c.u32(&v)
	if c.reading && c.err == nil && (v > uint32(max) || int(v) > len(c.in)/size) {
		c.err = fmt.Errorf("count %d over the limit %d or the %d bytes left", v, max, len(c.in))
		return 0
	}
	return int(v)
}

func (c *opmlWire) bytes(p *[]byte, max int) {
	n := c.count(len(*p), max, 1)
	if !c.reading {
		c.out = append(c.out, *p...)
	} else if q := c.take(n); q != nil {
		*p = append([]byte{}, q...)
	}
}

func (c *opmlWire) hashes(hs *[][32]byte, max int) {
	n := c.count(len(*hs), max, 32)
	if c.reading {
		*hs = make([][32]byte, n)
	}
	for i := 0; i < n && c.err == nil; i++ {
		c.hash(&(*hs)[i])
	}
}

func (c *opmlWire) sig(s *TensorSig) {
	c.u8(&s.DType)
	n := c.count(len(s.Shape), MaxRank, 4)
	if c.reading {
		s.Shape = make([]uint32, n)
	}
	for i := 0; i < n && c.err == nil; i++ {
		c.u32(&s.Shape[i])
	}
}

func (m *MsgRegisterModel) codec(c *opmlWire) {
	c.hash(&m.ModelID)
	c.u64(&m.Fee)
	c.u32(&m.NumNodes)
	n := c.count(len(m.Inputs), MaxModelIO, 5)
	if c.reading {
		m.Inputs = make([]TensorSig, n)
	}
	for i := 0; i < n && c.err == nil; i++ {
		c.sig(&m.Inputs[i])
	}
	n = c.count(len(m.Outputs), MaxModelIO, 13)
	if c.reading {
		m.Outputs = make([]OutputSig, n)
	}
	for i := 0; i < n && c.err == nil; i++ {
		o := &m.Outputs[i]
		c.u32(&o.Node)
		c.u32(&o.Output)
		c.sig(&o.Sig)
	}
}

func (m *MsgRegisterWorker) codec(c *opmlWire)   { c.u64(&m.Bond) }
func (m *MsgUnregisterWorker) codec(c *opmlWire) {}
func (m *MsgSubmitJob) codec(c *opmlWire) {
	c.hash(&m.ModelID)
	c.hash(&m.InputsRoot)
	c.u64(&m.WorkerFee)
	var g uint8
	if m.Green {
		g = 1
	}
	c.u8(&g)
	if c.reading && c.err == nil && g > 1 {
		c.err = fmt.Errorf("green flag %d is not 0 or 1", g)
	}
	m.Green = g == 1
	c.u64(&m.MaxGCO2Ug)
	c.u64(&m.EstimateWh)
}

func (m *MsgPostResult) codec(c *opmlWire) {
	c.u64(&m.Job)
	c.hashes(&m.Outputs, MaxModelIO)
}

func (m *MsgChallenge) codec(c *opmlWire) {
	c.u64(&m.Job)
	c.hash(&m.NodesRoot)
}

func (m *MsgDisputeMove) codec(c *opmlWire) {
	c.u64(&m.Job)
	c.u8(&m.Kind)
	c.bytes(&m.Payload, MaxMovePayload)
}

func (m *MsgOneStep) codec(c *opmlWire) {
	c.u64(&m.Job)
	c.bytes(&m.Proof, MaxStepProof)
}

var (
	_ Msg = MsgRegisterModel{}
	_ Msg = MsgRegisterWorker{}
	_ Msg = MsgUnregisterWorker{}
	_ Msg = MsgSubmitJob{}
	_ Msg = MsgPostResult{}
	_ Msg = MsgChallenge{}
	_ Msg = MsgDisputeMove{}
	_ Msg = MsgOneStep{}
)

// Type implements Msg.
func (MsgRegisterModel) Type() MsgType { return TypeRegisterModel }

// AppendBody implements Msg.
func (m MsgRegisterModel) AppendBody(b []byte) []byte { return encodeWith(&m, b) }

// ValidateBasic implements Msg.
func (m MsgRegisterModel) ValidateBasic() error {
	if m.ModelID == ([32]byte{}) {
		return errors.New("model id is zero")
	}
	if m.NumNodes == 0 {
		return errors.New("model has no nodes")
	}
	if len(m.Inputs) == 0 || len(m.Outputs) == 0 {
		return errors.New("model signature needs at least one input and one output")
	}
	if len(m.Inputs) > MaxModelIO || len(m.Outputs) > MaxModelIO {
		return fmt.Errorf("model signature has more than %d inputs or outputs", MaxModelIO)
	}
	for i, o := range m.Outputs {
		if o.Node >= m.NumNodes {
			return fmt.Errorf("output %d comes from node %d, the model has %d nodes", i, o.Node, m.NumNodes)
		}
	}
	return nil
}

// Type implements Msg.
func (MsgRegisterWorker) Type() MsgType { return TypeRegisterWorker }

// AppendBody implements Msg.
func (m MsgRegisterWorker) AppendBody(b []byte) []byte { return encodeWith(&m, b) }

// ValidateBasic implements Msg.
func (m MsgRegisterWorker) ValidateBasic() error {
	if m.Bond == 0 {
		return errors.New("worker bond must be positive")
	}
	return nil
}

// Type implements Msg.
func (MsgUnregisterWorker) Type() MsgType { return TypeUnregisterWorker }

// AppendBody implements Msg.
func (m MsgUnregisterWorker) AppendBody(b []byte) []byte { return b }

// ValidateBasic implements Msg.
func (MsgUnregisterWorker) ValidateBasic() error { return nil }

// Type implements Msg.
func (MsgSubmitJob) Type() MsgType { return TypeSubmitJob }

// AppendBody implements Msg.
func (m MsgSubmitJob) AppendBody(b []byte) []byte { return encodeWith(&m, b) }

// ValidateBasic implements Msg.
func (m MsgSubmitJob) ValidateBasic() error {
	if m.ModelID == ([32]byte{}) || m.InputsRoot == ([32]byte{}) {
		return errors.New("model id and inputs root must be set")
	}
	if (m.Green || m.MaxGCO2Ug > 0) && m.EstimateWh == 0 {
		return errors.New("energy constraints need the job's estimate in Wh")
	}
	return nil
}

// Type implements Msg.
func (MsgPostResult) Type() MsgType { return TypePostResult }

// AppendBody implements Msg.
func (m MsgPostResult) AppendBody(b []byte) []byte { return encodeWith(&m, b) }

// ValidateBasic implements Msg.
func (m MsgPostResult) ValidateBasic() error {
	if len(m.Outputs) == 0 || len(m.Outputs) > MaxModelIO {
		return fmt.Errorf("result has %d output roots, want 1..%d", len(m.Outputs), MaxModelIO)
	}
	return nil
}

// Type implements Msg.
func (MsgChallenge) Type() MsgType { return TypeChallenge }

// AppendBody implements Msg.
func (m MsgChallenge) AppendBody(b []byte) []byte { return encodeWith(&m, b) }

// ValidateBasic implements Msg.
func (MsgChallenge) ValidateBasic() error { return nil }

// Type implements Msg.
func (MsgDisputeMove) Type() MsgType { return TypeDisputeMove }

// AppendBody implements Msg.
func (m MsgDisputeMove) AppendBody(b []byte) []byte { return encodeWith(&m, b) }

// ValidateBasic implements Msg.
func (m MsgDisputeMove) ValidateBasic() error {
	if len(m.Payload) > MaxMovePayload {
		return fmt.Errorf("move payload is %d bytes, at most %d", len(m.Payload), MaxMovePayload)
	}
	return nil
}

// Type implements Msg.
func (MsgOneStep) Type() MsgType { return TypeOneStep }

// AppendBody implements Msg.
func (m MsgOneStep) AppendBody(b []byte) []byte { return encodeWith(&m, b) }

// ValidateBasic implements Msg.
func (m MsgOneStep) ValidateBasic() error {
	if len(m.Proof) == 0 || len(m.Proof) > MaxStepProof {
		return fmt.Errorf("one-step proof is %d bytes, want 1..%d", len(m.Proof), MaxStepProof)
	}
	return nil
}
