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
// merkle root (package merkle's SHA-256 inner nodes) over LeafHash of each
// chunk: BLAKE3-256 of 0x00 || chunk since format 2 (FormatVersion). The
// manifest (Root, Size, Chunks) is all a node needs to verify any chunk on
// its own: a chunk is stored or served only with a Merkle proof that opens
// it at its index.
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
	"sync"

	"github.com/zeebo/blake3"

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
	// ErrOldFormat: a manifest (on the wire or in a store) of an earlier
	// format, whose chunk leaves were SHA-256: its root cannot be checked
	// with this build's leaf hash.
	ErrOldFormat = errors.New("blob of format 1 (SHA-256 chunk leaves), written by an earlier build; this build reads format 2 (BLAKE3-256 chunk leaves) only: upload the file again")
)

// FormatVersion is the blob format every manifest names: 2 since chunk
// leaves are BLAKE3-256 (LeafHash). Format 1 manifests had no version and
// SHA-256 leaves; the root of the same bytes differs, so they are refused
// (ErrOldFormat) rather than misread. No stores were deployed, so there is
// no migration.
const FormatVersion = 2

// LeafHash is a chunk's leaf hash: BLAKE3-256 of 0x00 || chunk. The 0x00
// separates leaves from inner nodes as merkle.LeafHash's prefix does;
// inner nodes stay package merkle's SHA-256 (they hash 65 bytes each,
// about 8,000 per 1 GiB blob, so their hash function costs nothing
// measurable). BLAKE3 rather than SHA-256 because every byte uploaded is
// leaf-hashed twice (by the client, which needs the root, and by the store,
// which must check it) and every byte downloaded once: github.com/zeebo/blake3
// (AVX2) hashes a 256 KiB chunk about 1.7-2x as fast as crypto/sha256 with
// SHA-NI on the development machine (docs/data.md).
func LeafHash(chunk []byte) merkle.Hash {
	h := leafHashers.Get().(*blake3.Hasher)
	h.Reset()
	h.Write([]byte{0x00})
	h.Write(chunk)
	var out merkle.Hash
	h.Sum(out[:0])
	leafHashers.Put(h)
	return out
}

// leafHashers recycles BLAKE3 states: each holds an 8 KiB buffer, and a
// fresh one per chunk would be 32 KiB of garbage per MiB hashed.
var leafHashers = sync.Pool{New: func() any { return blake3.New() }}

// hashLeaves returns the leaf hashes of data's chunks, computed by up to
// workers goroutines (the result does not depend on workers).
func hashLeaves(data []byte, workers int) []merkle.Hash {
	return merkle.HashChunksFunc(data, ChunkSize, workers, LeafHash)
}

// Manifest describes a blob.
type Manifest struct {
	Root   merkle.Hash `json:"-"`
	Size   int64       `json:"size"`
	Chunks int         `json:"chunks"`
}

type manifestJSON struct {
	Format int    `json:"format"`
	Root   string `json:"root"`
	Size   int64  `json:"size"`
	Chunks int    `json:"chunks"`
}

// MarshalJSON writes {"format": FormatVersion, "root": hex, "size": n,
// "chunks": n}.
func (m Manifest) MarshalJSON() ([]byte, error) {
	return json.Marshal(manifestJSON{Format: FormatVersion, Root: m.Root.String(), Size: m.Size, Chunks: m.Chunks})
}

// UnmarshalJSON is DecodeManifest without the size limit on the input. A
// manifest without "format" is format 1 (ErrOldFormat).
func (m *Manifest) UnmarshalJSON(b []byte) error {
	var j manifestJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("decode manifest: %w", err)
	}
	switch j.Format {
	case FormatVersion:
	case 0, 1:
		return fmt.Errorf("decode manifest: %w", ErrOldFormat)
	default:
		return fmt.Errorf("decode manifest: blob format %d, this build reads format %d", j.Format, FormatVersion)
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
	if err := merkle.VerifyMany(m.Root, m.Chunks, []int{i}, []merkle.Hash{LeafHash(data)}, proof); err != nil {
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
		leaves[i] = LeafHash(buf[:n])
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
	t, err := merkle.New(hashLeaves(data, runtime.GOMAXPROCS(0)))
	if err != nil {
		return nil, fmt.Errorf("build blob: %w", err)
	}
	m := Manifest{Root: t.Root(), Size: int64(len(data)), Chunks: t.Len()}
	return &Layout{Manifest: m, tree: t}, nil
}

// Proof opens chunk i.
func (l *Layout) Proof(i int) ([]merkle.Hash, error) { return l.tree.Prove(i) }
