// Package tensor owns Provena's dense tensor type and its canonical byte
// encoding. The canonical bytes are what the runtime commits to in traces and
// what model packages store, so the encoding is fixed: elements in row-major
// order, little-endian, float32 as its IEEE-754 bits, int64 as two's
// complement, bool as one byte (0 or 1).
package tensor

import (
	"fmt"
)

// DType is an element type. The values are ONNX TensorProto.DataType codes so
// that importers can map them directly.
type DType uint8

const (
	Float32 DType = 1
	Uint8   DType = 2
	Int8    DType = 3
	Int32   DType = 6
	Int64   DType = 7
	Bool    DType = 9
)

func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Uint8:
		return "uint8"
	case Int8:
		return "int8"
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	case Bool:
		return "bool"
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Size is the number of bytes one element takes in the canonical encoding.
func (d DType) Size() int {
	switch d {
	case Float32, Int32:
		return 4
	case Int64:
		return 8
	case Uint8, Int8, Bool:
		return 1
	}
	return 0
}

// Meta is what shape inference knows about a value before it runs: its type,
// its static shape, and, when the value is a constant, the value itself (so
// that ops such as Reshape can read their shape input at import time).
type Meta struct {
	DType DType
	Shape []int
	Const *Tensor
}

// Tensor is a dense row-major tensor. Exactly one of the data slices is used,
// chosen by DType: F32 for Float32, I64 for Int64, I32 for Int32, I8 for Int8,
// U8 for Uint8 and Bool (0 or 1).
type Tensor struct {
	DType DType
	Shape []int
	F32   []float32
	I64   []int64
	I32   []int32
	I8    []int8
	U8    []uint8
}

// NumElements is the product of the dimensions (1 for a scalar).
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
