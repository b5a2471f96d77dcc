package infer

import (
	"fmt"
	"sort"

	"github.com/provena/provena/merkle"
	"github.com/provena/provena/model"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
)

// ProofSize is the size in bytes of the StepProof RecomputeElement would
// return for element flat of output out of node i, computed from shapes and
// Deps alone (no execution): it is what lets `provena model inspect
// --proof-sizes` bound one-step proofs for a whole model in seconds.
func ProofSize(m *model.Model, i, out, flat int) (int, error) {
	if !m.Validated() || i < 0 || i >= len(m.Nodes) || out < 0 || out >= len(m.Nodes[i].OutMetas) {
		return 0, fmt.Errorf("proof size: no node %d output %d in a validated model", i, out)
	}
	n := &m.Nodes[i]
	op, _ := ops.Lookup(n.OpType)
	eop, ok := op.(ops.ElemOp)
	if !ok {
		return 0, &ops.UnsupportedError{Op: n.OpType, What: "single-element recomputation"}
	}
	metas := stepMetas(n, func(j int) *tensor.Tensor { return m.Weights[n.InRefs[j].Index].Tensor })
	deps, err := eop.Deps(metas, n.Attrs, out, flat)
	if err != nil {
		return 0, err
	}
	np, err := m.ProveNode(i)
	if err != nil {
		return 0, err
	}
	nn, ni := len(m.Nodes), len(m.Inputs)
	leafSize := func(k int) int {
		return 4 + 32*len(m.Nodes[k].OutMetas) + 32*merkle.ProofLen(nn, []int{k})
	}
	om := n.OutMetas[out]
	osize := tensor.NumElements(om.Shape) * om.DType.Size()
	size := 4*32 + 16 + 8 + np.Size() + leafSize(i) + model.OpeningSize(osize, []int{flat * om.DType.Size() / model.ChunkSize})
	for j, r := range n.InRefs {
		if r.Kind == model.RefNone {
			continue
		}
		var rng []ops.Range
		if j < len(deps) {
			rng = deps[j]
		}
		mt := n.InMetas[j]
		chunks, err := depChunks(mt, rng, metas[j].Const != nil)
		if err != nil {
			return 0, err
		}
		if len(chunks) == 0 {
			continue
		}
		total := tensor.NumElements(mt.Shape) * mt.DType.Size()
		switch r.Kind {
		case model.RefWeight:
			size += m.WeightProofSize(r.Index, chunks)
		case model.RefNode:
			size += leafSize(r.Index) + model.OpeningSize(total, chunks)
		case model.RefInput:
			size += 4 + 32 + 32*merkle.ProofLen(ni, []int{r.Index}) + model.OpeningSize(total, chunks)
		}
	}
	return size, nil
}

// OpProofSize is the worst one-step proof found for one op type.
type OpProofSize struct {
	OpType string `json:"op"`
	Nodes  int    `json:"nodes"`
	Bytes  int    `json:"worst_bytes"` // -1: the op has no single-element recomputation
	Node   int    `json:"node"`
	Name   string `json:"node_name"`
	Flat   int    `json:"element"`
}

// ProofReport computes, per op type, the worst one-step proof size over
// every node of m, sampling per node output its first and last elements,
// samples evenly spaced ones, and the element after each of the first
// chunk boundaries (where a window straddles two chunks).
func ProofReport(m *model.Model, samples int) ([]OpProofSize, error) {
	if !m.Validated() {
		return nil, fmt.Errorf("proof report: model not validated")
	}
	worst := map[string]*OpProofSize{}
	for i, n := range m.Nodes {
		w := worst[n.OpType]
		if w == nil {
			w = &OpProofSize{OpType: n.OpType, Bytes: 0, Node: -1}
			worst[n.OpType] = w
		}
		w.Nodes++
		op, _ := ops.Lookup(n.OpType)
		if _, ok := op.(ops.ElemOp); !ok {
			w.Bytes = -1
			continue
		}
		for out, om := range n.OutMetas {
			if n.Outputs[out] == "" && len(n.OutMetas) > 1 {
				continue
			}
			total := tensor.NumElements(om.Shape)
			if total == 0 {
				continue
			}
			for _, flat := range sampleElements(total, samples) {
				s, err := ProofSize(m, i, out, flat)
				if err != nil {
					return nil, fmt.Errorf("proof size of node %d (%s %q) element %d: %w", i, n.OpType, n.Name, flat, err)
				}
				if w.Bytes >= 0 && s > w.Bytes {
					w.Bytes, w.Node, w.Name, w.Flat = s, i, n.Name, flat
				}
			}
		}
	}
	var out []OpProofSize
	for _, w := range worst {
		out = append(out, *w)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Bytes != out[b].Bytes {
			return out[a].Bytes > out[b].Bytes
		}
		return out[a].OpType < out[b].OpType
	})
	return out, nil
}

func sampleElements(total, samples int) []int {
	seen := map[int]bool{}
	var out []int
	add := func(f int) {
		if f >= 0 && f < total && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	add(0)
	add(total - 1)
	for k := 1; k <= samples; k++ {
		add(int(int64(total) * int64(k) / int64(samples+1)))
	}
	for c := 1; c <= 3; c++ {
		add(c*model.ChunkSize/4 - 1)
		add(c * model.ChunkSize / 4)
	}
	return out
}
