package onnx

import (
	"encoding/binary"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// A tiny onnx.proto encoder for tests: enough to build the models the tests
// import, written against the same field numbers as the decoder but without
// sharing its code.

type pb []byte

func (b pb) v(f int, x uint64) pb {
	b = protowire.AppendTag(b, protowire.Number(f), protowire.VarintType)
	return protowire.AppendVarint(b, x)
}

func (b pb) by(f int, s []byte) pb {
	b = protowire.AppendTag(b, protowire.Number(f), protowire.BytesType)
	return protowire.AppendBytes(b, s)
}

func (b pb) s(f int, s string) pb { return b.by(f, []byte(s)) }

func (b pb) f32(f int, x float32) pb {
	b = protowire.AppendTag(b, protowire.Number(f), protowire.Fixed32Type)
	return protowire.AppendFixed32(b, math.Float32bits(x))
}

const (
	tFloat = 1
	tInt64 = 7
)

// tensorF is a float32 TensorProto with raw_data (raw) or float_data.
func tensorF(name string, dims []int64, vals []float32, raw bool) []byte {
	var b pb
	for _, d := range dims {
		b = b.v(1, uint64(d))
	}
	b = b.v(2, tFloat)
	b = b.s(8, name)
	if raw {
		var r []byte
		for _, v := range vals {
			r = binary.LittleEndian.AppendUint32(r, math.Float32bits(v))
		}
		b = b.by(9, r)
	} else {
		var packed []byte
		for _, v := range vals {
			packed = protowire.AppendFixed32(packed, math.Float32bits(v))
		}
		b = b.by(4, packed)
	}
	return b
}

// tensorI is an int64 TensorProto with int64_data (unpacked, to exercise
// that path).
func tensorI(name string, dims []int64, vals []int64) []byte {
	var b pb
	for _, d := range dims {
		b = b.v(1, uint64(d))
	}
	b = b.v(2, tInt64)
	b = b.s(8, name)
	for _, v := range vals {
		b = b.v(7, uint64(v))
	}
	return b
}

func attrI(name string, x int64) []byte { return pb{}.s(1, name).v(20, attrInt).v(3, uint64(x)) }
func attrF(name string, x float32) []byte {
	return pb{}.s(1, name).v(20, attrFloat).f32(2, x)
}
func attrIs(name string, xs ...int64) []byte {
	b := pb{}.s(1, name).v(20, attrInts)
	var packed []byte
	for _, x := range xs {
		packed = protowire.AppendVarint(packed, uint64(x))
	}
	return b.by(8, packed)
}
func attrT(name string, t []byte) []byte { return pb{}.s(1, name).v(20, attrTensor).by(5, t) }
func attrG(name string) []byte           { return pb{}.s(1, name).v(20, attrGraph).by(6, pb{}.s(2, "sub")) }

func node(op, name string, ins, outs []string, attrs ...[]byte) []byte {
	var b pb
	for _, in := range ins {
		b = b.s(1, in)
	}
	for _, o := range outs {
		b = b.s(2, o)
	}
	b = b.s(3, name).s(4, op)
	for _, a := range attrs {
		b = b.by(5, a)
	}
	return b
}

// vinfo takes dims as int (static) or string (dynamic, named).
func vinfo(name string, elem int, dims ...any) []byte {
	var shape pb
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			shape = shape.by(1, pb{}.v(1, uint64(d)))
		case string:
			shape = shape.by(1, pb{}.s(2, d))
		}
	}
	tt := pb{}.v(1, uint64(elem)).by(2, shape)
	return pb{}.s(1, name).by(2, pb{}.by(1, tt))
}

type graphSpec struct {
	nodes, inits, inputs, outputs [][]byte
}

func modelBytes(opset int, g graphSpec) []byte {
	var gb pb
	for _, n := range g.nodes {
		gb = gb.by(1, n)
	}
	gb = gb.s(2, "test-graph")
	for _, t := range g.inits {
		gb = gb.by(5, t)
	}
	for _, v := range g.inputs {
		gb = gb.by(11, v)
	}
	for _, v := range g.outputs {
		gb = gb.by(12, v)
	}
	return pb{}.v(1, 8).s(2, "provena-test").by(8, pb{}.s(1, "").v(2, uint64(opset))).by(7, gb)
}
