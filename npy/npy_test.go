package npy

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/provena/provena/tensor"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		dt   tensor.DType
		sh   []int
	}{
		{"f32 4d", tensor.Float32, []int{1, 3, 4, 5}},
		{"i64 vector", tensor.Int64, []int{7}},
		{"i32 scalar", tensor.Int32, nil},
		{"u8", tensor.Uint8, []int{2, 3}},
		{"i8", tensor.Int8, []int{3}},
		{"bool", tensor.Bool, []int{2, 2}},
		{"empty", tensor.Float32, []int{0, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, _ := tensor.New(tt.dt, tt.sh)
			for i := 0; i < x.Len(); i++ {
				switch tt.dt {
				case tensor.Float32:
					x.F32[i] = float32(i) * -1.5
				case tensor.Int64:
					x.I64[i] = int64(i) - 3
				case tensor.Int32:
					x.I32[i] = int32(i) * 1000
				case tensor.Int8:
					x.I8[i] = int8(-i)
				case tensor.Uint8:
					x.U8[i] = uint8(i * 9)
				case tensor.Bool:
					x.U8[i] = uint8(i % 2)
				}
			}
			var b bytes.Buffer
			if err := Write(&b, x); err != nil {
				t.Fatal(err)
			}
			if hl := int(binary.LittleEndian.Uint16(b.Bytes()[8:])); (10+hl)%64 != 0 {
				t.Errorf("data not 64-byte aligned: header %d", hl)
			}
			y, err := Read(bytes.NewReader(b.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if y.DType != x.DType || len(y.Shape) != len(x.Shape) || !bytes.Equal(y.CanonicalBytes(), x.CanonicalBytes()) {
				t.Fatalf("round trip changed the tensor: %v%v", y.DType, y.Shape)
			}
		})
	}
}

// numpyFile is what numpy.save(np.arange(3, dtype=np.float32)) writes.
func numpyFile() []byte {
	h := "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"
	h += strings.Repeat(" ", (64-(10+len(h)+1)%64)%64) + "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), 0)
	b = append(b, h...)
	for _, v := range []float32{0, 1, 2} {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func TestReadNumpy(t *testing.T) {
	x, err := Read(bytes.NewReader(numpyFile()))
	if err != nil {
		t.Fatal(err)
	}
	if x.DType != tensor.Float32 || len(x.Shape) != 1 || x.Shape[0] != 3 || x.F32[2] != 2 {
		t.Fatalf("got %v%v %v", x.DType, x.Shape, x.F32)
	}
}

func TestReadErrors(t *testing.T) {
	good := numpyFile()
	hdr := func(h string) []byte {
		b := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), 0)
		return append(b, h...)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "header"},
		{"magic", []byte("NOTNUMPY\x00\x00"), "magic"},
		{"version", []byte("\x93NUMPY\x09\x00\x00\x00"), "version"},
		{"big endian", hdr("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }"), "dtype"},
		{"float64", hdr("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }"), "dtype"},
		{"fortran", hdr("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }"), "Fortran"},
		{"huge shape", hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }"), "shape"},
		{"short data", good[:len(good)-1], "data bytes"},
		{"trailing", append(append([]byte(nil), good...), 0), "trailing"},
		{"missing key", hdr("{'descr': '<f4', 'shape': (1,), }"), "misses"},
		{"unknown key", hdr("{'descr': '<f4', 'x': 1}"), "unknown"},
		{"bad tuple", hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (1;), }"), "shape"},
		{"negative", hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"), "shape"},
		{"bool value", append(hdr("{'descr': '|b1', 'fortran_order': False, 'shape': (1,), }"), 7), "bool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	f.Add(numpyFile())
	var b bytes.Buffer
	x, _ := tensor.New(tensor.Int64, []int{2, 2})
	Write(&b, x)
	f.Add(b.Bytes())
	f.Add([]byte("\x93NUMPY\x02\x00\x10\x00\x00\x00{'shape': ()}   "))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := Write(&out, x); err != nil {
			t.Fatal(err)
		}
		y, err := Read(&out)
		if err != nil || !bytes.Equal(y.CanonicalBytes(), x.CanonicalBytes()) {
			t.Fatalf("re-read differs: %v", err)
		}
	})
}
