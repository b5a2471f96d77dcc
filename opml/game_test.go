package opml

import (
	"errors"
	"math/bits"
	"testing"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/merkle"
	"github.com/provena/provena/model"
	"github.com/provena/provena/opml/opmltest"
)

type fixture struct {
	m   *model.Model
	res *infer.Result
}

var fixtureCache *fixture

func load(t testing.TB) *fixture {
	t.Helper()
	if fixtureCache != nil {
		return fixtureCache
	}
	m, err := opmltest.Model()
	if err != nil {
		t.Skip(err)
	}
	res, err := opmltest.Run(m, opmltest.Input(9))
	if err != nil {
		t.Fatal(err)
	}
	fixtureCache = &fixture{m, res}
	return fixtureCache
}

func (f *fixture) view(t testing.TB) *View {
	t.Helper()
	v, err := NewView(f.m, f.res)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// newGame starts a dispute over the result posted from worker (its output
// roots), challenged with challenger's nodes root; the worker owes its
// commitment first.
func newGame(t testing.TB, worker, challenger *View, height int64) *Game {
	t.Helper()
	c, err := worker.Claim(challenger.NodesRoot())
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGame(c, height, 5)
	if err != nil {
		t.Fatal(err)
	}
	if g.Stage != StageCommit || g.Turn != Worker {
		t.Fatalf("new game in stage %s, turn %s", g.Stage, g.Turn)
	}
	return g
}

// play runs the game to its end, each move one block after the last. A
// party that cannot answer, or is silent, lets its deadline pass. It
// returns the final height.
func play(t testing.TB, g *Game, worker, challenger *View, silent Party, height int64) int64 {
	t.Helper()
	for g.Stage != StageOver {
		height++
		if g.Turn == silent {
			g.Timeout(g.Deadline + 1)
			return g.Deadline
		}
		var err error
		switch g.Turn {
		case Worker:
			mv, step, aerr := worker.Answer(g)
			if errors.Is(aerr, ErrCannotAnswer) {
				if !g.Timeout(g.Deadline + 1) {
					t.Fatal("timeout did not end the game")
				}
				return g.Deadline
			}
			if aerr != nil {
				t.Fatal(aerr)
			}
			if step != nil {
				b, eerr := EncodeStepProof(step)
				if eerr != nil {
					t.Fatal(eerr)
				}
				err = g.ApplyStep(Worker, height, b)
			} else {
				mv2, derr := DecodeMove(mv.Kind, mv.Encode())
				if derr != nil {
					t.Fatal(derr)
				}
				err = g.Apply(Worker, height, mv2)
			}
		case Challenger:
			mv, cerr := challenger.Challenge(g)
			if cerr != nil {
				t.Fatal(cerr)
			}
			mv2, derr := DecodeMove(mv.Kind, mv.Encode())
			if derr != nil {
				t.Fatal(derr)
			}
			err = g.Apply(Challenger, height, mv2)
		}
		if err != nil {
			t.Fatalf("stage %s, %s's move: %v", g.Stage, g.Turn, err)
		}
		if g.Timeout(height) {
			t.Fatal("a move in time timed out")
		}
	}
	return height
}

func TestDisputes(t *testing.T) {
	f := load(t)
	last := len(f.m.Nodes) - 1
	outLen := f.res.NodeOutputs[0][0].Len()
	tests := []struct {
		name       string
		worker     func(v *View) error
		challenger func(v *View) error
		silent     Party
		winner     Party
		node       int // where the game should end (-1: not checked)
	}{
		{"worker corrupts first node, first element", func(v *View) error { return v.Corrupt(0, 0, 0) }, nil, NoParty, Challenger, 0},
		{"worker corrupts first node, last element", func(v *View) error { return v.Corrupt(0, 0, outLen-1) }, nil, NoParty, Challenger, 0},
		{"worker corrupts a middle node", func(v *View) error { return v.Corrupt(3, 0, 1234) }, nil, NoParty, Challenger, 3},
		{"worker corrupts the last node", func(v *View) error { return v.Corrupt(last, 0, 3199) }, nil, NoParty, Challenger, last},
		{"worker corrupts two nodes: the first is disputed", func(v *View) error {
			if err := v.Corrupt(5, 0, 7); err != nil {
				return err
			}
			return v.Corrupt(2, 0, 100)
		}, nil, NoParty, Challenger, 2},
		{"worker posts a garbled trace (right output)", func(v *View) error { return v.Garble(2) }, nil, NoParty, Challenger, 2},
		{"worker stops answering", func(v *View) error { return v.Corrupt(4, 0, 9) }, nil, Worker, Challenger, -1},
		{"lying challenger vs honest worker", nil, func(v *View) error { return v.Corrupt(3, 0, 55) }, NoParty, Worker, 3},
		{"lying challenger on the last node", nil, func(v *View) error { return v.Corrupt(last, 0, 0) }, NoParty, Worker, last},
		{"honest challenger stops answering", func(v *View) error { return v.Corrupt(1, 0, 1) }, nil, Challenger, Worker, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, c := f.view(t), f.view(t)
			if tt.worker != nil {
				if err := tt.worker(w); err != nil {
					t.Fatal(err)
				}
			}
			if tt.challenger != nil {
				if err := tt.challenger(c); err != nil {
					t.Fatal(err)
				}
			}
			g := newGame(t, w, c, 100)
			play(t, g, w, c, tt.silent, 100)
			if g.Winner != tt.winner {
				t.Fatalf("winner %s, want %s (%s)", g.Winner, tt.winner, g.Reason)
			}
			if tt.node >= 0 && g.Node != tt.node {
				t.Fatalf("dispute ended at node %d, want %d (%s)", g.Node, tt.node, g.Reason)
			}
			t.Logf("%d moves: %s", g.Moves, g.Reason)
		})
	}
}

// TestRounds checks that a full dispute takes 2*(ceil(log2 nodes) +
// ceil(log2 chunks)) + 6 moves at most (the commit, roots, output, chunk,
// element and one step besides the descents).
func TestRounds(t *testing.T) {
	f := load(t)
	for i := range f.m.Nodes {
		w, c := f.view(t), f.view(t)
		out := f.res.NodeOutputs[i][0]
		if err := w.Corrupt(i, 0, out.Len()-1); err != nil {
			t.Fatal(err)
		}
		g := newGame(t, w, c, 1)
		play(t, g, w, c, NoParty, 1)
		chunks := model.NumChunks(out.DType, out.Shape)
		max := 2*(bits.Len(uint(len(f.m.Nodes)-1))+bits.Len(uint(chunks-1))) + 6
		if g.Winner != Challenger || g.Moves > max {
			t.Fatalf("node %d: winner %s after %d moves (bound %d)", i, g.Winner, g.Moves, max)
		}
	}
}

func TestRejectedMoves(t *testing.T) {
	f := load(t)
	w, c := f.view(t), f.view(t)
	if err := w.Corrupt(3, 0, 10); err != nil {
		t.Fatal(err)
	}
	var h merkle.Hash
	h[0] = 1
	// advance plays honest moves until the game reaches stage s with the
	// given party to move.
	advance := func(t *testing.T, s Stage, turn Party) (*Game, int64) {
		g := newGame(t, w, c, 10)
		height := int64(10)
		for !(g.Stage == s && g.Turn == turn) {
			if g.Stage == StageOver {
				t.Fatalf("game ended before stage %s", s)
			}
			height++
			var err error
			if g.Turn == Worker {
				mv, step, aerr := w.Answer(g)
				if aerr != nil {
					t.Fatal(aerr)
				}
				if step != nil {
					t.Fatal("reached the step")
				}
				err = g.Apply(Worker, height, mv)
			} else {
				mv, cerr := c.Challenge(g)
				if cerr != nil {
					t.Fatal(cerr)
				}
				err = g.Apply(Challenger, height, mv)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		return g, height
	}
	np3, _ := f.m.ProveNode(3)
	np2, _ := f.m.ProveNode(2)
	stepFor := func(t *testing.T, node, flat int) []byte {
		p, err := w.StepProof(node, 0, flat)
		if err != nil {
			t.Fatal(err)
		}
		b, err := EncodeStepProof(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name  string
		stage Stage
		turn  Party
		move  func(t *testing.T, g *Game, height int64) error
		kind  error
	}{
		{"challenger moves on the worker's turn", StageNodes, Worker, func(t *testing.T, g *Game, ht int64) error {
			return g.Pick(Challenger, ht, Left)
		}, ErrTurn},
		{"worker moves on the challenger's turn", StageNodes, Challenger, func(t *testing.T, g *Game, ht int64) error {
			return g.Reveal(Worker, ht, h, h)
		}, ErrTurn},
		{"children that do not hash to the node", StageNodes, Worker, func(t *testing.T, g *Game, ht int64) error {
			return g.Reveal(Worker, ht, h, h)
		}, ErrProof},
		{"move after the deadline", StageNodes, Worker, func(t *testing.T, g *Game, ht int64) error {
			mv, _, _ := w.Answer(g)
			return g.Apply(Worker, g.Deadline+1, mv)
		}, ErrDeadline},
		{"roots move during the descent", StageNodes, Worker, func(t *testing.T, g *Game, ht int64) error {
			return g.RevealRoots(Worker, ht, []merkle.Hash{h})
		}, ErrStage},
		{"wrong output roots", StageRoots, Worker, func(t *testing.T, g *Game, ht int64) error {
			return g.RevealRoots(Worker, ht, []merkle.Hash{h})
		}, ErrProof},
		{"node record of another node", StageRoots, Challenger, func(t *testing.T, g *Game, ht int64) error {
			return g.PickOutput(Challenger, ht, 0, np2)
		}, ErrProof},
		{"forged node record", StageRoots, Challenger, func(t *testing.T, g *Game, ht int64) error {
			bad := *np3
			bad.Record = append([]byte(nil), np3.Record...)
			bad.Record[len(bad.Record)-1] ^= 1
			return g.PickOutput(Challenger, ht, 0, &bad)
		}, ErrProof},
		{"output out of range", StageRoots, Challenger, func(t *testing.T, g *Game, ht int64) error {
			return g.PickOutput(Challenger, ht, 1, np3)
		}, ErrProof},
		{"chunk of the wrong length", StageChunk, Worker, func(t *testing.T, g *Game, ht int64) error {
			return g.RevealChunk(Worker, ht, make([]byte, 10))
		}, ErrProof},
		{"chunk that does not hash to the leaf", StageChunk, Worker, func(t *testing.T, g *Game, ht int64) error {
			return g.RevealChunk(Worker, ht, make([]byte, model.ChunkSize))
		}, ErrProof},
		{"element outside the chunk", StageChunk, Challenger, func(t *testing.T, g *Game, ht int64) error {
			return g.PickElement(Challenger, ht, model.ChunkSize/4)
		}, ErrProof},
		{"step proof for another element", StageStep, Worker, func(t *testing.T, g *Game, ht int64) error {
			return g.ApplyStep(Worker, ht, stepFor(t, 3, g.Flat+1))
		}, ErrProof},
		{"step proof for another node", StageStep, Worker, func(t *testing.T, g *Game, ht int64) error {
			return g.ApplyStep(Worker, ht, stepFor(t, 2, g.Flat))
		}, ErrProof},
		{"tampered step proof", StageStep, Worker, func(t *testing.T, g *Game, ht int64) error {
			p, _ := w.StepProof(3, 0, g.Flat)
			p.Inputs[0].Chunks.Data[0][5] ^= 1
			b, _ := EncodeStepProof(p)
			return g.ApplyStep(Worker, ht, b)
		}, ErrProof},
		{"truncated step proof", StageStep, Worker, func(t *testing.T, g *Game, ht int64) error {
			b := stepFor(t, 3, g.Flat)
			return g.ApplyStep(Worker, ht, b[:len(b)-1])
		}, ErrProof},
		{"step proof from the honest trace", StageStep, Worker, func(t *testing.T, g *Game, ht int64) error {
			_, p, err := infer.RecomputeElement(f.m, f.res, 3, 0, g.Flat)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := EncodeStepProof(p)
			return g.ApplyStep(Worker, ht, b) // honest proof: another trace root
		}, ErrProof},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, height := advance(t, tt.stage, tt.turn)
			before := *g
			err := tt.move(t, g, height+1)
			var me *MoveError
			if !errors.As(err, &me) || !errors.Is(err, tt.kind) {
				t.Fatalf("got %v, want a %v rejection", err, tt.kind)
			}
			if g.Stage != before.Stage || g.Turn != before.Turn || g.Moves != before.Moves || g.At != before.At {
				t.Fatal("a rejected move changed the game")
			}
			t.Log(err)
			// The game still completes with the right winner.
			play(t, g, w, c, NoParty, height+1)
			if g.Winner != Challenger {
				t.Fatalf("winner %s after a rejected move", g.Winner)
			}
		})
	}
	t.Run("moves after the end", func(t *testing.T) {
		g := newGame(t, w, c, 1)
		play(t, g, w, c, NoParty, 1)
		if err := g.Pick(Challenger, 100, Left); !errors.Is(err, ErrOver) {
			t.Fatalf("got %v", err)
		}
		if g.Timeout(1 << 40) {
			t.Fatal("timeout after the end")
		}
	})
}

func TestTimeoutOnlyAfterDeadline(t *testing.T) {
	f := load(t)
	w, c := f.view(t), f.view(t)
	if err := c.Corrupt(1, 0, 3); err != nil {
		t.Fatal(err)
	}
	g := newGame(t, w, c, 50)
	if g.Timeout(g.Deadline) {
		t.Fatal("timed out at the deadline")
	}
	if !g.Timeout(g.Deadline+1) || g.Winner != Challenger {
		t.Fatalf("worker silent past its deadline: winner %s", g.Winner)
	}
}

func TestSingleNodeTrace(t *testing.T) {
	// One node: the nodes tree is a single leaf, the descent starts at the
	// roots once the worker commits.
	var root merkle.Hash
	c := Claim{NumNodes: 1, Outputs: []OutputClaim{{Node: 0, Output: 0, Root: root}}, Against: merkle.Hash{1}}
	g, err := NewGame(c, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &infer.NodeLeafProof{Index: 0, Roots: []merkle.Hash{root}}
	nodes := merkle.LeafHash(root[:])
	if err := g.Commit(Worker, 2, nodes, []*infer.NodeLeafProof{leaf}); err != nil {
		t.Fatal(err)
	}
	if g.Stage != StageRoots || g.Node != 0 || g.Turn != Worker || g.At.Hash != nodes {
		t.Fatalf("stage %s node %d turn %s", g.Stage, g.Node, g.Turn)
	}
	for _, bad := range []Claim{
		{NumNodes: 0, Outputs: c.Outputs},
		{NumNodes: 1},
		{NumNodes: 1, Outputs: []OutputClaim{{Node: 1}}},
		{NumNodes: 1, Outputs: c.Outputs, Against: nodes, Committed: nodes},
	} {
		if _, err := NewGame(bad, 1, 3); err == nil {
			t.Fatalf("game over %+v", bad)
		}
	}
}

// TestCommit covers the commit stage: a commitment whose leaves do not
// carry the posted output roots is rejected and may be retried before the
// deadline; a worker that never commits loses at the deadline; a
// commitment equal to the challenger's root ends the game for the worker;
// a trace committed in an earlier dispute binds the next one.
func TestCommit(t *testing.T) {
	f := load(t)
	honest := f.view(t)
	lying := f.view(t)
	if err := lying.Corrupt(len(f.m.Nodes)-1, 0, 17); err != nil {
		t.Fatal(err)
	}
	t.Run("happy path", func(t *testing.T) {
		g := newGame(t, lying, honest, 10)
		mv, _, err := lying.Answer(g)
		if err != nil || mv.Kind != MoveCommit {
			t.Fatalf("answer %s: %v", mv.Kind, err)
		}
		dm, err := DecodeMove(mv.Kind, mv.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Apply(Worker, 11, dm); err != nil {
			t.Fatal(err)
		}
		if g.Stage != StageNodes || g.Turn != Worker || g.Deadline != 16 || g.Moves != 1 {
			t.Fatalf("after commit: stage %s turn %s deadline %d moves %d", g.Stage, g.Turn, g.Deadline, g.Moves)
		}
		if g.NodesRoot != lying.NodesRoot() || g.TraceRoot != lying.TraceRoot() {
			t.Fatal("committed roots are not the worker's trace")
		}
		play(t, g, lying, honest, NoParty, 11)
		if g.Winner != Challenger || g.Node != len(f.m.Nodes)-1 {
			t.Fatalf("winner %s at node %d: %s", g.Winner, g.Node, g.Reason)
		}
	})
	t.Run("leaves that do not match the posted outputs", func(t *testing.T) {
		// The result posted the lying output; the worker tries to commit
		// the honest trace, whose output leaf carries another root.
		g := newGame(t, lying, honest, 10)
		good, _, _ := lying.Answer(g)
		wrong, _, _ := honest.Answer(g)
		otherNode := good
		otherNode.Leaves = []*infer.NodeLeafProof{mustLeaf(t, lying, 2)}
		badPath := good
		lp := *good.Leaves[0]
		lp.Proof = append([]merkle.Hash{{7}}, lp.Proof[1:]...)
		badPath.Leaves = []*infer.NodeLeafProof{&lp}
		none := good
		none.Leaves = nil
		for name, mv := range map[string]Move{"honest trace": wrong, "another node": otherNode, "bad path": badPath, "no leaves": none} {
			before := *g
			err := g.Apply(Worker, 12, mv)
			if !errors.Is(err, ErrProof) {
				t.Fatalf("%s: got %v, want a proof rejection", name, err)
			}
			if g.Stage != before.Stage || g.Turn != before.Turn || g.Moves != before.Moves || g.Deadline != before.Deadline {
				t.Fatalf("%s: a rejected commit changed the game", name)
			}
			t.Logf("%s: %v", name, err)
		}
		if err := g.Apply(Challenger, 12, good); !errors.Is(err, ErrTurn) {
			t.Fatalf("challenger committed: %v", err)
		}
		if err := g.Apply(Worker, g.Deadline, good); err != nil {
			t.Fatalf("retry before the deadline: %v", err)
		}
		if g.Stage != StageNodes {
			t.Fatalf("stage %s after the retry", g.Stage)
		}
	})
	t.Run("no commitment by the deadline", func(t *testing.T) {
		g := newGame(t, lying, honest, 10)
		mv, _, _ := lying.Answer(g)
		if err := g.Apply(Worker, g.Deadline+1, mv); !errors.Is(err, ErrDeadline) {
			t.Fatalf("late commit: %v", err)
		}
		if g.Timeout(g.Deadline) || !g.Timeout(g.Deadline+1) || g.Winner != Challenger || g.Moves != 0 {
			t.Fatalf("winner %s: %s", g.Winner, g.Reason)
		}
	})
	t.Run("commitment equal to the challenger's root", func(t *testing.T) {
		g := newGame(t, honest, honest, 10)
		play(t, g, honest, honest, NoParty, 10)
		if g.Winner != Worker || g.Moves != 1 || g.NodesRoot != honest.NodesRoot() {
			t.Fatalf("winner %s after %d moves: %s", g.Winner, g.Moves, g.Reason)
		}
	})
	t.Run("committed in an earlier dispute", func(t *testing.T) {
		c, _ := lying.Claim(honest.NodesRoot())
		c.Committed = lying.NodesRoot()
		g, err := NewGame(c, 30, 5)
		if err != nil {
			t.Fatal(err)
		}
		if g.Stage != StageNodes || g.TraceRoot != lying.TraceRoot() {
			t.Fatalf("stage %s", g.Stage)
		}
		play(t, g, lying, honest, NoParty, 30)
		if g.Winner != Challenger {
			t.Fatalf("winner %s: %s", g.Winner, g.Reason)
		}
	})
}

func mustLeaf(t *testing.T, v *View, i int) *infer.NodeLeafProof {
	t.Helper()
	p, err := v.ProveNodeLeaf(i)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestShape(t *testing.T) {
	for n := 1; n <= 70; n++ {
		leaves := make([]merkle.Hash, n)
		for i := range leaves {
			leaves[i] = merkle.LeafHash([]byte{byte(i)})
		}
		root, _ := merkle.Root(append([]merkle.Hash(nil), leaves...))
		s := newShape(n)
		// Every leaf is reachable by a descent whose hashes check out.
		for target := 0; target < n; target++ {
			c := s.settle(cursor{Level: s.top(), Hash: root})
			for c.Level > 0 {
				l, r := subtreeRoot(leaves, c.Level-1, 2*c.Index), subtreeRoot(leaves, c.Level-1, 2*c.Index+1)
				if merkle.Node(l, r) != c.Hash {
					t.Fatalf("n=%d target %d: children of (%d,%d) do not hash to it", n, target, c.Level, c.Index)
				}
				side := (target >> (c.Level - 1)) & 1
				c = s.settle(cursor{Level: c.Level - 1, Index: 2*c.Index + side, Hash: [2]merkle.Hash{l, r}[side]})
			}
			if c.Index != target || c.Hash != leaves[target] {
				t.Fatalf("n=%d: descent for %d ended at %d", n, target, c.Index)
			}
		}
	}
}
