// Package npy reads and writes NumPy .npy files (format versions 1 to 3) for
// the tensor types Provena runs: float32, int64, int32, int8, uint8 and bool,
// little-endian, C order. It is how model inputs and outputs enter and leave
// the command line.
package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/provena/provena/tensor"
)

const magic = "\x93NUMPY"

// maxHeader bounds the header a reader accepts (NumPy writes < 1 KiB).
const maxHeader = 1 << 16

var descrs = map[string]tensor.DType{
	"<f4": tensor.Float32, "<i8": tensor.Int64, "<i4": tensor.Int32,
	"|i1": tensor.Int8, "<i1": tensor.Int8, "|u1": tensor.Uint8, "<u1": tensor.Uint8, "|b1": tensor.Bool, "<b1": tensor.Bool,
}

func descr(dt tensor.DType) (string, error) {
	switch dt {
	case tensor.Float32:
		return "<f4", nil
	case tensor.Int64:
		return "<i8", nil
	case tensor.Int32:
		return "<i4", nil
	case tensor.Int8:
		return "|i1", nil
	case tensor.Uint8:
		return "|u1", nil
	case tensor.Bool:
		return "|b1", nil
	}
	return "", fmt.Errorf("npy: unsupported dtype %v", dt)
}

// Write writes t as a version 1.0 .npy file.
func Write(w io.Writer, t *tensor.Tensor) error {
	d, err := descr(t.DType)
	if err != nil {
		return err
	}
	var shape strings.Builder
	shape.WriteByte('(')
	for i, s := range t.Shape {
		if i > 0 {
			shape.WriteString(", ")
		}
		shape.WriteString(strconv.Itoa(s))
	}
	if len(t.Shape) == 1 {
		shape.WriteByte(',')
	}
	shape.WriteByte(')')
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", d, shape.String())
	// NumPy pads the header so that the data starts 64-byte aligned.
	total := len(magic) + 4 + len(h) + 1
	h += strings.Repeat(" ", (64-total%64)%64) + "\n"
	if len(h) > 0xffff {
		return errors.New("npy: header too long")
	}
	var b bytes.Buffer
	b.WriteString(magic)
	b.Write([]byte{1, 0})
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("npy: write: %w", err)
	}
	if _, err := w.Write(t.CanonicalBytes()); err != nil {
		return fmt.Errorf("npy: write: %w", err)
	}
	return nil
}

// Read reads one .npy file. It rejects big-endian and Fortran-order data,
// unsupported dtypes, shapes over tensor.MaxElements, short data and
// trailing bytes; it never allocates more than the data actually present.
func Read(r io.Reader) (*tensor.Tensor, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("npy: read header: %w", err)
	}
	if string(pre[:6]) != magic {
		return nil, errors.New("npy: not a .npy file (bad magic)")
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("npy: read header: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("npy: read header: %w", err)
		}
		n := binary.LittleEndian.Uint32(b[:])
		if n > maxHeader {
			return nil, fmt.Errorf("npy: header of %d bytes too long", n)
		}
		hlen = int(n)
	default:
		return nil, fmt.Errorf("npy: unsupported format version %d.%d", pre[6], pre[7])
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("npy: read header: %w", err)
	}
	dt, shape, err := parseHeader(string(hdr))
	if err != nil {
		return nil, err
	}
	n, err := tensor.CheckShape(shape)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	want := int64(n) * int64(dt.Size())
	data, err := io.ReadAll(io.LimitReader(r, want+1))
	if err != nil {
		return nil, fmt.Errorf("npy: read data: %w", err)
	}
	if int64(len(data)) != want {
		if int64(len(data)) > want {
			return nil, errors.New("npy: trailing bytes after the data")
		}
		return nil, fmt.Errorf("npy: %d data bytes, shape %v of %v needs %d", len(data), shape, dt, want)
	}
	t, err := tensor.FromCanonical(dt, shape, data)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	if dt == tensor.Bool {
		for _, v := range t.U8 {
			if v > 1 {
				return nil, fmt.Errorf("npy: bool value %d", v)
			}
		}
	}
	return t, nil
}

// parseHeader parses the Python dict literal NumPy writes, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }.
func parseHeader(h string) (tensor.DType, []int, error) {
	p := &parser{s: strings.TrimRight(h, " \n\x00")}
	if !p.eat('{') {
		return 0, nil, errors.New("npy: header is not a dict")
	}
	var dt tensor.DType
	var shape []int
	seen := map[string]bool{}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return 0, nil, err
		}
		if seen[key] {
			return 0, nil, fmt.Errorf("npy: header key %q repeated", key)
		}
		seen[key] = true
		p.space()
		if !p.eat(':') {
			return 0, nil, errors.New("npy: header: expected ':'")
		}
		p.space()
		switch key {
		case "descr":
			d, err := p.str()
			if err != nil {
				return 0, nil, err
			}
			var ok bool
			if dt, ok = descrs[d]; !ok {
				return 0, nil, fmt.Errorf("npy: unsupported dtype %q (want little-endian f4, i8, i4, i1, u1 or b1)", d)
			}
		case "fortran_order":
			switch {
			case p.word("False"):
			case p.word("True"):
				return 0, nil, errors.New("npy: Fortran-order arrays not supported")
			default:
				return 0, nil, errors.New("npy: header: bad fortran_order")
			}
		case "shape":
			if shape, err = p.tuple(); err != nil {
				return 0, nil, err
			}
		default:
			return 0, nil, fmt.Errorf("npy: unknown header key %q", key)
		}
		p.space()
		if !p.eat(',') {
			p.space()
			if !p.eat('}') {
				return 0, nil, errors.New("npy: header: expected ',' or '}'")
			}
			break
		}
	}
	p.space()
	if p.i != len(p.s) {
		return 0, nil, errors.New("npy: header: trailing characters")
	}
	if !seen["descr"] || !seen["shape"] || !seen["fortran_order"] {
		return 0, nil, errors.New("npy: header misses descr, fortran_order or shape")
	}
	return dt, shape, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\n' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *parser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *parser) word(w string) bool {
	if strings.HasPrefix(p.s[p.i:], w) {
		p.i += len(w)
		return true
	}
	return false
}

func (p *parser) str() (string, error) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", errors.New("npy: header: expected a string")
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", errors.New("npy: header: unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, nil
}

func (p *parser) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, errors.New("npy: header: shape is not a tuple")
	}
	shape := []int{}
	for {
		p.space()
		if p.eat(')') {
			return shape, nil
		}
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		if p.i == start || p.i-start > 10 {
			return nil, errors.New("npy: header: bad shape dimension")
		}
		d, _ := strconv.Atoi(p.s[start:p.i])
		if len(shape) >= 32 {
			return nil, errors.New("npy: header: too many dimensions")
		}
		shape = append(shape, d)
		p.space()
		if p.eat(')') {
			return shape, nil
		}
		if !p.eat(',') {
			return nil, errors.New("npy: header: expected ',' in shape")
		}
	}
}
