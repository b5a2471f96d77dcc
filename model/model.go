// Package model owns the Provena model package: a validated computation
// graph plus its weights, its canonical binary serialization (see
// docs/model-format.md), and the model id, a SHA-256 Merkle commitment over
// that serialization under which any weight chunk or node record can be
// opened with a proof.
//
// Models are built by importers (package onnx), validated with Validate, and
// stored with Save/Encode; Load/Decode read them back and re-validate, so a
// decoded model always satisfies every invariant the executor relies on.
//
// # Values
//
// Every value has one name: a graph input, a weight, or a node output. Nodes
// are in topological order, and each node input is resolved to a Ref saying
// where its value comes from; Ref is what execution traces and one-step
// proofs use to find the commitment of an input.
package model

import (
	"fmt"
	"sort"

	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
)

// MaxRank bounds tensor ranks in a model so that hostile files cannot ask
// for absurd shape arrays.
const MaxRank = 16

// ValueInfo is a graph input or output.
type ValueInfo struct {
	Name  string       `json:"name"`
	DType tensor.DType `json:"dtype"` // ONNX element type code (1 = float32)
	Shape []int        `json:"shape"`
}

// Meta returns the value's metadata.
func (v ValueInfo) Meta() tensor.Meta {
	return tensor.Meta{DType: v.DType, Shape: v.Shape}
}

// RefKind says where a node input comes from.
type RefKind uint8

const (
	// RefNone is an omitted optional input (ONNX's empty name).
	RefNone RefKind = iota
	// RefInput is graph input Index.
	RefInput
	// RefWeight is weight Index (weights are sorted by name).
	RefWeight
	// RefNode is output Output of node Index.
	RefNode
)

// Ref is the resolved source of a value.
type Ref struct {
	Kind   RefKind
	Index  int
	Output int
}

// Node is one operator application.
type Node struct {
	Name    string
	OpType  string
	Inputs  []string // "" for an omitted optional input
	Outputs []string // "" for an unused optional output
	Attrs   ops.Attrs
	// InMetas and OutMetas are the types and static shapes of the inputs
	// and outputs (never with Const set); InRefs resolves the inputs. All
	// three are filled by Validate.
	InMetas  []tensor.Meta
	OutMetas []tensor.Meta
	InRefs   []Ref
}

// Weight is a named constant tensor.
type Weight struct {
	Name   string
	Tensor *tensor.Tensor
}

// Model is a validated graph with its weights.
type Model struct {
	Name    string
	Opset   int64
	Inputs  []ValueInfo
	Outputs []ValueInfo
	Nodes   []Node
	Weights []Weight // sorted by name

	outRefs []Ref
	weights map[string]int
	cm      *commitment
}

// Weight returns the weight with the given name.
func (m *Model) Weight(name string) (*tensor.Tensor, bool) {
	i, ok := m.weights[name]
	if !ok {
		return nil, false
	}
	return m.Weights[i].Tensor, true
}

// OutputRefs resolves the graph outputs (filled by Validate).
func (m *Model) OutputRefs() []Ref { return m.outRefs }

// Validated reports whether Validate has succeeded on m.
func (m *Model) Validated() bool { return m.outRefs != nil }

// Validate sorts the weights, resolves every node input, re-runs shape
// inference on every node and checks the stored output metadata against it,
// so that the executor can trust every shape. The model must not be changed
// after Validate (its id is cached).
func (m *Model) Validate() error {
	m.cm = nil
	m.outRefs = nil
	sort.Slice(m.Weights, func(i, j int) bool { return m.Weights[i].Name < m.Weights[j].Name })
	defined := map[string]Ref{}
	metas := map[string]tensor.Meta{}
	define := func(name string, r Ref, meta tensor.Meta) error {
		if name == "" {
			return fmt.Errorf("empty value name")
		}
		if _, dup := defined[name]; dup {
			return fmt.Errorf("value %q defined twice", name)
		}
		defined[name] = r
		metas[name] = meta
		return nil
	}
	checkShape := func(what string, dt tensor.DType, shape []int) error {
		if dt.Size() == 0 {
			return fmt.Errorf("%s: unsupported dtype %v", what, dt)
		}
		if len(shape) > MaxRank {
			return fmt.Errorf("%s: rank %d exceeds %d", what, len(shape), MaxRank)
		}
		if _, err := tensor.CheckShape(shape); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	if len(m.Inputs) == 0 || len(m.Outputs) == 0 {
		return fmt.Errorf("model needs at least one input and one output")
	}
	for i, in := range m.Inputs {
		if err := checkShape("input "+in.Name, in.DType, in.Shape); err != nil {
			return err
		}
		if err := define(in.Name, Ref{Kind: RefInput, Index: i}, in.Meta()); err != nil {
			return fmt.Errorf("input %d: %w", i, err)
		}
	}
	m.weights = make(map[string]int, len(m.Weights))
	for i, w := range m.Weights {
		t := w.Tensor
		if t == nil {
			return fmt.Errorf("weight %q: no tensor", w.Name)
		}
		if err := checkShape("weight "+w.Name, t.DType, t.Shape); err != nil {
			return err
		}
		if n := tensor.NumElements(t.Shape); t.Len() != n {
			return fmt.Errorf("weight %q: %d elements for shape %v", w.Name, t.Len(), t.Shape)
		}
		if err := define(w.Name, Ref{Kind: RefWeight, Index: i}, tensor.Meta{DType: t.DType, Shape: t.Shape, Const: t}); err != nil {
			return fmt.Errorf("weight: %w", err)
		}
		m.weights[w.Name] = i
	}
	used := make([]bool, len(m.Weights))
	for i := range m.Nodes {
		n := &m.Nodes[i]
		op, ok := ops.Lookup(n.OpType)
		if !ok {
			return fmt.Errorf("node %d (%s %q): %w", i, n.OpType, n.Name, &ops.UnsupportedError{Op: n.OpType, What: "operator not implemented"})
		}
		n.InRefs = make([]Ref, len(n.Inputs))
		in := make([]tensor.Meta, len(n.Inputs))
		n.InMetas = make([]tensor.Meta, len(n.Inputs))
		for j, name := range n.Inputs {
			if name == "" {
				continue
			}
			r, ok := defined[name]
			if !ok {
				return fmt.Errorf("node %d (%s %q): input %q is not defined before it", i, n.OpType, n.Name, name)
			}
			n.InRefs[j] = r
			in[j] = metas[name]
			n.InMetas[j] = tensor.Meta{DType: in[j].DType, Shape: in[j].Shape}
			if r.Kind == RefWeight {
				used[r.Index] = true
			}
		}
		out, err := op.Infer(in, n.Attrs)
		if err != nil {
			return fmt.Errorf("node %d (%s %q): %w", i, n.OpType, n.Name, err)
		}
		if len(out) != len(n.Outputs) {
			return fmt.Errorf("node %d (%s %q): %d outputs, op infers %d", i, n.OpType, n.Name, len(n.Outputs), len(out))
		}
		if n.OutMetas != nil && len(n.OutMetas) != len(out) {
			return fmt.Errorf("node %d (%s %q): %d stored output metas, want %d", i, n.OpType, n.Name, len(n.OutMetas), len(out))
		}
		stored := n.OutMetas
		n.OutMetas = make([]tensor.Meta, len(out))
		for j, o := range out {
			if err := checkShape(fmt.Sprintf("node %d (%s %q) output %d", i, n.OpType, n.Name, j), o.DType, o.Shape); err != nil {
				return err
			}
			n.OutMetas[j] = tensor.Meta{DType: o.DType, Shape: append([]int(nil), o.Shape...)}
			if stored != nil && !sameMeta(stored[j], o) {
				return fmt.Errorf("node %d (%s %q) output %d: stored %v%v, inferred %v%v", i, n.OpType, n.Name, j, stored[j].DType, stored[j].Shape, o.DType, o.Shape)
			}
			if n.Outputs[j] == "" {
				continue
			}
			if err := define(n.Outputs[j], Ref{Kind: RefNode, Index: i, Output: j}, n.OutMetas[j]); err != nil {
				return fmt.Errorf("node %d (%s %q): %w", i, n.OpType, n.Name, err)
			}
		}
	}
	for i, u := range used {
		if !u {
			return fmt.Errorf("weight %q is not used by any node", m.Weights[i].Name)
		}
	}
	m.outRefs = make([]Ref, len(m.Outputs))
	for i, o := range m.Outputs {
		r, ok := defined[o.Name]
		if !ok || r.Kind != RefNode {
			return fmt.Errorf("output %q is not a node output", o.Name)
		}
		if !sameMeta(metas[o.Name], o.Meta()) {
			mt := metas[o.Name]
			return fmt.Errorf("output %q: declared %v%v, computed %v%v", o.Name, o.DType, o.Shape, mt.DType, mt.Shape)
		}
		m.outRefs[i] = r
	}
	return nil
}

func sameMeta(a, b tensor.Meta) bool {
	if a.DType != b.DType || len(a.Shape) != len(b.Shape) {
		return false
	}
	for i := range a.Shape {
		if a.Shape[i] != b.Shape[i] {
			return false
		}
	}
	return true
}

// Params is the number of weight elements.
func (m *Model) Params() int64 {
	var n int64
	for _, w := range m.Weights {
		n += int64(w.Tensor.Len())
	}
	return n
}

// OpCount is how many nodes use one op type.
type OpCount struct {
	OpType string `json:"op"`
	Count  int    `json:"count"`
}

// Summary is what `provena model inspect` prints.
type Summary struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Opset       int64       `json:"opset"`
	Inputs      []ValueInfo `json:"inputs"`
	Outputs     []ValueInfo `json:"outputs"`
	Nodes       int         `json:"nodes"`
	Weights     int         `json:"weights"`
	Params      int64       `json:"params"`
	WeightBytes int64       `json:"weight_bytes"`
	Ops         []OpCount   `json:"ops"`
}

// Summary describes the model.
func (m *Model) Summary() Summary {
	s := Summary{
		ID: m.IDString(), Name: m.Name, Opset: m.Opset,
		Inputs: m.Inputs, Outputs: m.Outputs,
		Nodes: len(m.Nodes), Weights: len(m.Weights), Params: m.Params(),
	}
	for _, w := range m.Weights {
		s.WeightBytes += int64(w.Tensor.Len() * w.Tensor.DType.Size())
	}
	counts := map[string]int{}
	for _, n := range m.Nodes {
		counts[n.OpType]++
	}
	for op, c := range counts {
		s.Ops = append(s.Ops, OpCount{op, c})
	}
	sort.Slice(s.Ops, func(i, j int) bool {
		if s.Ops[i].Count != s.Ops[j].Count {
			return s.Ops[i].Count > s.Ops[j].Count
		}
		return s.Ops[i].OpType < s.Ops[j].OpType
	})
	return s
}
