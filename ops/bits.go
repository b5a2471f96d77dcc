package ops

import (
	"math"

	"github.com/provena/provena/tensor"
)

// setBits stores raw element bits (as tensor.Tensor.Bits returns them).
func setBits(t *tensor.Tensor, i int, b uint64) {
	switch t.DType {
	case tensor.Float32:
		t.F32[i] = math.Float32frombits(uint32(b))
	case tensor.Int64:
		t.I64[i] = int64(b)
	case tensor.Int32:
		t.I32[i] = int32(uint32(b))
	case tensor.Int8:
		t.I8[i] = int8(uint8(b))
	case tensor.Uint8, tensor.Bool:
		t.U8[i] = uint8(b)
	}
}

func f32bits(v float32) uint64 { return uint64(math.Float32bits(v)) }

// intAt reads element i of an integer or bool tensor as int64.
func intAt(t *tensor.Tensor, i int) int64 {
	switch t.DType {
	case tensor.Int64:
		return t.I64[i]
	case tensor.Int32:
		return int64(t.I32[i])
	case tensor.Int8:
		return int64(t.I8[i])
	case tensor.Uint8, tensor.Bool:
		return int64(t.U8[i])
	}
	return 0
}

// intBits encodes v as element bits of dtype dt (truncating two's complement).
func intBits(dt tensor.DType, v int64) uint64 {
	switch dt {
	case tensor.Int64:
		return uint64(v)
	case tensor.Int32:
		return uint64(uint32(int32(v)))
	case tensor.Int8:
		return uint64(uint8(int8(v)))
	case tensor.Uint8:
		return uint64(uint8(v))
	case tensor.Bool:
		if v != 0 {
			return 1
		}
		return 0
	}
	return 0
}

func isInt(dt tensor.DType) bool {
	return dt == tensor.Int64 || dt == tensor.Int32 || dt == tensor.Int8 || dt == tensor.Uint8
}

// copyElems copies n elements from src[so:] to dst[do:] (same dtype).
func copyElems(dst *tensor.Tensor, do int, src *tensor.Tensor, so, n int) {
	switch dst.DType {
	case tensor.Float32:
		copy(dst.F32[do:do+n], src.F32[so:so+n])
	case tensor.Int64:
		copy(dst.I64[do:do+n], src.I64[so:so+n])
	case tensor.Int32:
		copy(dst.I32[do:do+n], src.I32[so:so+n])
	case tensor.Int8:
		copy(dst.I8[do:do+n], src.I8[so:so+n])
	case tensor.Uint8, tensor.Bool:
		copy(dst.U8[do:do+n], src.U8[so:so+n])
	}
}
