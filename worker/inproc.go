package worker

import (
	"crypto/ed25519"
	"fmt"
	"sync"

	"github.com/provena/provena/app"
	"github.com/provena/provena/model"
	"github.com/provena/provena/opml"
	"github.com/provena/provena/opml/opmlchain"
	"github.com/provena/provena/tensor"
	"github.com/provena/provena/tx"
)

// MemStore is an in-memory content-addressed store of model packages (by
// model id) and job inputs (by inputs root).
type MemStore struct {
	mu      sync.Mutex
	models  map[[32]byte]*model.Model
	inputs  map[[32]byte]map[string]*tensor.Tensor
	outputs map[[32]byte]*tensor.Tensor
	sealed  map[[32]byte][]byte // private-mode ciphertexts (modes.go)
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{models: map[[32]byte]*model.Model{}, inputs: map[[32]byte]map[string]*tensor.Tensor{}, outputs: map[[32]byte]*tensor.Tensor{}}
}

// PutModel stores m under its id and returns the id.
func (s *MemStore) PutModel(m *model.Model) [32]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := m.ID()
	s.models[id] = m
	return id
}

// PutInputs stores a job input for m and returns its inputs root.
func (s *MemStore) PutInputs(m *model.Model, in map[string]*tensor.Tensor) ([32]byte, error) {
	r, err := opml.InputsRoot(m, in)
	if err != nil {
		return r, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inputs[r] = in
	return r, nil
}

// Model returns a stored model.
func (s *MemStore) Model(id [32]byte) (*model.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.models[id]
	if !ok {
		return nil, fmt.Errorf("store: no model %x", id)
	}
	return m, nil
}

// Inputs returns a stored input.
func (s *MemStore) Inputs(root [32]byte) (map[string]*tensor.Tensor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.inputs[root]
	if !ok {
		return nil, fmt.Errorf("store: no input %x", root)
	}
	return in, nil
}

// PutOutput stores a job output under its value root.
func (s *MemStore) PutOutput(root [32]byte, t *tensor.Tensor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outputs[root] = t
	return nil
}

// Output returns a stored output.
func (s *MemStore) Output(root [32]byte) (*tensor.Tensor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.outputs[root]
	if !ok {
		return nil, fmt.Errorf("store: no output %x", root)
	}
	return t, nil
}

// InProc is a Client over an in-process chain and a MemStore.
type InProc struct {
	Chain *opmlchain.Chain
	Key   ed25519.PrivateKey
	Store *MemStore
}

var _ Client = (*InProc)(nil)

// Address implements Client.
func (c *InProc) Address() tx.Address {
	return tx.AddressFromPubKey(c.Key.Public().(ed25519.PublicKey))
}

// Height implements Client.
func (c *InProc) Height() (int64, error) { return c.Chain.Height(), nil }

// Job implements Client.
func (c *InProc) Job(id uint64) (*app.OpmlJob, error) {
	var j app.OpmlJob
	ok, err := c.Chain.Query(app.QueryOpmlJob, fmt.Appendf(nil, "%d", id), &j)
	if err != nil || !ok {
		return nil, err
	}
	return &j, nil
}

// Worker implements Client.
func (c *InProc) Worker(a tx.Address) (*app.OpmlWorker, error) {
	var w app.OpmlWorker
	ok, err := c.Chain.Query(app.QueryOpmlWorker, a[:], &w)
	if err != nil || !ok {
		return nil, err
	}
	return &w, nil
}

// ModelRecord implements Client.
func (c *InProc) ModelRecord(id [32]byte) (*app.OpmlModel, error) {
	var m app.OpmlModel
	ok, err := c.Chain.Query(app.QueryOpmlModel, id[:], &m)
	if err != nil || !ok {
		return nil, err
	}
	return &m, nil
}

// Send implements Client.
func (c *InProc) Send(msg tx.Msg) error {
	_, err := c.Chain.Submit(c.Key, msg)
	return err
}

// PutOutput implements OutputStore.
func (c *InProc) PutOutput(root [32]byte, t *tensor.Tensor) error { return c.Store.PutOutput(root, t) }

// Model implements Client.
func (c *InProc) Model(id [32]byte) (*model.Model, error) { return c.Store.Model(id) }

// Inputs implements Client.
func (c *InProc) Inputs(root [32]byte) (map[string]*tensor.Tensor, error) {
	return c.Store.Inputs(root)
}

// RegisterModelMsg is the registration message for m with fee.
func RegisterModelMsg(m *model.Model, fee uint64) tx.MsgRegisterModel {
	msg := tx.MsgRegisterModel{ModelID: m.ID(), Fee: fee, NumNodes: uint32(len(m.Nodes))}
	sig := func(dt tensor.DType, shape []int) tx.TensorSig {
		s := tx.TensorSig{DType: uint8(dt)}
		for _, d := range shape {
			s.Shape = append(s.Shape, uint32(d))
		}
		return s
	}
	for _, in := range m.Inputs {
		msg.Inputs = append(msg.Inputs, sig(in.DType, in.Shape))
	}
	for k, r := range m.OutputRefs() {
		o := m.Outputs[k]
		msg.Outputs = append(msg.Outputs, tx.OutputSig{Node: uint32(r.Index), Output: uint32(r.Output), Sig: sig(o.DType, o.Shape)})
	}
	return msg
}
