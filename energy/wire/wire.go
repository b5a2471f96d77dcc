// Package wire is the canonical binary encoding shared by the energy
// package's signed records and the ledger's energy messages: fixed-width
// big-endian integers and length-prefixed byte strings, so each value has
// exactly one encoding. A Reader never panics; it records the first error
// and returns zero values after it.
package wire

import (
	"encoding/binary"
	"fmt"
)

// AppendU8 appends v.
func AppendU8(b []byte, v uint8) []byte { return append(b, v) }

// AppendU16 appends v big-endian.
func AppendU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }

// AppendU32 appends v big-endian.
func AppendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

// AppendU64 appends v big-endian.
func AppendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// AppendI64 appends v as its two's-complement uint64.
func AppendI64(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

// AppendBytes appends a 2-byte length then s; len(s) must be < 65536.
func AppendBytes(b, s []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// AppendString is AppendBytes of a string.
func AppendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// Reader decodes what the Append functions wrote.
type Reader struct {
	b   []byte
	err error
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err is the first error.
func (r *Reader) Err() error { return r.err }

func (r *Reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.err = fmt.Errorf("truncated %s: need %d bytes, have %d", what, n, len(r.b))
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// U8 reads one byte.
func (r *Reader) U8(what string) uint8 {
	if v := r.take(1, what); v != nil {
		return v[0]
	}
	return 0
}

// U16 reads a big-endian uint16.
func (r *Reader) U16(what string) uint16 {
	if v := r.take(2, what); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

// U32 reads a big-endian uint32.
func (r *Reader) U32(what string) uint32 {
	if v := r.take(4, what); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

// U64 reads a big-endian uint64.
func (r *Reader) U64(what string) uint64 {
	if v := r.take(8, what); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// I64 reads what AppendI64 wrote.
func (r *Reader) I64(what string) int64 { return int64(r.U64(what)) }

// Fixed reads n raw bytes (a copy).
func (r *Reader) Fixed(n int, what string) []byte {
	if v := r.take(n, what); v != nil {
		return append([]byte(nil), v...)
	}
	return nil
}

// Bytes reads a length-prefixed byte string of at most max bytes (a copy).
func (r *Reader) Bytes(max int, what string) []byte {
	n := int(r.U16(what + " length"))
	if r.err == nil && n > max {
		r.err = fmt.Errorf("%s is %d bytes, at most %d", what, n, max)
		return nil
	}
	if v := r.take(n, what); v != nil {
		return append([]byte{}, v...)
	}
	return nil
}

// String reads a length-prefixed string of at most max bytes.
func (r *Reader) String(max int, what string) string { return string(r.Bytes(max, what)) }

// Fail records err as the reader's error unless it already has one.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Done fails unless every byte was consumed, and returns the first error.
func (r *Reader) Done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	return r.err
}
