// Package opml owns Provena's optimistic-inference dispute game: the pure,
// deterministic rules by which a worker's committed execution trace is
// bisected against a challenger's down to one output element of one node,
// and that element is recomputed by infer.VerifyStep. It does no I/O and
// keeps no clock but the block heights it is given; package app stores a
// Game in state and feeds it the moves carried by transactions.
//
// # The game
//
// A result carries only the value root of each graph output (the Merkle
// root over 256-byte chunks of its canonical bytes, model.ValueRoot): the
// worker runs the model plainly, with no trace. A challenger posts its own
// nodes root, claiming the result is wrong.
//
//  0. Commit: the worker commits its nodes root R and, per graph output, the
//     leaf proof of the node producing it, whose root for that output must
//     be the value root the result posted. The trace root is derived from R,
//     the model id, the job's inputs root and the counts. If R equals the
//     challenger's root the challenger loses at once: it disputed a trace
//     it agrees with.
//  1. Node descent: the worker reveals the two children of the current node
//     of the nodes tree (they must hash to it); the challenger picks the side
//     that differs from its own trace, the left one when both do. Promoted
//     nodes (an unpaired last child) are passed without a move. This ends at
//     the leftmost node i whose output roots differ, so every earlier node,
//     and so every input of node i, is agreed.
//  2. The worker reveals node i's output roots (they must hash to leaf i);
//     the challenger names a differing output and proves the node's record
//     against the model id, which gives the output's shape.
//  3. Chunk descent: the same over that output's chunk tree, to one chunk.
//  4. The worker reveals the chunk's bytes; the challenger names a differing
//     element in it.
//  5. The worker answers with an infer.StepProof for that element against
//     its own trace root. If the recomputed element differs from the
//     committed one, the worker loses; if it equals it, the challenger does.
//
// # Why committing the trace late is sound
//
// The worker commits its trace only when challenged, after it has seen the
// challenger's root, but before any descent, and the game then holds it to
// that commitment. That is enough: take an honest challenger and any trace
// the worker may commit that ends in the posted outputs. If the posted
// outputs are wrong, that trace differs from the honest one, so it has a
// leftmost differing node; every input of that node is agreed (earlier
// nodes, the job's inputs, the model's weights), so the node's committed
// value is a wrong function of right inputs, and step 5 convicts it. No
// choice of trace escapes, so choosing it late gains the worker nothing.
// If the posted outputs are right, the honest worker commits the honest
// trace and wins every descent, as before. An honest challenger never
// loses by equal roots: it challenges only outputs it computed
// differently, and a trace ending in other outputs has another root.
//
// What it costs: an unchallenged job is one plain run and the value roots
// of its outputs; a challenged worker re-runs the job's input traced
// (execution is bit-exact, so the trace ends in the very outputs it
// posted), which is why it keeps the input until the result is final.
//
// Every move has a deadline in blocks; the party to move that misses it
// loses (a worker that cannot commit a trace ending in its outputs loses at
// the commit deadline). A move by the wrong party, in the wrong stage,
// after the deadline, or with data that does not hash to the commitment is
// rejected with a *MoveError and changes nothing, so the mover may retry in
// time.
package opml

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/merkle"
	"github.com/provena/provena/model"
	"github.com/provena/provena/tensor"
)

// Party is a side of a dispute.
type Party uint8

const (
	NoParty    Party = 0
	Worker     Party = 1
	Challenger Party = 2
)

func (p Party) String() string {
	switch p {
	case Worker:
		return "worker"
	case Challenger:
		return "challenger"
	}
	return "none"
}

// Stage is where a game stands; the party to move is Game.Turn. Games are
// stored by stage number, so a new stage takes a new number (the commit
// stage, which comes first, is 7).
type Stage uint8

const (
	StageCommit Stage = 7 // the worker owes its nodes root and the leaves of its outputs
	StageNodes  Stage = 1 // descending the nodes tree
	StageRoots  Stage = 2 // at node leaf: worker reveals output roots, challenger names an output
	StageChunks Stage = 3 // descending the chosen output's chunk tree
	StageChunk  Stage = 4 // at one chunk: worker reveals its bytes, challenger names an element
	StageStep   Stage = 5 // worker owes the one-step proof
	StageOver   Stage = 6
)

func (s Stage) String() string {
	switch s {
	case StageCommit:
		return "commit"
	case StageNodes:
		return "nodes"
	case StageRoots:
		return "roots"
	case StageChunks:
		return "chunks"
	case StageChunk:
		return "chunk"
	case StageStep:
		return "step"
	case StageOver:
		return "over"
	}
	return "unknown"
}

// Side is the challenger's choice in a descent.
type Side uint8

const (
	Left  Side = 0
	Right Side = 1
)

// MaxRoots bounds the output roots one node may reveal (no operator has
// more outputs).
const MaxRoots = 64

// OutputClaim is one graph output of a posted result: the node output
// producing it (from the model's registration) and the value root the
// worker posted for it.
type OutputClaim struct {
	Node   int         `json:"node"`
	Output int         `json:"output"`
	Root   merkle.Hash `json:"root"`
}

// Claim is what the chain knows of a disputed result before the worker
// commits a trace: the job's commitments, the posted outputs, and the
// challenger's nodes root.
type Claim struct {
	ModelID    merkle.Hash
	InputsRoot merkle.Hash
	NumInputs  int
	NumNodes   int
	Outputs    []OutputClaim
	// Against is the challenger's nodes root.
	Against merkle.Hash
	// Committed, when not zero, is the nodes root the worker committed in
	// an earlier dispute of the same result: it stays bound to it, and the
	// game starts at the descent.
	Committed merkle.Hash
}

// Game is the state of one dispute. It is plain data, stored in state as
// JSON; every field is set by NewGame or a move.
type Game struct {
	ModelID    merkle.Hash   `json:"model_id"`
	InputsRoot merkle.Hash   `json:"inputs_root"`
	NumInputs  int           `json:"num_inputs"`
	Outputs    []OutputClaim `json:"outputs"`
	Against    merkle.Hash   `json:"against"`
	// NodesRoot and TraceRoot are the worker's commitment, set by Commit.
	NodesRoot  merkle.Hash `json:"nodes_root"`
	TraceRoot  merkle.Hash `json:"trace_root"`
	NumNodes   int         `json:"num_nodes"`
	MoveBlocks int64       `json:"move_blocks"`

	Stage    Stage `json:"stage"`
	Turn     Party `json:"turn"`
	Deadline int64 `json:"deadline"` // last height at which Turn may move
	Moves    int   `json:"moves"`

	// Descent position and, on the challenger's turn, the revealed children.
	At       cursor         `json:"at"`
	Children [2]merkle.Hash `json:"children"`

	Node      int           `json:"node"`
	Roots     []merkle.Hash `json:"roots,omitempty"`
	Output    int           `json:"output"`
	ElemSize  int           `json:"elem_size"`
	OutBytes  int           `json:"out_bytes"`
	Chunk     int           `json:"chunk"`
	ChunkData []byte        `json:"chunk_data,omitempty"`
	Flat      int           `json:"flat"`

	Winner Party  `json:"winner"`
	Reason string `json:"reason,omitempty"`
	// Step is the verified one-step outcome, when the game ended on one.
	Step *infer.StepResult `json:"step,omitempty"`
}

// MoveError is a rejected move. Kind is one of the Err* sentinels.
type MoveError struct {
	Kind   error
	Reason string
}

func (e *MoveError) Error() string { return e.Reason }
func (e *MoveError) Unwrap() error { return e.Kind }

// Kinds of rejected moves.
var (
	ErrOver     = errors.New("dispute is over")
	ErrTurn     = errors.New("not this party's turn")
	ErrStage    = errors.New("move does not fit the stage")
	ErrDeadline = errors.New("move after the deadline")
	ErrProof    = errors.New("move does not match the commitment")
)

func reject(kind error, format string, args ...any) error {
	return &MoveError{Kind: kind, Reason: fmt.Sprintf(format, args...)}
}

// NewGame starts a dispute over a posted result at height: the worker owes
// its trace commitment (Commit) by height+moveBlocks. With c.Committed set
// it starts at the descent of that commitment instead.
func NewGame(c Claim, height, moveBlocks int64) (*Game, error) {
	if c.NumNodes < 1 {
		return nil, fmt.Errorf("new dispute: %d nodes", c.NumNodes)
	}
	if moveBlocks < 1 {
		return nil, fmt.Errorf("new dispute: move deadline %d blocks", moveBlocks)
	}
	if len(c.Outputs) == 0 || c.NumInputs < 0 {
		return nil, fmt.Errorf("new dispute: %d outputs, %d inputs", len(c.Outputs), c.NumInputs)
	}
	for k, o := range c.Outputs {
		if o.Node < 0 || o.Node >= c.NumNodes || o.Output < 0 || o.Output >= MaxRoots {
			return nil, fmt.Errorf("new dispute: output %d is node %d output %d of %d nodes", k, o.Node, o.Output, c.NumNodes)
		}
	}
	g := &Game{
		ModelID: c.ModelID, InputsRoot: c.InputsRoot, NumInputs: c.NumInputs, NumNodes: c.NumNodes,
		Outputs: append([]OutputClaim(nil), c.Outputs...), Against: c.Against, MoveBlocks: moveBlocks,
	}
	if c.Committed != (merkle.Hash{}) {
		if c.Committed == c.Against {
			return nil, errors.New("new dispute: the challenger's nodes root is the worker's committed one")
		}
		g.open(c.Committed)
	} else {
		g.Stage = StageCommit
	}
	g.pass(Worker, height)
	return g, nil
}

// open binds the game to the worker's nodes root and starts the descent.
func (g *Game) open(nodesRoot merkle.Hash) {
	g.NodesRoot = nodesRoot
	g.TraceRoot = infer.TraceRoot(g.ModelID, g.InputsRoot, nodesRoot, g.NumInputs, g.NumNodes)
	s := newShape(g.NumNodes)
	g.At = s.settle(cursor{Level: s.top(), Hash: nodesRoot})
	g.Stage = StageNodes
	if g.At.Level == 0 {
		g.enterLeaf()
	}
}

// Commit is the worker's trace commitment: its nodes root and, for each
// claimed output in order, the leaf of the producing node, which must
// verify against the root and carry the posted value root. A commitment
// equal to the challenger's root ends the game for the worker.
func (g *Game) Commit(by Party, height int64, nodesRoot merkle.Hash, leaves []*infer.NodeLeafProof) error {
	if err := g.check(by, height, StageCommit); err != nil {
		return err
	}
	if len(leaves) != len(g.Outputs) {
		return reject(ErrProof, "commitment opens %d outputs, the result has %d", len(leaves), len(g.Outputs))
	}
	for k, o := range g.Outputs {
		p := leaves[k]
		if p == nil || p.Index != o.Node || o.Output >= len(p.Roots) || len(p.Roots) > MaxRoots {
			return reject(ErrProof, "output %d: the leaf must open node %d with its output %d", k, o.Node, o.Output)
		}
		if p.Roots[o.Output] != o.Root {
			return reject(ErrProof, "output %d: node %d's committed root %s is not the posted value root %s", k, o.Node, p.Roots[o.Output], o.Root)
		}
		if err := p.Verify(nodesRoot, g.NumNodes); err != nil {
			return reject(ErrProof, "output %d: node %d's leaf does not verify against the nodes root: %v", k, o.Node, err)
		}
	}
	g.Moves++
	g.open(nodesRoot)
	if nodesRoot == g.Against {
		g.end(Worker, height, "the worker committed the challenger's own nodes root %s: nothing to dispute", nodesRoot)
		return nil
	}
	g.pass(Worker, height)
	return nil
}

func (g *Game) pass(to Party, height int64) {
	g.Turn = to
	g.Deadline = height + g.MoveBlocks
}

func (g *Game) enterLeaf() {
	g.Stage = StageRoots
	g.Node = g.At.Index
}

func (g *Game) end(w Party, height int64, format string, args ...any) {
	g.Stage, g.Turn, g.Winner, g.Deadline = StageOver, NoParty, w, height
	g.Reason = fmt.Sprintf(format, args...)
}

// check is the common precondition of every move.
func (g *Game) check(by Party, height int64, stages ...Stage) error {
	if g.Stage == StageOver {
		return reject(ErrOver, "dispute is over: %s won (%s)", g.Winner, g.Reason)
	}
	if by != g.Turn {
		return reject(ErrTurn, "it is the %s's turn, not the %s's (stage %s)", g.Turn, by, g.Stage)
	}
	if height > g.Deadline {
		return reject(ErrDeadline, "move at height %d is after the %s's deadline %d", height, by, g.Deadline)
	}
	for _, s := range stages {
		if g.Stage == s {
			return nil
		}
	}
	return reject(ErrStage, "stage is %s, this move needs %v", g.Stage, stages)
}

// Timeout ends the game if the party to move let its deadline pass by
// height; it reports whether it did.
func (g *Game) Timeout(height int64) bool {
	if g.Stage == StageOver || height <= g.Deadline {
		return false
	}
	loser := g.Turn
	g.end(other(loser), height, "%s missed its deadline at height %d in stage %s", loser, g.Deadline, g.Stage)
	return true
}

func other(p Party) Party {
	if p == Worker {
		return Challenger
	}
	return Worker
}

// Reveal is the worker's answer in a descent: the two children of the
// current node.
func (g *Game) Reveal(by Party, height int64, left, right merkle.Hash) error {
	if err := g.check(by, height, StageNodes, StageChunks); err != nil {
		return err
	}
	if merkle.Node(left, right) != g.At.Hash {
		return reject(ErrProof, "children do not hash to the committed node at level %d index %d", g.At.Level, g.At.Index)
	}
	g.Children = [2]merkle.Hash{left, right}
	g.Moves++
	g.pass(Challenger, height)
	return nil
}

// Pick is the challenger's choice of the revealed child it disputes.
func (g *Game) Pick(by Party, height int64, side Side) error {
	if err := g.check(by, height, StageNodes, StageChunks); err != nil {
		return err
	}
	if side != Left && side != Right {
		return reject(ErrStage, "side %d is neither left (0) nor right (1)", side)
	}
	n := g.NumNodes
	if g.Stage == StageChunks {
		n = merkle.NumChunks(g.OutBytes, model.ChunkSize)
	}
	s := newShape(n)
	g.At = s.settle(cursor{Level: g.At.Level - 1, Index: 2*g.At.Index + int(side), Hash: g.Children[side]})
	g.Children = [2]merkle.Hash{}
	g.Moves++
	if g.At.Level == 0 {
		if g.Stage == StageNodes {
			g.enterLeaf()
		} else {
			g.Stage, g.Chunk = StageChunk, g.At.Index
		}
	}
	g.pass(Worker, height)
	return nil
}

// RevealRoots is the worker's opening of the disputed node's leaf: its
// output roots in order.
func (g *Game) RevealRoots(by Party, height int64, roots []merkle.Hash) error {
	if err := g.check(by, height, StageRoots); err != nil {
		return err
	}
	if g.Roots != nil {
		return reject(ErrStage, "output roots already revealed; the challenger names an output")
	}
	if len(roots) == 0 || len(roots) > MaxRoots {
		return reject(ErrProof, "%d output roots, want 1..%d", len(roots), MaxRoots)
	}
	var b []byte
	for _, r := range roots {
		b = append(b, r[:]...)
	}
	if merkle.LeafHash(b) != g.At.Hash {
		return reject(ErrProof, "output roots do not hash to the committed leaf of node %d", g.Node)
	}
	g.Roots = append([]merkle.Hash(nil), roots...)
	g.Moves++
	g.pass(Challenger, height)
	return nil
}

// PickOutput is the challenger naming the disputed output of the node, with
// the node's record opened against the model id (which fixes the output's
// size). If the worker's leaf has the wrong number of roots for the node,
// the worker loses at once: its trace is malformed.
func (g *Game) PickOutput(by Party, height int64, output int, np *model.NodeProof) error {
	if err := g.check(by, height, StageRoots); err != nil {
		return err
	}
	if g.Roots == nil {
		return reject(ErrTurn, "output roots not revealed yet")
	}
	rec, err := model.VerifyNodeProof(g.ModelID, np)
	if err != nil {
		return reject(ErrProof, "node record: %v", err)
	}
	if rec.Index != g.Node {
		return reject(ErrProof, "node record is of node %d, the dispute is at node %d", rec.Index, g.Node)
	}
	outs := rec.Node.OutMetas
	if len(outs) != len(g.Roots) {
		g.Moves++
		g.end(Challenger, height, "worker's leaf of node %d has %d output roots, the node has %d outputs", g.Node, len(g.Roots), len(outs))
		return nil
	}
	if output < 0 || output >= len(outs) {
		return reject(ErrProof, "output %d out of range [0,%d)", output, len(outs))
	}
	om := outs[output]
	es := om.DType.Size()
	if es < 1 || model.ChunkSize%es != 0 {
		return reject(ErrProof, "output %d has element size %d", output, es)
	}
	g.Moves++
	g.Output, g.ElemSize = output, es
	g.OutBytes = tensor.NumElements(om.Shape) * es
	s := newShape(merkle.NumChunks(g.OutBytes, model.ChunkSize))
	g.At = s.settle(cursor{Level: s.top(), Hash: g.Roots[output]})
	g.Stage = StageChunks
	if g.At.Level == 0 {
		g.Stage, g.Chunk = StageChunk, g.At.Index
	}
	g.pass(Worker, height)
	return nil
}

// chunkLen is the byte length of chunk c of the disputed output.
func (g *Game) chunkLen(c int) int {
	return min(model.ChunkSize, g.OutBytes-c*model.ChunkSize)
}

// RevealChunk is the worker's opening of the disputed chunk's bytes.
func (g *Game) RevealChunk(by Party, height int64, data []byte) error {
	if err := g.check(by, height, StageChunk); err != nil {
		return err
	}
	if g.ChunkData != nil {
		return reject(ErrStage, "chunk already revealed; the challenger names an element")
	}
	if want := g.chunkLen(g.Chunk); len(data) != want {
		return reject(ErrProof, "chunk %d is %d bytes, want %d", g.Chunk, len(data), want)
	}
	if merkle.LeafHash(data) != g.At.Hash {
		return reject(ErrProof, "chunk %d does not hash to the committed leaf", g.Chunk)
	}
	g.ChunkData = bytes.Clone(data)
	if g.ChunkData == nil {
		g.ChunkData = []byte{}
	}
	g.Moves++
	g.pass(Challenger, height)
	return nil
}

// PickElement is the challenger naming the disputed element of the chunk by
// its offset (in elements) inside the chunk.
func (g *Game) PickElement(by Party, height int64, offset int) error {
	if err := g.check(by, height, StageChunk); err != nil {
		return err
	}
	if g.ChunkData == nil {
		return reject(ErrTurn, "chunk not revealed yet")
	}
	if n := len(g.ChunkData) / g.ElemSize; offset < 0 || offset >= n {
		return reject(ErrProof, "element offset %d outside the chunk's %d elements", offset, n)
	}
	g.Flat = g.Chunk*model.ChunkSize/g.ElemSize + offset
	g.Stage = StageStep
	g.Moves++
	g.pass(Worker, height)
	return nil
}

// OneStep settles the game with the worker's one-step proof for the
// disputed element, verified against the worker's own trace root. An
// invalid proof is rejected (the worker may send another before the
// deadline); a valid one ends the game.
func (g *Game) OneStep(by Party, height int64, p *infer.StepProof) error {
	if err := g.check(by, height, StageStep); err != nil {
		return err
	}
	if p == nil || p.Claim == nil {
		return reject(ErrProof, "empty one-step proof")
	}
	if p.Claim.Index != g.Node || p.Output != g.Output || p.Flat != g.Flat {
		return reject(ErrProof, "proof is for node %d output %d element %d, the dispute is node %d output %d element %d",
			p.Claim.Index, p.Output, p.Flat, g.Node, g.Output, g.Flat)
	}
	res, err := infer.VerifyStep(g.ModelID, g.TraceRoot, p)
	if err != nil {
		return reject(ErrProof, "%v", err)
	}
	if res.Node != g.Node {
		return reject(ErrProof, "proof recomputes node %d, the dispute is at node %d", res.Node, g.Node)
	}
	g.Moves++
	g.Step = res
	if !res.Match {
		g.end(Challenger, height, "node %d (%s) output %d element %d: committed bits %#x, recomputed %#x",
			res.Node, res.OpType, res.Output, res.Flat, res.Claimed, res.Value)
	} else {
		g.end(Worker, height, "node %d (%s) output %d element %d recomputes to the committed bits %#x",
			res.Node, res.OpType, res.Output, res.Flat, res.Value)
	}
	return nil
}
