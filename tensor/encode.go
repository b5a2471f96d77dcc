package tensor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// MaxElements bounds every tensor the runtime will allocate, so that a
// hostile shape in a model or an input file fails with an error instead of
// exhausting memory.
const MaxElements = 1 << 28

// ErrShape reports a shape that is negative, overflows or exceeds MaxElements.
var ErrShape = errors.New("invalid tensor shape")

// CheckShape validates a shape and returns its element count.
func CheckShape(shape []int) (int, error) {
	n := 1
	for i, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("%w: dimension %d is %d", ErrShape, i, d)
		}
		if d != 0 && n > MaxElements/d {
			return 0, fmt.Errorf("%w: %v has more than %d elements", ErrShape, shape, MaxElements)
		}
		n *= d
	}
	return n, nil
}

// New allocates a zero tensor of the given type and shape.
func New(dt DType, shape []int) (*Tensor, error) {
	n, err := CheckShape(shape)
	if err != nil {
		return nil, err
	}
	t := &Tensor{DType: dt, Shape: append([]int(nil), shape...)}
	switch dt {
	case Float32:
		t.F32 = make([]float32, n)
	case Int64:
		t.I64 = make([]int64, n)
	case Int32:
		t.I32 = make([]int32, n)
	case Int8:
		t.I8 = make([]int8, n)
	case Uint8, Bool:
		t.U8 = make([]uint8, n)
	default:
		return nil, fmt.Errorf("new tensor: unsupported dtype %v", dt)
	}
	return t, nil
}

// Len is the number of elements held in the tensor's data slice.
func (t *Tensor) Len() int {
	switch t.DType {
	case Float32:
		return len(t.F32)
	case Int64:
		return len(t.I64)
	case Int32:
		return len(t.I32)
	case Int8:
		return len(t.I8)
	case Uint8, Bool:
		return len(t.U8)
	}
	return 0
}

// Bits returns element i as raw bits in the low bytes of a uint64: the same
// bits the canonical encoding writes. Single-element recomputation returns
// values in this form so that comparisons are exact.
func (t *Tensor) Bits(i int) uint64 {
	switch t.DType {
	case Float32:
		return uint64(math.Float32bits(t.F32[i]))
	case Int64:
		return uint64(t.I64[i])
	case Int32:
		return uint64(uint32(t.I32[i]))
	case Int8:
		return uint64(uint8(t.I8[i]))
	case Uint8, Bool:
		return uint64(t.U8[i])
	}
	return 0
}

// AppendCanonical appends the canonical bytes of elements [from, to) to dst.
func (t *Tensor) AppendCanonical(dst []byte, from, to int) []byte {
	switch t.DType {
	case Float32:
		for _, v := range t.F32[from:to] {
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
		}
	case Int64:
		for _, v := range t.I64[from:to] {
			dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
		}
	case Int32:
		for _, v := range t.I32[from:to] {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(v))
		}
	case Int8:
		for _, v := range t.I8[from:to] {
			dst = append(dst, uint8(v))
		}
	case Uint8, Bool:
		dst = append(dst, t.U8[from:to]...)
	}
	return dst
}

// CanonicalBytes is the canonical encoding of the whole tensor's data.
func (t *Tensor) CanonicalBytes() []byte {
	return t.AppendCanonical(make([]byte, 0, t.Len()*t.DType.Size()), 0, t.Len())
}

// FromCanonical decodes data written by CanonicalBytes for the given type and
// shape. It rejects a length that does not match the shape.
func FromCanonical(dt DType, shape []int, data []byte) (*Tensor, error) {
	t, err := New(dt, shape)
	if err != nil {
		return nil, err
	}
	if want := t.Len() * dt.Size(); len(data) != want {
		return nil, fmt.Errorf("decode %v%v: %d bytes, want %d", dt, shape, len(data), want)
	}
	switch dt {
	case Float32:
		for i := range t.F32 {
			t.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
	case Int64:
		for i := range t.I64 {
			t.I64[i] = int64(binary.LittleEndian.Uint64(data[8*i:]))
		}
	case Int32:
		for i := range t.I32 {
			t.I32[i] = int32(binary.LittleEndian.Uint32(data[4*i:]))
		}
	case Int8:
		for i := range t.I8 {
			t.I8[i] = int8(data[i])
		}
	case Uint8, Bool:
		copy(t.U8, data)
	}
	return t, nil
}
