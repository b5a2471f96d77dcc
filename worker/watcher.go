package worker

import (
	"fmt"

	"github.com/provena/provena/app"
	"github.com/provena/provena/opml"
	"github.com/provena/provena/tx"
)

// Watcher re-executes every posted result plainly and compares the output
// value roots; only for a result it computes differently does it run the
// job traced, challenge with its nodes root and play the dispute.
type Watcher struct {
	party
	lie     *Fault // a lying challenger: its own trace is corrupted
	next    uint64 // lowest job id not yet seen
	open    []uint64
	checked map[uint64]int64 // job -> posted height it was checked at
	// Challenges counts challenges sent; Moves counts dispute moves sent.
	Challenges, Moves int
}

// NewWatcher returns a watcher acting through c.
func NewWatcher(c Client, logf Logf) *Watcher {
	return &Watcher{party: newParty(c, logf), next: 1, checked: map[uint64]int64{}}
}

// NewLyingWatcher returns a watcher whose own runs carry fault (Corrupt
// only: its plain runs and traces compute on the flipped element), so that
// it challenges honest results: a test fixture for the lying challenger.
func NewLyingWatcher(c Client, fault Fault, logf Logf) *Watcher {
	w := NewWatcher(c, logf)
	w.lie = &fault
	return w
}

// Step polls once: discovers new jobs, checks posted results, plays the
// disputes the watcher started.
func (w *Watcher) Step() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		j, err := w.c.Job(w.next)
		if err != nil {
			return err
		}
		if j == nil {
			break
		}
		w.open = append(w.open, w.next)
		w.next++
	}
	h, err := w.c.Height()
	if err != nil {
		return err
	}
	keep := w.open[:0]
	var firstErr error
	for _, id := range w.open {
		j, err := w.c.Job(id)
		if err != nil {
			return err
		}
		if j.State == app.OpmlJobFinal || j.State == app.OpmlJobRefunded {
			w.forget(id)
			continue
		}
		keep = append(keep, id)
		if err := w.visit(j, h); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	w.open = keep
	return firstErr
}

func (w *Watcher) view(j *app.OpmlJob) (*opml.View, error) {
	return w.execute(j, w.lie)
}

func (w *Watcher) visit(j *app.OpmlJob, h int64) error {
	me := w.c.Address()
	switch j.State {
	case app.OpmlJobPosted:
		if j.Worker == me || w.checked[j.ID] == j.Posted || h > j.Deadline {
			return nil
		}
		roots, _, err := w.result(j, w.lie)
		if err != nil {
			return err
		}
		w.checked[j.ID] = j.Posted
		if sameRoots(roots, j.OutputRoots) {
			w.logf("watcher %s: job %d: output roots agree with re-execution", me, j.ID)
			w.forget(j.ID) // nothing to dispute: drop the input
			return nil
		}
		v, err := w.view(j)
		if err != nil {
			return err
		}
		w.Challenges++
		w.logf("watcher %s: job %d: outputs differ from re-execution, challenging with its trace", me, j.ID)
		return w.c.Send(tx.MsgChallenge{Job: j.ID, NodesRoot: v.NodesRoot()})
	case app.OpmlJobDisputed:
		if j.Challenger != me || j.Game == nil || j.Game.Turn != opml.Challenger || !w.fresh(j.ID, j.Game, h) {
			return nil
		}
		v, err := w.view(j)
		if err != nil {
			return err
		}
		mv, err := v.Challenge(j.Game)
		if err != nil {
			return fmt.Errorf("job %d: challenge move: %w", j.ID, err)
		}
		w.Moves++
		return w.c.Send(tx.MsgDisputeMove{Job: j.ID, Kind: uint8(mv.Kind), Payload: mv.Encode()})
	}
	return nil
}

func sameRoots(a [][32]byte, b []app.OpmlHash) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if a[k] != [32]byte(b[k]) {
			return false
		}
	}
	return true
}
