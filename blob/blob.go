// Package blob owns Provena's content-addressed blob store: files cut into
// fixed 256 KiB chunks whose id is the Merkle root (package merkle) over the
// chunks, an on-disk store of verified chunks, its HTTP handler, and a client
// that uploads with resume and fetches from several nodes, verifying every
// chunk.
//
// Blobs hold ciphertext only: package vault encrypts on the client before a
// blob is built, so a node never sees plaintext.
//
// # Identity
//
// A blob of Size bytes has Chunks = max(1, ceil(Size/ChunkSize)) chunks;
// chunk i is bytes [i*ChunkSize, min((i+1)*ChunkSize, Size)). Its Root is the
// merkle root over merkle.LeafHash of each chunk. The manifest (Root, Size,
// Chunks) is all a node needs to verify any chunk on its own: a chunk is
// stored or served only with a Merkle proof that opens it at its index.
//
// # Upload protocol
//
// POST the manifest, then PUT every chunk the status lists as missing, each
// framed with its proof (EncodeChunk). The server verifies each chunk against
// the root before it writes it, so a substituted chunk is refused, and an
// interrupted upload resumes by asking for the status again.
//
// # Limits
//
// MaxSize (1 GiB) and MaxChunks (4096) bound a blob; Store.MaxSize may lower
// the size limit for one node.
package blob

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/provena/provena/merkle"
)

const (
	// ChunkSize is the fixed chunk length; only a blob's last chunk is
	// shorter. 256 KiB keeps a proof a few hundred bytes next to its chunk
	// while a 1 GiB blob stays at 4096 chunks.
	ChunkSize = 256 << 10
	// MaxSize is the largest blob in bytes.
	MaxSize = 1 << 30
	// MaxChunks is the most chunks a blob can have (MaxSize / ChunkSize).
	MaxChunks = MaxSize / ChunkSize
	// maxProofLen bounds a chunk's proof: a 4096-leaf tree has depth 12.
	maxProofLen = 32
	// maxManifestBytes bounds an encoded manifest.
	maxManifestBytes = 1 << 10
)

// Errors a caller can test for with errors.Is.
var (
	// ErrNotFound: the store does not know the blob or lacks the chunk.
	ErrNotFound = errors.New("not found")
	// ErrBadProof: a chunk does not verify against its blob's root.
	ErrBadProof = errors.New("chunk does not verify against the blob root")
	// ErrCorrupt: a stored chunk no longer verifies (disk corruption); the
	// store has dropped it and lists it as missing again.
	ErrCorrupt = errors.New("stored chunk is corrupt")
	// ErrTooLarge: a blob over the size or chunk limit.
	ErrTooLarge = errors.New("blob too large")
	// ErrConflict: a different manifest was already posted for the root.
	ErrConflict = errors.New("conflicting manifest")
	// ErrRefused: the node's admission policy (Store.Admit) refused a blob.
	ErrRefused = errors.New("refused by the node's policy")
)

// Manifest describes a blob.
type Manifest struct {
	Root   merkle.Hash `json:"-"`
	Size   int64       `json:"size"`
	Chunks int         `json:"chunks"`
}

type manifestJSON struct {
	Root   string `json:"root"`
	Size   int64  `json:"size"`
	Chunks int    `json:"chunks"`
}

// MarshalJSON writes {"root": hex, "size": n, "chunks": n}.
func (m Manifest) MarshalJSON() ([]byte, error) {
	return json.Marshal(manifestJSON{Root: m.Root.String(), Size: m.Size, Chunks: m.Chunks})
}

// UnmarshalJSON is DecodeManifest without the size limit on the input.
func (m *Manifest) UnmarshalJSON(b []byte) error {
	var j manifestJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("decode manifest: %w", err)
	}
	r, err := merkle.ParseHash(j.Root)
	if err != nil {
		return fmt.Errorf("decode manifest: %w", err)
	}
	*m = Manifest{Root: r, Size: j.Size, Chunks: j.Chunks}
	return nil
}

// DecodeManifest parses and validates a manifest from untrusted bytes.
func DecodeManifest(b []byte) (Manifest, error) {
	if len(b) > maxManifestBytes {
		return Manifest{}, fmt.Errorf("decode manifest: %d bytes, limit %d: %w", len(b), maxManifestBytes, ErrTooLarge)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, err
	}
	if dec.More() {
		return Manifest{}, errors.New("decode manifest: trailing data after the manifest")
	}
	if err := m.Validate(MaxSize); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// NumChunks is the chunk count of a blob of size bytes.
func NumChunks(size int64) int {
	if size <= 0 {
		return 1
	}
	return int((size + ChunkSize - 1) / ChunkSize)
}

// Validate checks the manifest's own consistency and maxSize.
func (m Manifest) Validate(maxSize int64) error {
	switch {
	case m.Size < 0:
		return fmt.Errorf("invalid manifest: negative size %d", m.Size)
	case m.Size > maxSize:
		return fmt.Errorf("blob is %d bytes, limit is %d: %w", m.Size, maxSize, ErrTooLarge)
	case m.Chunks > MaxChunks:
		return fmt.Errorf("blob has %d chunks, limit is %d: %w", m.Chunks, MaxChunks, ErrTooLarge)
	case m.Chunks != NumChunks(m.Size):
		return fmt.Errorf("invalid manifest: %d bytes make %d chunks of %d bytes, manifest says %d", m.Size, NumChunks(m.Size), ChunkSize, m.Chunks)
	}
	return nil
}

// ChunkLen is the length chunk i must have.
func (m Manifest) ChunkLen(i int) int {
	if i == m.Chunks-1 {
		return int(m.Size - int64(i)*ChunkSize)
	}
	return ChunkSize
}

// VerifyChunk checks that data, with proof, is chunk i of the blob.
func (m Manifest) VerifyChunk(i int, data []byte, proof []merkle.Hash) error {
	if i < 0 || i >= m.Chunks {
		return fmt.Errorf("chunk %d out of range [0,%d): %w", i, m.Chunks, ErrBadProof)
	}
	if len(data) != m.ChunkLen(i) {
		return fmt.Errorf("chunk %d is %d bytes, want %d: %w", i, len(data), m.ChunkLen(i), ErrBadProof)
	}
	if err := merkle.Verify(m.Root, i, m.Chunks, data, proof); err != nil {
		return fmt.Errorf("chunk %d: %w: %v", i, ErrBadProof, err)
	}
	return nil
}

// chunkMagic starts every framed chunk, on the wire and on disk.
var chunkMagic = []byte("pvc1")

// EncodeChunk frames a chunk with its proof: "pvc1", the proof length as
// one byte, the 32-byte proof hashes, then the chunk bytes.
func EncodeChunk(proof []merkle.Hash, data []byte) []byte {
	b := make([]byte, 0, len(chunkMagic)+1+32*len(proof)+len(data))
	return append(appendFrameHead(b, proof), data...)
}

// appendFrameHead appends EncodeChunk's header, everything before the
// chunk bytes, to b.
func appendFrameHead(b []byte, proof []merkle.Hash) []byte {
	b = append(b, chunkMagic...)
	b = append(b, byte(len(proof)))
	for _, h := range proof {
		b = append(b, h[:]...)
	}
	return b
}

// DecodeChunk parses EncodeChunk's output. data aliases b.
func DecodeChunk(b []byte) (proof []merkle.Hash, data []byte, err error) {
	if len(b) < len(chunkMagic)+1 || !bytes.Equal(b[:len(chunkMagic)], chunkMagic) {
		return nil, nil, errors.New("decode chunk: missing pvc1 header")
	}
	n := int(b[len(chunkMagic)])
	if n > maxProofLen {
		return nil, nil, fmt.Errorf("decode chunk: proof of %d hashes, limit %d", n, maxProofLen)
	}
	off := len(chunkMagic) + 1
	if len(b) < off+32*n {
		return nil, nil, fmt.Errorf("decode chunk: %d bytes cannot hold a %d-hash proof", len(b), n)
	}
	proof = make([]merkle.Hash, n)
	for k := range proof {
		copy(proof[k][:], b[off+32*k:])
	}
	return proof, b[off+32*n:], nil
}

// maxFramedChunk is the largest EncodeChunk output.
const maxFramedChunk = 4 + 1 + 32*maxProofLen + ChunkSize

// Layout is a blob's Merkle tree, built by the uploader to prove chunks.
type Layout struct {
	Manifest Manifest
	tree     *merkle.Tree
}

// Build hashes the chunks of src (size bytes) into a Layout.
func Build(src io.ReaderAt, size int64, maxSize int64) (*Layout, error) {
	if size < 0 || size > maxSize {
		return nil, fmt.Errorf("build blob: %d bytes, limit is %d: %w", size, maxSize, ErrTooLarge)
	}
	m := Manifest{Size: size, Chunks: NumChunks(size)}
	leaves := make([]merkle.Hash, m.Chunks)
	buf := make([]byte, ChunkSize)
	for i := range leaves {
		n := m.ChunkLen(i)
		if _, err := src.ReadAt(buf[:n], int64(i)*ChunkSize); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
			return nil, fmt.Errorf("build blob: read chunk %d: %w", i, err)
		}
		leaves[i] = merkle.LeafHash(buf[:n])
	}
	t, err := merkle.New(leaves)
	if err != nil {
		return nil, fmt.Errorf("build blob: %w", err)
	}
	m.Root = t.Root()
	return &Layout{Manifest: m, tree: t}, nil
}

// BuildBytes is Build over a byte slice, hashing chunks on every CPU.
func BuildBytes(data []byte) (*Layout, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("build blob: %d bytes, limit is %d: %w", len(data), MaxSize, ErrTooLarge)
	}
	t, err := merkle.FromData(data, ChunkSize, runtime.GOMAXPROCS(0))
	if err != nil {
		return nil, fmt.Errorf("build blob: %w", err)
	}
	m := Manifest{Root: t.Root(), Size: int64(len(data)), Chunks: t.Len()}
	return &Layout{Manifest: m, tree: t}, nil
}

// Proof opens chunk i.
func (l *Layout) Proof(i int) ([]merkle.Hash, error) { return l.tree.Prove(i) }
