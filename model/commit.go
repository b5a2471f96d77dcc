package model

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/provena/provena/merkle"
	"github.com/provena/provena/tensor"
)

// ChunkSize is the size in bytes of the chunks that weights and trace values
// are committed in (64 float32). It is small because a one-step proof opens
// every chunk an output element touches, and the worst PP-OCRv4 nodes (1x1
// convolutions over hundreds of channels, MatMul columns) touch one element
// per chunk over hundreds of chunks: the bytes opened grow with the chunk
// size, while the multiproof hashes shrink only logarithmically. See
// docs/model-format.md for the measured trade-off.
const ChunkSize = 256

// idDomain separates model ids from every other hash in Provena.
const idDomain = "provena/model/v1\x00"

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// TensorBytes is t's canonical encoding. On little-endian machines it is a
// view of t's data (no copy), which is what makes hashing every node output
// of a trace cheap; callers must not modify it.
func TensorBytes(t *tensor.Tensor) []byte {
	if !littleEndian {
		return t.CanonicalBytes()
	}
	var p unsafe.Pointer
	switch t.DType {
	case tensor.Float32:
		if len(t.F32) > 0 {
			p = unsafe.Pointer(&t.F32[0])
		}
	case tensor.Int64:
		if len(t.I64) > 0 {
			p = unsafe.Pointer(&t.I64[0])
		}
	case tensor.Int32:
		if len(t.I32) > 0 {
			p = unsafe.Pointer(&t.I32[0])
		}
	case tensor.Int8:
		if len(t.I8) > 0 {
			p = unsafe.Pointer(&t.I8[0])
		}
	case tensor.Uint8, tensor.Bool:
		if len(t.U8) > 0 {
			p = unsafe.Pointer(&t.U8[0])
		}
	}
	if p == nil {
		return nil
	}
	return unsafe.Slice((*byte)(p), t.Len()*t.DType.Size())
}

// NumChunks is the number of commitment chunks of a value.
func NumChunks(dt tensor.DType, shape []int) int {
	return merkle.NumChunks(tensor.NumElements(shape)*dt.Size(), ChunkSize)
}

// ValueTree commits a tensor: a Merkle tree over the ChunkSize chunks of its
// canonical bytes, leaves hashed by up to workers goroutines.
func ValueTree(t *tensor.Tensor, workers int) *merkle.Tree {
	tree, _ := merkle.FromData(TensorBytes(t), ChunkSize, workers)
	return tree
}

// ValueRoot is ValueTree(t).Root().
func ValueRoot(t *tensor.Tensor, workers int) merkle.Hash {
	r, _ := merkle.Root(merkle.HashChunks(TensorBytes(t), ChunkSize, workers))
	return r
}

// Opening reveals some chunks of a committed value with a multiproof.
type Opening struct {
	Root      merkle.Hash   `json:"root"`
	NumChunks int           `json:"num_chunks"`
	Chunks    []int         `json:"chunks"`
	Data      [][]byte      `json:"data"`
	Proof     []merkle.Hash `json:"proof"`
}

// Open opens the given chunks (sorted, unique) of t, committed by tree.
func Open(t *tensor.Tensor, tree *merkle.Tree, chunks []int) (*Opening, error) {
	proof, err := tree.ProveMany(chunks)
	if err != nil {
		return nil, err
	}
	raw := TensorBytes(t)
	o := &Opening{Root: tree.Root(), NumChunks: tree.Len(), Chunks: append([]int(nil), chunks...), Proof: proof}
	for _, c := range chunks {
		o.Data = append(o.Data, append([]byte(nil), raw[c*ChunkSize:min((c+1)*ChunkSize, len(raw))]...))
	}
	return o, nil
}

// Verify checks the opening against its own Root; callers check that Root
// and NumChunks are the ones they agreed on.
func (o *Opening) Verify() error {
	if len(o.Data) != len(o.Chunks) {
		return fmt.Errorf("%w: %d chunks with %d data", merkle.ErrProof, len(o.Chunks), len(o.Data))
	}
	leaves := make([]merkle.Hash, len(o.Data))
	for i, d := range o.Data {
		leaves[i] = merkle.LeafHash(d)
	}
	return merkle.VerifyMany(o.Root, o.NumChunks, o.Chunks, leaves, o.Proof)
}

// Size is the opening's size in bytes: chunk data, chunk indices and proof
// hashes, as a verifier would receive them.
func (o *Opening) Size() int {
	n := 32 + 8 + 4*len(o.Chunks) + 32*len(o.Proof)
	for _, d := range o.Data {
		n += len(d)
	}
	return n
}

// commitment caches the Merkle trees behind the model id.
type commitment struct {
	records     [][]byte
	header      *merkle.Tree
	weightDescs [][]byte
	weightTrees []*merkle.Tree
	weights     *merkle.Tree
	id          merkle.Hash
}

var commitMu sync.Mutex

func (m *Model) commit() *commitment {
	commitMu.Lock()
	defer commitMu.Unlock()
	if m.cm != nil {
		return m.cm
	}
	c := &commitment{records: [][]byte{m.modelRecord()}}
	for i := range m.Nodes {
		c.records = append(c.records, nodeRecord(i, &m.Nodes[i]))
	}
	leaves := make([]merkle.Hash, len(c.records))
	for i, r := range c.records {
		leaves[i] = merkle.LeafHash(r)
	}
	c.header, _ = merkle.New(leaves)
	wl := make([]merkle.Hash, 0, len(m.Weights))
	for _, w := range m.Weights {
		d := weightDesc(w)
		tree := ValueTree(w.Tensor, 0)
		c.weightDescs = append(c.weightDescs, d)
		c.weightTrees = append(c.weightTrees, tree)
		wl = append(wl, weightLeaf(d, tree.Root()))
	}
	if len(wl) == 0 {
		wl = append(wl, merkle.LeafHash(nil))
	}
	c.weights, _ = merkle.New(wl)
	c.id = ModelID(c.header.Root(), c.weights.Root())
	m.cm = c
	return c
}

func weightLeaf(desc []byte, root merkle.Hash) merkle.Hash {
	return merkle.LeafHash(append(append([]byte(nil), desc...), root[:]...))
}

// ModelID combines the header root (model and node records) and the weights
// root into a model id.
func ModelID(header, weights merkle.Hash) merkle.Hash {
	b := make([]byte, 0, len(idDomain)+64)
	b = append(b, idDomain...)
	b = append(b, header[:]...)
	b = append(b, weights[:]...)
	return sha256.Sum256(b)
}

// ID is the model id.
func (m *Model) ID() [32]byte { return m.commit().id }

// IDString is the model id in hex.
func (m *Model) IDString() string { return m.commit().id.String() }

// HeaderRoot and WeightsRoot are the two halves of the model id.
func (m *Model) HeaderRoot() merkle.Hash  { return m.commit().header.Root() }
func (m *Model) WeightsRoot() merkle.Hash { return m.commit().weights.Root() }

// WeightTree returns the commitment tree of weight i.
func (m *Model) WeightTree(i int) *merkle.Tree { return m.commit().weightTrees[i] }

// WeightProof opens chunks of one weight against a model id.
type WeightProof struct {
	HeaderRoot  merkle.Hash   `json:"header_root"`
	WeightsRoot merkle.Hash   `json:"weights_root"`
	NumWeights  int           `json:"num_weights"`
	Index       int           `json:"index"`
	Desc        []byte        `json:"desc"`
	DescProof   []merkle.Hash `json:"desc_proof"`
	Chunks      *Opening      `json:"chunks"`
}

// Size is the proof's size in bytes.
func (p *WeightProof) Size() int {
	return 64 + 8 + len(p.Desc) + 32*len(p.DescProof) + p.Chunks.Size()
}

// ProveWeightChunk opens one chunk of the named weight.
func (m *Model) ProveWeightChunk(name string, chunk int) (*WeightProof, error) {
	return m.ProveWeightChunks(name, []int{chunk})
}

// ProveWeightChunks opens several chunks (sorted, unique) of the named weight.
func (m *Model) ProveWeightChunks(name string, chunks []int) (*WeightProof, error) {
	i, ok := m.weights[name]
	if !ok {
		return nil, fmt.Errorf("prove weight: no weight %q", name)
	}
	c := m.commit()
	desc, err := c.weights.Prove(i)
	if err != nil {
		return nil, fmt.Errorf("prove weight %q: %w", name, err)
	}
	o, err := Open(m.Weights[i].Tensor, c.weightTrees[i], chunks)
	if err != nil {
		return nil, fmt.Errorf("prove weight %q: %w", name, err)
	}
	n := len(m.Weights)
	return &WeightProof{
		HeaderRoot: c.header.Root(), WeightsRoot: c.weights.Root(), NumWeights: n,
		Index: i, Desc: c.weightDescs[i], DescProof: desc, Chunks: o,
	}, nil
}

// VerifyWeightProof checks a weight proof against a model id and returns
// the weight's descriptor. The weights tree's leaf count travels in the
// proof, not in the id, so callers identify the weight by the descriptor's
// name (unique in a model), not by p.Index.
func VerifyWeightProof(id merkle.Hash, p *WeightProof) (*WeightDesc, error) {
	if p == nil || p.Chunks == nil {
		return nil, errors.New("verify weight proof: empty proof")
	}
	if ModelID(p.HeaderRoot, p.WeightsRoot) != id {
		return nil, fmt.Errorf("verify weight proof: roots do not make model id %x", id)
	}
	if err := merkle.VerifyMany(p.WeightsRoot, p.NumWeights, []int{p.Index}, []merkle.Hash{weightLeaf(p.Desc, p.Chunks.Root)}, p.DescProof); err != nil {
		return nil, fmt.Errorf("verify weight proof: descriptor: %w", err)
	}
	d, err := ParseWeightDesc(p.Desc)
	if err != nil {
		return nil, fmt.Errorf("verify weight proof: %w", err)
	}
	if want := NumChunks(d.DType, d.Shape); p.Chunks.NumChunks != want {
		return nil, fmt.Errorf("verify weight proof: %d chunks, descriptor implies %d", p.Chunks.NumChunks, want)
	}
	if err := p.Chunks.Verify(); err != nil {
		return nil, fmt.Errorf("verify weight proof %q: %w", d.Name, err)
	}
	return d, nil
}

// NodeProof opens one node record against a model id.
type NodeProof struct {
	HeaderRoot  merkle.Hash   `json:"header_root"`
	WeightsRoot merkle.Hash   `json:"weights_root"`
	NumRecords  int           `json:"num_records"`
	Record      []byte        `json:"record"`
	Proof       []merkle.Hash `json:"proof"`
}

// Size is the proof's size in bytes.
func (p *NodeProof) Size() int { return 64 + 8 + len(p.Record) + 32*len(p.Proof) }

// ProveNode opens node i's record.
func (m *Model) ProveNode(i int) (*NodeProof, error) {
	if i < 0 || i >= len(m.Nodes) {
		return nil, fmt.Errorf("prove node %d: out of range", i)
	}
	c := m.commit()
	proof, err := c.header.Prove(1 + i)
	if err != nil {
		return nil, err
	}
	return &NodeProof{HeaderRoot: c.header.Root(), WeightsRoot: c.weights.Root(), NumRecords: len(c.records), Record: c.records[1+i], Proof: proof}, nil
}

// VerifyNodeProof checks a node proof against a model id and parses the
// record.
func VerifyNodeProof(id merkle.Hash, p *NodeProof) (*NodeRecord, error) {
	if p == nil {
		return nil, errors.New("verify node proof: empty proof")
	}
	if ModelID(p.HeaderRoot, p.WeightsRoot) != id {
		return nil, fmt.Errorf("verify node proof: roots do not make model id %x", id)
	}
	nr, err := ParseNodeRecord(p.Record)
	if err != nil {
		return nil, fmt.Errorf("verify node proof: %w", err)
	}
	if err := merkle.VerifyMany(p.HeaderRoot, p.NumRecords, []int{1 + nr.Index}, []merkle.Hash{merkle.LeafHash(p.Record)}, p.Proof); err != nil {
		return nil, fmt.Errorf("verify node proof: %w", err)
	}
	return nr, nil
}

// OpeningSize is Opening.Size for chunks of a value of totalBytes bytes,
// computed without the value.
func OpeningSize(totalBytes int, chunks []int) int {
	nc := merkle.NumChunks(totalBytes, ChunkSize)
	n := 32 + 8 + 4*len(chunks) + 32*merkle.ProofLen(nc, chunks)
	for _, c := range chunks {
		n += min(ChunkSize, totalBytes-c*ChunkSize)
	}
	return n
}

// WeightProofSize is the size of ProveWeightChunks for weight i, computed
// without building the proof.
func (m *Model) WeightProofSize(i int, chunks []int) int {
	c := m.commit()
	t := m.Weights[i].Tensor
	return 64 + 8 + len(c.weightDescs[i]) + 32*merkle.ProofLen(len(m.Weights), []int{i}) + OpeningSize(t.Len()*t.DType.Size(), chunks)
}
