package onnx

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/provena/provena/tensor"
)

// The export side: a small builder that writes real ONNX ModelProto bytes
// (one graph, default-domain opset import, initializers as raw_data, typed
// value infos) that onnxruntime and this package's own importer both read.
// It is how the project ships models it trains itself (package mnist).

// ExportIRVersion is the ir_version written: IR 7 is what opset 13 was
// released with, and every runtime that reads opset 13 reads it.
const ExportIRVersion = 7

// AttrKind says which field of an Attr holds its value.
type AttrKind int

// Attribute kinds an exported node can carry.
const (
	AttrKindInt AttrKind = iota + 1
	AttrKindFloat
	AttrKindString
	AttrKindInts
	AttrKindFloats
)

// Attr is one node attribute; build it with IntAttr, FloatAttr, ...
type Attr struct {
	Name   string
	Kind   AttrKind
	Int    int64
	Float  float32
	String string
	Ints   []int64
	Floats []float32
}

// IntAttr is an INT attribute.
func IntAttr(name string, v int64) Attr { return Attr{Name: name, Kind: AttrKindInt, Int: v} }

// FloatAttr is a FLOAT attribute.
func FloatAttr(name string, v float32) Attr { return Attr{Name: name, Kind: AttrKindFloat, Float: v} }

// StringAttr is a STRING attribute.
func StringAttr(name, v string) Attr { return Attr{Name: name, Kind: AttrKindString, String: v} }

// IntsAttr is an INTS attribute.
func IntsAttr(name string, v ...int64) Attr { return Attr{Name: name, Kind: AttrKindInts, Ints: v} }

// FloatsAttr is a FLOATS attribute.
func FloatsAttr(name string, v ...float32) Attr {
	return Attr{Name: name, Kind: AttrKindFloats, Floats: v}
}

type exportNode struct {
	op, name     string
	inputs, outs []string
	attrs        []Attr
}

type exportValue struct {
	name  string
	dtype tensor.DType
	shape []int
}

type exportInit struct {
	name string
	t    *tensor.Tensor
}

// Builder assembles one ONNX model. Methods record the first problem they
// meet and Bytes reports it, so a model is described in straight-line code
// and checked once.
type Builder struct {
	// GraphName, Producer, ProducerVersion and Doc are written as the
	// graph name, producer_name, producer_version and doc_string.
	GraphName, Producer, ProducerVersion, Doc string

	opset   int64
	inputs  []exportValue
	outputs []exportValue
	infos   []exportValue
	inits   []exportInit
	nodes   []exportNode
	err     error
}

// NewBuilder starts a model importing the default-domain opset.
func NewBuilder(graphName string, opset int64) *Builder {
	b := &Builder{GraphName: graphName, Producer: "provena", opset: opset}
	if opset < 1 {
		b.fail(fmt.Errorf("opset %d: want >= 1", opset))
	}
	return b
}

func (b *Builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

func checkValue(what, name string, dt tensor.DType, shape []int) error {
	if name == "" {
		return fmt.Errorf("%s: empty name", what)
	}
	if dt.Size() == 0 {
		return fmt.Errorf("%s %q: unsupported element type %v", what, name, dt)
	}
	for _, d := range shape {
		if d <= 0 {
			return fmt.Errorf("%s %q: shape %v has a dimension <= 0", what, name, shape)
		}
	}
	if _, err := tensor.CheckShape(shape); err != nil {
		return fmt.Errorf("%s %q: %w", what, name, err)
	}
	return nil
}

// Input declares a graph input with a static shape.
func (b *Builder) Input(name string, dt tensor.DType, shape ...int) {
	if err := checkValue("input", name, dt, shape); err != nil {
		b.fail(err)
		return
	}
	b.inputs = append(b.inputs, exportValue{name, dt, slices.Clone(shape)})
}

// Output declares a graph output with a static shape.
func (b *Builder) Output(name string, dt tensor.DType, shape ...int) {
	if err := checkValue("output", name, dt, shape); err != nil {
		b.fail(err)
		return
	}
	b.outputs = append(b.outputs, exportValue{name, dt, slices.Clone(shape)})
}

// ValueInfo records the type and shape of an intermediate value.
func (b *Builder) ValueInfo(name string, dt tensor.DType, shape ...int) {
	if err := checkValue("value info", name, dt, shape); err != nil {
		b.fail(err)
		return
	}
	b.infos = append(b.infos, exportValue{name, dt, slices.Clone(shape)})
}

// Initializer adds a constant. The tensor's data must match its shape; it
// is copied, so the caller may reuse it.
func (b *Builder) Initializer(name string, t *tensor.Tensor) {
	if t == nil {
		b.fail(fmt.Errorf("initializer %q: nil tensor", name))
		return
	}
	if err := checkValue("initializer", name, t.DType, t.Shape); err != nil {
		b.fail(err)
		return
	}
	if got, want := t.Len(), tensor.NumElements(t.Shape); got != want {
		b.fail(fmt.Errorf("initializer %q: %d values for shape %v (%d elements)", name, got, t.Shape, want))
		return
	}
	c, err := tensor.FromCanonical(t.DType, t.Shape, t.CanonicalBytes())
	if err != nil {
		b.fail(fmt.Errorf("initializer %q: %w", name, err))
		return
	}
	b.inits = append(b.inits, exportInit{name, c})
}

// Float32 adds a float32 initializer of the given shape.
func (b *Builder) Float32(name string, shape []int, data []float32) {
	if n, err := tensor.CheckShape(shape); err != nil || n != len(data) {
		if err == nil {
			err = fmt.Errorf("%d values for shape %v (%d elements)", len(data), shape, n)
		}
		b.fail(fmt.Errorf("initializer %q: %w", name, err))
		return
	}
	b.Initializer(name, &tensor.Tensor{DType: tensor.Float32, Shape: shape, F32: data})
}

// Node appends a node; nodes must come in topological order.
func (b *Builder) Node(op, name string, inputs, outputs []string, attrs ...Attr) {
	if op == "" {
		b.fail(fmt.Errorf("node %q: empty op type", name))
		return
	}
	if len(outputs) == 0 {
		b.fail(fmt.Errorf("node %q (%s): no outputs", name, op))
		return
	}
	b.nodes = append(b.nodes, exportNode{op, name, slices.Clone(inputs), slices.Clone(outputs), slices.Clone(attrs)})
}

// validate checks that every value is defined once before it is used and
// that every output is produced.
func (b *Builder) validate() error {
	defined := map[string]bool{}
	define := func(what, name string) error {
		if defined[name] {
			return fmt.Errorf("%s %q: defined twice", what, name)
		}
		defined[name] = true
		return nil
	}
	for _, v := range b.inputs {
		if err := define("input", v.name); err != nil {
			return err
		}
	}
	for _, in := range b.inits {
		if err := define("initializer", in.name); err != nil {
			return err
		}
	}
	for _, n := range b.nodes {
		for _, in := range n.inputs {
			if in != "" && !defined[in] {
				return fmt.Errorf("node %q (%s): input %q is not defined before it", n.name, n.op, in)
			}
		}
		for _, o := range n.outs {
			if o == "" {
				return fmt.Errorf("node %q (%s): empty output name", n.name, n.op)
			}
			if err := define("node output", o); err != nil {
				return err
			}
		}
		for _, a := range n.attrs {
			if a.Name == "" {
				return fmt.Errorf("node %q (%s): attribute with no name", n.name, n.op)
			}
			if a.Kind < AttrKindInt || a.Kind > AttrKindFloats {
				return fmt.Errorf("node %q (%s): attribute %q has kind %d", n.name, n.op, a.Name, a.Kind)
			}
		}
	}
	if len(b.outputs) == 0 {
		return errors.New("graph has no outputs")
	}
	for _, v := range b.outputs {
		if !defined[v.name] {
			return fmt.Errorf("output %q is produced by no node", v.name)
		}
	}
	for _, v := range b.infos {
		if !defined[v.name] {
			return fmt.Errorf("value info %q names no value", v.name)
		}
	}
	return nil
}

// Bytes encodes the model, or reports the first problem found.
func (b *Builder) Bytes() ([]byte, error) {
	if b.err != nil {
		return nil, fmt.Errorf("onnx export: %w", b.err)
	}
	if err := b.validate(); err != nil {
		return nil, fmt.Errorf("onnx export: %w", err)
	}
	var g []byte
	for _, n := range b.nodes {
		g = appendMsg(g, 1, encodeNode(n))
	}
	g = appendStr(g, 2, b.GraphName)
	for _, in := range b.inits {
		g = appendMsg(g, 5, encodeInit(in))
	}
	if b.Doc != "" {
		g = appendStr(g, 10, b.Doc)
	}
	for _, v := range b.inputs {
		g = appendMsg(g, 11, encodeValueInfo(v))
	}
	for _, v := range b.outputs {
		g = appendMsg(g, 12, encodeValueInfo(v))
	}
	for _, v := range b.infos {
		g = appendMsg(g, 13, encodeValueInfo(v))
	}
	var m []byte
	m = appendVarint(m, 1, ExportIRVersion)
	m = appendStr(m, 2, b.Producer)
	if b.ProducerVersion != "" {
		m = appendStr(m, 3, b.ProducerVersion)
	}
	m = appendMsg(m, 7, g)
	op := appendStr(nil, 1, "")
	op = appendVarint(op, 2, uint64(b.opset))
	m = appendMsg(m, 8, op)
	return m, nil
}

func appendVarint(b []byte, f protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, f, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendMsg(b []byte, f protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, f, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

func appendStr(b []byte, f protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, f, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func encodeNode(n exportNode) []byte {
	var b []byte
	for _, in := range n.inputs {
		b = appendStr(b, 1, in)
	}
	for _, o := range n.outs {
		b = appendStr(b, 2, o)
	}
	if n.name != "" {
		b = appendStr(b, 3, n.name)
	}
	b = appendStr(b, 4, n.op)
	for _, a := range n.attrs {
		b = appendMsg(b, 5, encodeAttr(a))
	}
	return b
}

func encodeAttr(a Attr) []byte {
	b := appendStr(nil, 1, a.Name)
	switch a.Kind {
	case AttrKindFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.Float))
		b = appendVarint(b, 20, attrFloat)
	case AttrKindInt:
		b = appendVarint(b, 3, uint64(a.Int))
		b = appendVarint(b, 20, attrInt)
	case AttrKindString:
		b = appendStr(b, 4, a.String)
		b = appendVarint(b, 20, attrString)
	case AttrKindFloats:
		var p []byte
		for _, f := range a.Floats {
			p = protowire.AppendFixed32(p, math.Float32bits(f))
		}
		b = appendMsg(b, 7, p)
		b = appendVarint(b, 20, attrFloats)
	case AttrKindInts:
		var p []byte
		for _, v := range a.Ints {
			p = protowire.AppendVarint(p, uint64(v))
		}
		b = appendMsg(b, 8, p)
		b = appendVarint(b, 20, attrInts)
	}
	return b
}

func encodeInit(in exportInit) []byte {
	var b []byte
	for _, d := range in.t.Shape {
		b = appendVarint(b, 1, uint64(d))
	}
	b = appendVarint(b, 2, uint64(in.t.DType))
	b = appendStr(b, 8, in.name)
	// Provena's canonical bytes are ONNX raw_data: little-endian, row-major.
	return appendMsg(b, 9, in.t.CanonicalBytes())
}

func encodeValueInfo(v exportValue) []byte {
	var shape []byte
	for _, d := range v.shape {
		shape = appendMsg(shape, 1, appendVarint(nil, 1, uint64(d)))
	}
	tt := appendVarint(nil, 1, uint64(v.dtype))
	tt = appendMsg(tt, 2, shape)
	typ := appendMsg(nil, 1, tt)
	b := appendStr(nil, 1, v.name)
	return appendMsg(b, 2, typ)
}
