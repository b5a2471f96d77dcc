package cli

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/provena/provena/app"
	"github.com/provena/provena/model"
	"github.com/provena/provena/opmlstore"
	"github.com/provena/provena/tensor"
	"github.com/provena/provena/tx"
	"github.com/provena/provena/worker"
)

func init() { commands = append(commands, newWorkerCmd, newWatcherCmd) }

// nodeClient is worker.Client over a node: queries through CometBFT's RPC,
// transactions through the node's API, packages and inputs from the local
// store or, when it lacks them, fetched from the node's (and --peers')
// opML routes, checked against the model id or inputs root and cached.
type nodeClient struct {
	ctx   context.Context
	e     *dataEnv
	store opmlStore
	fetch *opmlstore.Fetcher
}

var _ worker.Client = (*nodeClient)(nil)

func (c *nodeClient) Address() tx.Address { return c.e.me }

func (c *nodeClient) Height() (int64, error) {
	st, err := c.e.c.Status(c.ctx)
	return st.LatestHeight, err
}

func (c *nodeClient) Job(id uint64) (*app.OpmlJob, error) { return c.e.job(c.ctx, id) }

func (c *nodeClient) Worker(a tx.Address) (*app.OpmlWorker, error) {
	var w *app.OpmlWorker
	err := c.e.query(c.ctx, app.QueryOpmlWorker, a.String(), &w)
	return w, err
}

func (c *nodeClient) Send(msg tx.Msg) error {
	// Not waiting keeps a party responsive; the loop re-sends a move that
	// does not show up within a few blocks.
	_, err := c.e.c.Send(c.ctx, c.e.priv, c.e.fee, msg, false)
	if err != nil {
		return fmt.Errorf("%s: %w", tx.MsgName(msg.Type()), err)
	}
	return nil
}

func (c *nodeClient) Model(id [32]byte) (*model.Model, error) { return c.fetch.Model(c.ctx, id) }

func (c *nodeClient) ModelRecord(id [32]byte) (*app.OpmlModel, error) {
	var m *app.OpmlModel
	err := c.e.query(c.ctx, app.QueryOpmlModel, hex.EncodeToString(id[:]), &m)
	return m, err
}

// PutOutput implements worker.OutputStore: the output goes to the local
// store and to the node, where the requester can fetch it.
func (c *nodeClient) PutOutput(root [32]byte, t *tensor.Tensor) error {
	if err := c.store.PutOutput(root, t); err != nil {
		return err
	}
	if err := opmlstore.UploadOutput(c.ctx, http.DefaultClient, c.e.c.Base(), root, t); err != nil {
		return fmt.Errorf("upload output to the node: %w", err)
	}
	return nil
}

func (c *nodeClient) Inputs(root [32]byte) (map[string]*tensor.Tensor, error) {
	return c.fetch.Inputs(c.ctx, root)
}

// parseFault reads --fault: corrupt:NODE:ELEM, garble:NODE, silent[:AFTER],
// noresult.
func parseFault(s string) (worker.Fault, error) {
	var f worker.Fault
	if s == "" {
		return f, nil
	}
	parts := strings.Split(s, ":")
	num := func(i int) (int, error) {
		if i >= len(parts) {
			return 0, fmt.Errorf("--fault %q: missing number", s)
		}
		return strconv.Atoi(parts[i])
	}
	var err error
	switch parts[0] {
	case "corrupt":
		f.Corrupt = true
		if f.Node, err = num(1); err == nil {
			f.Elem, err = num(2)
		}
	case "garble":
		f.Garble = true
		f.Node, err = num(1)
	case "silent":
		f.Corrupt, f.SilentInDispute = true, true
		if len(parts) > 1 {
			f.SilentAfter, err = num(1)
		}
	case "noresult":
		f.NoResult = true
	default:
		return f, fmt.Errorf("--fault %q: want corrupt:NODE:ELEM, garble:NODE, silent[:MOVES] or noresult", s)
	}
	return f, err
}

func runParty(ctx context.Context, cmd *cobra.Command, interval time.Duration, step func() error) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(format string, args ...any) {
		fmt.Fprintf(cmd.ErrOrStderr(), time.Now().Format("15:04:05 ")+format+"\n", args...)
	}
	worker.Run(ctx, interval, step, logf)
	return nil
}

func newWorkerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "worker", Short: "Run an opML worker"}
	f := &opmlFlags{}
	var (
		bond     uint64
		interval time.Duration
		fault    string
		pf       privateFlags
	)
	start := &cobra.Command{
		Use:   "start --from KEY [--bond UPV] [--tee sim|tdx|sev-snp|nitro [--model ID --simulate LABEL | --quote FILE]] [--zk m.zk]",
		Short: "Bond (if --bond), then run assigned jobs, post results and defend them until interrupted",
		Long: `Bond (if --bond), then run assigned jobs until interrupted: optimistic jobs
(post the trace commitment, defend disputes) and, with --tee or --zk, the
private modes: open the input sealed to this worker, run (tee: sign the
result with the attested key) or prove (zk), seal the outputs to the
requester. With --tee and --model, first post the attestation (--simulate
LABEL: a SIMULATED quote; --quote FILE: a real one). --zk m.zk serves zk
jobs of the artifact's model: this must be the prover 'zk register' named.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			flt, err := parseFault(fault)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			e, err := f.env(ctx, true)
			if err != nil {
				return err
			}
			c := &nodeClient{ctx: ctx, e: e, store: f.storeDir(), fetch: f.fetcher(e)}
			if bond > 0 {
				if _, err := e.send(ctx, tx.MsgRegisterWorker{Bond: bond}); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "worker %s: bonded %d %s\n", e.me, bond, app.Denom)
			}
			w := worker.NewWorker(c, flt, func(format string, args ...any) {
				fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", args...)
			})
			if err := pf.setup(ctx, cmd, e, w); err != nil {
				return err
			}
			return runParty(ctx, cmd, interval, w.Step)
		},
	}
	f.add(start, true)
	start.Flags().Uint64Var(&bond, "bond", 0, "upv to add to the worker bond before starting")
	start.Flags().DurationVar(&interval, "interval", time.Second, "poll interval")
	start.Flags().StringVar(&fault, "fault", "", "make the worker lie, for tests and demos: corrupt:NODE:ELEM, garble:NODE, silent[:MOVES], noresult")
	pf.add(start)
	cmd.AddCommand(start)
	return cmd
}

func newWatcherCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "watcher", Short: "Run an opML watcher"}
	f := &opmlFlags{}
	var interval time.Duration
	start := &cobra.Command{
		Use:   "start --from KEY",
		Short: "Re-execute posted results, challenge wrong ones and play the disputes until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			e, err := f.env(ctx, true)
			if err != nil {
				return err
			}
			c := &nodeClient{ctx: ctx, e: e, store: f.storeDir(), fetch: f.fetcher(e)}
			w := worker.NewWatcher(c, func(format string, args ...any) {
				fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", args...)
			})
			return runParty(ctx, cmd, interval, w.Step)
		},
	}
	f.add(start, true)
	start.Flags().DurationVar(&interval, "interval", time.Second, "poll interval")
	cmd.AddCommand(start)
	return cmd
}
