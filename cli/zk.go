package cli

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/consensys/gnark/constraint"
	"github.com/spf13/cobra"

	"github.com/provena/provena/model"
	"github.com/provena/provena/zk"
)

// `provena zk setup|prove|verify|ceremony`: offline zkML (package zk).
// cli/zk_chain.go adds the on-chain subcommands to the same zk command.
func init() {
	commands = append(commands, func() *cobra.Command {
		cmd := &cobra.Command{
			Use:   "zk",
			Short: "Zero-knowledge proofs of quantized inference: setup, prove, verify (docs/zk.md)",
		}
		cmd.AddCommand(newZkSetupCmd(), newZkProveCmd(), newZkVerifyCmd(), newZkCeremonyCmd())
		return cmd
	})
}

// zkProgress prints steps with elapsed time on a terminal, nothing with --json.
func zkProgress(asJSON bool) func(string) {
	if asJSON || !benchIsTerminal(os.Stderr) {
		return func(string) {}
	}
	start := time.Now()
	return func(s string) { fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), s) }
}

type zkSetupOut struct {
	Artifact      string  `json:"artifact"`
	System        string  `json:"system"`
	Visibility    string  `json:"visibility"`
	Setup         string  `json:"setup"`
	Constraints   int     `json:"constraints"`
	WeightsCommit string  `json:"weights_commit"`
	WeightsPoint  string  `json:"weights_point,omitempty"`
	VKBytes       int     `json:"vk_bytes"`
	VK            string  `json:"vk_hex"`
	PKBytes       int     `json:"pk_bytes"`
	Seconds       float64 `json:"seconds"`
}

func newZkSetupCmd() *cobra.Command {
	var (
		vis, system, out, ceremony, beacon string
		insecure, asJSON                   bool
	)
	cmd := &cobra.Command{
		Use:   "setup m.q.pvm -o m.zk [--visibility input=hashed,weights=committed,output=public] [--system groth16|plonk] (--insecure-dev-setup | --ceremony DIR --beacon HEX)",
		Short: "Compile a quantized model's integer core to a circuit and make its proving and verifying keys",
		Long: `Compiles the integer core of a quantized model (provena model quantize) to a
gnark circuit and makes its keys. Visibility per tensor group: public (known
to the verifier; public weights are compiled into the circuit), private,
hashed (private, with a public Poseidon2 commitment), or, for the weights
with Groth16 only, committed (private, bound by the Pedersen commitment
inside every proof, blinded with a secret drawn here and kept in m.zk:
keep the artifact to yourself). Chain jobs use
input=hashed,weights=committed,output=public (the default).

Keys need a trusted setup. --insecure-dev-setup makes them alone, in this
process: whoever runs it can forge proofs (development only). For Groth16,
--ceremony DIR takes a multi-party transcript made with provena zk ceremony
(phase 1 sealed, phase 2 contributions), verifies every contribution and seals
phase 2 with --beacon. PLONK here has only the insecure option (gnark makes a
KZG SRS only from a known secret); see docs/zk.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("zk setup: -o m.zk is required")
			}
			v, err := zk.ParseVisibility(vis)
			if err != nil {
				return fmt.Errorf("zk setup: --visibility: %w", err)
			}
			m, err := model.Load(args[0])
			if err != nil {
				return fmt.Errorf("zk setup: load model %s: %w", args[0], err)
			}
			opts := zk.SetupOptions{System: system, Vis: v, InsecureDevSetup: insecure, Progress: zkProgress(asJSON)}
			if ceremony != "" {
				if insecure {
					return fmt.Errorf("zk setup: give --ceremony or --insecure-dev-setup, not both")
				}
				b, err := hex.DecodeString(beacon)
				if err != nil || len(b) == 0 {
					return fmt.Errorf("zk setup: --ceremony needs --beacon HEX (public randomness drawn after the last contribution)")
				}
				c, cv, err := loadCeremony(ceremony)
				if err != nil {
					return fmt.Errorf("zk setup: %w", err)
				}
				if !cmd.Flags().Changed("visibility") {
					if opts.Vis, err = zk.ParseVisibility(cv); err != nil {
						return fmt.Errorf("zk setup: ceremony visibility: %w", err)
					}
				}
				c.Beacon2 = b
				opts.Ceremony = c
			}
			start := time.Now()
			a, err := zk.Setup(m, opts)
			if err != nil {
				return fmt.Errorf("zk setup %s: %w", args[0], err)
			}
			if err := a.Save(out); err != nil {
				return err
			}
			r := zkSetupOut{Artifact: out, System: a.System, Visibility: a.Vis.String(), Setup: a.SetupInfo,
				Constraints: a.CCS.GetNbConstraints(), WeightsCommit: a.WeightsCommit.String(),
				VKBytes: len(a.VK), VK: hex.EncodeToString(a.VK), PKBytes: len(a.PK), Seconds: time.Since(start).Seconds()}
			if a.Vis.Weights == zk.VisCommitted {
				r.WeightsPoint = a.WeightsPoint.String()
			}
			return emit(cmd.OutOrStdout(), asJSON, r, func(w io.Writer) {
				fmt.Fprintf(w, "wrote %s: %s, %s, %d constraints, %.1f s\n", out, r.System, r.Visibility, r.Constraints, r.Seconds)
				fmt.Fprintf(w, "  setup:          %s\n", r.Setup)
				if r.WeightsPoint != "" {
					fmt.Fprintf(w, "  weights point:  %s (Pedersen, in every proof; registered on chain)\n", r.WeightsPoint)
				} else {
					fmt.Fprintf(w, "  weights commit: %s\n", r.WeightsCommit)
				}
				fmt.Fprintf(w, "  keys:           proving %d bytes, verifying %d bytes\n", r.PKBytes, r.VKBytes)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&out, "output", "o", "", "artifact file to write (m.zk)")
	fl.StringVar(&vis, "visibility", zk.ChainVisibility.String(), "per tensor group: public, private, hashed; weights also committed (groth16)")
	fl.StringVar(&system, "system", zk.Groth16, "proof system: groth16 or plonk")
	fl.BoolVar(&insecure, "insecure-dev-setup", false, "single-party setup: whoever runs it can forge proofs (development only)")
	fl.StringVar(&ceremony, "ceremony", "", "Groth16 ceremony directory (provena zk ceremony)")
	fl.StringVar(&beacon, "beacon", "", "hex public random beacon sealing phase 2 (with --ceremony)")
	fl.BoolVar(&asJSON, "json", false, "print JSON, no progress")
	return cmd
}

type zkProveOut struct {
	Proof         string  `json:"proof"`
	System        string  `json:"system"`
	Visibility    string  `json:"visibility"`
	WeightsCommit string  `json:"weights_commit,omitempty"`
	WeightsPoint  string  `json:"weights_point,omitempty"`
	InputCommit   string  `json:"input_commit,omitempty"`
	OutputCommit  string  `json:"output_commit,omitempty"`
	Output        []int64 `json:"output,omitempty"`
	ProofBytes    int     `json:"proof_bytes"`
	ProveSeconds  float64 `json:"prove_seconds"`
}

func proveOut(path string, p *zk.Proof, secs float64) zkProveOut {
	r := zkProveOut{Proof: path, System: p.System, Visibility: p.Vis.String(), Output: p.Output, ProofBytes: len(p.Bytes), ProveSeconds: secs}
	if p.Vis.Weights == zk.VisHashed {
		r.WeightsCommit = p.WeightsCommit.String()
	}
	if p.Vis.Weights == zk.VisCommitted {
		r.WeightsPoint = p.WeightsPoint.String()
	}
	if p.Vis.Input == zk.VisHashed {
		r.InputCommit = p.InputCommit.String()
	}
	if p.Vis.Output == zk.VisHashed {
		r.OutputCommit = p.OutputCommit.String()
	}
	return r
}

func newZkProveCmd() *cobra.Command {
	var (
		input, out string
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "prove m.zk --input x.npy -o x.proof",
		Short: "Run the quantized model on an input and prove the result",
		Long: `Runs the artifact's quantized model on --input (the float input of the model,
quantized by its QQuantize node, or an int8 .npy taken as the circuit input)
and writes a proof file with the public values of the artifact's visibility.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if input == "" || out == "" {
				return fmt.Errorf("zk prove: --input x.npy and -o x.proof are required")
			}
			progress := zkProgress(asJSON)
			progress("open " + args[0])
			a, err := zk.Open(args[0])
			if err != nil {
				return err
			}
			x, err := loadModelInput(input, a.Model.Inputs[0])
			if err != nil {
				return fmt.Errorf("zk prove: --input %s: %w", input, err)
			}
			// The proving key is decoded once per artifact (a worker keeps it
			// across jobs), so "proved in" times the proof alone.
			progress("decode the proving key")
			if _, err := a.Prover(); err != nil {
				return fmt.Errorf("zk prove: %w", err)
			}
			progress(fmt.Sprintf("prove (%s, %d constraints)", a.System, a.CCS.GetNbConstraints()))
			start := time.Now()
			p, err := a.Prove(x)
			if err != nil {
				return fmt.Errorf("zk prove: %w", err)
			}
			secs := time.Since(start).Seconds()
			if err := os.WriteFile(out, p.Encode(), 0o644); err != nil {
				return fmt.Errorf("zk prove: write %s: %w", out, err)
			}
			r := proveOut(out, p, secs)
			return emit(cmd.OutOrStdout(), asJSON, r, func(w io.Writer) {
				fmt.Fprintf(w, "wrote %s: %s proof, %d bytes, proved in %.2f s\n", out, r.System, r.ProofBytes, secs)
				printZkPublic(w, r)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&input, "input", "", "input .npy (float model input, or int8 circuit input)")
	fl.StringVarP(&out, "output", "o", "", "proof file to write")
	fl.BoolVar(&asJSON, "json", false, "print JSON, no progress")
	return cmd
}

func printZkPublic(w io.Writer, r zkProveOut) {
	if r.WeightsCommit != "" {
		fmt.Fprintf(w, "  weights commit: %s\n", r.WeightsCommit)
	}
	if r.WeightsPoint != "" {
		fmt.Fprintf(w, "  weights point:  %s\n", r.WeightsPoint)
	}
	if r.InputCommit != "" {
		fmt.Fprintf(w, "  input commit:   %s\n", r.InputCommit)
	}
	if r.OutputCommit != "" {
		fmt.Fprintf(w, "  output commit:  %s\n", r.OutputCommit)
	}
	if len(r.Output) > 0 {
		s := fmt.Sprint(r.Output)
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		fmt.Fprintf(w, "  output:         %s\n", s)
	}
}

func newZkVerifyCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify m.zk x.proof",
		Short: "Check a proof against an artifact's verifying key and weights commitment",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := zk.Open(args[0])
			if err != nil {
				return err
			}
			b, err := os.ReadFile(args[1])
			if err != nil {
				return fmt.Errorf("zk verify: %w", err)
			}
			p, err := zk.DecodeProof(b)
			if err != nil {
				return fmt.Errorf("zk verify %s: %w", args[1], err)
			}
			start := time.Now()
			verr := a.Verify(p)
			type out struct {
				Valid  bool       `json:"valid"`
				Error  string     `json:"error,omitempty"`
				MS     float64    `json:"verify_ms"`
				Public zkProveOut `json:"public"`
			}
			o := out{Valid: verr == nil, MS: float64(time.Since(start).Microseconds()) / 1000, Public: proveOut(args[1], p, 0)}
			if verr != nil {
				o.Error = verr.Error()
			}
			if err := emit(cmd.OutOrStdout(), asJSON, o, func(w io.Writer) {
				if verr == nil {
					fmt.Fprintf(w, "valid %s proof (%.2f ms)\n", p.System, o.MS)
					printZkPublic(w, o.Public)
				}
			}); err != nil {
				return err
			}
			if verr != nil {
				return fmt.Errorf("zk verify: invalid proof: %w", verr)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// A ceremony directory holds:
//
//	circuit.r1cs        the circuit (for committed, hashed or private weights it holds no weight)
//	ceremony.json       domain size, model id, visibility
//	phase1/NNNN.bin     phase-1 contributions in order
//	commons.bin         phase 1 sealed with its beacon
//	phase2/NNNN.bin     phase-2 contributions in order
type ceremonyInfo struct {
	Domain     uint64 `json:"domain"`
	ModelID    string `json:"model_id"`
	Visibility string `json:"visibility"`
	Beacon1    string `json:"beacon1,omitempty"`
}

func newZkCeremonyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ceremony",
		Short: "Groth16 multi-party trusted setup (gnark mpcsetup): init, contribute, seal phase 1",
		Long: `A Groth16 ceremony in a directory that the parties pass along:

  provena zk ceremony init m.q.pvm --dir D [--visibility ...]
  provena zk ceremony contribute D        # each party, in turn, on its own machine (phase 1)
  provena zk ceremony seal D --beacon HEX # verifies phase 1, seals it with a public beacon
  provena zk ceremony contribute D        # each party, in turn (phase 2)
  provena zk setup m.q.pvm --ceremony D --beacon HEX -o m.zk

Every contribution is verified when phase 1 is sealed and when setup reads
phase 2; the keys are sound if one contributor destroyed its randomness.`,
	}
	var vis, dir, beacon string
	var asJSON bool
	initCmd := &cobra.Command{
		Use:   "init m.q.pvm --dir D",
		Short: "Compile the circuit and start a ceremony directory",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return fmt.Errorf("zk ceremony init: --dir is required")
			}
			v, err := zk.ParseVisibility(vis)
			if err != nil {
				return err
			}
			m, err := model.Load(args[0])
			if err != nil {
				return fmt.Errorf("zk ceremony init: load model %s: %w", args[0], err)
			}
			g, err := zk.FromModel(m)
			if err != nil {
				return err
			}
			ccs, err := zk.Compile(g, v, zk.Groth16)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(dir, "phase1"), 0o755); err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(dir, "phase2"), 0o755); err != nil {
				return err
			}
			f, err := os.Create(filepath.Join(dir, "circuit.r1cs"))
			if err != nil {
				return err
			}
			if _, err := ccs.WriteTo(f); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			info := ceremonyInfo{Domain: zk.CeremonyDomain(ccs), ModelID: m.IDString(), Visibility: v.String()}
			if err := writeCeremonyInfo(dir, info); err != nil {
				return err
			}
			return emit(cmd.OutOrStdout(), asJSON, info, func(w io.Writer) {
				fmt.Fprintf(w, "ceremony in %s: %d constraints, phase-1 domain %d\n", dir, ccs.GetNbConstraints(), info.Domain)
			})
		},
	}
	initCmd.Flags().StringVar(&dir, "dir", "", "ceremony directory to create")
	initCmd.Flags().StringVar(&vis, "visibility", zk.ChainVisibility.String(), "visibility (as zk setup)")
	initCmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	contribute := &cobra.Command{
		Use:   "contribute D",
		Short: "Add this party's contribution (phase 1 until sealed, then phase 2)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d := args[0]
			info, err := readCeremonyInfo(d)
			if err != nil {
				return err
			}
			progress := zkProgress(asJSON)
			commons, cerr := os.ReadFile(filepath.Join(d, "commons.bin"))
			phase := 1
			if cerr == nil {
				phase = 2
			}
			files, err := ceremonyFiles(d, phase)
			if err != nil {
				return err
			}
			var prev []byte
			if len(files) > 0 {
				if prev, err = os.ReadFile(files[len(files)-1]); err != nil {
					return err
				}
			}
			progress(fmt.Sprintf("phase %d contribution %d", phase, len(files)+1))
			var next []byte
			if phase == 1 {
				next, err = zk.Phase1Contribute(info.Domain, prev)
			} else {
				ccs, lerr := loadCeremonyCircuit(d)
				if lerr != nil {
					return lerr
				}
				next, err = zk.Phase2Contribute(ccs, commons, prev)
			}
			if err != nil {
				return fmt.Errorf("zk ceremony contribute: %w", err)
			}
			path := filepath.Join(d, fmt.Sprintf("phase%d", phase), fmt.Sprintf("%04d.bin", len(files)+1))
			if err := os.WriteFile(path, next, 0o644); err != nil {
				return err
			}
			dg := zk.ContributionDigest(next)
			out := map[string]any{"phase": phase, "contribution": path, "sha256": hex.EncodeToString(dg[:])}
			return emit(cmd.OutOrStdout(), asJSON, out, func(w io.Writer) {
				fmt.Fprintf(w, "phase %d contribution %s (sha256 %x): publish this digest\n", phase, path, dg)
			})
		},
	}
	contribute.Flags().BoolVar(&asJSON, "json", false, "print JSON, no progress")

	seal := &cobra.Command{
		Use:   "seal D --beacon HEX",
		Short: "Verify every phase-1 contribution and seal phase 1 with a public random beacon",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d := args[0]
			b, err := hex.DecodeString(beacon)
			if err != nil || len(b) == 0 {
				return fmt.Errorf("zk ceremony seal: --beacon HEX is required")
			}
			info, err := readCeremonyInfo(d)
			if err != nil {
				return err
			}
			files, err := ceremonyFiles(d, 1)
			if err != nil {
				return err
			}
			var cs [][]byte
			for _, f := range files {
				c, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				cs = append(cs, c)
			}
			commons, err := zk.SealPhase1(info.Domain, b, cs)
			if err != nil {
				return fmt.Errorf("zk ceremony seal: %w", err)
			}
			if err := os.WriteFile(filepath.Join(d, "commons.bin"), commons, 0o644); err != nil {
				return err
			}
			info.Beacon1 = beacon
			if err := writeCeremonyInfo(d, info); err != nil {
				return err
			}
			return emit(cmd.OutOrStdout(), asJSON, map[string]any{"phase1_contributions": len(cs), "sealed": true}, func(w io.Writer) {
				fmt.Fprintf(w, "phase 1: %d contributions verified and sealed; phase 2 contributions may start\n", len(cs))
			})
		},
	}
	seal.Flags().StringVar(&beacon, "beacon", "", "hex public random beacon drawn after the last phase-1 contribution")
	seal.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(initCmd, contribute, seal)
	return cmd
}

func writeCeremonyInfo(dir string, info ceremonyInfo) error {
	b, _ := json.MarshalIndent(info, "", "  ")
	return os.WriteFile(filepath.Join(dir, "ceremony.json"), append(b, '\n'), 0o644)
}

func readCeremonyInfo(dir string) (ceremonyInfo, error) {
	var info ceremonyInfo
	b, err := os.ReadFile(filepath.Join(dir, "ceremony.json"))
	if err != nil {
		return info, fmt.Errorf("ceremony %s: %w (run provena zk ceremony init)", dir, err)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("ceremony %s: ceremony.json: %w", dir, err)
	}
	return info, nil
}

func ceremonyFiles(dir string, phase int) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(dir, fmt.Sprintf("phase%d", phase)))
	if err != nil {
		return nil, fmt.Errorf("ceremony %s: %w", dir, err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".bin") {
			out = append(out, filepath.Join(dir, fmt.Sprintf("phase%d", phase), e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

func loadCeremonyCircuit(dir string) (constraint.ConstraintSystem, error) {
	return zk.ReadR1CS(filepath.Join(dir, "circuit.r1cs"))
}

// loadCeremony reads a ceremony directory for zk setup: both phases'
// contributions, the phase-1 beacon and the sealed phase 1.
func loadCeremony(dir string) (*zk.Ceremony, string, error) {
	info, err := readCeremonyInfo(dir)
	if err != nil {
		return nil, "", err
	}
	commons, err := os.ReadFile(filepath.Join(dir, "commons.bin"))
	if err != nil {
		return nil, "", fmt.Errorf("ceremony %s: phase 1 not sealed: %w", dir, err)
	}
	files, err := ceremonyFiles(dir, 2)
	if err != nil {
		return nil, "", err
	}
	c := &zk.Ceremony{Domain: info.Domain, Commons: commons}
	// setup re-verifies phase 1 too and checks it seals to commons.bin, so
	// whoever makes the keys audits the whole transcript
	if c.Beacon1, err = hex.DecodeString(info.Beacon1); err != nil {
		return nil, "", fmt.Errorf("ceremony %s: beacon1: %w", dir, err)
	}
	p1, err := ceremonyFiles(dir, 1)
	if err != nil {
		return nil, "", err
	}
	for _, f := range p1 {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, "", err
		}
		c.Phase1 = append(c.Phase1, b)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, "", err
		}
		c.Phase2 = append(c.Phase2, b)
	}
	return c, info.Visibility, nil
}
