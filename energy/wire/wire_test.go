package wire

import (
	"strings"
	"testing"
)

func TestRoundTripAndErrors(t *testing.T) {
	b := AppendU8(nil, 7)
	b = AppendU16(b, 300)
	b = AppendU32(b, 70000)
	b = AppendU64(b, 1<<40)
	b = AppendI64(b, -5)
	b = AppendString(b, "DE")
	b = AppendBytes(b, []byte{1, 2})
	r := NewReader(b)
	if r.U8("a") != 7 || r.U16("b") != 300 || r.U32("c") != 70000 || r.U64("d") != 1<<40 || r.I64("e") != -5 ||
		r.String(2, "f") != "DE" || string(r.Bytes(2, "g")) != "\x01\x02" || r.Done() != nil {
		t.Fatal("round trip failed")
	}
	tests := []struct {
		name string
		read func(r *Reader)
		in   []byte
		want string
	}{
		{"truncated", func(r *Reader) { r.U64("x") }, []byte{1, 2}, "truncated x"},
		{"too long", func(r *Reader) { r.String(1, "zone") }, AppendString(nil, "DE"), "zone is 2 bytes, at most 1"},
		{"trailing", func(r *Reader) { r.U8("x") }, []byte{1, 2}, "1 trailing bytes"},
		{"first error wins", func(r *Reader) { r.U16("first"); r.Fail(errString("second")) }, []byte{1}, "truncated first"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(tc.in)
			tc.read(r)
			if err := r.Done(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

type errString string

func (e errString) Error() string { return string(e) }
