package opml

import (
	"encoding/binary"
	"fmt"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/merkle"
	"github.com/provena/provena/model"
)

// MoveKind names a dispute move on the wire (the kind byte of a
// dispute-move transaction). The one-step proof has its own transaction.
type MoveKind uint8

const (
	MoveReveal  MoveKind = 1 // worker: left and right child hashes (64 bytes)
	MovePick    MoveKind = 2 // challenger: side (1 byte, 0 left, 1 right)
	MoveRoots   MoveKind = 3 // worker: the node's output roots (32 bytes each)
	MoveOutput  MoveKind = 4 // challenger: output index (4 bytes) then the node record proof
	MoveChunk   MoveKind = 5 // worker: the chunk's bytes
	MoveElement MoveKind = 6 // challenger: element offset in the chunk (4 bytes)
	MoveCommit  MoveKind = 7 // worker: nodes root, then a count and the leaf proof of each graph output
)

func (k MoveKind) String() string {
	switch k {
	case MoveReveal:
		return "reveal"
	case MovePick:
		return "pick"
	case MoveRoots:
		return "roots"
	case MoveOutput:
		return "output"
	case MoveChunk:
		return "chunk"
	case MoveElement:
		return "element"
	case MoveCommit:
		return "commit"
	}
	return fmt.Sprintf("move(%d)", uint8(k))
}

// Move is one decoded dispute move.
type Move struct {
	Kind      MoveKind
	Left      merkle.Hash
	Right     merkle.Hash
	Side      Side
	Roots     []merkle.Hash
	Output    int
	NodeProof *model.NodeProof
	Data      []byte
	Offset    int
	NodesRoot merkle.Hash
	Leaves    []*infer.NodeLeafProof
}

// Encode returns the move's payload for a dispute-move transaction.
func (m Move) Encode() []byte {
	switch m.Kind {
	case MoveReveal:
		return append(append([]byte(nil), m.Left[:]...), m.Right[:]...)
	case MovePick:
		return []byte{byte(m.Side)}
	case MoveRoots:
		b := make([]byte, 0, 32*len(m.Roots))
		for _, r := range m.Roots {
			b = append(b, r[:]...)
		}
		return b
	case MoveOutput:
		b := binary.BigEndian.AppendUint32(nil, uint32(m.Output))
		if m.NodeProof != nil {
			b = append(b, EncodeNodeProof(m.NodeProof)...)
		}
		return b
	case MoveChunk:
		return append([]byte{}, m.Data...)
	case MoveElement:
		return binary.BigEndian.AppendUint32(nil, uint32(m.Offset))
	case MoveCommit:
		return encodeCommit(m.NodesRoot, m.Leaves)
	}
	return nil
}

// DecodeMove parses a move payload of the given kind.
func DecodeMove(kind MoveKind, p []byte) (Move, error) {
	m := Move{Kind: kind}
	bad := func(format string, args ...any) (Move, error) {
		return Move{}, fmt.Errorf("decode %s move: %s", kind, fmt.Sprintf(format, args...))
	}
	switch kind {
	case MoveReveal:
		if len(p) != 64 {
			return bad("payload is %d bytes, want 64", len(p))
		}
		copy(m.Left[:], p)
		copy(m.Right[:], p[32:])
	case MovePick:
		if len(p) != 1 || p[0] > 1 {
			return bad("payload must be one byte 0 (left) or 1 (right)")
		}
		m.Side = Side(p[0])
	case MoveRoots:
		if len(p) == 0 || len(p)%32 != 0 || len(p)/32 > MaxRoots {
			return bad("payload is %d bytes, want 1..%d roots of 32 bytes", len(p), MaxRoots)
		}
		for i := 0; i < len(p); i += 32 {
			var h merkle.Hash
			copy(h[:], p[i:])
			m.Roots = append(m.Roots, h)
		}
	case MoveOutput:
		if len(p) < 4 {
			return bad("payload is %d bytes, want at least 4", len(p))
		}
		v := binary.BigEndian.Uint32(p)
		if v > MaxRoots {
			return bad("output %d out of range", v)
		}
		m.Output = int(v)
		np, err := DecodeNodeProof(p[4:])
		if err != nil {
			return bad("%v", err)
		}
		m.NodeProof = np
	case MoveChunk:
		if len(p) > model.ChunkSize {
			return bad("chunk is %d bytes, at most %d", len(p), model.ChunkSize)
		}
		m.Data = append([]byte{}, p...)
	case MoveElement:
		if len(p) != 4 {
			return bad("payload is %d bytes, want 4", len(p))
		}
		v := binary.BigEndian.Uint32(p)
		if v >= model.ChunkSize {
			return bad("offset %d out of range", v)
		}
		m.Offset = int(v)
	case MoveCommit:
		root, leaves, err := decodeCommit(p)
		if err != nil {
			return bad("%v", err)
		}
		m.NodesRoot, m.Leaves = root, leaves
	default:
		return Move{}, fmt.Errorf("decode move: unknown kind %d", uint8(kind))
	}
	return m, nil
}

// Apply plays a decoded move for party by at height.
func (g *Game) Apply(by Party, height int64, m Move) error {
	switch m.Kind {
	case MoveReveal:
		return g.Reveal(by, height, m.Left, m.Right)
	case MovePick:
		return g.Pick(by, height, m.Side)
	case MoveRoots:
		return g.RevealRoots(by, height, m.Roots)
	case MoveOutput:
		return g.PickOutput(by, height, m.Output, m.NodeProof)
	case MoveChunk:
		return g.RevealChunk(by, height, m.Data)
	case MoveElement:
		return g.PickElement(by, height, m.Offset)
	case MoveCommit:
		return g.Commit(by, height, m.NodesRoot, m.Leaves)
	}
	return reject(ErrStage, "unknown move kind %d", uint8(m.Kind))
}

// ApplyStep plays a one-step proof given in its binary encoding.
func (g *Game) ApplyStep(by Party, height int64, proof []byte) error {
	p, err := DecodeStepProof(proof)
	if err != nil {
		return reject(ErrProof, "%v", err)
	}
	return g.OneStep(by, height, p)
}
