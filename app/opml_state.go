package app

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/provena/provena/opml"
	"github.com/provena/provena/tx"
)

// The opML module (app/opml_*.go) runs optimistic verified inference:
// models registered by id, bonded workers, jobs assigned deterministically,
// results posted as output value roots, challenge windows, and disputes
// played with package opml's game, which opens with the worker's trace
// commitment. Tokens it holds (job escrow, worker bonds, challenge
// bonds) sit in the OpmlAddress account, so the supply invariant holds
// without a new supply field; slashed tokens that nobody is paid are
// burned into Supply.Burned.

// Result codes of the opML module's messages.
const (
	CodeOpmlUnknown    uint32 = 100 // no such model, job or worker
	CodeOpmlExists     uint32 = 101 // model already registered
	CodeOpmlState      uint32 = 102 // the job or worker is not in a state that accepts this message
	CodeOpmlNotAllowed uint32 = 103 // the sender is not the party this message needs
	CodeOpmlBadResult  uint32 = 104 // result does not match the model's outputs
	CodeOpmlBadMove    uint32 = 105 // dispute move rejected (turn, stage, deadline or proof)
	CodeOpmlBond       uint32 = 106 // bond below the minimum
)

// OpmlCodeName names the module's codes for logs and the CLI ("" for
// others).
func OpmlCodeName(code uint32) string {
	switch code {
	case CodeOpmlUnknown:
		return "opml_unknown"
	case CodeOpmlExists:
		return "opml_exists"
	case CodeOpmlState:
		return "opml_state"
	case CodeOpmlNotAllowed:
		return "opml_not_allowed"
	case CodeOpmlBadResult:
		return "opml_bad_result"
	case CodeOpmlBadMove:
		return "opml_bad_move"
	case CodeOpmlBond:
		return "opml_bond"
	}
	return ""
}

// OpmlAddress holds the opML module's escrow and bonds. Nobody has its key.
var OpmlAddress = func() tx.Address {
	h := sha256.Sum256([]byte("provena/module/opml"))
	var a tx.Address
	copy(a[:], h[:])
	return a
}()

// OpmlParams are the module's parameters. They are consensus constants of
// this version (DefaultOpmlParams), not genesis fields yet.
type OpmlParams struct {
	ResultBlocks    int64  `json:"result_blocks"`    // blocks an assigned worker has to post its result
	ZkResultBlocks  int64  `json:"zk_result_blocks"` // the same for a zk job, counted from the input's delivery: proving takes seconds
	ChallengeBlocks int64  `json:"challenge_blocks"` // challenge window after a result (restarts after a failed challenge)
	MoveBlocks      int64  `json:"move_blocks"`      // deadline of each dispute move
	PendingBlocks   int64  `json:"pending_blocks"`   // a job no worker could take is refunded after this long
	MinWorkerBond   uint64 `json:"min_worker_bond"`  // upv a worker must keep bonded to get jobs
	ChallengeBond   uint64 `json:"challenge_bond"`   // upv a challenger locks per dispute
	WinnerSharePct  uint64 `json:"winner_share_pct"` // percent of a slashed bond paid to the winner; the rest is burned
	MissSlashPct    uint64 `json:"miss_slash_pct"`   // percent of its bond a worker loses for a missed result deadline (burned)
	MaxAssignments  int    `json:"max_assignments"`  // workers tried before a job is refunded
}

// DefaultOpmlParams are the module's parameters.
func DefaultOpmlParams() OpmlParams {
	return OpmlParams{
		ResultBlocks: 10, ZkResultBlocks: 50, ChallengeBlocks: 20, MoveBlocks: 10, PendingBlocks: 50,
		MinWorkerBond: 1000, ChallengeBond: 1000, WinnerSharePct: 50, MissSlashPct: 10, MaxAssignments: 3,
	}
}

// OpmlHash is a SHA-256 value shown as hex in JSON.
type OpmlHash [32]byte

func (h OpmlHash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler.
func (h OpmlHash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *OpmlHash) UnmarshalText(b []byte) error {
	if len(b) != 64 {
		return fmt.Errorf("hash must be 64 hex characters, got %d", len(b))
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// OpmlModel is a registered model.
type OpmlModel struct {
	ID       OpmlHash       `json:"id"`
	Owner    tx.Address     `json:"owner"`
	Fee      uint64         `json:"fee"`
	NumNodes int            `json:"num_nodes"`
	Inputs   []tx.TensorSig `json:"inputs"`
	Outputs  []tx.OutputSig `json:"outputs"`
	Height   int64          `json:"height"`
}

// OpmlWorker is a registered worker.
type OpmlWorker struct {
	Address tx.Address `json:"address"`
	Bond    uint64     `json:"bond"`
	Job     uint64     `json:"job"` // job it holds (0: none)
	Done    uint64     `json:"done"`
	Slashed uint64     `json:"slashed"`
}

// Job states.
const (
	OpmlJobPending  = "pending"  // waiting for a worker
	OpmlJobAssigned = "assigned" // the worker owes a result by Deadline
	OpmlJobPosted   = "posted"   // result posted; challengeable until Deadline
	OpmlJobDisputed = "disputed" // a dispute is being played
	OpmlJobFinal    = "final"    // result final, payments made
	OpmlJobRefunded = "refunded" // no valid result: the requester got its escrow back
)

// OpmlJob is a job and everything that happened to it.
type OpmlJob struct {
	ID         uint64     `json:"id"`
	Requester  tx.Address `json:"requester"`
	ModelID    OpmlHash   `json:"model_id"`
	InputsRoot OpmlHash   `json:"inputs_root"`
	Owner      tx.Address `json:"owner"`
	ModelFee   uint64     `json:"model_fee"`
	WorkerFee  uint64     `json:"worker_fee"`
	Submitted  int64      `json:"submitted"`
	// Mode is the verification mode (JobModeOptimistic, JobModeTee,
	// JobModeZk; app/job_modes.go); Private is what a tee or zk job adds.
	Mode    string      `json:"mode,omitempty"`
	Private *JobPrivate `json:"private,omitempty"`
	// Energy constrains which workers may take the job (docs/energy.md).
	Energy EnergyJobConstraints `json:"energy"`
	// Unassignable says why no worker qualified at the last attempt.
	Unassignable string `json:"unassignable,omitempty"`

	State    string       `json:"state"`
	Deadline int64        `json:"deadline"` // of the current state
	Worker   tx.Address   `json:"worker"`
	Tried    []tx.Address `json:"tried,omitempty"`

	// NodesRoot and TraceRoot are the worker's trace commitment, zero
	// until a dispute's commit stage sets them; they then bind the worker
	// in any later dispute of the same result.
	NodesRoot   OpmlHash   `json:"nodes_root"`
	TraceRoot   OpmlHash   `json:"trace_root"`
	OutputRoots []OpmlHash `json:"output_roots,omitempty"`
	Posted      int64      `json:"posted"`

	Challenger     tx.Address    `json:"challenger"`
	ChallengerRoot OpmlHash      `json:"challenger_root"`
	DisputeStarted int64         `json:"dispute_started"`
	Game           *opml.Game    `json:"game,omitempty"`
	Disputes       []OpmlDispute `json:"disputes,omitempty"`

	Payouts []OpmlPayout `json:"payouts,omitempty"`
	Burned  uint64       `json:"burned"`
	Reason  string       `json:"reason,omitempty"`
	Closed  int64        `json:"closed"`
}

// OpmlDispute is a finished dispute of a job.
type OpmlDispute struct {
	Challenger tx.Address `json:"challenger"`
	Winner     string     `json:"winner"`
	Moves      int        `json:"moves"`
	Started    int64      `json:"started"`
	Ended      int64      `json:"ended"`
	Reason     string     `json:"reason"`
}

// OpmlPayout is a payment the module made for a job.
type OpmlPayout struct {
	To     tx.Address `json:"to"`
	Amount uint64     `json:"amount"`
	Why    string     `json:"why"`
}

// State layout of the opML module, under "o/".
var (
	prefixOpmlModel  = []byte("o/m/") // <model id 32> -> OpmlModel JSON
	prefixOpmlWorker = []byte("o/w/") // <address 20> -> OpmlWorker JSON
	prefixOpmlJob    = []byte("o/j/") // <id 8 BE> -> OpmlJob JSON
	prefixOpmlOpen   = []byte("o/o/") // <id 8 BE> -> empty: jobs the end-blocker watches
	keyOpmlSeq       = []byte("o/seq")
	keyOpmlSeed      = []byte("o/seed")
)

// OpmlModelKey is the state key of a model record.
func OpmlModelKey(id [32]byte) []byte {
	return append(append([]byte(nil), prefixOpmlModel...), id[:]...)
}

// OpmlWorkerKey is the state key of a worker record.
func OpmlWorkerKey(a tx.Address) []byte {
	return append(append([]byte(nil), prefixOpmlWorker...), a[:]...)
}

// OpmlJobKey is the state key of a job record.
func OpmlJobKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), prefixOpmlJob...), id)
}

func opmlOpenKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), prefixOpmlOpen...), id)
}

func opmlGet(ctx *Context, key []byte, v any) (bool, error) {
	b, err := ctx.Get(key)
	if err != nil || b == nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}

func opmlSet(ctx *Context, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %q: %w", key, err)
	}
	return ctx.Set(key, b)
}

func opmlLoadJob(ctx *Context, id uint64) (*OpmlJob, error) {
	var j OpmlJob
	ok, err := opmlGet(ctx, OpmlJobKey(id), &j)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, Fail(CodeOpmlUnknown, "no job %d", id)
	}
	return &j, nil
}

func opmlLoadWorker(ctx *Context, a tx.Address) (*OpmlWorker, error) {
	var w OpmlWorker
	ok, err := opmlGet(ctx, OpmlWorkerKey(a), &w)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, Fail(CodeOpmlUnknown, "%s is not a registered worker", a)
	}
	return &w, nil
}

// opmlMixSeed folds data into the module's running seed, from which
// assignments are drawn. Every opML message of a block changes it, so the
// seed at the end of a block depends on everything the block carried.
func opmlMixSeed(ctx *Context, data ...[]byte) error {
	old, err := ctx.Get(keyOpmlSeed)
	if err != nil {
		return err
	}
	h := sha256.New()
	h.Write([]byte("provena/opml/seed\x00"))
	h.Write(old)
	for _, d := range data {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(d))))
		h.Write(d)
	}
	return ctx.Set(keyOpmlSeed, h.Sum(nil))
}
