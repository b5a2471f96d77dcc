package onnx

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// The structs below hold the subset of onnx.proto (IR version <= 10) that
// the importer reads. Field numbers are from onnx/onnx.proto3; fields not
// listed are skipped. Repeated scalars accept both packed and unpacked
// encodings, as protobuf requires.

type modelProto struct {
	IRVersion    int64
	OpsetImports []opsetID
	Producer     string
	Graph        *graphProto
	HasFunctions bool
}

type opsetID struct {
	Domain  string
	Version int64
}

type graphProto struct {
	Name         string
	Nodes        []*nodeProto
	Initializers []*tensorProto
	Inputs       []*valueInfo
	Outputs      []*valueInfo
	HasSparse    bool
}

type nodeProto struct {
	Inputs  []string
	Outputs []string
	Name    string
	OpType  string
	Domain  string
	Attrs   []*attrProto
}

// Attribute types (AttributeProto.AttributeType).
const (
	attrFloat   = 1
	attrInt     = 2
	attrString  = 3
	attrTensor  = 4
	attrGraph   = 5
	attrFloats  = 6
	attrInts    = 7
	attrStrings = 8
	attrTensors = 9
	attrGraphs  = 10
)

type attrProto struct {
	Name    string
	RefAttr string
	Type    int64
	F       float32
	I       int64
	S       []byte
	T       *tensorProto
	Floats  []float32
	Ints    []int64
	Strings [][]byte
	HasG    bool // a subgraph or other unsupported payload was present
	Other   bool
}

type tensorProto struct {
	Dims         []int64
	DataType     int64
	FloatData    []float32
	Int32Data    []int32
	Int64Data    []int64
	DoubleData   []float64
	Uint64Data   []uint64
	StringData   int
	Name         string
	RawData      []byte
	HasRaw       bool
	External     bool
	DataLocation int64
	Segment      bool
}

type valueInfo struct {
	Name     string
	HasType  bool
	NotTens  bool // sequence, map, optional or sparse type
	ElemType int64
	HasShape bool
	Dims     []dim
}

type dim struct {
	Value    int64
	HasValue bool
	Param    string
}

// Limits on hostile files. Real models are far below them.
const (
	maxNodes   = 1 << 20
	maxRepeats = 1 << 26
	maxDims    = 16
)

// wire iterates the fields of one message.
type wire struct {
	b   []byte
	err error
}

func (w *wire) next() (protowire.Number, protowire.Type, bool) {
	if w.err != nil || len(w.b) == 0 {
		return 0, 0, false
	}
	num, typ, n := protowire.ConsumeTag(w.b)
	if n < 0 {
		w.err = protowire.ParseError(n)
		return 0, 0, false
	}
	w.b = w.b[n:]
	return num, typ, true
}

func (w *wire) skip(num protowire.Number, typ protowire.Type) {
	n := protowire.ConsumeFieldValue(num, typ, w.b)
	if n < 0 {
		w.err = protowire.ParseError(n)
		return
	}
	w.b = w.b[n:]
}

func (w *wire) bytes(typ protowire.Type) []byte {
	if typ != protowire.BytesType {
		w.err = fmt.Errorf("wire type %d where bytes expected", typ)
		return nil
	}
	v, n := protowire.ConsumeBytes(w.b)
	if n < 0 {
		w.err = protowire.ParseError(n)
		return nil
	}
	w.b = w.b[n:]
	return v
}

func (w *wire) varint(typ protowire.Type) uint64 {
	if typ != protowire.VarintType {
		w.err = fmt.Errorf("wire type %d where varint expected", typ)
		return 0
	}
	v, n := protowire.ConsumeVarint(w.b)
	if n < 0 {
		w.err = protowire.ParseError(n)
		return 0
	}
	w.b = w.b[n:]
	return v
}

func (w *wire) fixed32(typ protowire.Type) uint32 {
	if typ != protowire.Fixed32Type {
		w.err = fmt.Errorf("wire type %d where fixed32 expected", typ)
		return 0
	}
	v, n := protowire.ConsumeFixed32(w.b)
	if n < 0 {
		w.err = protowire.ParseError(n)
		return 0
	}
	w.b = w.b[n:]
	return v
}

func (w *wire) fixed64(typ protowire.Type) uint64 {
	if typ != protowire.Fixed64Type {
		w.err = fmt.Errorf("wire type %d where fixed64 expected", typ)
		return 0
	}
	v, n := protowire.ConsumeFixed64(w.b)
	if n < 0 {
		w.err = protowire.ParseError(n)
		return 0
	}
	w.b = w.b[n:]
	return v
}

// varints appends a packed or unpacked repeated varint field.
func (w *wire) varints(typ protowire.Type, dst []uint64) []uint64 {
	if typ == protowire.VarintType {
		return append(dst, w.varint(typ))
	}
	b := w.bytes(typ)
	for len(b) > 0 && w.err == nil {
		if len(dst) >= maxRepeats {
			w.err = errors.New("too many repeated values")
			return dst
		}
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			w.err = protowire.ParseError(n)
			return dst
		}
		b = b[n:]
		dst = append(dst, v)
	}
	return dst
}

func (w *wire) fixed32s(typ protowire.Type, dst []uint32) []uint32 {
	if typ == protowire.Fixed32Type {
		return append(dst, w.fixed32(typ))
	}
	b := w.bytes(typ)
	if len(b)%4 != 0 {
		w.err = errors.New("packed fixed32 length not a multiple of 4")
		return dst
	}
	for ; len(b) > 0; b = b[4:] {
		v, _ := protowire.ConsumeFixed32(b)
		dst = append(dst, v)
	}
	return dst
}

func (w *wire) fixed64s(typ protowire.Type, dst []uint64) []uint64 {
	if typ == protowire.Fixed64Type {
		return append(dst, w.fixed64(typ))
	}
	b := w.bytes(typ)
	if len(b)%8 != 0 {
		w.err = errors.New("packed fixed64 length not a multiple of 8")
		return dst
	}
	for ; len(b) > 0; b = b[8:] {
		v, _ := protowire.ConsumeFixed64(b)
		dst = append(dst, v)
	}
	return dst
}

func decodeModelProto(b []byte) (*modelProto, error) {
	m := &modelProto{}
	w := &wire{b: b}
	for {
		num, typ, ok := w.next()
		if !ok {
			break
		}
		switch num {
		case 1:
			m.IRVersion = int64(w.varint(typ))
		case 2:
			m.Producer = string(w.bytes(typ))
		case 7:
			if m.Graph != nil {
				return nil, errors.New("model: more than one graph")
			}
			g, err := decodeGraph(w.bytes(typ))
			if err != nil {
				return nil, fmt.Errorf("model graph: %w", err)
			}
			m.Graph = g
		case 8:
			o, err := decodeOpset(w.bytes(typ))
			if err != nil {
				return nil, fmt.Errorf("model opset_import: %w", err)
			}
			m.OpsetImports = append(m.OpsetImports, o)
		case 25:
			m.HasFunctions = true
			w.skip(num, typ)
		default:
			w.skip(num, typ)
		}
	}
	if w.err != nil {
		return nil, fmt.Errorf("model: %w", w.err)
	}
	if m.Graph == nil {
		return nil, errors.New("model: no graph")
	}
	return m, nil
}

func decodeOpset(b []byte) (opsetID, error) {
	var o opsetID
	w := &wire{b: b}
	for {
		num, typ, ok := w.next()
		if !ok {
			break
		}
		switch num {
		case 1:
			o.Domain = string(w.bytes(typ))
		case 2:
			o.Version = int64(w.varint(typ))
		default:
			w.skip(num, typ)
		}
	}
	return o, w.err
}

func decodeGraph(b []byte) (*graphProto, error) {
	g := &graphProto{}
	w := &wire{b: b}
	for {
		num, typ, ok := w.next()
		if !ok {
			break
		}
		var err error
		switch num {
		case 1:
			if len(g.Nodes) >= maxNodes {
				return nil, fmt.Errorf("more than %d nodes", maxNodes)
			}
			var n *nodeProto
			n, err = decodeNode(w.bytes(typ))
			if err != nil {
				err = fmt.Errorf("node %d: %w", len(g.Nodes), err)
			}
			g.Nodes = append(g.Nodes, n)
		case 2:
			g.Name = string(w.bytes(typ))
		case 5:
			var t *tensorProto
			t, err = decodeTensor(w.bytes(typ))
			if err != nil {
				err = fmt.Errorf("initializer %d: %w", len(g.Initializers), err)
			}
			g.Initializers = append(g.Initializers, t)
		case 11, 12:
			var v *valueInfo
			v, err = decodeValueInfo(w.bytes(typ))
			if num == 11 {
				g.Inputs = append(g.Inputs, v)
			} else {
				g.Outputs = append(g.Outputs, v)
			}
		case 15:
			g.HasSparse = true
			w.skip(num, typ)
		default:
			w.skip(num, typ)
		}
		if err != nil {
			return nil, err
		}
	}
	return g, w.err
}

func decodeNode(b []byte) (*nodeProto, error) {
	n := &nodeProto{}
	w := &wire{b: b}
	for {
		num, typ, ok := w.next()
		if !ok {
			break
		}
		switch num {
		case 1:
			n.Inputs = append(n.Inputs, string(w.bytes(typ)))
		case 2:
			n.Outputs = append(n.Outputs, string(w.bytes(typ)))
		case 3:
			n.Name = string(w.bytes(typ))
		case 4:
			n.OpType = string(w.bytes(typ))
		case 7:
			n.Domain = string(w.bytes(typ))
		case 5:
			a, err := decodeAttr(w.bytes(typ))
			if err != nil {
				return nil, fmt.Errorf("attribute %d: %w", len(n.Attrs), err)
			}
			n.Attrs = append(n.Attrs, a)
		default:
			w.skip(num, typ)
		}
	}
	return n, w.err
}

func decodeAttr(b []byte) (*attrProto, error) {
	a := &attrProto{}
	w := &wire{b: b}
	var ints []uint64
	var floats []uint32
	for {
		num, typ, ok := w.next()
		if !ok {
			break
		}
		switch num {
		case 1:
			a.Name = string(w.bytes(typ))
		case 21:
			a.RefAttr = string(w.bytes(typ))
		case 20:
			a.Type = int64(w.varint(typ))
		case 2:
			a.F = math.Float32frombits(w.fixed32(typ))
		case 3:
			a.I = int64(w.varint(typ))
		case 4:
			a.S = w.bytes(typ)
		case 5:
			t, err := decodeTensor(w.bytes(typ))
			if err != nil {
				return nil, fmt.Errorf("tensor: %w", err)
			}
			a.T = t
		case 6, 11:
			// Subgraphs are not decoded at all: no op Provena supports takes
			// one, and skipping them bounds the decoder's recursion depth.
			a.HasG = true
			w.skip(num, typ)
		case 7:
			floats = w.fixed32s(typ, floats)
		case 8:
			ints = w.varints(typ, ints)
		case 9:
			a.Strings = append(a.Strings, w.bytes(typ))
		case 10, 14, 15, 22, 23:
			a.Other = true
			w.skip(num, typ)
		default:
			w.skip(num, typ)
		}
		if len(ints) > maxRepeats || len(floats) > maxRepeats {
			return nil, errors.New("too many repeated values")
		}
	}
	for _, v := range ints {
		a.Ints = append(a.Ints, int64(v))
	}
	for _, v := range floats {
		a.Floats = append(a.Floats, math.Float32frombits(v))
	}
	return a, w.err
}

func decodeTensor(b []byte) (*tensorProto, error) {
	t := &tensorProto{}
	w := &wire{b: b}
	var i32, i64 []uint64
	var f32 []uint32
	var f64, u64 []uint64
	for {
		num, typ, ok := w.next()
		if !ok {
			break
		}
		switch num {
		case 1:
			var d []uint64
			d = w.varints(typ, d)
			for _, v := range d {
				t.Dims = append(t.Dims, int64(v))
			}
			if len(t.Dims) > maxDims {
				return nil, fmt.Errorf("more than %d dims", maxDims)
			}
		case 2:
			t.DataType = int64(w.varint(typ))
		case 3:
			t.Segment = true
			w.skip(num, typ)
		case 4:
			f32 = w.fixed32s(typ, f32)
		case 5:
			i32 = w.varints(typ, i32)
		case 6:
			t.StringData++
			w.skip(num, typ)
		case 7:
			i64 = w.varints(typ, i64)
		case 8:
			t.Name = string(w.bytes(typ))
		case 9:
			t.RawData = w.bytes(typ)
			t.HasRaw = true
		case 10:
			f64 = w.fixed64s(typ, f64)
		case 11:
			u64 = w.varints(typ, u64)
		case 13:
			t.External = true
			w.skip(num, typ)
		case 14:
			t.DataLocation = int64(w.varint(typ))
		default:
			w.skip(num, typ)
		}
		if len(i32)+len(i64)+len(f32)+len(f64)+len(u64) > maxRepeats {
			return nil, errors.New("too many repeated values")
		}
	}
	if w.err != nil {
		return nil, w.err
	}
	for _, v := range f32 {
		t.FloatData = append(t.FloatData, math.Float32frombits(v))
	}
	for _, v := range i32 {
		t.Int32Data = append(t.Int32Data, int32(v))
	}
	for _, v := range i64 {
		t.Int64Data = append(t.Int64Data, int64(v))
	}
	for _, v := range f64 {
		t.DoubleData = append(t.DoubleData, math.Float64frombits(v))
	}
	t.Uint64Data = u64
	return t, nil
}

func decodeValueInfo(b []byte) (*valueInfo, error) {
	v := &valueInfo{}
	w := &wire{b: b}
	for {
		num, typ, ok := w.next()
		if !ok {
			break
		}
		switch num {
		case 1:
			v.Name = string(w.bytes(typ))
		case 2:
			v.HasType = true
			if err := v.decodeType(w.bytes(typ)); err != nil {
				return nil, fmt.Errorf("value %q type: %w", v.Name, err)
			}
		default:
			w.skip(num, typ)
		}
	}
	return v, w.err
}

func (v *valueInfo) decodeType(b []byte) error {
	w := &wire{b: b}
	for {
		num, typ, ok := w.next()
		if !ok {
			break
		}
		switch num {
		case 1:
			if err := v.decodeTensorType(w.bytes(typ)); err != nil {
				return err
			}
		case 4, 5, 8, 9:
			v.NotTens = true
			w.skip(num, typ)
		default:
			w.skip(num, typ)
		}
	}
	return w.err
}

func (v *valueInfo) decodeTensorType(b []byte) error {
	w := &wire{b: b}
	for {
		num, typ, ok := w.next()
		if !ok {
			break
		}
		switch num {
		case 1:
			v.ElemType = int64(w.varint(typ))
		case 2:
			v.HasShape = true
			sw := &wire{b: w.bytes(typ)}
			for {
				num, typ, ok := sw.next()
				if !ok {
					break
				}
				if num != 1 {
					sw.skip(num, typ)
					continue
				}
				if len(v.Dims) >= maxDims {
					return fmt.Errorf("more than %d dims", maxDims)
				}
				d, err := decodeDim(sw.bytes(typ))
				if err != nil {
					return err
				}
				v.Dims = append(v.Dims, d)
			}
			if sw.err != nil {
				return sw.err
			}
		default:
			w.skip(num, typ)
		}
	}
	return w.err
}

func decodeDim(b []byte) (dim, error) {
	var d dim
	w := &wire{b: b}
	for {
		num, typ, ok := w.next()
		if !ok {
			break
		}
		switch num {
		case 1:
			d.Value = int64(w.varint(typ))
			d.HasValue = true
		case 2:
			d.Param = string(w.bytes(typ))
		default:
			w.skip(num, typ)
		}
	}
	return d, w.err
}
