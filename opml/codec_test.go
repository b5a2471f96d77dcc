package opml

import (
	"bytes"
	"testing"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/merkle"
	"github.com/provena/provena/model"
)

func TestStepProofRoundTrip(t *testing.T) {
	f := load(t)
	v := f.view(t)
	for i := range f.m.Nodes {
		p, err := v.StepProof(i, 0, 17)
		if err != nil {
			t.Fatal(err)
		}
		b, err := EncodeStepProof(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := DecodeStepProof(b)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		b2, _ := EncodeStepProof(q)
		if !bytes.Equal(b, b2) {
			t.Fatalf("node %d: re-encoding differs", i)
		}
		t.Logf("node %d (%s): proof %d bytes encoded, Size() %d", i, f.m.Nodes[i].OpType, len(b), p.Size())
		for _, cut := range []int{0, 1, len(b) / 2, len(b) - 1} {
			if _, err := DecodeStepProof(b[:cut]); err == nil {
				t.Fatalf("node %d: truncated to %d decoded", i, cut)
			}
		}
		if _, err := DecodeStepProof(append(b, 0)); err == nil {
			t.Fatalf("node %d: trailing byte decoded", i)
		}
	}
}

func TestDecodeMove(t *testing.T) {
	f := load(t)
	np, _ := f.m.ProveNode(1)
	good := []Move{
		{Kind: MoveReveal, Left: [32]byte{1}, Right: [32]byte{2}},
		{Kind: MovePick, Side: Right},
		{Kind: MoveRoots, Roots: make([]merkle.Hash, 3)},
		{Kind: MoveOutput, Output: 0, NodeProof: np},
		{Kind: MoveChunk, Data: []byte{1, 2, 3, 4}},
		{Kind: MoveElement, Offset: 63},
		{Kind: MoveCommit, NodesRoot: [32]byte{5}, Leaves: []*infer.NodeLeafProof{{Index: 6, Roots: make([]merkle.Hash, 1), Proof: make([]merkle.Hash, 3)}}},
		{Kind: MoveCommit, NodesRoot: [32]byte{5}},
	}
	for _, m := range good {
		d, err := DecodeMove(m.Kind, m.Encode())
		if err != nil {
			t.Fatalf("%s: %v", m.Kind, err)
		}
		if !bytes.Equal(d.Encode(), m.Encode()) {
			t.Fatalf("%s: round trip differs", m.Kind)
		}
	}
	bad := []struct {
		kind MoveKind
		p    []byte
	}{
		{MoveReveal, make([]byte, 63)},
		{MovePick, []byte{2}},
		{MovePick, nil},
		{MoveRoots, nil},
		{MoveRoots, make([]byte, 33)},
		{MoveRoots, make([]byte, 32*(MaxRoots+1))},
		{MoveOutput, []byte{0, 0, 0}},
		{MoveOutput, []byte{0, 0, 0, 0, 1}},
		{MoveChunk, make([]byte, model.ChunkSize+1)},
		{MoveElement, []byte{0, 0, 1, 0}},
		{MoveCommit, make([]byte, 31)},
		{MoveCommit, append(make([]byte, 32), 0, 0, 0, 1)},
		{MoveCommit, append(make([]byte, 32), 0, 0, 0, 0, 9)},
		{MoveCommit, append(make([]byte, 32), 0, 0, 1, 0)},
		{MoveKind(0), nil},
		{MoveKind(99), []byte{1}},
	}
	for _, b := range bad {
		if _, err := DecodeMove(b.kind, b.p); err == nil {
			t.Fatalf("%s payload %x decoded", b.kind, b.p)
		}
	}
}

func FuzzDecodeStepProof(f *testing.F) {
	fx := load(f)
	v := fx.view(f)
	for _, i := range []int{0, 3} {
		p, err := v.StepProof(i, 0, 5)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := EncodeStepProof(p)
		f.Add(b)
	}
	f.Add([]byte{1})
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeStepProof(b)
		if err != nil {
			return
		}
		re, err := EncodeStepProof(p)
		if err != nil || !bytes.Equal(re, b) {
			t.Fatalf("decoded proof re-encodes differently: %v", err)
		}
		// Verifying garbage must fail cleanly, never panic.
		g := &Game{ModelID: p.ModelID, TraceRoot: p.TraceRoot, Stage: StageStep, Turn: Worker, Deadline: 10, Node: p.Claim.Index, Output: p.Output, Flat: p.Flat}
		_ = g.OneStep(Worker, 1, p)
	})
}

func FuzzDecodeMove(f *testing.F) {
	fx := load(f)
	np, _ := fx.m.ProveNode(2)
	f.Add(uint8(MoveOutput), Move{Kind: MoveOutput, NodeProof: np}.Encode())
	f.Add(uint8(MoveReveal), make([]byte, 64))
	f.Add(uint8(MoveRoots), make([]byte, 64))
	w, c := fx.view(f), fx.view(f)
	if err := w.Corrupt(3, 0, 10); err != nil {
		f.Fatal(err)
	}
	cl, _ := w.Claim(c.NodesRoot())
	cm, err := w.CommitMove(cl.Outputs)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint8(MoveCommit), cm.Encode())
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		m, err := DecodeMove(MoveKind(kind), b)
		if err != nil {
			return
		}
		if !bytes.Equal(m.Encode(), b) {
			t.Fatalf("%s: decoded move re-encodes differently", m.Kind)
		}
	})
}

// FuzzGame plays arbitrary move sequences, each byte group choosing a
// party, a height step, a move kind and a payload (sometimes the honest or
// lying answer, sometimes garbage). The game must never panic, must only
// advance on accepted moves, and must end with a winner once over.
func FuzzGame(f *testing.F) {
	fx := load(f)
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	f.Add([]byte{255, 0, 128, 7, 64, 3, 200, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		w, c := fx.view(t), fx.view(t)
		if err := w.Corrupt(3, 0, 10); err != nil {
			t.Fatal(err)
		}
		g := newGame(t, w, c, 1)
		height := int64(1)
		for i := 0; i+2 < len(b) && g.Stage != StageOver; i += 3 {
			by := Party(1 + b[i]%2)
			height += int64(b[i+1] % 4)
			before := *g
			var err error
			switch k := b[i+2] % 8; {
			case k < 4: // the honest party's move
				if g.Turn == Worker {
					mv, step, aerr := w.Answer(g)
					if aerr != nil {
						continue
					}
					if step != nil {
						enc, _ := EncodeStepProof(step)
						err = g.ApplyStep(by, height, enc)
					} else {
						err = g.Apply(by, height, mv)
					}
				} else {
					mv, cerr := c.Challenge(g)
					if cerr != nil {
						continue
					}
					err = g.Apply(by, height, mv)
				}
			case k < 7: // a garbage payload of some kind
				kind := MoveKind(1 + b[i+2]%7)
				mv, derr := DecodeMove(kind, b[i:min(i+64+int(b[i+1]), len(b))])
				if derr != nil {
					continue
				}
				err = g.Apply(by, height, mv)
			default:
				err = g.ApplyStep(by, height, b[i:])
			}
			if err != nil && (g.Stage != before.Stage || g.Moves != before.Moves || g.At != before.At || g.Turn != before.Turn) {
				t.Fatalf("rejected move changed the game: %v", err)
			}
			g.Timeout(height)
		}
		if g.Stage == StageOver && g.Winner == NoParty {
			t.Fatal("game over without a winner")
		}
		// A game settled by a proof is won by the side the recomputation
		// supports (a random challenger may lead it to an element the
		// lying worker committed correctly, which the worker then wins).
		if g.Step != nil && (g.Step.Match != (g.Winner == Worker)) {
			t.Fatalf("step match %v but %s won", g.Step.Match, g.Winner)
		}
	})
}
