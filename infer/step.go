package infer

import (
	"errors"
	"fmt"
	"sort"

	"github.com/provena/provena/merkle"
	"github.com/provena/provena/model"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
)

// StepNode re-executes node i alone from its input values (in the node's
// input order; nil for an omitted optional input). Weights may be passed or
// left nil, in which case the model's are used.
func StepNode(m *model.Model, inputs []*tensor.Tensor, i int) ([]*tensor.Tensor, error) {
	if !m.Validated() {
		return nil, errors.New("step node: model not validated")
	}
	if i < 0 || i >= len(m.Nodes) {
		return nil, fmt.Errorf("step node %d: out of range [0,%d)", i, len(m.Nodes))
	}
	n := &m.Nodes[i]
	if len(inputs) != len(n.Inputs) {
		return nil, fmt.Errorf("step node %d: %d inputs, node takes %d", i, len(inputs), len(n.Inputs))
	}
	for j, r := range n.InRefs {
		if r.Kind == model.RefNone {
			continue
		}
		t := inputs[j]
		if t == nil && r.Kind == model.RefWeight {
			continue
		}
		if t == nil {
			return nil, fmt.Errorf("step node %d: input %d (%s) missing", i, j, n.Inputs[j])
		}
		if err := checkTensor(t, n.InMetas[j]); err != nil {
			return nil, fmt.Errorf("step node %d: input %d (%s) %w", i, j, n.Inputs[j], err)
		}
	}
	return runNode(&ops.Ctx{Threads: threads(0)}, m, n, i, func(r model.Ref) *tensor.Tensor {
		for j, rr := range n.InRefs {
			if rr == r && inputs[j] != nil {
				return inputs[j]
			}
		}
		if r.Kind == model.RefWeight {
			return m.Weights[r.Index].Tensor
		}
		return nil
	})
}

// NodeInputs gathers node i's input values from a run made with
// KeepOutputs (or a partial run up to node i).
func NodeInputs(m *model.Model, res *Result, i int) ([]*tensor.Tensor, error) {
	if i < 0 || i >= len(m.Nodes) {
		return nil, fmt.Errorf("node %d out of range", i)
	}
	n := &m.Nodes[i]
	out := make([]*tensor.Tensor, len(n.Inputs))
	for j, r := range n.InRefs {
		switch r.Kind {
		case model.RefInput:
			out[j] = res.Inputs[r.Index]
		case model.RefWeight:
			out[j] = m.Weights[r.Index].Tensor
		case model.RefNode:
			if res.NodeOutputs == nil || r.Index >= len(res.NodeOutputs) || res.NodeOutputs[r.Index][r.Output] == nil {
				return nil, fmt.Errorf("node %d input %d: value of node %d not kept", i, j, r.Index)
			}
			out[j] = res.NodeOutputs[r.Index][r.Output]
		}
	}
	return out, nil
}

// StepProof is a one-step proof: everything a verifier needs, besides the
// agreed model id and trace root, to recompute one output element of one
// node and compare it with what the trace committed.
type StepProof struct {
	ModelID    merkle.Hash `json:"model_id"`
	TraceRoot  merkle.Hash `json:"trace_root"`
	InputsRoot merkle.Hash `json:"inputs_root"`
	NodesRoot  merkle.Hash `json:"nodes_root"`
	NumInputs  int         `json:"num_inputs"`
	NumNodes   int         `json:"num_nodes"`

	// Node opens the node's record (op type, attributes, input sources and
	// shapes) against the model id.
	Node *model.NodeProof `json:"node"`
	// Claim opens the node's output roots in the trace and the chunk of
	// output Output holding element Flat.
	Output int            `json:"output"`
	Flat   int            `json:"flat"`
	Claim  *NodeLeafProof `json:"claim"`
	Chunk  *model.Opening `json:"chunk"`
	// Inputs opens, per node input, the chunks the element depends on.
	Inputs []*InputOpening `json:"inputs"`
}

// InputOpening opens chunks of one node input. Exactly one of Weight, Node
// and Input is set, matching the input's source in the node record (none
// for an omitted input).
type InputOpening struct {
	Weight *model.WeightProof `json:"weight,omitempty"`
	Node   *NodeLeafProof     `json:"node,omitempty"`
	Input  *InputLeafProof    `json:"input,omitempty"`
	Chunks *model.Opening     `json:"chunks,omitempty"`
}

// Size is the proof's size in bytes as a verifier receives it (hashes,
// records, chunk data and indices; no JSON overhead).
func (p *StepProof) Size() int {
	n := 4*32 + 16 + 8 + p.Node.Size() + p.Claim.Size() + p.Chunk.Size()
	for _, in := range p.Inputs {
		switch {
		case in.Weight != nil:
			n += in.Weight.Size()
		case in.Node != nil:
			n += in.Node.Size() + in.Chunks.Size()
		case in.Input != nil:
			n += in.Input.Size() + in.Chunks.Size()
		}
	}
	return n
}

// SmallConst is the largest weight (in elements) handed to Deps and Infer
// as a constant during one-step proofs, after opening it whole. Operators
// read shapes, axes, scales and clip bounds from such constants; anything
// larger is data, opened only where an element depends on it.
const SmallConst = 16

// stepMetas returns a node's input metas for Deps: shapes, plus the value
// of small or non-float weights (from get, which returns nil when absent).
func stepMetas(n *model.Node, weight func(j int) *tensor.Tensor) []tensor.Meta {
	metas := make([]tensor.Meta, len(n.InMetas))
	for j, mt := range n.InMetas {
		metas[j] = tensor.Meta{DType: mt.DType, Shape: mt.Shape}
		if n.InRefs[j].Kind == model.RefWeight && wholeConst(mt) {
			metas[j].Const = weight(j)
		}
	}
	return metas
}

// wholeConst says whether a weight is opened whole in one-step proofs:
// small ones, and int64/bool/uint8 ones, which ops read as shapes, axes or
// masks at inference time. Float32 and the quantized int8/int32 weights are
// opened by the chunks the element depends on, so a dispute over one output
// of a large int8 layer stays small.
func wholeConst(mt tensor.Meta) bool {
	switch mt.DType {
	case tensor.Float32, tensor.Int8, tensor.Int32:
		return tensor.NumElements(mt.Shape) <= SmallConst
	}
	return true
}

// depChunks turns Deps ranges into the sorted chunk indices they touch.
func depChunks(mt tensor.Meta, ranges []ops.Range, whole bool) ([]int, error) {
	n := tensor.NumElements(mt.Shape)
	size := mt.DType.Size()
	nc := model.NumChunks(mt.DType, mt.Shape)
	if whole {
		out := make([]int, nc)
		for i := range out {
			out[i] = i
		}
		return out, nil
	}
	var out []int
	for _, r := range ranges {
		if r.Lo < 0 || r.Hi > n || r.Lo > r.Hi {
			return nil, fmt.Errorf("dependency range [%d,%d) outside %d elements", r.Lo, r.Hi, n)
		}
		if r.Lo == r.Hi {
			continue
		}
		first := r.Lo * size / model.ChunkSize
		last := (r.Hi*size - 1) / model.ChunkSize
		for c := first; c <= last; c++ {
			out = append(out, c)
		}
	}
	// Deps promises sorted ranges, but a verifier must not rely on an
	// operator's promise for the set it checks.
	sort.Ints(out)
	uniq := out[:0]
	for _, c := range out {
		if len(uniq) == 0 || uniq[len(uniq)-1] != c {
			uniq = append(uniq, c)
		}
	}
	return uniq, nil
}

// sparse builds a zero tensor of meta's shape holding only the opened
// chunks, which is all Elem may read.
func sparse(mt tensor.Meta, o *model.Opening) (*tensor.Tensor, error) {
	t, err := tensor.New(mt.DType, mt.Shape)
	if err != nil {
		return nil, err
	}
	raw := model.TensorBytes(t)
	if !littleEndianView(t, raw) {
		return nil, errors.New("one-step proofs need a little-endian machine")
	}
	for k, c := range o.Chunks {
		lo := c * model.ChunkSize
		if lo+len(o.Data[k]) > len(raw) || (lo+model.ChunkSize <= len(raw) && len(o.Data[k]) != model.ChunkSize) || (lo+model.ChunkSize > len(raw) && lo+len(o.Data[k]) != len(raw)) {
			return nil, fmt.Errorf("chunk %d has %d bytes", c, len(o.Data[k]))
		}
		copy(raw[lo:], o.Data[k])
	}
	return t, nil
}

// littleEndianView reports whether raw aliases t's memory, as model.TensorBytes
// does on little-endian machines (elsewhere it is a copy, and writes to it
// would be lost).
func littleEndianView(t *tensor.Tensor, raw []byte) bool {
	if len(raw) == 0 {
		return true
	}
	old := raw[0]
	raw[0] ^= 0xff
	changed := t.Bits(0)&0xff != uint64(old)
	raw[0] = old
	return changed
}

// RecomputeElement recomputes element flat of output out of node i from
// only the input chunks it depends on, checks it against the run's value,
// and returns the one-step proof. res must come from Run with Trace and
// KeepOutputs.
func RecomputeElement(m *model.Model, res *Result, i, out, flat int) (uint64, *StepProof, error) {
	if res == nil || res.Trace == nil || res.NodeOutputs == nil {
		return 0, nil, errors.New("recompute element: needs a run with Trace and KeepOutputs")
	}
	if !m.Validated() {
		return 0, nil, errors.New("recompute element: model not validated")
	}
	if i < 0 || i >= len(m.Nodes) {
		return 0, nil, fmt.Errorf("recompute element: node %d out of range", i)
	}
	n := &m.Nodes[i]
	fail := func(err error) (uint64, *StepProof, error) {
		return 0, nil, fmt.Errorf("recompute node %d (%s %q) output %d element %d: %w", i, n.OpType, n.Name, out, flat, err)
	}
	op, _ := ops.Lookup(n.OpType)
	eop, ok := op.(ops.ElemOp)
	if !ok {
		return fail(&ops.UnsupportedError{Op: n.OpType, What: "single-element recomputation"})
	}
	if out < 0 || out >= len(n.OutMetas) {
		return fail(errors.New("no such output"))
	}
	if flat < 0 || flat >= tensor.NumElements(n.OutMetas[out].Shape) {
		return fail(errors.New("element out of range"))
	}
	tr := res.Trace
	values, err := NodeInputs(m, res, i)
	if err != nil {
		return fail(err)
	}
	metas := stepMetas(n, func(j int) *tensor.Tensor { return values[j] })
	deps, err := eop.Deps(metas, n.Attrs, out, flat)
	if err != nil {
		return fail(err)
	}
	if len(deps) > len(n.Inputs) {
		return fail(fmt.Errorf("Deps returned %d inputs, node has %d", len(deps), len(n.Inputs)))
	}
	p := &StepProof{
		ModelID: tr.ModelID, TraceRoot: tr.Root, InputsRoot: tr.InputsRoot, NodesRoot: tr.NodesRoot,
		NumInputs: len(tr.InputRoots), NumNodes: len(tr.NodeRoots), Output: out, Flat: flat,
	}
	if p.Node, err = m.ProveNode(i); err != nil {
		return fail(err)
	}
	if p.Claim, err = tr.ProveNodeLeaf(i); err != nil {
		return fail(err)
	}
	ov, otree, err := tr.value(i, out)
	if err != nil {
		return fail(err)
	}
	ec := flat * n.OutMetas[out].DType.Size() / model.ChunkSize
	if p.Chunk, err = model.Open(ov, otree, []int{ec}); err != nil {
		return fail(err)
	}
	sparseIn := make([]*tensor.Tensor, len(n.Inputs))
	for j, r := range n.InRefs {
		io := &InputOpening{}
		p.Inputs = append(p.Inputs, io)
		if r.Kind == model.RefNone {
			continue
		}
		var rng []ops.Range
		if j < len(deps) {
			rng = deps[j]
		}
		whole := metas[j].Const != nil
		chunks, err := depChunks(n.InMetas[j], rng, whole)
		if err != nil {
			return fail(fmt.Errorf("input %d: %w", j, err))
		}
		if len(chunks) == 0 {
			// The element does not read this input; Elem still gets a tensor
			// of the right shape, with nothing opened.
			if sparseIn[j], err = tensor.New(n.InMetas[j].DType, n.InMetas[j].Shape); err != nil {
				return fail(err)
			}
			continue
		}
		switch r.Kind {
		case model.RefWeight:
			if io.Weight, err = m.ProveWeightChunks(m.Weights[r.Index].Name, chunks); err != nil {
				return fail(err)
			}
			io.Chunks = nil
		case model.RefNode:
			if io.Node, err = tr.ProveNodeLeaf(r.Index); err != nil {
				return fail(err)
			}
			v, vt, err := tr.value(r.Index, r.Output)
			if err != nil {
				return fail(err)
			}
			if io.Chunks, err = model.Open(v, vt, chunks); err != nil {
				return fail(err)
			}
		case model.RefInput:
			if io.Input, err = tr.ProveInputLeaf(r.Index); err != nil {
				return fail(err)
			}
			if io.Chunks, err = model.Open(tr.inputs[r.Index], tr.inputTrees[r.Index], chunks); err != nil {
				return fail(err)
			}
		}
		o := io.Chunks
		if io.Weight != nil {
			o = io.Weight.Chunks
		}
		if sparseIn[j], err = sparse(n.InMetas[j], o); err != nil {
			return fail(err)
		}
	}
	v, err := eop.Elem(sparseIn, n.Attrs, out, flat)
	if err != nil {
		return fail(err)
	}
	return v, p, nil
}

// StepResult is the outcome of a verified one-step proof.
type StepResult struct {
	Node    int
	OpType  string
	Output  int
	Flat    int
	Value   uint64 // recomputed from the opened inputs
	Claimed uint64 // what the trace committed
	Match   bool
}

// VerifyStep checks a one-step proof against the agreed model id and trace
// root and recomputes the element. It is pure: it reads nothing but its
// arguments and the operator registry. An error means the proof is invalid;
// a valid proof with Match false shows that the trace committed a wrong
// value.
func VerifyStep(modelID, traceRoot merkle.Hash, p *StepProof) (*StepResult, error) {
	if p == nil || p.Node == nil || p.Claim == nil || p.Chunk == nil {
		return nil, errors.New("verify step: incomplete proof")
	}
	if p.ModelID != modelID || p.TraceRoot != traceRoot {
		return nil, errors.New("verify step: proof is for another model or trace")
	}
	if p.NumInputs < 1 || p.NumNodes < 1 || TraceRoot(modelID, p.InputsRoot, p.NodesRoot, p.NumInputs, p.NumNodes) != traceRoot {
		return nil, errors.New("verify step: inputs and nodes roots do not make the trace root")
	}
	rec, err := model.VerifyNodeProof(modelID, p.Node)
	if err != nil {
		return nil, fmt.Errorf("verify step: %w", err)
	}
	n, i := &rec.Node, rec.Index
	fail := func(format string, args ...any) (*StepResult, error) {
		return nil, fmt.Errorf("verify step: node %d (%s): %s", i, n.OpType, fmt.Sprintf(format, args...))
	}
	if i >= p.NumNodes {
		return fail("index beyond the trace's %d nodes", p.NumNodes)
	}
	op, ok := ops.Lookup(n.OpType)
	if !ok {
		return fail("operator not implemented")
	}
	eop, ok := op.(ops.ElemOp)
	if !ok {
		return fail("operator has no single-element recomputation")
	}
	if p.Claim.Index != i {
		return fail("claim opens node %d", p.Claim.Index)
	}
	if err := p.Claim.Verify(p.NodesRoot, p.NumNodes); err != nil {
		return fail("claim: %v", err)
	}
	if len(p.Claim.Roots) != len(n.OutMetas) || p.Output < 0 || p.Output >= len(n.OutMetas) {
		return fail("claim has %d roots for %d outputs (output %d)", len(p.Claim.Roots), len(n.OutMetas), p.Output)
	}
	om := n.OutMetas[p.Output]
	if p.Flat < 0 || p.Flat >= tensor.NumElements(om.Shape) {
		return fail("element %d out of range", p.Flat)
	}
	ec := p.Flat * om.DType.Size() / model.ChunkSize
	if p.Chunk.Root != p.Claim.Roots[p.Output] || p.Chunk.NumChunks != model.NumChunks(om.DType, om.Shape) || len(p.Chunk.Chunks) != 1 || p.Chunk.Chunks[0] != ec {
		return fail("claimed chunk is not chunk %d of output %d", ec, p.Output)
	}
	if err := p.Chunk.Verify(); err != nil {
		return fail("claimed chunk: %v", err)
	}
	claimT, err := sparse(om, p.Chunk)
	if err != nil {
		return fail("claimed chunk: %v", err)
	}
	if len(p.Inputs) != len(n.Inputs) {
		return fail("%d input openings for %d inputs", len(p.Inputs), len(n.Inputs))
	}
	// Open every input first, so that small constants are known to Deps.
	openings := make([]*model.Opening, len(n.Inputs))
	for j, r := range n.InRefs {
		io := p.Inputs[j]
		if io == nil {
			return fail("input %d: no opening", j)
		}
		mt := n.InMetas[j]
		nc := model.NumChunks(mt.DType, mt.Shape)
		set := 0
		for _, b := range []bool{io.Weight != nil, io.Node != nil, io.Input != nil} {
			if b {
				set++
			}
		}
		if set > 1 {
			return fail("input %d: more than one source", j)
		}
		if set == 0 {
			continue
		}
		switch {
		case r.Kind == model.RefWeight && io.Weight != nil:
			d, err := model.VerifyWeightProof(modelID, io.Weight)
			if err != nil {
				return fail("input %d: %v", j, err)
			}
			// The weights tree's leaf count is not committed on its own, so a
			// leaf's index alone could be mislabelled; its name, unique among
			// weights and bound to the node record, cannot.
			if io.Weight.Index != r.Index || d.Name != n.Inputs[j] || d.DType != mt.DType || !sameShape(d.Shape, mt.Shape) {
				return fail("input %d: opened weight %q is not the node's input", j, d.Name)
			}
			openings[j] = io.Weight.Chunks
		case r.Kind == model.RefNode && io.Node != nil && io.Chunks != nil:
			if io.Node.Index != r.Index || r.Index >= i {
				return fail("input %d: opens node %d, source is node %d", j, io.Node.Index, r.Index)
			}
			if err := io.Node.Verify(p.NodesRoot, p.NumNodes); err != nil {
				return fail("input %d: %v", j, err)
			}
			if r.Output >= len(io.Node.Roots) || io.Node.Roots[r.Output] != io.Chunks.Root {
				return fail("input %d: chunks are not of node %d output %d", j, r.Index, r.Output)
			}
			openings[j] = io.Chunks
		case r.Kind == model.RefInput && io.Input != nil && io.Chunks != nil:
			if io.Input.Index != r.Index {
				return fail("input %d: opens graph input %d, source is %d", j, io.Input.Index, r.Index)
			}
			if err := io.Input.Verify(p.InputsRoot, p.NumInputs); err != nil {
				return fail("input %d: %v", j, err)
			}
			if io.Input.Root != io.Chunks.Root {
				return fail("input %d: chunks are not of graph input %d", j, r.Index)
			}
			openings[j] = io.Chunks
		default:
			return fail("input %d: opening does not match its source", j)
		}
		if openings[j].NumChunks != nc {
			return fail("input %d: %d chunks, shape implies %d", j, openings[j].NumChunks, nc)
		}
		if err := openings[j].Verify(); err != nil {
			return fail("input %d: %v", j, err)
		}
	}
	sparseIn := make([]*tensor.Tensor, len(n.Inputs))
	for j, o := range openings {
		if o == nil {
			if n.InRefs[j].Kind != model.RefNone {
				if sparseIn[j], err = tensor.New(n.InMetas[j].DType, n.InMetas[j].Shape); err != nil {
					return fail("input %d: %v", j, err)
				}
			}
			continue
		}
		if sparseIn[j], err = sparse(n.InMetas[j], o); err != nil {
			return fail("input %d: %v", j, err)
		}
	}
	metas := stepMetas(n, func(j int) *tensor.Tensor {
		if openings[j] == nil || len(openings[j].Chunks) != openings[j].NumChunks {
			return nil
		}
		return sparseIn[j]
	})
	for j := range metas {
		if n.InRefs[j].Kind == model.RefWeight && wholeConst(n.InMetas[j]) && metas[j].Const == nil {
			return fail("input %d: small constant not opened whole", j)
		}
	}
	if _, err := op.Infer(metas, n.Attrs); err != nil {
		return fail("%v", err)
	}
	deps, err := eop.Deps(metas, n.Attrs, p.Output, p.Flat)
	if err != nil {
		return fail("%v", err)
	}
	for j, r := range n.InRefs {
		if r.Kind == model.RefNone {
			continue
		}
		var rng []ops.Range
		if j < len(deps) {
			rng = deps[j]
		}
		need, err := depChunks(n.InMetas[j], rng, metas[j].Const != nil)
		if err != nil {
			return fail("input %d: %v", j, err)
		}
		if !covers(openings[j], need) {
			return fail("input %d: opening misses chunks the element depends on", j)
		}
	}
	v, err := eop.Elem(sparseIn, n.Attrs, p.Output, p.Flat)
	if err != nil {
		return fail("%v", err)
	}
	claimed := claimT.Bits(p.Flat)
	return &StepResult{Node: i, OpType: n.OpType, Output: p.Output, Flat: p.Flat, Value: v, Claimed: claimed, Match: v == claimed}, nil
}

func covers(o *model.Opening, need []int) bool {
	if len(need) == 0 {
		return true
	}
	if o == nil {
		return false
	}
	k := 0
	for _, c := range o.Chunks {
		if k < len(need) && need[k] == c {
			k++
		}
	}
	return k == len(need)
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
