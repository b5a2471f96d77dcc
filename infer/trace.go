package infer

import (
	"errors"
	"fmt"

	"github.com/provena/provena/merkle"
	"github.com/provena/provena/model"
	"github.com/provena/provena/tensor"
)

// NodeLeafProof opens the output roots of one node against a nodes root.
type NodeLeafProof struct {
	Index int           `json:"index"`
	Roots []merkle.Hash `json:"roots"`
	Proof []merkle.Hash `json:"proof"`
}

// Size is the proof's size in bytes.
func (p *NodeLeafProof) Size() int { return 4 + 32*len(p.Roots) + 32*len(p.Proof) }

// Verify checks the proof against a nodes root of a trace with numNodes
// nodes.
func (p *NodeLeafProof) Verify(nodesRoot merkle.Hash, numNodes int) error {
	return merkle.VerifyMany(nodesRoot, numNodes, []int{p.Index}, []merkle.Hash{merkle.LeafHash(nodeLeafData(p.Roots))}, p.Proof)
}

// InputLeafProof opens the root of one graph input against an inputs root.
type InputLeafProof struct {
	Index int           `json:"index"`
	Root  merkle.Hash   `json:"root"`
	Proof []merkle.Hash `json:"proof"`
}

// Size is the proof's size in bytes.
func (p *InputLeafProof) Size() int { return 4 + 32 + 32*len(p.Proof) }

// Verify checks the proof against an inputs root of numInputs inputs.
func (p *InputLeafProof) Verify(inputsRoot merkle.Hash, numInputs int) error {
	return merkle.VerifyMany(inputsRoot, numInputs, []int{p.Index}, []merkle.Hash{merkle.LeafHash(p.Root[:])}, p.Proof)
}

// ProveNodeLeaf opens node i's output roots.
func (t *Trace) ProveNodeLeaf(i int) (*NodeLeafProof, error) {
	if i < 0 || i >= len(t.NodeRoots) {
		return nil, fmt.Errorf("trace: node %d out of range", i)
	}
	proof, err := t.nodeTree.Prove(i)
	if err != nil {
		return nil, err
	}
	return &NodeLeafProof{Index: i, Roots: t.NodeRoots[i], Proof: proof}, nil
}

// ProveInputLeaf opens graph input k's root.
func (t *Trace) ProveInputLeaf(k int) (*InputLeafProof, error) {
	if k < 0 || k >= len(t.InputRoots) {
		return nil, fmt.Errorf("trace: input %d out of range", k)
	}
	proof, err := t.inputTree.Prove(k)
	if err != nil {
		return nil, err
	}
	return &InputLeafProof{Index: k, Root: t.InputRoots[k], Proof: proof}, nil
}

// ChunkProof opens one chunk of one node output against a trace's nodes
// root.
type ChunkProof struct {
	Node   *NodeLeafProof `json:"node"`
	Output int            `json:"output"`
	Chunk  *model.Opening `json:"chunk"`
}

// OpenChunk opens chunk c of output out of node i. The run must have used
// Options.Trace and Options.KeepOutputs.
func (t *Trace) OpenChunk(i, out, c int) (*ChunkProof, error) {
	v, tree, err := t.value(i, out)
	if err != nil {
		return nil, err
	}
	leaf, err := t.ProveNodeLeaf(i)
	if err != nil {
		return nil, err
	}
	o, err := model.Open(v, tree, []int{c})
	if err != nil {
		return nil, fmt.Errorf("trace: open node %d output %d chunk %d: %w", i, out, c, err)
	}
	return &ChunkProof{Node: leaf, Output: out, Chunk: o}, nil
}

// VerifyChunkProof checks a ChunkProof against a nodes root.
func VerifyChunkProof(nodesRoot merkle.Hash, numNodes int, p *ChunkProof) error {
	if p == nil || p.Node == nil || p.Chunk == nil {
		return errors.New("verify chunk: empty proof")
	}
	if err := p.Node.Verify(nodesRoot, numNodes); err != nil {
		return fmt.Errorf("verify chunk: node %d: %w", p.Node.Index, err)
	}
	if p.Output < 0 || p.Output >= len(p.Node.Roots) || p.Node.Roots[p.Output] != p.Chunk.Root {
		return fmt.Errorf("verify chunk: output %d root not committed by node %d", p.Output, p.Node.Index)
	}
	if err := p.Chunk.Verify(); err != nil {
		return fmt.Errorf("verify chunk: %w", err)
	}
	return nil
}

func (t *Trace) value(i, out int) (*tensor.Tensor, *merkle.Tree, error) {
	if t.values == nil || t.valueTrees == nil {
		return nil, nil, errors.New("trace: node outputs not kept (run with KeepOutputs)")
	}
	if i < 0 || i >= len(t.values) || out < 0 || out >= len(t.values[i]) {
		return nil, nil, fmt.Errorf("trace: node %d output %d out of range", i, out)
	}
	return t.values[i][out], t.valueTrees[i][out], nil
}

// TraceJSON is the --trace file of `provena model run`.
type TraceJSON struct {
	ModelID    string          `json:"model_id"`
	Root       string          `json:"trace_root"`
	InputsRoot string          `json:"inputs_root"`
	NodesRoot  string          `json:"nodes_root"`
	ChunkSize  int             `json:"chunk_size"`
	InputRoots []string        `json:"input_roots"`
	Nodes      []TraceNodeJSON `json:"nodes"`
}

// TraceNodeJSON is one node of a TraceJSON.
type TraceNodeJSON struct {
	Index  int      `json:"index"`
	Name   string   `json:"name"`
	OpType string   `json:"op"`
	Roots  []string `json:"roots"`
}

// JSON describes the trace for m.
func (t *Trace) JSON(m *model.Model) *TraceJSON {
	j := &TraceJSON{
		ModelID: t.ModelID.String(), Root: t.Root.String(), InputsRoot: t.InputsRoot.String(),
		NodesRoot: t.NodesRoot.String(), ChunkSize: model.ChunkSize,
	}
	for _, r := range t.InputRoots {
		j.InputRoots = append(j.InputRoots, r.String())
	}
	for i, roots := range t.NodeRoots {
		n := TraceNodeJSON{Index: i, Name: m.Nodes[i].Name, OpType: m.Nodes[i].OpType}
		for _, r := range roots {
			n.Roots = append(n.Roots, r.String())
		}
		j.Nodes = append(j.Nodes, n)
	}
	return j
}
