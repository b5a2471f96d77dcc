// Package onnx owns ONNX import: a protobuf wire decoder for the subset of
// onnx.proto that inference graphs use (written on protowire, no generated
// code), and the import of a decoded graph into a Provena model package
// (package model).
//
// Import resolves static shapes for given input shapes, folds every node
// whose inputs are all constant (Shape/Gather/Concat/Cast/Slice chains
// become weights), folds BatchNormalization into a preceding Conv, removes
// Identity and Dropout, drops unused weights and dead nodes, and sets the
// reserved attribute "_opset" on every node. Anything Provena cannot run is
// reported at once, as one list naming op type, node and what is missing.
//
// Hostile files: the decoder bounds repeated fields, ranks and node counts
// and never recurses into subgraphs; every tensor shape passes
// tensor.CheckShape before anything is allocated for it.
package onnx

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/provena/provena/model"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
)

// MaxFileBytes is the largest ONNX file Import reads (protobuf's own limit).
const MaxFileBytes = 1<<31 - 1

// Supported default-domain opsets.
const (
	MinOpset = 9
	MaxOpset = 17
)

// Options configures an import.
type Options struct {
	// InputShapes gives static shapes for graph inputs by name; it overrides
	// dynamic dimensions (and must agree with static ones).
	InputShapes map[string][]int
	// Name is the model name; default: the ONNX graph name.
	Name string
	// Progress, when set, is called as nodes are processed.
	Progress func(stage string, done, total int)
}

// Problem is one reason an import failed.
type Problem struct {
	Node   string // node name ("" for graph-level problems)
	OpType string
	What   string
}

func (p Problem) String() string {
	if p.OpType == "" {
		return p.What
	}
	return fmt.Sprintf("node %q (%s): %s", p.Node, p.OpType, p.What)
}

// ImportError lists every problem found, so that one run shows all the
// operators and attributes a model is missing.
type ImportError struct {
	Problems []Problem
}

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "onnx import: %d problem(s):", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// ImportFile reads and imports an ONNX file.
func ImportFile(path string, opts Options) (*model.Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	if st.Size() > MaxFileBytes {
		return nil, fmt.Errorf("import %s: %d bytes exceeds the %d byte limit", path, st.Size(), MaxFileBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	m, err := Import(data, opts)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	return m, nil
}

// Import imports an ONNX model from its protobuf bytes.
func Import(data []byte, opts Options) (*model.Model, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("onnx import: %d bytes exceeds the limit", len(data))
	}
	mp, err := decodeModelProto(data)
	if err != nil {
		return nil, fmt.Errorf("onnx decode: %w", err)
	}
	opset := int64(-1)
	for _, o := range mp.OpsetImports {
		if o.Domain == "" || o.Domain == "ai.onnx" {
			opset = o.Version
		}
	}
	if opset < 0 {
		return nil, errors.New("onnx import: no default-domain opset import")
	}
	if opset < MinOpset || opset > MaxOpset {
		return nil, fmt.Errorf("onnx import: opset %d not supported (supported: %d to %d)", opset, MinOpset, MaxOpset)
	}
	im := &importer{
		opset:  opset,
		opts:   opts,
		consts: map[string]*tensor.Tensor{},
		metas:  map[string]tensor.Meta{},
		alias:  map[string]string{},
		bad:    map[string]bool{},
		names:  map[string]bool{},
	}
	return im.run(mp.Graph)
}

type importer struct {
	opset    int64
	opts     Options
	consts   map[string]*tensor.Tensor
	metas    map[string]tensor.Meta // non-constant values
	alias    map[string]string      // Identity/Dropout outputs -> their input
	bad      map[string]bool        // outputs of nodes that failed
	names    map[string]bool        // every value name seen, for fresh names
	inputs   []model.ValueInfo
	nodes    []*model.Node
	problems []Problem
}

func (im *importer) problem(n *nodeProto, format string, args ...any) {
	p := Problem{What: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Node, p.OpType = n.Name, n.OpType
	}
	im.problems = append(im.problems, p)
}

func (im *importer) resolve(name string) string {
	for i := 0; i < len(im.alias)+1; i++ {
		a, ok := im.alias[name]
		if !ok {
			return name
		}
		name = a
	}
	return name
}

func (im *importer) run(g *graphProto) (*model.Model, error) {
	if g.HasSparse {
		return nil, errors.New("onnx import: sparse initializers not supported")
	}
	for i, t := range g.Initializers {
		if t.Name == "" {
			return nil, fmt.Errorf("onnx import: initializer %d has no name", i)
		}
		if _, dup := im.consts[t.Name]; dup {
			return nil, fmt.Errorf("onnx import: initializer %q defined twice", t.Name)
		}
		v, err := toTensor(t)
		if err != nil {
			return nil, fmt.Errorf("onnx import: initializer %q: %w", t.Name, err)
		}
		im.consts[t.Name] = v
		im.names[t.Name] = true
	}
	if err := im.graphInputs(g); err != nil {
		return nil, err
	}
	order, err := topoOrder(g, im.consts, im.metas)
	if err != nil {
		return nil, fmt.Errorf("onnx import: %w", err)
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			im.names[o] = true
		}
	}
	im.missingOps(g)
	for k, idx := range order {
		if im.opts.Progress != nil && k%64 == 0 {
			im.opts.Progress("nodes", k, len(order))
		}
		im.node(g.Nodes[idx])
	}
	if im.opts.Progress != nil {
		im.opts.Progress("nodes", len(order), len(order))
	}
	outputs := im.graphOutputs(g)
	if len(im.problems) > 0 {
		return nil, &ImportError{Problems: im.problems}
	}
	im.foldBatchNorm(outputs)
	live := im.liveNodes(outputs)
	m := &model.Model{Name: im.opts.Name, Opset: im.opset, Inputs: im.inputs, Outputs: outputs}
	if m.Name == "" {
		m.Name = g.Name
	}
	weights := map[string]bool{}
	for _, n := range live {
		for _, in := range n.Inputs {
			if _, ok := im.consts[in]; ok && !weights[in] {
				weights[in] = true
				m.Weights = append(m.Weights, model.Weight{Name: in, Tensor: im.consts[in]})
			}
		}
		m.Nodes = append(m.Nodes, *n)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("onnx import: %w", err)
	}
	return m, nil
}

func (im *importer) graphInputs(g *graphProto) error {
	seen := map[string]bool{}
	for _, v := range g.Inputs {
		if _, isInit := im.consts[v.Name]; isInit {
			continue // IR < 4 lists initializers as inputs too
		}
		if v.Name == "" || seen[v.Name] {
			return fmt.Errorf("onnx import: graph input %q empty or duplicated", v.Name)
		}
		seen[v.Name] = true
		if !v.HasType || v.NotTens || !v.HasShape {
			return fmt.Errorf("onnx import: graph input %q: needs a tensor type with a shape", v.Name)
		}
		dt, err := dtypeOf(v.ElemType)
		if err != nil {
			return fmt.Errorf("onnx import: graph input %q: %w", v.Name, err)
		}
		shape := make([]int, len(v.Dims))
		override, hasOverride := im.opts.InputShapes[v.Name]
		if hasOverride && len(override) != len(v.Dims) {
			return fmt.Errorf("onnx import: input %q has rank %d, --input-shape gives %v", v.Name, len(v.Dims), override)
		}
		for i, d := range v.Dims {
			switch {
			case d.HasValue && d.Value > 0:
				if hasOverride && int64(override[i]) != d.Value {
					return fmt.Errorf("onnx import: input %q dimension %d is fixed at %d, --input-shape gives %d", v.Name, i, d.Value, override[i])
				}
				if d.Value > tensor.MaxElements {
					return fmt.Errorf("onnx import: input %q dimension %d too large", v.Name, i)
				}
				shape[i] = int(d.Value)
			case hasOverride:
				if override[i] <= 0 {
					return fmt.Errorf("onnx import: input %q: --input-shape dimension %d must be positive", v.Name, i)
				}
				shape[i] = override[i]
			default:
				name := d.Param
				if name == "" {
					name = "?"
				}
				return fmt.Errorf("onnx import: input %q dimension %d is dynamic (%s): give a static shape with --input-shape %s=...", v.Name, i, name, v.Name)
			}
		}
		if _, err := tensor.CheckShape(shape); err != nil {
			return fmt.Errorf("onnx import: input %q: %w", v.Name, err)
		}
		im.inputs = append(im.inputs, model.ValueInfo{Name: v.Name, DType: dt, Shape: shape})
		im.metas[v.Name] = tensor.Meta{DType: dt, Shape: shape}
		im.names[v.Name] = true
	}
	var unknown []string
	for name := range im.opts.InputShapes {
		if !seen[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("onnx import: --input-shape names unknown input(s) %v", unknown)
	}
	if len(im.inputs) == 0 {
		return errors.New("onnx import: graph has no non-constant input")
	}
	return nil
}

// topoOrder returns node indices in a topological order, keeping the file's
// order wherever it is already valid (the smallest ready index goes first).
func topoOrder(g *graphProto, consts map[string]*tensor.Tensor, inputs map[string]tensor.Meta) ([]int, error) {
	producer := map[string]int{}
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == "" {
				continue
			}
			if _, dup := producer[o]; dup {
				return nil, fmt.Errorf("value %q produced twice", o)
			}
			if _, c := consts[o]; c {
				return nil, fmt.Errorf("value %q is both an initializer and a node output", o)
			}
			if _, in := inputs[o]; in {
				return nil, fmt.Errorf("value %q is both a graph input and a node output", o)
			}
			producer[o] = i
		}
	}
	pending := make([]int, len(g.Nodes))
	users := make([][]int, len(g.Nodes))
	for i, n := range g.Nodes {
		seen := map[int]bool{}
		for _, in := range n.Inputs {
			if in == "" {
				continue
			}
			if p, ok := producer[in]; ok {
				if !seen[p] {
					seen[p] = true
					pending[i]++
					users[p] = append(users[p], i)
				}
				continue
			}
			_, c := consts[in]
			_, gi := inputs[in]
			if !c && !gi {
				return nil, fmt.Errorf("node %q (%s): input %q is never defined", n.Name, n.OpType, in)
			}
		}
	}
	ready := &intHeap{}
	for i, p := range pending {
		if p == 0 {
			heap.Push(ready, i)
		}
	}
	order := make([]int, 0, len(g.Nodes))
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		order = append(order, i)
		for _, u := range users[i] {
			if pending[u]--; pending[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	if len(order) != len(g.Nodes) {
		return nil, errors.New("graph has a cycle")
	}
	return order, nil
}

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (im *importer) markBad(n *nodeProto) {
	for _, o := range n.Outputs {
		if o != "" {
			im.bad[o] = true
		}
	}
}

func (im *importer) node(n *nodeProto) {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		im.problem(n, "operator domain %q not supported", n.Domain)
		im.markBad(n)
		return
	}
	inputs := make([]string, len(n.Inputs))
	for i, in := range n.Inputs {
		if in != "" {
			inputs[i] = im.resolve(in)
			if im.bad[inputs[i]] {
				// The producer already reported its problem.
				im.markBad(n)
				return
			}
		}
	}
	switch n.OpType {
	case "Constant":
		if len(n.Outputs) != 1 || len(n.Inputs) != 0 {
			im.problem(n, "Constant needs no input and one output")
			im.markBad(n)
			return
		}
		t, err := constantValue(n)
		if err != nil {
			im.problem(n, "%v", err)
			im.markBad(n)
			return
		}
		im.consts[n.Outputs[0]] = t
		return
	case "Identity", "Dropout":
		if len(inputs) < 1 || inputs[0] == "" || len(n.Outputs) < 1 {
			im.problem(n, "needs an input and an output")
			im.markBad(n)
			return
		}
		if n.OpType == "Dropout" {
			if len(inputs) >= 3 && inputs[2] != "" {
				if t, ok := im.consts[inputs[2]]; !ok || t.Len() != 1 || t.U8[0] != 0 {
					im.problem(n, "input training_mode must be a constant false")
				}
			}
			for _, o := range n.Outputs[1:] {
				if o != "" {
					// The mask output exists only for training graphs.
					im.bad[o] = true
				}
			}
		}
		im.alias[n.Outputs[0]] = inputs[0]
		return
	}
	attrs, ok := im.attrs(n)
	if !ok {
		im.markBad(n)
		return
	}
	op, found := ops.Lookup(n.OpType)
	if !found && n.OpType == "BatchNormalization" {
		// Most BatchNormalizations fold into their Conv below; one that does
		// not fails in Validate, naming the op.
		op, found = bnShapeOnly{}, true
	}
	if !found {
		im.markBad(n) // reported once per op type by missingOps
		return
	}
	in := make([]tensor.Meta, len(inputs))
	allConst := len(inputs) > 0
	for i, name := range inputs {
		if name == "" {
			continue
		}
		if t, ok := im.consts[name]; ok {
			in[i] = tensor.Meta{DType: t.DType, Shape: t.Shape, Const: t}
			continue
		}
		allConst = false
		in[i] = im.metas[name]
	}
	out, err := op.Infer(in, attrs)
	if err != nil {
		im.problem(n, "%v", err)
		im.markBad(n)
		return
	}
	if len(out) < len(n.Outputs) {
		im.problem(n, "node has %d outputs, operator produces %d", len(n.Outputs), len(out))
		im.markBad(n)
		return
	}
	out = out[:len(n.Outputs)]
	if n.OpType == "Shape" && out[0].Const == nil && len(in) == 1 {
		if t, err := shapeValue(in[0].Shape, attrs); err == nil {
			out[0].Const = t
		}
	}
	folded := true
	for _, o := range out {
		folded = folded && o.Const != nil
	}
	if !folded && allConst {
		ts := make([]*tensor.Tensor, len(inputs))
		for i, name := range inputs {
			if name != "" {
				ts[i] = im.consts[name]
			}
		}
		res, err := op.Run(&ops.Ctx{Threads: 1}, ts, attrs)
		if err != nil {
			im.problem(n, "constant folding: %v", err)
			im.markBad(n)
			return
		}
		if len(res) < len(out) {
			im.problem(n, "constant folding: %d outputs, want %d", len(res), len(out))
			im.markBad(n)
			return
		}
		for i := range out {
			if res[i] == nil || res[i].DType != out[i].DType || tensor.NumElements(res[i].Shape) != res[i].Len() {
				im.problem(n, "constant folding: output %d does not match its inferred type", i)
				im.markBad(n)
				return
			}
			out[i].Const = res[i]
		}
		folded = true
	}
	for i, o := range n.Outputs {
		if o == "" {
			continue
		}
		if folded {
			im.consts[o] = out[i].Const
		} else {
			im.metas[o] = tensor.Meta{DType: out[i].DType, Shape: out[i].Shape}
		}
	}
	if folded {
		return
	}
	outputs := append([]string(nil), n.Outputs...)
	im.nodes = append(im.nodes, &model.Node{Name: n.Name, OpType: n.OpType, Inputs: inputs, Outputs: outputs, Attrs: attrs})
}

// missingOps reports every op type the graph uses that Provena does not
// implement, once each, before any node is processed: a missing op hides
// the problems of everything downstream of it.
func (im *importer) missingOps(g *graphProto) {
	count := map[string]int{}
	first := map[string]*nodeProto{}
	var types []string
	for _, n := range g.Nodes {
		switch n.OpType {
		case "Constant", "Identity", "Dropout", "BatchNormalization":
			continue
		}
		if n.Domain != "" && n.Domain != "ai.onnx" {
			continue
		}
		if _, ok := ops.Lookup(n.OpType); ok {
			continue
		}
		if count[n.OpType] == 0 {
			types = append(types, n.OpType)
			first[n.OpType] = n
		}
		count[n.OpType]++
	}
	sort.Strings(types)
	for _, t := range types {
		im.problem(first[t], "operator not implemented (%d node(s) use it)", count[t])
	}
}

// bnShapeOnly infers BatchNormalization's output shape when no kernel is
// registered, so that the node can still be folded into its Conv.
type bnShapeOnly struct{}

func (bnShapeOnly) Infer(in []tensor.Meta, a ops.Attrs) ([]tensor.Meta, error) {
	if len(in) != 5 || in[0].DType != tensor.Float32 {
		return nil, &ops.UnsupportedError{Op: "BatchNormalization", What: "needs 5 inputs, float32"}
	}
	return []tensor.Meta{{DType: in[0].DType, Shape: in[0].Shape}}, nil
}

func (bnShapeOnly) Run(*ops.Ctx, []*tensor.Tensor, ops.Attrs) ([]*tensor.Tensor, error) {
	return nil, &ops.UnsupportedError{Op: "BatchNormalization", What: "operator not implemented (only folding into Conv is)"}
}

// shapeValue is the Shape operator on a static shape (start/end per opset
// 15), so that Shape of a non-constant tensor still folds.
func shapeValue(shape []int, a ops.Attrs) (*tensor.Tensor, error) {
	r := int64(len(shape))
	start, end := int64(0), r
	if v, ok := a["start"]; ok {
		start = v.Int
	}
	if v, ok := a["end"]; ok {
		end = v.Int
	}
	clamp := func(x int64) int64 {
		if x < 0 {
			x += r
		}
		return max(0, min(x, r))
	}
	start, end = clamp(start), clamp(end)
	if end < start {
		end = start
	}
	t, err := tensor.New(tensor.Int64, []int{int(end - start)})
	if err != nil {
		return nil, err
	}
	for i := start; i < end; i++ {
		t.I64[i-start] = int64(shape[i])
	}
	return t, nil
}

func (im *importer) attrs(n *nodeProto) (ops.Attrs, bool) {
	a := ops.Attrs{
		ops.OpsetAttr:   {Kind: ops.AttrInt, Int: im.opset},
		ops.OutputsAttr: {Kind: ops.AttrInt, Int: int64(len(n.Outputs))},
	}
	ok := true
	for _, p := range n.Attrs {
		if p.Name == "" || strings.HasPrefix(p.Name, "_") {
			im.problem(n, "attribute %q: reserved or empty name", p.Name)
			ok = false
			continue
		}
		if _, dup := a[p.Name]; dup {
			im.problem(n, "attribute %s: given twice", p.Name)
			ok = false
			continue
		}
		v, err := convertAttr(p)
		if err != nil {
			im.problem(n, "attribute %s: %v", p.Name, err)
			ok = false
			continue
		}
		a[p.Name] = v
	}
	return a, ok
}

func convertAttr(p *attrProto) (ops.Attr, error) {
	if p.RefAttr != "" {
		return ops.Attr{}, errors.New("attribute references (functions) not supported")
	}
	if p.HasG || p.Other {
		return ops.Attr{}, errors.New("subgraph, sparse tensor or type attributes not supported")
	}
	typ := p.Type
	if typ == 0 {
		// Pre-IR-3 files omit the type; infer it from the field present.
		switch {
		case len(p.Floats) > 0:
			typ = attrFloats
		case len(p.Ints) > 0:
			typ = attrInts
		case p.T != nil:
			typ = attrTensor
		case p.S != nil:
			typ = attrString
		default:
			return ops.Attr{}, errors.New("attribute type missing")
		}
	}
	switch typ {
	case attrFloat:
		return ops.Attr{Kind: ops.AttrFloat, Float: p.F}, nil
	case attrInt:
		return ops.Attr{Kind: ops.AttrInt, Int: p.I}, nil
	case attrString:
		return ops.Attr{Kind: ops.AttrString, String: string(p.S)}, nil
	case attrFloats:
		return ops.Attr{Kind: ops.AttrFloats, Floats: append([]float32{}, p.Floats...)}, nil
	case attrInts:
		return ops.Attr{Kind: ops.AttrInts, Ints: append([]int64{}, p.Ints...)}, nil
	case attrTensor:
		if p.T == nil {
			return ops.Attr{}, errors.New("tensor attribute without a tensor")
		}
		t, err := toTensor(p.T)
		if err != nil {
			return ops.Attr{}, err
		}
		return ops.Attr{Kind: ops.AttrTensor, Tensor: t}, nil
	case attrStrings:
		return ops.Attr{}, errors.New("string list attributes not supported")
	}
	return ops.Attr{}, fmt.Errorf("attribute type %d not supported", typ)
}

func constantValue(n *nodeProto) (*tensor.Tensor, error) {
	if len(n.Attrs) != 1 {
		return nil, fmt.Errorf("Constant needs exactly one attribute, has %d", len(n.Attrs))
	}
	p := n.Attrs[0]
	switch p.Name {
	case "value":
		if p.T == nil {
			return nil, errors.New("attribute value: no tensor")
		}
		return toTensor(p.T)
	case "value_float":
		t, _ := tensor.New(tensor.Float32, nil)
		t.F32[0] = p.F
		return t, nil
	case "value_int":
		t, _ := tensor.New(tensor.Int64, nil)
		t.I64[0] = p.I
		return t, nil
	case "value_floats":
		t, _ := tensor.New(tensor.Float32, []int{len(p.Floats)})
		copy(t.F32, p.Floats)
		return t, nil
	case "value_ints":
		t, _ := tensor.New(tensor.Int64, []int{len(p.Ints)})
		copy(t.I64, p.Ints)
		return t, nil
	}
	return nil, fmt.Errorf("attribute %s: not supported", p.Name)
}

func dtypeOf(code int64) (tensor.DType, error) {
	switch dt := tensor.DType(code); code {
	case 1, 2, 3, 6, 7, 9:
		return dt, nil
	case 0:
		return 0, errors.New("element type undefined")
	}
	names := map[int64]string{4: "uint16", 5: "int16", 8: "string", 10: "float16", 11: "double", 12: "uint32", 13: "uint64", 14: "complex64", 15: "complex128", 16: "bfloat16"}
	if s, ok := names[code]; ok {
		return 0, fmt.Errorf("element type %s not supported", s)
	}
	return 0, fmt.Errorf("element type %d not supported", code)
}

func toTensor(p *tensorProto) (*tensor.Tensor, error) {
	if p.External || p.DataLocation == 1 {
		return nil, errors.New("external data not supported: save the model with all tensors inside the .onnx file")
	}
	if p.Segment {
		return nil, errors.New("segmented tensors not supported")
	}
	dt, err := dtypeOf(p.DataType)
	if err != nil {
		return nil, err
	}
	shape := make([]int, len(p.Dims))
	for i, d := range p.Dims {
		if d < 0 || d > tensor.MaxElements {
			return nil, fmt.Errorf("dimension %d is %d", i, d)
		}
		shape[i] = int(d)
	}
	n, err := tensor.CheckShape(shape)
	if err != nil {
		return nil, err
	}
	if p.HasRaw {
		if want := n * dt.Size(); len(p.RawData) != want {
			return nil, fmt.Errorf("raw_data has %d bytes, shape %v of %v needs %d", len(p.RawData), shape, dt, want)
		}
		t, err := tensor.FromCanonical(dt, shape, p.RawData)
		if err != nil {
			return nil, err
		}
		if dt == tensor.Bool {
			for i, v := range t.U8 {
				if v != 0 {
					t.U8[i] = 1
				}
			}
		}
		return t, nil
	}
	count := func(have int) error {
		if have != n {
			return fmt.Errorf("%d values for shape %v (%d elements)", have, shape, n)
		}
		return nil
	}
	t, err := tensor.New(dt, shape)
	if err != nil {
		return nil, err
	}
	switch dt {
	case tensor.Float32:
		if err := count(len(p.FloatData)); err != nil {
			return nil, err
		}
		copy(t.F32, p.FloatData)
	case tensor.Int64:
		if err := count(len(p.Int64Data)); err != nil {
			return nil, err
		}
		copy(t.I64, p.Int64Data)
	case tensor.Int32:
		if err := count(len(p.Int32Data)); err != nil {
			return nil, err
		}
		copy(t.I32, p.Int32Data)
	case tensor.Int8:
		if err := count(len(p.Int32Data)); err != nil {
			return nil, err
		}
		for i, v := range p.Int32Data {
			if v < math.MinInt8 || v > math.MaxInt8 {
				return nil, fmt.Errorf("int8 value %d out of range", v)
			}
			t.I8[i] = int8(v)
		}
	case tensor.Uint8, tensor.Bool:
		if err := count(len(p.Int32Data)); err != nil {
			return nil, err
		}
		for i, v := range p.Int32Data {
			if v < 0 || v > math.MaxUint8 {
				return nil, fmt.Errorf("uint8 value %d out of range", v)
			}
			if dt == tensor.Bool && v != 0 {
				v = 1
			}
			t.U8[i] = uint8(v)
		}
	}
	return t, nil
}

func (im *importer) graphOutputs(g *graphProto) []model.ValueInfo {
	var outs []model.ValueInfo
	claimed := map[string]string{}
	for _, v := range g.Outputs {
		name := v.Name
		src := im.resolve(name)
		switch {
		case im.bad[src]:
			continue // its producer already reported a problem
		case im.consts[src] != nil:
			im.problem(nil, "graph output %q is a constant; constant outputs are not supported", name)
			continue
		}
		meta, ok := im.metas[src]
		if !ok {
			im.problem(nil, "graph output %q is never produced", name)
			continue
		}
		if prev, dup := claimed[src]; dup {
			im.problem(nil, "graph outputs %q and %q are the same value", prev, name)
			continue
		}
		claimed[src] = name
		if src != name {
			if _, isInput := im.metas[src]; isInput && im.isGraphInput(src) {
				im.problem(nil, "graph output %q is graph input %q", name, src)
				continue
			}
			im.rename(src, name)
		}
		if v.HasType && v.ElemType != 0 && v.ElemType != int64(meta.DType) {
			im.problem(nil, "graph output %q declared element type %d, computed %v", name, v.ElemType, meta.DType)
			continue
		}
		outs = append(outs, model.ValueInfo{Name: name, DType: meta.DType, Shape: meta.Shape})
	}
	if len(outs) == 0 && len(im.problems) == 0 {
		im.problem(nil, "graph has no outputs")
	}
	return outs
}

func (im *importer) isGraphInput(name string) bool {
	for _, in := range im.inputs {
		if in.Name == name {
			return true
		}
	}
	return false
}

// rename gives value from the name to (an Identity'd graph output name).
func (im *importer) rename(from, to string) {
	im.metas[to] = im.metas[from]
	for _, n := range im.nodes {
		for i := range n.Inputs {
			if n.Inputs[i] == from {
				n.Inputs[i] = to
			}
		}
		for i := range n.Outputs {
			if n.Outputs[i] == from {
				n.Outputs[i] = to
			}
		}
	}
}

func (im *importer) liveNodes(outputs []model.ValueInfo) []*model.Node {
	need := map[string]bool{}
	for _, o := range outputs {
		need[o.Name] = true
	}
	keep := make([]bool, len(im.nodes))
	for i := len(im.nodes) - 1; i >= 0; i-- {
		n := im.nodes[i]
		for j, o := range n.Outputs {
			if o != "" && need[o] {
				keep[i] = true
			} else {
				// An unused output stays unnamed so the model has no dangling
				// values.
				n.Outputs[j] = ""
			}
		}
		if keep[i] {
			for _, in := range n.Inputs {
				need[in] = true
			}
		}
	}
	var live []*model.Node
	for i, n := range im.nodes {
		if keep[i] {
			live = append(live, n)
		}
	}
	return live
}

func (im *importer) fresh(base string) string {
	name := base
	for i := 1; im.names[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	im.names[name] = true
	return name
}
