package cli

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/provena/provena/model"
	"github.com/provena/provena/tensor"
	"github.com/provena/provena/zk"
)

func init() { benchCommands = append(benchCommands, newBenchZkCmd) }

type benchZkReport struct {
	Model      string            `json:"model"`
	ModelID    string            `json:"model_id"`
	MACs       int64             `json:"macs"`
	GOMAXPROCS int               `json:"gomaxprocs"`
	Results    []*zk.BenchResult `json:"results"`
}

func newBenchZkCmd() *cobra.Command {
	var (
		systems, visList, input string
		asJSON                  bool
	)
	cmd := &cobra.Command{
		Use:   "zk m.q.pvm [--system groth16[,plonk]] [--visibility V[;V...]] [--input x.npy]",
		Short: "Circuit size and Groth16/PLONK compile, setup, prove and verify time, proof size, peak memory",
		Long: `Compiles the quantized model's core for each proof system and visibility,
runs a single-party (insecure, benchmark-only) setup, proves one input and
verifies it (best of 5), and prints constraints, constraints per
multiply-accumulate, times, sizes and the process's peak RSS (VmHWM, which
only grows: later rows include earlier peaks). Visibilities are separated by
';' (default: the chain's, input=hashed,weights=committed,output=public,
Groth16 only: committed weights are a Pedersen commitment inside the Groth16
proof; give PLONK another weights visibility).
Without --input the input is deterministic pseudo-random in [-1, 1].
PLONK pays for additions, so its circuits are several times larger: on the
MNIST MLP with hashed or private weights expect minutes and several GB
(docs/zk.md).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := model.Load(args[0])
			if err != nil {
				return fmt.Errorf("bench zk: load model %s: %w", args[0], err)
			}
			g, err := zk.FromModel(m)
			if err != nil {
				return fmt.Errorf("bench zk: %w", err)
			}
			var x *tensor.Tensor
			if input != "" {
				if x, err = loadModelInput(input, m.Inputs[0]); err != nil {
					return fmt.Errorf("bench zk: --input %s: %w", input, err)
				}
			} else {
				if x, err = tensor.New(m.Inputs[0].DType, m.Inputs[0].Shape); err != nil {
					return fmt.Errorf("bench zk: input: %w", err)
				}
				r := rand.New(rand.NewPCG(1, 1))
				for i := range x.F32 {
					x.F32[i] = r.Float32()*2 - 1
				}
			}
			xq, err := zk.QuantizeInput(m, x)
			if err != nil {
				return fmt.Errorf("bench zk: %w", err)
			}
			progress := zkProgress(asJSON)
			rep := benchZkReport{Model: args[0], ModelID: m.IDString(), MACs: g.MACs(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
			for _, vs := range strings.Split(visList, ";") {
				vis, err := zk.ParseVisibility(vs)
				if err != nil {
					return fmt.Errorf("bench zk: --visibility: %w", err)
				}
				for _, sys := range strings.Split(systems, ",") {
					sys = strings.TrimSpace(sys)
					r, err := zk.Bench(g, vis, sys, xq, func(s string) { progress(vis.String() + " " + s) })
					if err != nil {
						return fmt.Errorf("bench zk %s %v: %w", sys, vis, err)
					}
					rep.Results = append(rep.Results, r)
				}
			}
			return emit(cmd.OutOrStdout(), asJSON, rep, func(w io.Writer) { printBenchZk(w, rep) })
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&systems, "system", zk.Groth16, "proof systems, comma-separated (groth16, plonk)")
	fl.StringVar(&visList, "visibility", zk.ChainVisibility.String(), "visibilities, ';'-separated")
	fl.StringVar(&input, "input", "", "input .npy (default: deterministic pseudo-random)")
	fl.BoolVar(&asJSON, "json", false, "print JSON, no progress")
	return cmd
}

func printBenchZk(w io.Writer, rep benchZkReport) {
	fmt.Fprintf(w, "%s (%s): %d multiply-accumulates, GOMAXPROCS %d; setup is single-party (benchmark only)\n", rep.Model, short(rep.ModelID), rep.MACs, rep.GOMAXPROCS)
	fmt.Fprintf(w, "%-8s %-46s %11s %8s %9s %9s %9s %9s %7s %10s %9s\n", "system", "visibility", "constraints", "c/MAC", "compile", "setup", "prove", "verify", "proof", "pk", "peak RSS")
	ms := func(d time.Duration) string {
		if d < 10*time.Millisecond {
			return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
		}
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
	mb := func(n uint64) string { return fmt.Sprintf("%.1fMB", float64(n)/(1<<20)) }
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%-8s %-46s %11d %8.3f %9s %9s %9s %9s %6dB %10s %9s\n", r.System, r.Visibility, r.Constraints, r.ConstraintsPerMAC,
			ms(r.Compile), ms(r.Setup), ms(r.Prove), ms(r.Verify), r.ProofBytes, mb(uint64(r.PKBytes)), mb(r.PeakRSS))
	}
}
