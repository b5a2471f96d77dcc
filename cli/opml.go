package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/provena/provena/app"
	"github.com/provena/provena/model"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/opmlstore"
	"github.com/provena/provena/tensor"
	"github.com/provena/provena/tx"
	"github.com/provena/provena/worker"
)

// The opML commands: `model register` (added to the model command built in
// model.go by wrapping its constructor, so that file stays untouched),
// `job submit|show`, and in worker.go `worker start` and `watcher start`.
func init() {
	commands = append(commands, newJobCmd)
	for i, c := range commands {
		c := c
		commands[i] = func() *cobra.Command {
			cmd := c()
			if cmd.Name() == "model" {
				cmd.AddCommand(newModelRegisterCmd())
			}
			return cmd
		}
	}
}

// opmlStore is the local content-addressed store of model packages, job
// inputs and outputs (package opmlstore) that requesters, workers, watchers
// and the node's API share.
type opmlStore = opmlstore.Dir

// opmlFlags are the flags of the opML commands.
type opmlFlags struct {
	dataFlags
	store string
	peers []string
}

func (f *opmlFlags) add(cmd *cobra.Command, from bool) {
	f.dataFlags.add(cmd, from)
	cmd.Flags().StringVar(&f.store, "store", "", "local model and input store shared with workers and watchers (default <home>/opml)")
	cmd.Flags().StringSliceVar(&f.peers, "peers", nil, "other nodes' HTTP API URLs to fetch model packages and inputs from when neither the local store nor the node has them")
}

func (f *opmlFlags) storeDir() opmlStore {
	if f.store != "" {
		return opmlStore(f.store)
	}
	return opmlStore(filepath.Join(f.home, "opml"))
}

// fetcher reads the local store and, for what it lacks, the opML routes of
// the node this command talks to and then of --peers, checking everything
// fetched against its id or root and caching it locally.
func (f *opmlFlags) fetcher(e *dataEnv) *opmlstore.Fetcher {
	return &opmlstore.Fetcher{Store: f.storeDir(), Sources: append([]string{e.c.Base()}, f.peers...)}
}

func opmlRun(f *opmlFlags, needKey bool, run func(ctx context.Context, e *dataEnv, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return dataRun(&f.dataFlags, needKey, run)
}

func (e *dataEnv) job(ctx context.Context, id uint64) (*app.OpmlJob, error) {
	var j *app.OpmlJob
	if err := e.query(ctx, app.QueryOpmlJob, strconv.FormatUint(id, 10), &j); err != nil {
		return nil, err
	}
	return j, nil
}

// jobArg reads the job named by a command's ID argument; a job that does
// not exist is an error.
func (e *dataEnv) jobArg(ctx context.Context, arg string) (*app.OpmlJob, error) {
	id, err := strconv.ParseUint(arg, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("job id %q: %w", arg, err)
	}
	j, err := e.job(ctx, id)
	if err != nil {
		return nil, err
	}
	if j == nil {
		return nil, fmt.Errorf("no job %d", id)
	}
	return j, nil
}

// lastJob finds the highest job id (ids are 1..n with no gaps).
func (e *dataEnv) lastJob(ctx context.Context) (uint64, error) {
	exists := func(id uint64) (bool, error) {
		j, err := e.job(ctx, id)
		return j != nil, err
	}
	hi := uint64(1)
	for {
		ok, err := exists(hi)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		hi *= 2
	}
	lo := hi / 2 // exists, or 0
	for lo+1 < hi {
		mid := (lo + hi) / 2
		ok, err := exists(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

func newModelRegisterCmd() *cobra.Command {
	f := &opmlFlags{}
	var fee uint64
	var trainedOn string
	cmd := &cobra.Command{
		Use:   "register model.pvm --from KEY --fee UPV [--trained-on ASSET:PCT,...]",
		Short: "Register a model on chain for optimistic jobs (id, signature, fee); the package goes to the local store",
		Args:  cobra.ExactArgs(1),
		RunE: opmlRun(f, true, func(ctx context.Context, e *dataEnv, cmd *cobra.Command, args []string) error {
			m, err := model.Load(args[0])
			if err != nil {
				return err
			}
			if err := f.storeDir().PutModel(m); err != nil {
				return fmt.Errorf("store model: %w", err)
			}
			if err := opmlstore.UploadModel(ctx, http.DefaultClient, e.c.Base(), m); err != nil {
				return fmt.Errorf("upload model package to the node: %w", err)
			}
			var lineage []tx.LineageShare
			if trainedOn != "" {
				if lineage, err = parseTrainedOn(trainedOn); err != nil {
					return err
				}
				if err := e.checkLineage(ctx, lineage); err != nil {
					return err
				}
			}
			msg := worker.RegisterModelMsg(m, fee)
			s, err := e.send(ctx, msg)
			if err != nil {
				return err
			}
			out := map[string]any{"model_id": m.IDString(), "fee": fee, "nodes": len(m.Nodes), "tx": s.Hash}
			text := fmt.Sprintf("registered model %s (%d nodes, fee %d %s) in tx %s\n", m.IDString(), len(m.Nodes), fee, app.Denom, s.Hash)
			if lineage != nil {
				lt, err := e.declareLineage(ctx, m.ID(), lineage)
				if err != nil {
					return err
				}
				out["trained_on"], text = lineage, text+lt
			}
			return printOut(cmd, f.json, out, text)
		}),
	}
	f.add(cmd, true)
	cmd.Flags().Uint64Var(&fee, "fee", 0, "fee in upv each job pays the model owner")
	cmd.Flags().StringVar(&trainedOn, "trained-on", "", "datasets the model was trained on and their share of every model fee, ASSET:PERCENT,... (recorded once, cannot change)")
	return cmd
}

func newJobCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "job", Short: "Submit and inspect verified inference jobs: optimistic, tee or zk (see docs/opml.md)"}
	cmd.AddCommand(newJobSubmitCmd(), newJobShowCmd(), newJobOutputCmd(), newJobDeliverCmd())
	return cmd
}

func newJobSubmitCmd() *cobra.Command {
	f := &opmlFlags{}
	var (
		modelID   string
		inputs    []string
		workerFee uint64
		mode      string
		wait      bool
		green     bool
		maxUg     uint64
		estWh     uint64
		deferFor  string
	)
	cmd := &cobra.Command{
		Use:   "submit --model ID --input x.npy --from KEY [--mode optimistic|tee|zk] [--worker-fee UPV] [--wait]",
		Short: "Escrow the payment and ask for one inference in a verification mode",
		Long: `Escrow the payment and ask for one inference.

--mode optimistic (default): the input is stored in plaintext in the local
store and at the node, by its inputs root, because watchers must re-execute
the job to dispute a wrong result; the result is final after the challenge
window.
--mode tee: only a worker with a fresh attestation for the model is drawn;
the input is sealed (age) to its enclave's attested key and only the
ciphertext is stored; the signed result is final in its block.
--mode zk: only the model's registered prover is drawn; the input is sealed
to it, the chain sees a commitment; the proof is verified on chain and the
result is final in its block.
In tee and zk modes no node stores the input or the output in plaintext;
read the output with 'job output ID -o y.npy --from KEY' (the requester's key).`,
		Args: cobra.NoArgs,
		RunE: opmlRun(f, true, func(ctx context.Context, e *dataEnv, cmd *cobra.Command, args []string) error {
			var id [32]byte
			if b, err := hex.DecodeString(modelID); err != nil || len(b) != 32 {
				return fmt.Errorf("--model must be a 64-character hex model id")
			} else {
				copy(id[:], b)
			}
			st := f.storeDir()
			m, err := f.fetcher(e).Model(ctx, id)
			if err != nil {
				return fmt.Errorf("the model package must be in the local store or on the node (model register puts it in both): %w", err)
			}
			in, err := loadModelInputs(m, inputs)
			if err != nil {
				return err
			}
			if mode != app.JobModeOptimistic {
				if green || maxUg > 0 || estWh > 0 || deferFor != "" {
					return fmt.Errorf("--green, --max-gco2-ug, --estimate-wh and --defer-until apply to optimistic jobs only")
				}
				return submitPrivate(ctx, cmd, f, e, mode, m, in, workerFee, wait)
			}
			root, err := st.PutInputs(m, in)
			if err != nil {
				return err
			}
			if err := uploadInputs(ctx, e.c.Base(), m, in); err != nil {
				return err
			}
			deferHours, err := parseDeferHours(deferFor)
			if err != nil {
				return err
			}
			var submit tx.Msg = tx.MsgSubmitJob{ModelID: id, InputsRoot: root, WorkerFee: workerFee, Green: green, MaxGCO2Ug: maxUg, EstimateWh: estWh}
			if deferHours > 0 {
				submit = tx.MsgEnergySubmitDeferred{DeferHours: deferHours, Job: submit.(tx.MsgSubmitJob)}
			}
			s, err := e.send(ctx, submit)
			if err != nil {
				return err
			}
			jobID, err := e.findJob(ctx, root)
			if err != nil {
				return err
			}
			j, err := e.job(ctx, jobID)
			if err != nil {
				return err
			}
			for wait && j.State != app.OpmlJobFinal && j.State != app.OpmlJobRefunded {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Second):
				}
				if j, err = e.job(ctx, jobID); err != nil {
					return err
				}
			}
			out := map[string]any{"job": jobID, "inputs_root": hex.EncodeToString(root[:]), "tx": s.Hash, "state": j.State}
			return printOut(cmd, f.json, out, fmt.Sprintf("job %d (%s), inputs root %x, tx %s\n", jobID, j.State, root, s.Hash))
		}),
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&modelID, "model", "", "model id (hex)")
	cmd.Flags().StringSliceVar(&inputs, "input", nil, "input .npy/.json (or name=path), repeatable")
	cmd.Flags().Uint64Var(&workerFee, "worker-fee", 100, "fee in upv for the worker, on top of the model fee")
	cmd.Flags().StringVar(&mode, "mode", app.JobModeOptimistic, "verification mode: optimistic (input public, final after the challenge window), tee or zk (input sealed, final at once)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the job is final or refunded")
	cmd.Flags().BoolVar(&green, "green", false, "only workers holding certified green energy for the job's hour (docs/energy.md)")
	cmd.Flags().Uint64Var(&maxUg, "max-gco2-ug", 0, "only workers whose grid intensity keeps the job under this many µgCO2e (0: no limit)")
	cmd.Flags().Uint64Var(&estWh, "estimate-wh", 0, "the job's energy estimate in Wh, needed with --green or --max-gco2-ug")
	cmd.Flags().StringVar(&deferFor, "defer-until", "", "let the job wait up to this many whole hours (e.g. 6h, block time) for the lowest posted grid intensity of the worker's zone")
	cmd.MarkFlagRequired("model")
	cmd.MarkFlagRequired("input")
	return cmd
}

// findJob finds the newest job of the sender with the given inputs root.
func (e *dataEnv) findJob(ctx context.Context, root [32]byte) (uint64, error) {
	last, err := e.lastJob(ctx)
	if err != nil {
		return 0, err
	}
	for id := last; id > 0 && id+64 > last; id-- {
		j, err := e.job(ctx, id)
		if err != nil {
			return 0, err
		}
		if j != nil && j.Requester == e.me && [32]byte(j.InputsRoot) == root {
			return id, nil
		}
	}
	return 0, errors.New("submitted job not found among the newest 64 jobs")
}

func newJobShowCmd() *cobra.Command {
	f := &opmlFlags{}
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a job: state, result commitment, disputes, payouts",
		Args:  cobra.ExactArgs(1),
		RunE: opmlRun(f, false, func(ctx context.Context, e *dataEnv, cmd *cobra.Command, args []string) error {
			j, err := e.jobArg(ctx, args[0])
			if err != nil {
				return err
			}
			sum, err := e.modeSummary(ctx, j)
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(struct {
				*app.OpmlJob
				Summary *jobModeSummary `json:"summary"`
			}{j, sum}, "", "  ")
			if err != nil {
				return err
			}
			if f.json {
				_, err = fmt.Fprintln(cmd.OutOrStdout(), string(b))
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "job %d: %s\n  model %s, requester %s, worker %s\n  escrow %d + %d %s\n", j.ID, j.State, j.ModelID, j.Requester, j.Worker, j.ModelFee, j.WorkerFee, app.Denom)
			printModeSummary(w, sum)
			if j.Posted > 0 {
				fmt.Fprintf(w, "  result at %d\n", j.Posted)
				for k, r := range j.OutputRoots {
					fmt.Fprintf(w, "  output %d root %s\n", k, r)
				}
				if j.TraceRoot != (app.OpmlHash{}) {
					fmt.Fprintf(w, "  worker's trace root %s (committed when challenged)\n", j.TraceRoot)
				}
			}
			if j.Game != nil {
				fmt.Fprintf(w, "  dispute with %s: stage %s, %s to move by %d, %d moves\n", j.Challenger, j.Game.Stage, j.Game.Turn, j.Game.Deadline, j.Game.Moves)
			}
			for _, d := range j.Disputes {
				fmt.Fprintf(w, "  dispute %d-%d with %s: %s won after %d moves: %s\n", d.Started, d.Ended, d.Challenger, d.Winner, d.Moves, d.Reason)
			}
			for _, p := range j.Payouts {
				fmt.Fprintf(w, "  paid %d %s to %s: %s\n", p.Amount, app.Denom, p.To, p.Why)
			}
			if j.Burned > 0 {
				fmt.Fprintf(w, "  burned %d %s\n", j.Burned, app.Denom)
			}
			printJobEnergy(w, j)
			return nil
		}),
	}
	f.add(cmd, false)
	return cmd
}

// uploadInputs puts a job input on the node, first uploading the model
// package when the node does not have it.
func uploadInputs(ctx context.Context, base string, m *model.Model, in map[string]*tensor.Tensor) error {
	_, err := opmlstore.UploadInputs(ctx, http.DefaultClient, base, m, in)
	var oe *opmlstore.Error
	if errors.As(err, &oe) && oe.Code == "unknown_model" {
		if err := opmlstore.UploadModel(ctx, http.DefaultClient, base, m); err != nil {
			return fmt.Errorf("upload model package to the node: %w", err)
		}
		_, err = opmlstore.UploadInputs(ctx, http.DefaultClient, base, m, in)
	}
	if err != nil {
		return fmt.Errorf("upload job input to the node: %w", err)
	}
	return nil
}

func printOut(cmd *cobra.Command, asJSON bool, v any, text string) error {
	return emit(cmd.OutOrStdout(), asJSON, v, func(w io.Writer) { fmt.Fprint(w, text) })
}

func newJobOutputCmd() *cobra.Command {
	f := &opmlFlags{}
	var (
		out   string
		index int
	)
	cmd := &cobra.Command{
		Use:   "output ID -o y.npy [--index K]",
		Short: "Fetch a job's output from the store and check it against the root committed on chain",
		Args:  cobra.ExactArgs(1),
		RunE: opmlRun(f, false, func(ctx context.Context, e *dataEnv, cmd *cobra.Command, args []string) error {
			j, err := e.jobArg(ctx, args[0])
			if err != nil {
				return err
			}
			id := j.ID
			if j.IsPrivate() {
				res, text, err := privateOutput(ctx, f, e, j, index, out)
				if err != nil {
					return err
				}
				return printOut(cmd, f.json, res, text)
			}
			if index < 0 || index >= len(j.OutputRoots) {
				return fmt.Errorf("job %d has %d committed outputs (state %s)", id, len(j.OutputRoots), j.State)
			}
			root := [32]byte(j.OutputRoots[index])
			t, err := f.fetcher(e).Output(ctx, root)
			if err != nil {
				return err
			}
			fo, err := os.Create(out)
			if err != nil {
				return err
			}
			err = npy.Write(fo, t)
			if cerr := fo.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			res := map[string]any{"job": id, "state": j.State, "output": index, "root": hex.EncodeToString(root[:]), "shape": t.Shape, "path": out, "verified": true}
			return printOut(cmd, f.json, res, fmt.Sprintf("job %d output %d %v written to %s; its root %x matches the chain (job %s)\n", id, index, t.Shape, out, root, j.State))
		}),
	}
	f.add(cmd, false)
	cmd.Flags().StringVar(&f.from, "from", "", "the requester's key: tee and zk outputs are sealed to it")
	cmd.Flags().StringVarP(&out, "output", "o", "", "where to write the .npy")
	cmd.Flags().IntVar(&index, "index", 0, "which graph output")
	cmd.MarkFlagRequired("output")
	return cmd
}
