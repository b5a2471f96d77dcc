package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/consensys/gnark/logger"
	"github.com/spf13/cobra"

	"github.com/provena/provena/model"
	"github.com/provena/provena/opml/opmltest"
	"github.com/provena/provena/tensor"
	"github.com/provena/provena/worker"
)

func init() { benchCommands = append(benchCommands, newBenchModesCmd) }

// benchModeRow is one mode's submit-to-final figures.
type benchModeRow struct {
	Mode      string  `json:"mode"`
	Simulated bool    `json:"simulated,omitempty"`
	Blocks    int64   `json:"blocks"`
	ComputeMs float64 `json:"in_process_ms"`
	// EstimateS is Blocks × the block time plus the in-process time: what a
	// requester waits on a chain with that block time.
	EstimateS float64 `json:"estimate_s"`
	Txs       int     `json:"txs"`
	Trusted   string  `json:"trusted"`
}

func newBenchModesCmd() *cobra.Command {
	var (
		modelPath string
		inputs    []string
		zkPaths   []string
		blockTime time.Duration
		asJSON    bool
		devSetup  bool
		system    string
	)
	cmd := &cobra.Command{
		Use:   "modes [--model m.pvm --input x.npy] [--zk m.zk] [--block-time 1s]",
		Short: "Submit-to-final latency of one job in each verification mode (optimistic, tee, zk) on the same model, side by side",
		Long: `Registers the model once on an in-process chain and runs one job in each
mode with real workers: optimistic (final after the challenge window), tee (a
SIMULATED enclave: sealed input, signed result, final in its block) and, with
--zk, zk (proved by the owner's worker, verified on chain). Prints the blocks
from submission to finality, the in-process wall time (execution, sealing,
proving, verification), and the latency on a chain whose blocks take
--block-time. Without --model it uses the opML test model; zk needs a
quantized model and its artifact.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var (
				m   *model.Model
				in  map[string]*tensor.Tensor
				err error
			)
			if modelPath == "" {
				if m, err = opmltest.Model(); err != nil {
					return err
				}
				in = opmltest.Input(7)
			} else {
				if m, err = model.Load(modelPath); err != nil {
					return err
				}
				if in, err = loadModelInputs(m, inputs); err != nil {
					return err
				}
			}
			var zk *worker.ZkSetup
			switch {
			case len(zkPaths) > 0 && devSetup:
				return fmt.Errorf("give --zk or --insecure-dev-setup, not both")
			case len(zkPaths) > 0:
				if zk, err = zkSetupFor(zkPaths[0], m); err != nil {
					return err
				}
			case devSetup:
				logger.Disable() // gnark logs every solve and prove at debug level
				start := time.Now()
				if !asJSON {
					fmt.Fprintf(cmd.ErrOrStderr(), "zk: compiling the circuit and running a single-party %s setup (INSECURE: for benchmarks only)…\n", system)
				}
				if zk, err = worker.InsecureDevZkSetup(m, system); err != nil {
					return err
				}
				if !asJSON {
					fmt.Fprintf(cmd.ErrOrStderr(), "zk: setup took %s (not counted below)\n", time.Since(start).Round(time.Millisecond))
				}
			}
			logf := func(string, ...any) {}
			if !asJSON {
				logf = func(format string, a ...any) { fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", a...) }
			}
			runs, err := worker.ModesDemo(m, in, zk, logf)
			if err != nil {
				return err
			}
			var rows []benchModeRow
			for _, r := range runs {
				row := benchModeRow{Mode: r.Mode, Blocks: r.Blocks, ComputeMs: float64(r.Wall.Microseconds()) / 1000, Txs: r.Txs, Trusted: modeTrust(r.Job)}
				row.Simulated = r.Job.Private != nil && r.Job.Private.Tee != nil && r.Job.Private.Tee.Simulated
				row.EstimateS = float64(r.Blocks)*blockTime.Seconds() + r.Wall.Seconds()
				rows = append(rows, row)
			}
			return emit(cmd.OutOrStdout(), asJSON, rows, func(w io.Writer) {
				fmt.Fprintf(w, "model %s (%d nodes); latency at %s blocks\n", m.IDString(), len(m.Nodes), blockTime)
				fmt.Fprintf(w, "%-12s %8s %14s %14s %5s\n", "mode", "blocks", "in-process ms", "latency s", "txs")
				for _, r := range rows {
					mode := r.Mode
					if r.Simulated {
						mode += " (SIM)"
					}
					fmt.Fprintf(w, "%-12s %8d %14.1f %14.1f %5d\n", mode, r.Blocks, r.ComputeMs, r.EstimateS, r.Txs)
				}
				if zk == nil {
					fmt.Fprintln(w, "zk           not run: needs a quantized model and its artifact (--zk m.zk, or --insecure-dev-setup)")
				}
			})
		},
	}
	cmd.Flags().StringVar(&modelPath, "model", "", "model package (.pvm); default: the opML test model")
	cmd.Flags().StringSliceVar(&inputs, "input", nil, "input .npy (or name=path), with --model")
	cmd.Flags().StringSliceVar(&zkPaths, "zk", nil, "the model's .zk artifact, to run the zk job too")
	cmd.Flags().DurationVar(&blockTime, "block-time", time.Second, "block time of the chain the latency is estimated for")
	cmd.Flags().BoolVar(&devSetup, "insecure-dev-setup", false, "run the zk job after a single-party setup of the model's circuit (whoever runs it can forge proofs: benchmarks only)")
	cmd.Flags().StringVar(&system, "system", "groth16", "proof system with --insecure-dev-setup: groth16 or plonk")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
