package opml

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/merkle"
	"github.com/provena/provena/model"
)

// Binary encodings of what dispute transactions carry. Integers are
// big-endian uint32 (every index and count here is far below 2^31), byte
// strings and hash lists are a uint32 count then the items, an optional
// part is a 0/1 byte then the part. Decoders accept only the canonical
// encoding (they re-encode and compare), never panic, and bound every count
// by the bytes left.

type enc struct{ b []byte }

func (e *enc) u8(v uint8)         { e.b = append(e.b, v) }
func (e *enc) int(v int)          { e.b = binary.BigEndian.AppendUint32(e.b, uint32(v)) }
func (e *enc) hash(h merkle.Hash) { e.b = append(e.b, h[:]...) }
func (e *enc) bytes(p []byte) {
	e.int(len(p))
	e.b = append(e.b, p...)
}
func (e *enc) hashes(hs []merkle.Hash) {
	e.int(len(hs))
	for _, h := range hs {
		e.hash(h)
	}
}
func (e *enc) ints(v []int) {
	e.int(len(v))
	for _, x := range v {
		e.int(x)
	}
}

type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *dec) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("truncated: need %d bytes, have %d", n, len(d.b))
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *dec) u8() uint8 {
	p := d.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

func (d *dec) int() int {
	p := d.take(4)
	if p == nil {
		return 0
	}
	v := binary.BigEndian.Uint32(p)
	if v > math.MaxInt32 {
		d.fail("integer %d out of range", v)
		return 0
	}
	return int(v)
}

func (d *dec) hash() (h merkle.Hash) {
	copy(h[:], d.take(32))
	return h
}

// count reads a count of items of at least size bytes each.
func (d *dec) count(size int) int {
	n := d.int()
	if d.err == nil && n > len(d.b)/size {
		d.fail("count %d exceeds the %d bytes left", n, len(d.b))
		return 0
	}
	return n
}

func (d *dec) bytes() []byte {
	n := d.count(1)
	return bytes.Clone(d.take(n))
}

func (d *dec) hashes() []merkle.Hash {
	n := d.count(32)
	if n == 0 {
		return nil
	}
	hs := make([]merkle.Hash, n)
	for i := range hs {
		hs[i] = d.hash()
	}
	return hs
}

func (d *dec) ints() []int {
	n := d.count(4)
	if n == 0 {
		return nil
	}
	v := make([]int, n)
	for i := range v {
		v[i] = d.int()
	}
	return v
}

func (d *dec) flag() bool {
	switch d.u8() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("presence flag is not 0 or 1")
	return false
}

func (e *enc) opening(o *model.Opening) {
	e.hash(o.Root)
	e.int(o.NumChunks)
	e.ints(o.Chunks)
	e.int(len(o.Data))
	for _, p := range o.Data {
		e.bytes(p)
	}
	e.hashes(o.Proof)
}

func (d *dec) opening() *model.Opening {
	o := &model.Opening{Root: d.hash(), NumChunks: d.int(), Chunks: d.ints()}
	n := d.count(4)
	for i := 0; i < n && d.err == nil; i++ {
		o.Data = append(o.Data, d.bytes())
	}
	o.Proof = d.hashes()
	return o
}

func (e *enc) nodeLeaf(p *infer.NodeLeafProof) {
	e.int(p.Index)
	e.hashes(p.Roots)
	e.hashes(p.Proof)
}

func (d *dec) nodeLeaf() *infer.NodeLeafProof {
	return &infer.NodeLeafProof{Index: d.int(), Roots: d.hashes(), Proof: d.hashes()}
}

func (e *enc) nodeProof(p *model.NodeProof) {
	e.hash(p.HeaderRoot)
	e.hash(p.WeightsRoot)
	e.int(p.NumRecords)
	e.bytes(p.Record)
	e.hashes(p.Proof)
}

func (d *dec) nodeProof() *model.NodeProof {
	return &model.NodeProof{HeaderRoot: d.hash(), WeightsRoot: d.hash(), NumRecords: d.int(), Record: d.bytes(), Proof: d.hashes()}
}

// stepVersion leads an encoded step proof.
const stepVersion = 1

// EncodeStepProof returns the canonical binary form of a one-step proof.
func EncodeStepProof(p *infer.StepProof) ([]byte, error) {
	if p == nil || p.Node == nil || p.Claim == nil || p.Chunk == nil {
		return nil, errors.New("encode step proof: incomplete proof")
	}
	e := &enc{}
	e.u8(stepVersion)
	e.hash(p.ModelID)
	e.hash(p.TraceRoot)
	e.hash(p.InputsRoot)
	e.hash(p.NodesRoot)
	e.int(p.NumInputs)
	e.int(p.NumNodes)
	e.nodeProof(p.Node)
	e.int(p.Output)
	e.int(p.Flat)
	e.nodeLeaf(p.Claim)
	e.opening(p.Chunk)
	e.int(len(p.Inputs))
	for _, in := range p.Inputs {
		if in == nil {
			in = &infer.InputOpening{}
		}
		switch {
		case in.Weight != nil:
			e.u8(1)
			w := in.Weight
			if w.Chunks == nil {
				return nil, errors.New("encode step proof: weight opening without chunks")
			}
			e.hash(w.HeaderRoot)
			e.hash(w.WeightsRoot)
			e.int(w.NumWeights)
			e.int(w.Index)
			e.bytes(w.Desc)
			e.hashes(w.DescProof)
			e.opening(w.Chunks)
		case in.Node != nil && in.Chunks != nil:
			e.u8(2)
			e.nodeLeaf(in.Node)
			e.opening(in.Chunks)
		case in.Input != nil && in.Chunks != nil:
			e.u8(3)
			e.int(in.Input.Index)
			e.hash(in.Input.Root)
			e.hashes(in.Input.Proof)
			e.opening(in.Chunks)
		case in.Node == nil && in.Input == nil && in.Chunks == nil:
			e.u8(0)
		default:
			return nil, errors.New("encode step proof: input opening with a source but no chunks")
		}
	}
	return e.b, nil
}

// DecodeStepProof parses EncodeStepProof's output. It checks the encoding
// only; infer.VerifyStep checks the proof.
func DecodeStepProof(b []byte) (*infer.StepProof, error) {
	d := &dec{b: b}
	if v := d.u8(); d.err == nil && v != stepVersion {
		return nil, fmt.Errorf("decode step proof: version %d, want %d", v, stepVersion)
	}
	p := &infer.StepProof{ModelID: d.hash(), TraceRoot: d.hash(), InputsRoot: d.hash(), NodesRoot: d.hash(), NumInputs: d.int(), NumNodes: d.int()}
	p.Node = d.nodeProof()
	p.Output, p.Flat = d.int(), d.int()
	p.Claim = d.nodeLeaf()
	p.Chunk = d.opening()
	n := d.count(1)
	for i := 0; i < n && d.err == nil; i++ {
		in := &infer.InputOpening{}
		switch d.u8() {
		case 0:
		case 1:
			in.Weight = &model.WeightProof{HeaderRoot: d.hash(), WeightsRoot: d.hash(), NumWeights: d.int(), Index: d.int(), Desc: d.bytes(), DescProof: d.hashes()}
			in.Weight.Chunks = d.opening()
		case 2:
			in.Node = d.nodeLeaf()
			in.Chunks = d.opening()
		case 3:
			in.Input = &infer.InputLeafProof{Index: d.int(), Root: d.hash(), Proof: d.hashes()}
			in.Chunks = d.opening()
		default:
			d.fail("input %d: unknown opening kind", i)
		}
		p.Inputs = append(p.Inputs, in)
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode step proof: %w", d.err)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("decode step proof: %d trailing bytes", len(d.b))
	}
	if re, err := EncodeStepProof(p); err != nil || !bytes.Equal(re, b) {
		return nil, errors.New("decode step proof: not the canonical encoding")
	}
	return p, nil
}

// EncodeNodeProof returns the canonical binary form of a node record proof.
func EncodeNodeProof(p *model.NodeProof) []byte {
	e := &enc{}
	e.nodeProof(p)
	return e.b
}

// DecodeNodeProof parses EncodeNodeProof's output.
func DecodeNodeProof(b []byte) (*model.NodeProof, error) {
	d := &dec{b: b}
	p := d.nodeProof()
	if d.err != nil {
		return nil, fmt.Errorf("decode node proof: %w", d.err)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("decode node proof: %d trailing bytes", len(d.b))
	}
	if !bytes.Equal(EncodeNodeProof(p), b) {
		return nil, errors.New("decode node proof: not the canonical encoding")
	}
	return p, nil
}

// encodeCommit is the payload of a commit move: the nodes root, then the
// output leaves.
func encodeCommit(nodesRoot merkle.Hash, leaves []*infer.NodeLeafProof) []byte {
	e := &enc{}
	e.hash(nodesRoot)
	e.int(len(leaves))
	for _, p := range leaves {
		if p == nil {
			p = &infer.NodeLeafProof{}
		}
		e.nodeLeaf(p)
	}
	return e.b
}

// decodeCommit parses encodeCommit's output.
func decodeCommit(b []byte) (merkle.Hash, []*infer.NodeLeafProof, error) {
	d := &dec{b: b}
	root := d.hash()
	n := d.count(12) // a leaf is at least its index and two counts
	if d.err == nil && n > MaxRoots {
		d.fail("%d output leaves, at most %d", n, MaxRoots)
	}
	var leaves []*infer.NodeLeafProof
	for i := 0; i < n && d.err == nil; i++ {
		leaves = append(leaves, d.nodeLeaf())
	}
	if d.err != nil {
		return root, nil, d.err
	}
	if len(d.b) != 0 {
		return root, nil, fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if !bytes.Equal(encodeCommit(root, leaves), b) {
		return root, nil, errors.New("not the canonical encoding")
	}
	return root, leaves, nil
}
