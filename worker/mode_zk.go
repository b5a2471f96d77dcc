package worker

import (
	"fmt"

	"github.com/provena/provena/model"
	"github.com/provena/provena/tensor"
	"github.com/provena/provena/tx"
	"github.com/provena/provena/zk"
)

// ZkInputCommit is a zk job's input commitment as the requester computes
// it: the model's QQuantize of x (the circuit's input), committed with
// zk.Commit.
func ZkInputCommit(m *model.Model, x *tensor.Tensor) ([32]byte, error) {
	if len(m.Nodes) == 0 || m.Nodes[0].OpType != "QQuantize" {
		return [32]byte{}, fmt.Errorf("model %s is not quantized (its first node must be QQuantize; see provena model quantize): zk jobs need a quantized model", m.IDString())
	}
	q, err := zk.QuantizeInput(m, x)
	if err != nil {
		return [32]byte{}, err
	}
	c, err := zk.Commit(q)
	if err != nil {
		return [32]byte{}, fmt.Errorf("commit input: %w", err)
	}
	return [32]byte(c), nil
}

// ZkProver is a Prover over package zk's prover for one quantized model,
// with the chain's visibility (input and weights hashed, output public).
type ZkProver struct {
	m *model.Model
	p *zk.Prover
}

// NewZkProver wraps p, a prover of model m's circuit.
func NewZkProver(m *model.Model, p *zk.Prover) *ZkProver { return &ZkProver{m: m, p: p} }

// ModelID implements Prover.
func (z *ZkProver) ModelID() [32]byte { return z.m.ID() }

// System implements Prover.
func (z *ZkProver) System() string { return z.p.System }

// Prove implements Prover: quantize, evaluate the circuit and prove.
func (z *ZkProver) Prove(input *tensor.Tensor) ([]byte, []int64, error) {
	x, err := zk.QuantizeInput(z.m, input)
	if err != nil {
		return nil, nil, err
	}
	st, proof, err := z.p.Prove(x)
	if err != nil {
		return nil, nil, err
	}
	return proof, st.Output, nil
}

// InputCommit implements InputCommitter.
func (z *ZkProver) InputCommit(input *tensor.Tensor) ([32]byte, error) {
	return ZkInputCommit(z.m, input)
}

// InsecureDevZkSetup compiles m's circuit with the chain's visibility and
// runs a single-party setup (zk.InsecureDevSetup): whoever runs it can
// forge proofs, so it serves in-process demos, tests and benchmarks only.
// It returns the prover and the registration to send.
func InsecureDevZkSetup(m *model.Model, system string) (*ZkSetup, error) {
	g, err := zk.FromModel(m)
	if err != nil {
		return nil, err
	}
	ccs, err := zk.Compile(g, zk.ChainVisibility, system)
	if err != nil {
		return nil, err
	}
	keys, err := zk.InsecureDevSetup(system, ccs)
	if err != nil {
		return nil, err
	}
	p, err := zk.NewProver(system, g, zk.ChainVisibility, ccs, keys.PK)
	if err != nil {
		return nil, err
	}
	wc, err := g.WeightsCommitment()
	if err != nil {
		return nil, err
	}
	return &ZkSetup{Prover: NewZkProver(m, p), Register: tx.MsgZkRegister{System: system, VerifyingKey: keys.VK, WeightsCommit: tx.DataHash(wc)}}, nil
}
