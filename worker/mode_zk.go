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

// ArtifactProver is a Prover over a .zk artifact (package zk), which holds
// the quantized model, its circuit and the proving key.
type ArtifactProver struct{ A *zk.Artifact }

// ModelID implements Prover.
func (p ArtifactProver) ModelID() [32]byte { return p.A.Model.ID() }

// System implements Prover.
func (p ArtifactProver) System() string { return p.A.System }

// Prove implements Prover: quantize, evaluate the circuit and prove.
func (p ArtifactProver) Prove(input *tensor.Tensor) ([]byte, []int64, error) {
	pr, err := p.A.Prove(input)
	if err != nil {
		return nil, nil, err
	}
	return pr.Bytes, pr.Output, nil
}

// InputCommit implements InputCommitter.
func (p ArtifactProver) InputCommit(input *tensor.Tensor) ([32]byte, error) {
	return ZkInputCommit(p.A.Model, input)
}

// ZkSetupOf is the zk setup an artifact gives ModesDemo: its prover and
// the registration to send (system, verifying key, the weights' Pedersen
// commitment).
func ZkSetupOf(a *zk.Artifact) (*ZkSetup, error) {
	if a.Vis != zk.ChainVisibility {
		return nil, fmt.Errorf("zk artifact has visibility %s; chain jobs need %s", a.Vis, zk.ChainVisibility)
	}
	return &ZkSetup{Prover: ArtifactProver{a}, Register: tx.MsgZkRegister{System: a.System, VerifyingKey: a.VK, WeightsCommit: a.WeightsPoint.Bytes()}}, nil
}

// InsecureDevZkSetup sets up m's circuit with the chain's visibility and a
// single-party setup (zk.Setup with InsecureDevSetup): whoever runs it can
// forge proofs, so it serves in-process demos, tests and benchmarks only.
func InsecureDevZkSetup(m *model.Model, system string) (*ZkSetup, error) {
	a, err := zk.Setup(m, zk.SetupOptions{System: system, Vis: zk.ChainVisibility, InsecureDevSetup: true})
	if err != nil {
		return nil, err
	}
	return ZkSetupOf(a)
}
