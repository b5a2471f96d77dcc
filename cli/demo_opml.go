package cli

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/provena/provena/app"
	"github.com/provena/provena/client"
	"github.com/provena/provena/keys"
	"github.com/provena/provena/opml"
	"github.com/provena/provena/opml/opmltest"
	"github.com/provena/provena/opmlstore"
	"github.com/provena/provena/tx"
	"github.com/provena/provena/worker"
)

// demoOpml is what the demo's optimistic-inference part recorded.
type demoOpml struct {
	ModelID   string                `json:"model_id"`
	Parties   map[string]tx.Address `json:"parties"`
	Steps     []demoStep            `json:"steps"`
	WorkerFee uint64                `json:"worker_fee"`
	ModelFee  uint64                `json:"model_fee"`
	Bond      uint64                `json:"worker_bond"`
	Fault     string                `json:"fault"`
	// Honest and Cheat are the final job records, as the chain holds them.
	Honest *app.OpmlJob `json:"honest_job"`
	Cheat  *app.OpmlJob `json:"cheat_job"`
	// Slashed is the cheating worker's forfeited bond; Burned the part of it
	// nobody was paid; Refund what the requester got back.
	Slashed      uint64 `json:"slashed"`
	Burned       uint64 `json:"burned"`
	Refund       uint64 `json:"refund"`
	DisputeMoves int    `json:"dispute_moves"`
	// Accounts are every account that holds tokens, after both jobs.
	Accounts map[string]app.AccountJSON `json:"accounts"`
	Height   int64                      `json:"height"`
	Supply   json.RawMessage            `json:"supply"`
	// SupplyHolds: the balances of all accounts sum to the circulating
	// supply, and circulating + bonded + unbonding + burned = genesis.
	SupplyHolds bool `json:"supply_invariant_holds"`
}

// demoEnv is what the ledger part of the demo hands the opML part.
type demoEnv struct {
	c      *client.Client
	rpc    string
	home   string
	kr     *keys.Keyring
	privs  map[string]ed25519.PrivateKey
	addrs  map[string]tx.Address
	fee    uint64
	w      io.Writer
	record *demoOpml
}

// runDemoOpml plays two optimistic jobs on the demo's node: bob's first job
// goes to dave, an honest worker, and is final and paid after the challenge
// window; dave leaves, eve joins with a corrupted trace, bob's second job
// goes to her, walt the watcher re-executes it, challenges, the dispute is
// bisected on chain down to one step, whose proof the chain verifies: eve
// loses her bond and bob gets his escrow back.
func runDemoOpml(ctx context.Context, d *demoEnv) (*demoOpml, error) {
	w := d.w
	p := app.DefaultOpmlParams()
	rec := &demoOpml{Parties: map[string]tx.Address{}, Accounts: map[string]app.AccountJSON{}, WorkerFee: 100, ModelFee: 50, Bond: 10_000}
	d.record = rec
	for _, name := range []string{"dave", "eve", "walt"} {
		k, err := d.kr.Add(name)
		if err != nil {
			return rec, err
		}
		d.addrs[name] = k.Address
		if d.privs[name], err = d.kr.PrivateKey(name); err != nil {
			return rec, err
		}
	}
	for _, name := range []string{"alice", "bob", "dave", "eve", "walt"} {
		rec.Parties[name] = d.addrs[name]
	}
	m, err := opmltest.Model()
	if err != nil {
		return rec, err
	}
	rec.ModelID = m.IDString()
	store := opmlStore(filepath.Join(d.home, "opml"))
	if err := store.PutModel(m); err != nil {
		return rec, err
	}
	fmt.Fprintf(w, "\nOptimistic verified inference (opML) on the same chain: model %s… (%d-node CNN), challenge window %d blocks, %d blocks per dispute move\n",
		rec.ModelID[:12], len(m.Nodes), p.ChallengeBlocks, p.MoveBlocks)
	fmt.Fprintf(w, "dave and eve are workers, walt a watcher; all three are new keys funded by alice\n\n")

	step := func(who, action string, msg tx.Msg) (int64, error) {
		s, err := d.c.Send(ctx, d.privs[who], d.fee, msg, true)
		st := demoStep{Action: action, Hash: s.Hash}
		if s.Committed != nil {
			st.Height, st.Code, st.Log = s.Committed.Height, s.Committed.Code, s.Committed.Log
		}
		rec.Steps = append(rec.Steps, st)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", action, err)
		}
		fmt.Fprintf(w, "block %-4d %s\n", st.Height, action)
		return st.Height, nil
	}
	for _, s := range []struct {
		who, action string
		msg         tx.Msg
	}{
		{"alice", "alice sends dave 100,000 upv", tx.MsgTransfer{To: d.addrs["dave"], Amount: 100_000}},
		{"alice", "alice sends eve 100,000 upv", tx.MsgTransfer{To: d.addrs["eve"], Amount: 100_000}},
		{"alice", "alice sends walt 100,000 upv", tx.MsgTransfer{To: d.addrs["walt"], Amount: 100_000}},
		{"alice", fmt.Sprintf("alice registers the model, fee %d upv a job", rec.ModelFee), worker.RegisterModelMsg(m, rec.ModelFee)},
		{"dave", fmt.Sprintf("dave bonds %s as an opML worker", upv(rec.Bond)), tx.MsgRegisterWorker{Bond: rec.Bond}},
	} {
		if _, err := step(s.who, s.action, s.msg); err != nil {
			return rec, err
		}
	}

	party := func(name string) *nodeClient {
		e := &dataEnv{c: d.c, rpc: d.rpc, priv: d.privs[name], me: d.addrs[name], fee: d.fee}
		return &nodeClient{ctx: ctx, e: e, store: store, fetch: &opmlstore.Fetcher{Store: store, Sources: []string{e.c.Base()}}}
	}
	names := strings.NewReplacer(
		d.addrs["dave"].String(), "dave", d.addrs["eve"].String(), "eve", d.addrs["walt"].String(), "walt",
		d.addrs["bob"].String(), "bob", d.addrs["alice"].String(), "alice")
	logf := func(format string, args ...any) {
		fmt.Fprintf(w, "           · %s\n", names.Replace(fmt.Sprintf(format, args...)))
	}
	watcher := worker.NewWatcher(party("walt"), logf)
	dave := worker.NewWorker(party("dave"), worker.Fault{}, logf)

	// Job 1: honest.
	in1 := opmltest.Input(1)
	root1, err := store.PutInputs(m, in1)
	if err != nil {
		return rec, err
	}
	if _, err := step("bob", fmt.Sprintf("bob submits job 1, escrow %d upv (model fee %d + worker fee %d)", rec.ModelFee+rec.WorkerFee, rec.ModelFee, rec.WorkerFee),
		tx.MsgSubmitJob{ModelID: m.ID(), InputsRoot: root1, WorkerFee: rec.WorkerFee}); err != nil {
		return rec, err
	}
	if rec.Honest, err = d.play(ctx, 1, dave.Step, watcher.Step); err != nil {
		return rec, err
	}
	if rec.Honest.State != app.OpmlJobFinal {
		return rec, fmt.Errorf("honest job 1 ended %s: %s", rec.Honest.State, rec.Honest.Reason)
	}

	// Job 2: dave leaves, eve joins and lies.
	if _, err := step("dave", fmt.Sprintf("dave leaves; his %s bond is returned", upv(rec.Bond)), tx.MsgUnregisterWorker{}); err != nil {
		return rec, err
	}
	fault := worker.Fault{Corrupt: true, Node: 3, Elem: 100}
	rec.Fault = fmt.Sprintf("corrupt:%d:%d (one element of node %d's output)", fault.Node, fault.Elem, fault.Node)
	if _, err := step("eve", fmt.Sprintf("eve bonds %s as a worker (she will flip element %d of node %d's output)", upv(rec.Bond), fault.Elem, fault.Node),
		tx.MsgRegisterWorker{Bond: rec.Bond}); err != nil {
		return rec, err
	}
	eve := worker.NewWorker(party("eve"), fault, logf)
	root2, err := store.PutInputs(m, opmltest.Input(2))
	if err != nil {
		return rec, err
	}
	if _, err := step("bob", fmt.Sprintf("bob submits job 2, escrow %d upv", rec.ModelFee+rec.WorkerFee),
		tx.MsgSubmitJob{ModelID: m.ID(), InputsRoot: root2, WorkerFee: rec.WorkerFee}); err != nil {
		return rec, err
	}
	if rec.Cheat, err = d.play(ctx, 2, eve.Step, watcher.Step); err != nil {
		return rec, err
	}
	j := rec.Cheat
	if j.State != app.OpmlJobRefunded || len(j.Disputes) == 0 || j.Disputes[len(j.Disputes)-1].Winner != opml.Challenger.String() {
		return rec, fmt.Errorf("cheating job 2 ended %s: %s", j.State, j.Reason)
	}
	rec.Burned = j.Burned
	rec.Slashed = j.Burned
	for _, po := range j.Payouts {
		switch {
		case strings.HasPrefix(po.Why, "share of the worker"):
			rec.Slashed += po.Amount
		case po.To == d.addrs["bob"]:
			rec.Refund += po.Amount
		}
	}
	rec.DisputeMoves = j.Disputes[len(j.Disputes)-1].Moves
	fmt.Fprintf(w, "           eve slashed %s (her whole bond): %s to walt, %s burned; walt's %s challenge bond returned; bob refunded %d upv\n",
		upv(rec.Slashed), upv(rec.Slashed-rec.Burned), upv(rec.Burned), upv(p.ChallengeBond), rec.Refund)
	return rec, d.opmlSupply(ctx)
}

// play steps the off-chain parties once a block until job id is final or
// refunded, printing what the chain records on the way.
func (d *demoEnv) play(ctx context.Context, id uint64, steps ...func() error) (*app.OpmlJob, error) {
	w := d.w
	name := func(a tx.Address) string {
		for _, n := range []string{"dave", "eve", "walt", "bob", "alice", "tina"} {
			if d.addrs[n] == a {
				return n
			}
		}
		return a.String()
	}
	var (
		state string
		stage opml.Stage
	)
	for i := 0; i < 600; i++ {
		for _, s := range steps {
			if err := s(); err != nil {
				fmt.Fprintf(w, "           · %v\n", err)
			}
		}
		st, err := d.c.Status(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := d.c.WaitHeight(ctx, st.LatestHeight+1); err != nil {
			return nil, err
		}
		var j *app.OpmlJob
		e := &dataEnv{c: d.c, rpc: d.rpc}
		if j, err = e.job(ctx, id); err != nil {
			return nil, err
		}
		if j == nil {
			return nil, fmt.Errorf("job %d not found", id)
		}
		h := st.LatestHeight + 1
		if j.State != state {
			switch j.State {
			case app.OpmlJobAssigned:
				fmt.Fprintf(w, "block %-4d job %d assigned to %s, result due by block %d\n", j.Submitted, id, name(j.Worker), j.Deadline)
			case app.OpmlJobPosted:
				fmt.Fprintf(w, "block %-4d job %d result posted by %s (output root %s…, from a plain run: no trace unless challenged); challenge window until block %d\n", j.Posted, id, name(j.Worker), j.OutputRoots[0].String()[:12], j.Deadline)
			case app.OpmlJobDisputed:
				fmt.Fprintf(w, "block %-4d job %d challenged by %s (bond %s): the dispute is bisected on chain\n", j.DisputeStarted, id, name(j.Challenger), upv(app.DefaultOpmlParams().ChallengeBond))
			case app.OpmlJobFinal:
				var paid []string
				for _, p := range j.Payouts {
					paid = append(paid, fmt.Sprintf("%s %s (%s)", name(p.To), upv(p.Amount), p.Why))
				}
				how := "unchallenged"
				if j.IsPrivate() {
					how = "in the block of its " + map[string]string{app.JobModeTee: "signed", app.JobModeZk: "proved"}[j.Mode] + " result"
				}
				fmt.Fprintf(w, "block %-4d job %d final, %s: paid %s\n", j.Closed, id, how, strings.Join(paid, ", "))
			case app.OpmlJobRefunded:
				if n := len(j.Disputes); n > 0 {
					dsp := j.Disputes[n-1]
					how := "the chain re-ran the disputed step from the one-step proof"
					if strings.Contains(dsp.Reason, "missed its deadline") {
						how = "timeout"
					}
					fmt.Fprintf(w, "block %-4d job %d dispute over after %d moves (blocks %d-%d), %s: %s wins: %s\n", dsp.Ended, id, dsp.Moves, dsp.Started, dsp.Ended, how, dsp.Winner, dsp.Reason)
				}
				fmt.Fprintf(w, "block %-4d job %d refunded: %s\n", j.Closed, id, j.Reason)
			}
			state = j.State
		}
		if j.State == app.OpmlJobDisputed && j.Game != nil && j.Game.Stage != stage {
			stage = j.Game.Stage
			committed := ""
			if stage == opml.StageCommit {
				committed = " (the worker re-runs the input traced and commits its trace)"
			} else if j.TraceRoot != (app.OpmlHash{}) {
				committed = fmt.Sprintf(" (worker's trace root %s…)", j.TraceRoot.String()[:12])
			}
			fmt.Fprintf(w, "block %-4d job %d dispute stage %q after %d moves, %s to move%s\n", h, id, stage, j.Game.Moves, j.Game.Turn, committed)
		}
		if j.State == app.OpmlJobFinal || j.State == app.OpmlJobRefunded {
			return j, nil
		}
	}
	return nil, fmt.Errorf("job %d not closed after 600 blocks", id)
}

// opmlSupply reads every account that can hold tokens at one height and
// checks that their balances make up the circulating supply.
func (d *demoEnv) opmlSupply(ctx context.Context) error {
	rec := d.record
	holders := map[string]tx.Address{"opml module": app.OpmlAddress, "data pool": app.DataPoolAddress}
	for _, n := range []string{"alice", "bob", "carol", "validator", "dave", "eve", "walt"} {
		holders[n] = d.addrs[n]
	}
	for try := 0; ; try++ {
		s, err := d.c.Supply(ctx)
		if err != nil {
			return err
		}
		var sup map[string]uint64
		if err := json.Unmarshal(s.Supply, &sup); err != nil {
			return fmt.Errorf("decode supply: %w", err)
		}
		var sum uint64
		same := true
		for n, a := range holders {
			acc, h, err := d.c.AccountState(ctx, a)
			if err != nil {
				return err
			}
			rec.Accounts[n] = acc
			sum += acc.Balance
			same = same && h == s.Height
		}
		if !same && try < 10 {
			continue
		}
		rec.Height, rec.Supply = s.Height, s.Supply
		rec.SupplyHolds = same && sum == sup["circulating"] &&
			sup["circulating"]+sup["bonded"]+sup["unbonding"]+sup["burned"] == sup["genesis_supply"]
		fmt.Fprintf(d.w, "\nafter both jobs [height %d]: dave %s, eve %s, walt %s, bob %s; opML module account holds %s\n",
			s.Height, upv(rec.Accounts["dave"].Balance), upv(rec.Accounts["eve"].Balance), upv(rec.Accounts["walt"].Balance),
			upv(rec.Accounts["bob"].Balance), upv(rec.Accounts["opml module"].Balance))
		fmt.Fprintf(d.w, "supply: genesis %s = circulating %s + bonded %s + unbonding %s + burned %s; the %d account balances sum to circulating: %v\n",
			upv(sup["genesis_supply"]), upv(sup["circulating"]), upv(sup["bonded"]), upv(sup["unbonding"]), upv(sup["burned"]), len(holders), sum == sup["circulating"])
		if !rec.SupplyHolds {
			return fmt.Errorf("supply invariant broken at height %d: balances sum to %d, supply %v", s.Height, sum, sup)
		}
		return nil
	}
}
