package opml

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/merkle"
	"github.com/provena/provena/model"
	"github.com/provena/provena/tensor"
)

// View is one party's copy of an execution trace, from which it plays: a
// worker answers with openings of it, a challenger compares the worker's
// revealed hashes with it. It wraps an honest traced run and can be
// tampered with (Corrupt, Garble), which is how tests and the worker's
// fault options model a lying worker or a lying challenger.
type View struct {
	m   *model.Model
	res *infer.Result

	roots    [][]merkle.Hash
	override map[[2]int]*tensor.Tensor // tampered node outputs
	garbled  map[int]bool              // nodes whose roots have no preimage
	leaves   []merkle.Hash
	nodes    merkle.Hash
}

// NewView wraps a run made with infer.Options{Trace: true, KeepOutputs: true}.
func NewView(m *model.Model, res *infer.Result) (*View, error) {
	if res == nil || res.Trace == nil || res.NodeOutputs == nil {
		return nil, errors.New("opml view: needs a run with Trace and KeepOutputs")
	}
	v := &View{m: m, res: res, override: map[[2]int]*tensor.Tensor{}, garbled: map[int]bool{}}
	for _, r := range res.Trace.NodeRoots {
		v.roots = append(v.roots, append([]merkle.Hash(nil), r...))
	}
	v.rehash()
	return v, nil
}

func (v *View) rehash() {
	v.leaves = make([]merkle.Hash, len(v.roots))
	for i, r := range v.roots {
		v.leaves[i] = merkle.LeafHash(leafData(r))
	}
	v.nodes, _ = merkle.Root(append([]merkle.Hash(nil), v.leaves...))
}

func leafData(roots []merkle.Hash) []byte {
	b := make([]byte, 0, 32*len(roots))
	for _, r := range roots {
		b = append(b, r[:]...)
	}
	return b
}

// NodesRoot is the view's nodes root.
func (v *View) NodesRoot() merkle.Hash { return v.nodes }

// NumNodes is the number of nodes in the trace.
func (v *View) NumNodes() int { return len(v.roots) }

// TraceRoot is the view's trace root.
func (v *View) TraceRoot() merkle.Hash {
	t := v.res.Trace
	return infer.TraceRoot(t.ModelID, t.InputsRoot, v.nodes, len(t.InputRoots), len(v.roots))
}

// InputsRoot is the committed inputs root of the run.
func (v *View) InputsRoot() merkle.Hash { return v.res.Trace.InputsRoot }

// NodeRoots returns node i's output roots as the view commits them.
func (v *View) NodeRoots(i int) []merkle.Hash { return v.roots[i] }

// ProveNodeLeaf opens node i's roots against the view's nodes root.
func (v *View) ProveNodeLeaf(i int) (*infer.NodeLeafProof, error) {
	t, err := merkle.New(append([]merkle.Hash(nil), v.leaves...))
	if err != nil {
		return nil, err
	}
	p, err := t.Prove(i)
	if err != nil {
		return nil, fmt.Errorf("opml view: open node %d: %w", i, err)
	}
	return &infer.NodeLeafProof{Index: i, Roots: append([]merkle.Hash(nil), v.roots[i]...), Proof: p}, nil
}

func (v *View) value(i, out int) *tensor.Tensor {
	if t, ok := v.override[[2]int{i, out}]; ok {
		return t
	}
	return v.res.NodeOutputs[i][out]
}

// Output returns output out of node i as the view commits it.
func (v *View) Output(i, out int) *tensor.Tensor { return v.value(i, out) }

// Corrupt flips the lowest bit of element flat of output out of node i, as a
// worker that computed one wrong value would commit it (later nodes keep
// their correct values: the lie is confined to one node's commitment).
func (v *View) Corrupt(i, out, flat int) error {
	if i < 0 || i >= len(v.roots) || out < 0 || out >= len(v.roots[i]) {
		return fmt.Errorf("opml view: corrupt node %d output %d: out of range", i, out)
	}
	c, err := FlipLowBit(v.value(i, out), flat)
	if err != nil {
		return fmt.Errorf("opml view: corrupt node %d output %d: %w", i, out, err)
	}
	v.override[[2]int{i, out}] = c
	v.roots[i][out] = model.ValueRoot(c, 1)
	v.rehash()
	return nil
}

// FlipLowBit returns a copy of t with the lowest bit of element flat
// flipped: the smallest lie a committed trace can tell (View.Corrupt).
func FlipLowBit(t *tensor.Tensor, flat int) (*tensor.Tensor, error) { return FlipBit(t, flat, 0) }

// FlipBit returns a copy of t with bit bit (0: the lowest) of element flat
// flipped, the fault tests and demonstrations inject into a trace or a run.
func FlipBit(t *tensor.Tensor, flat, bit int) (*tensor.Tensor, error) {
	es := t.DType.Size()
	if flat < 0 || flat >= t.Len() {
		return nil, fmt.Errorf("flip element %d: out of range [0,%d)", flat, t.Len())
	}
	if bit < 0 || bit >= 8*es {
		return nil, fmt.Errorf("flip bit %d of a %d-byte element", bit, es)
	}
	raw := t.CanonicalBytes()
	raw[flat*es+bit/8] ^= 1 << (bit % 8) // canonical bytes are little-endian
	c, err := tensor.FromCanonical(t.DType, t.Shape, raw)
	if err != nil {
		return nil, fmt.Errorf("flip element %d: %w", flat, err)
	}
	return c, nil
}

// OutputRoots are the value roots of the model's graph outputs as the view
// commits them, in model order: what a result posts.
func (v *View) OutputRoots() ([]merkle.Hash, error) {
	var out []merkle.Hash
	for k, r := range v.m.OutputRefs() {
		if r.Kind != model.RefNode {
			return nil, fmt.Errorf("opml view: graph output %d is not a node output", k)
		}
		out = append(out, v.roots[r.Index][r.Output])
	}
	return out, nil
}

// Claim is the claim of a result posted from this view (its output roots)
// and challenged by a party whose nodes root is against.
func (v *View) Claim(against merkle.Hash) (Claim, error) {
	roots, err := v.OutputRoots()
	if err != nil {
		return Claim{}, err
	}
	c := Claim{ModelID: v.m.ID(), InputsRoot: v.InputsRoot(), NumInputs: len(v.res.Trace.InputRoots), NumNodes: len(v.roots), Against: against}
	for k, r := range v.m.OutputRefs() {
		c.Outputs = append(c.Outputs, OutputClaim{Node: r.Index, Output: r.Output, Root: roots[k]})
	}
	return c, nil
}

// CommitMove is the worker's commit move for a game over claimed outputs:
// the view's nodes root and the leaf of each output's node.
func (v *View) CommitMove(outs []OutputClaim) (Move, error) {
	m := Move{Kind: MoveCommit, NodesRoot: v.nodes}
	for _, o := range outs {
		if o.Node < 0 || o.Node >= len(v.roots) {
			return Move{}, fmt.Errorf("opml view: commit: output node %d out of range", o.Node)
		}
		p, err := v.ProveNodeLeaf(o.Node)
		if err != nil {
			return Move{}, err
		}
		m.Leaves = append(m.Leaves, p)
	}
	return m, nil
}

// Garble replaces node i's first output root with a hash nobody can open,
// as a worker posting a made-up trace root beside a right output would.
func (v *View) Garble(i int) error {
	if i < 0 || i >= len(v.roots) {
		return fmt.Errorf("opml view: garble node %d: out of range", i)
	}
	v.roots[i][0] = merkle.LeafHash([]byte(fmt.Sprintf("provena/opml/garbled/%d", i)))
	v.garbled[i] = true
	v.rehash()
	return nil
}

// subtreeRoot is the hash of node (level, index) of the tree over leaves.
func subtreeRoot(leaves []merkle.Hash, level, index int) merkle.Hash {
	lo := index << level
	hi := min(lo+(1<<level), len(leaves))
	r, _ := merkle.Root(append([]merkle.Hash(nil), leaves[lo:hi]...))
	return r
}

func (v *View) chunkLeaves(i, out int) []merkle.Hash {
	return merkle.HashChunks(model.TensorBytes(v.value(i, out)), model.ChunkSize, 1)
}

// ErrCannotAnswer is returned by Answer when the view has no honest opening
// for the move asked (a garbled commitment).
var ErrCannotAnswer = errors.New("opml view: commitment has no opening")

// Answer computes the worker's next move in g from the view. For the step
// stage it returns the one-step proof instead of a Move.
func (v *View) Answer(g *Game) (Move, *infer.StepProof, error) {
	if g.Turn != Worker {
		return Move{}, nil, fmt.Errorf("opml view: not the worker's turn (%s)", g.Turn)
	}
	switch g.Stage {
	case StageCommit:
		mv, err := v.CommitMove(g.Outputs)
		return mv, nil, err
	case StageNodes:
		l, r := subtreeRoot(v.leaves, g.At.Level-1, 2*g.At.Index), subtreeRoot(v.leaves, g.At.Level-1, 2*g.At.Index+1)
		return Move{Kind: MoveReveal, Left: l, Right: r}, nil, nil
	case StageRoots:
		return Move{Kind: MoveRoots, Roots: append([]merkle.Hash(nil), v.roots[g.Node]...)}, nil, nil
	case StageChunks:
		if v.garbled[g.Node] && g.Output == 0 {
			return Move{}, nil, ErrCannotAnswer
		}
		lv := v.chunkLeaves(g.Node, g.Output)
		l, r := subtreeRoot(lv, g.At.Level-1, 2*g.At.Index), subtreeRoot(lv, g.At.Level-1, 2*g.At.Index+1)
		return Move{Kind: MoveReveal, Left: l, Right: r}, nil, nil
	case StageChunk:
		if v.garbled[g.Node] && g.Output == 0 {
			return Move{}, nil, ErrCannotAnswer
		}
		raw := model.TensorBytes(v.value(g.Node, g.Output))
		lo := g.Chunk * model.ChunkSize
		return Move{Kind: MoveChunk, Data: append([]byte{}, raw[lo:min(lo+model.ChunkSize, len(raw))]...)}, nil, nil
	case StageStep:
		p, err := v.StepProof(g.Node, g.Output, g.Flat)
		return Move{}, p, err
	}
	return Move{}, nil, fmt.Errorf("opml view: nothing to answer in stage %s", g.Stage)
}

// StepProof builds the one-step proof for element flat of output out of
// node i against the view's (possibly tampered) commitments: the honest
// proof from infer.RecomputeElement, with every opening of a tampered node
// rebuilt against the view's trees, which is the best a lying worker can do.
func (v *View) StepProof(i, out, flat int) (*infer.StepProof, error) {
	if v.garbled[i] && out == 0 {
		return nil, ErrCannotAnswer
	}
	_, p, err := infer.RecomputeElement(v.m, v.res, i, out, flat)
	if err != nil {
		return nil, err
	}
	p.NodesRoot, p.TraceRoot = v.nodes, v.TraceRoot()
	if p.Claim, err = v.ProveNodeLeaf(i); err != nil {
		return nil, err
	}
	reopen := func(node, o int, chunks []int) (*model.Opening, error) {
		t := v.value(node, o)
		tree, err := merkle.FromData(model.TensorBytes(t), model.ChunkSize, 1)
		if err != nil {
			return nil, err
		}
		return model.Open(t, tree, chunks)
	}
	if p.Chunk, err = reopen(i, out, p.Chunk.Chunks); err != nil {
		return nil, err
	}
	n := &v.m.Nodes[i]
	for j, in := range p.Inputs {
		if in == nil || in.Node == nil {
			continue
		}
		r := n.InRefs[j]
		if in.Node, err = v.ProveNodeLeaf(r.Index); err != nil {
			return nil, err
		}
		if in.Chunks, err = reopen(r.Index, r.Output, in.Chunks.Chunks); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Challenge computes the challenger's next move in g: the first point where
// the worker's revealed commitments differ from the view's.
func (v *View) Challenge(g *Game) (Move, error) {
	if g.Turn != Challenger {
		return Move{}, fmt.Errorf("opml view: not the challenger's turn (%s)", g.Turn)
	}
	switch g.Stage {
	case StageNodes:
		if g.Children[0] != subtreeRoot(v.leaves, g.At.Level-1, 2*g.At.Index) {
			return Move{Kind: MovePick, Side: Left}, nil
		}
		return Move{Kind: MovePick, Side: Right}, nil
	case StageRoots:
		np, err := v.m.ProveNode(g.Node)
		if err != nil {
			return Move{}, err
		}
		mine := v.roots[g.Node]
		for o := range g.Roots {
			if o < len(mine) && g.Roots[o] != mine[o] {
				return Move{Kind: MoveOutput, Output: o, NodeProof: np}, nil
			}
		}
		// Same roots but a different leaf: the count differs.
		return Move{Kind: MoveOutput, Output: 0, NodeProof: np}, nil
	case StageChunks:
		lv := v.chunkLeaves(g.Node, g.Output)
		if g.Children[0] != subtreeRoot(lv, g.At.Level-1, 2*g.At.Index) {
			return Move{Kind: MovePick, Side: Left}, nil
		}
		return Move{Kind: MovePick, Side: Right}, nil
	case StageChunk:
		raw := model.TensorBytes(v.value(g.Node, g.Output))
		lo := g.Chunk * model.ChunkSize
		mine := raw[lo:min(lo+model.ChunkSize, len(raw))]
		for k := 0; k*g.ElemSize < len(g.ChunkData); k++ {
			a := g.ChunkData[k*g.ElemSize : (k+1)*g.ElemSize]
			if (k+1)*g.ElemSize > len(mine) || !bytes.Equal(a, mine[k*g.ElemSize:(k+1)*g.ElemSize]) {
				return Move{Kind: MoveElement, Offset: k}, nil
			}
		}
		return Move{Kind: MoveElement, Offset: 0}, nil
	}
	return Move{}, fmt.Errorf("opml view: nothing to challenge in stage %s", g.Stage)
}

// Model is the model the view's run executed.
func (v *View) Model() *model.Model { return v.m }

// InputsRoot is the commitment a job carries for its input: the trace's
// inputs root, the Merkle root over the value roots of m's inputs in model
// order.
func InputsRoot(m *model.Model, in map[string]*tensor.Tensor) (merkle.Hash, error) {
	ins, err := infer.CheckInputs(m, in)
	if err != nil {
		return merkle.Hash{}, fmt.Errorf("inputs root: %w", err)
	}
	leaves := make([]merkle.Hash, len(ins))
	for k, t := range ins {
		r := model.ValueRoot(t, 0)
		leaves[k] = merkle.LeafHash(r[:])
	}
	return merkle.Root(leaves)
}
