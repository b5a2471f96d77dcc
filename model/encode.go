package model

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
)

// Magic starts every model package; the last byte is the format version.
const Magic = "PVNMODL\x01"

// MaxFileBytes bounds a model package read from disk or the network.
const MaxFileBytes = 1 << 31

// Record tags: the first byte of each committed record, so that a record of
// one kind can never be read as another.
const (
	tagModel  = 'M'
	tagNode   = 'N'
	tagWeight = 'W'
)

// Encode returns the canonical serialization (docs/model-format.md). Two
// models with the same graph and weights encode to the same bytes.
func (m *Model) Encode() []byte {
	c := m.commit()
	size := len(Magic) + 16
	for _, r := range c.records {
		size += len(r) + binary.MaxVarintLen64
	}
	for i, d := range c.weightDescs {
		size += len(d) + 2*binary.MaxVarintLen64 + m.Weights[i].Tensor.Len()*m.Weights[i].Tensor.DType.Size()
	}
	b := make([]byte, 0, size)
	b = append(b, Magic...)
	b = binary.AppendUvarint(b, uint64(len(c.records)))
	for _, r := range c.records {
		b = appendBytes(b, r)
	}
	b = binary.AppendUvarint(b, uint64(len(c.weightDescs)))
	for i, d := range c.weightDescs {
		b = appendBytes(b, d)
		b = appendBytes(b, TensorBytes(m.Weights[i].Tensor))
	}
	return b
}

// Save writes the model package to path, atomically.
func (m *Model) Save(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".pvm-*")
	if err != nil {
		return fmt.Errorf("save model %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(m.Encode()); err != nil {
		tmp.Close()
		return fmt.Errorf("save model %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save model %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save model %s: %w", path, err)
	}
	return nil
}

// Load reads and validates a model package.
func Load(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	if st.Size() > MaxFileBytes {
		return nil, fmt.Errorf("load model %s: %d bytes exceeds the %d byte limit", path, st.Size(), int64(MaxFileBytes))
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	m, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return m, nil
}

// Decode parses and validates a model package. It rejects any encoding that
// is not the canonical one, so a model id names exactly one byte string.
func Decode(data []byte) (*Model, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("decode model: %d bytes exceeds the limit", len(data))
	}
	if !bytes.HasPrefix(data, []byte(Magic)) {
		if len(data) >= len(Magic) && bytes.HasPrefix(data, []byte(Magic[:len(Magic)-1])) {
			return nil, fmt.Errorf("decode model: unsupported format version %d", data[len(Magic)-1])
		}
		return nil, errors.New("decode model: not a provena model package (bad magic)")
	}
	r := &reader{b: data[len(Magic):]}
	nrec := r.count()
	if r.err != nil || nrec < 1 {
		return nil, fmt.Errorf("decode model: bad record count")
	}
	m := &Model{}
	rec := r.bytes()
	if err := m.parseModelRecord(rec, r.err, len(data)); err != nil {
		return nil, err
	}
	wantNodes := len(m.Nodes)
	if nrec != 1+wantNodes {
		return nil, fmt.Errorf("decode model: %d records for %d nodes", nrec, wantNodes)
	}
	for i := range m.Nodes {
		rec := r.bytes()
		if r.err != nil {
			return nil, fmt.Errorf("decode model: node %d: %w", i, r.err)
		}
		n, err := ParseNodeRecord(rec)
		if err != nil {
			return nil, fmt.Errorf("decode model: %w", err)
		}
		if n.Index != i {
			return nil, fmt.Errorf("decode model: node record %d has index %d", i, n.Index)
		}
		m.Nodes[i] = n.Node
	}
	nw := r.count()
	if r.err != nil || nw != len(m.Weights) {
		return nil, fmt.Errorf("decode model: %d weights, model record says %d", nw, len(m.Weights))
	}
	for i := range m.Weights {
		desc := r.bytes()
		raw := r.bytes()
		if r.err != nil {
			return nil, fmt.Errorf("decode model: weight %d: %w", i, r.err)
		}
		wd, err := ParseWeightDesc(desc)
		if err != nil {
			return nil, fmt.Errorf("decode model: weight %d: %w", i, err)
		}
		t, err := tensor.FromCanonical(wd.DType, wd.Shape, raw)
		if err != nil {
			return nil, fmt.Errorf("decode model: weight %q: %w", wd.Name, err)
		}
		m.Weights[i] = Weight{Name: wd.Name, Tensor: t}
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("decode model: %d trailing bytes", len(r.b))
	}
	for i := 1; i < len(m.Weights); i++ {
		if m.Weights[i-1].Name >= m.Weights[i].Name {
			return nil, fmt.Errorf("decode model: weights not sorted by name at %d", i)
		}
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("decode model: %w", err)
	}
	if !bytes.Equal(m.Encode(), data) {
		return nil, errors.New("decode model: not the canonical encoding")
	}
	return m, nil
}

func (m *Model) parseModelRecord(rec []byte, err error, limit int) error {
	if err != nil {
		return fmt.Errorf("decode model: model record: %w", err)
	}
	r := &reader{b: rec}
	if r.byte() != tagModel {
		return errors.New("decode model: first record is not the model record")
	}
	m.Name = r.string()
	m.Opset = r.varint()
	m.Inputs = r.valueInfos()
	m.Outputs = r.valueInfos()
	nn := r.count()
	nw := r.count()
	r.end()
	if r.err != nil {
		return fmt.Errorf("decode model: model record: %w", r.err)
	}
	// Every node and weight takes at least two bytes of the file.
	if nn > limit/2 || nw > limit/2 {
		return fmt.Errorf("decode model: %d nodes and %d weights in %d bytes", nn, nw, limit)
	}
	m.Nodes = make([]Node, nn)
	m.Weights = make([]Weight, nw)
	return nil
}

func (m *Model) modelRecord() []byte {
	b := []byte{tagModel}
	b = appendString(b, m.Name)
	b = binary.AppendVarint(b, m.Opset)
	b = appendValueInfos(b, m.Inputs)
	b = appendValueInfos(b, m.Outputs)
	b = binary.AppendUvarint(b, uint64(len(m.Nodes)))
	b = binary.AppendUvarint(b, uint64(len(m.Weights)))
	return b
}

func nodeRecord(i int, n *Node) []byte {
	b := []byte{tagNode}
	b = binary.AppendUvarint(b, uint64(i))
	b = appendString(b, n.Name)
	b = appendString(b, n.OpType)
	b = binary.AppendUvarint(b, uint64(len(n.Inputs)))
	for j, name := range n.Inputs {
		b = appendString(b, name)
		r := n.InRefs[j]
		b = append(b, byte(r.Kind))
		b = binary.AppendUvarint(b, uint64(r.Index))
		b = binary.AppendUvarint(b, uint64(r.Output))
		b = appendMeta(b, n.InMetas[j].DType, n.InMetas[j].Shape)
	}
	b = binary.AppendUvarint(b, uint64(len(n.Outputs)))
	for j, name := range n.Outputs {
		b = appendString(b, name)
		b = appendMeta(b, n.OutMetas[j].DType, n.OutMetas[j].Shape)
	}
	names := n.Attrs.Names()
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		b = appendString(b, name)
		b = appendAttr(b, n.Attrs[name])
	}
	return b
}

// NodeRecord is a parsed node record: what one-step verification needs to
// know about a node without the rest of the model.
type NodeRecord struct {
	Index int
	Node  Node
}

// ParseNodeRecord parses one committed node record.
func ParseNodeRecord(rec []byte) (*NodeRecord, error) {
	r := &reader{b: rec}
	if r.byte() != tagNode {
		return nil, errors.New("not a node record")
	}
	nr := &NodeRecord{Index: r.count()}
	n := &nr.Node
	n.Name = r.string()
	n.OpType = r.string()
	nin := r.count()
	for j := 0; j < nin && r.err == nil; j++ {
		n.Inputs = append(n.Inputs, r.string())
		ref := Ref{Kind: RefKind(r.byte()), Index: r.count(), Output: r.count()}
		if ref.Kind > RefNode {
			r.fail("bad input ref kind %d", ref.Kind)
		}
		n.InRefs = append(n.InRefs, ref)
		dt, shape := r.meta()
		n.InMetas = append(n.InMetas, tensor.Meta{DType: dt, Shape: shape})
	}
	nout := r.count()
	for j := 0; j < nout && r.err == nil; j++ {
		n.Outputs = append(n.Outputs, r.string())
		dt, shape := r.meta()
		n.OutMetas = append(n.OutMetas, tensor.Meta{DType: dt, Shape: shape})
	}
	na := r.count()
	if na > 0 {
		n.Attrs = ops.Attrs{}
	}
	prev := ""
	for j := 0; j < na && r.err == nil; j++ {
		name := r.string()
		if j > 0 && name <= prev {
			r.fail("attributes not sorted and unique at %q", name)
		}
		prev = name
		n.Attrs[name] = r.attr()
	}
	r.end()
	if r.err != nil {
		return nil, fmt.Errorf("node record: %w", r.err)
	}
	return nr, nil
}

// WeightDesc is a weight's committed descriptor.
type WeightDesc struct {
	Name  string
	DType tensor.DType
	Shape []int
}

func weightDesc(w Weight) []byte {
	b := []byte{tagWeight}
	b = appendString(b, w.Name)
	return appendMeta(b, w.Tensor.DType, w.Tensor.Shape)
}

// ParseWeightDesc parses one weight descriptor.
func ParseWeightDesc(desc []byte) (*WeightDesc, error) {
	r := &reader{b: desc}
	if r.byte() != tagWeight {
		return nil, errors.New("not a weight descriptor")
	}
	w := &WeightDesc{Name: r.string()}
	w.DType, w.Shape = r.meta()
	r.end()
	if r.err != nil {
		return nil, fmt.Errorf("weight descriptor: %w", r.err)
	}
	return w, nil
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendMeta(b []byte, dt tensor.DType, shape []int) []byte {
	b = append(b, byte(dt))
	b = binary.AppendUvarint(b, uint64(len(shape)))
	for _, d := range shape {
		b = binary.AppendUvarint(b, uint64(d))
	}
	return b
}

func appendValueInfos(b []byte, vs []ValueInfo) []byte {
	b = binary.AppendUvarint(b, uint64(len(vs)))
	for _, v := range vs {
		b = appendString(b, v.Name)
		b = appendMeta(b, v.DType, v.Shape)
	}
	return b
}

func appendAttr(b []byte, a ops.Attr) []byte {
	b = append(b, byte(a.Kind))
	switch a.Kind {
	case ops.AttrInt:
		b = binary.AppendVarint(b, a.Int)
	case ops.AttrFloat:
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(a.Float))
	case ops.AttrString:
		b = appendString(b, a.String)
	case ops.AttrInts:
		b = binary.AppendUvarint(b, uint64(len(a.Ints)))
		for _, v := range a.Ints {
			b = binary.AppendVarint(b, v)
		}
	case ops.AttrFloats:
		b = binary.AppendUvarint(b, uint64(len(a.Floats)))
		for _, v := range a.Floats {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	case ops.AttrTensor:
		b = appendMeta(b, a.Tensor.DType, a.Tensor.Shape)
		b = appendBytes(b, TensorBytes(a.Tensor))
	}
	return b
}

// reader decodes the package's primitives; the first error sticks and every
// later read returns zero values, so parsers check r.err once.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *reader) end() {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail("unexpected end of data")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length or an index. Callers never allocate from a count
// alone: item lists grow as items are read, and bulk allocations are bounded
// by the bytes that remain.
func (r *reader) count() int {
	v := r.uvarint()
	if r.err == nil && v > math.MaxInt32 {
		r.fail("count %d too large", v)
		return 0
	}
	return int(v)
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("length %d exceeds the %d bytes left", n, len(r.b))
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string { return string(r.bytes()) }

func (r *reader) meta() (tensor.DType, []int) {
	dt := tensor.DType(r.byte())
	rank := r.uvarint()
	if r.err != nil {
		return 0, nil
	}
	if rank > MaxRank {
		r.fail("rank %d exceeds %d", rank, MaxRank)
		return 0, nil
	}
	shape := make([]int, rank)
	for i := range shape {
		d := r.uvarint()
		if d > tensor.MaxElements {
			r.fail("dimension %d too large", d)
			return 0, nil
		}
		shape[i] = int(d)
	}
	if _, err := tensor.CheckShape(shape); err != nil && r.err == nil {
		r.err = err
	}
	return dt, shape
}

func (r *reader) valueInfos() []ValueInfo {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("%d values in %d bytes", n, len(r.b))
		return nil
	}
	vs := make([]ValueInfo, 0, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		v := ValueInfo{Name: r.string()}
		v.DType, v.Shape = r.meta()
		vs = append(vs, v)
	}
	return vs
}

func (r *reader) attr() ops.Attr {
	a := ops.Attr{Kind: ops.AttrKind(r.byte())}
	if r.err != nil {
		return a
	}
	switch a.Kind {
	case ops.AttrInt:
		a.Int = r.varint()
	case ops.AttrFloat:
		a.Float = math.Float32frombits(r.u32())
	case ops.AttrString:
		a.String = r.string()
	case ops.AttrInts:
		n := r.uvarint()
		if n > uint64(len(r.b)) {
			r.fail("%d ints in %d bytes", n, len(r.b))
			return a
		}
		a.Ints = make([]int64, 0, n)
		for i := uint64(0); i < n && r.err == nil; i++ {
			a.Ints = append(a.Ints, r.varint())
		}
	case ops.AttrFloats:
		n := r.uvarint()
		if n > uint64(len(r.b))/4 {
			r.fail("%d floats in %d bytes", n, len(r.b))
			return a
		}
		a.Floats = make([]float32, 0, n)
		for i := uint64(0); i < n && r.err == nil; i++ {
			a.Floats = append(a.Floats, math.Float32frombits(r.u32()))
		}
	case ops.AttrTensor:
		dt, shape := r.meta()
		raw := r.bytes()
		if r.err != nil {
			return a
		}
		t, err := tensor.FromCanonical(dt, shape, raw)
		if err != nil {
			r.fail("tensor attribute: %v", err)
			return a
		}
		a.Tensor = t
	default:
		r.fail("bad attribute kind %d", a.Kind)
	}
	return a
}

func (r *reader) u32() uint32 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 4 {
		r.fail("unexpected end of data")
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}
