package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/model"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/onnx"
	"github.com/provena/provena/tensor"
)

func init() { commands = append(commands, newModelCmd) }

// ModelInputLoader turns a --input path into a tensor for model input in.
// It returns handled=false for paths it does not recognise. Other files in
// this package add loaders (e.g. images with a model's preprocessing) by
// appending to modelInputLoaders from an init function; the built-in .npy
// and .json loaders run last.
type ModelInputLoader func(path string, in model.ValueInfo) (t *tensor.Tensor, handled bool, err error)

var modelInputLoaders []ModelInputLoader

func newModelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Import, inspect, run and step-verify models",
	}
	cmd.AddCommand(newModelImportCmd(), newModelInspectCmd(), newModelRunCmd(), newModelStepCmd())
	for _, c := range modelCommands {
		cmd.AddCommand(c())
	}
	return cmd
}

// modelCommands are further `model` subcommands, appended from the init
// functions of the files that own them.
var modelCommands []func() *cobra.Command

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// parseShapes parses repeated name=d1,d2,... flags.
func parseShapes(specs []string) (map[string][]int, error) {
	out := map[string][]int{}
	for _, s := range specs {
		name, dims, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--input-shape %q: want name=d1,d2,...", s)
		}
		var shape []int
		for _, d := range strings.Split(dims, ",") {
			v, err := strconv.Atoi(strings.TrimSpace(d))
			if err != nil || v <= 0 {
				return nil, fmt.Errorf("--input-shape %q: bad dimension %q", s, d)
			}
			shape = append(shape, v)
		}
		out[name] = shape
	}
	return out, nil
}

type modelImportReport struct {
	Output string `json:"output"`
	model.Summary
}

func newModelImportCmd() *cobra.Command {
	var out, name string
	var shapes []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "import model.onnx -o model.pvm [--input-shape x=1,3,640,640]",
		Short: "Import an ONNX model into a Provena model package",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				out = strings.TrimSuffix(args[0], filepath.Ext(args[0])) + ".pvm"
			}
			sh, err := parseShapes(shapes)
			if err != nil {
				return err
			}
			opts := onnx.Options{InputShapes: sh, Name: name}
			if !asJSON && isTerminal(os.Stderr) {
				opts.Progress = func(stage string, done, total int) {
					fmt.Fprintf(os.Stderr, "\rimporting %s: %d/%d", stage, done, total)
					if done == total {
						fmt.Fprintln(os.Stderr)
					}
				}
			}
			m, err := onnx.ImportFile(args[0], opts)
			if err != nil {
				return err
			}
			if err := m.Save(out); err != nil {
				return err
			}
			rep := modelImportReport{Output: out, Summary: m.Summary()}
			return emit(cmd.OutOrStdout(), asJSON, rep, func(w io.Writer) {
				fmt.Fprintf(w, "wrote %s\n", out)
				printSummary(w, rep.Summary)
			})
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "model package to write (default: input name with .pvm)")
	cmd.Flags().StringArrayVar(&shapes, "input-shape", nil, "static shape for an input, name=d1,d2,... (repeatable)")
	cmd.Flags().StringVar(&name, "name", "", "model name (default: the ONNX graph name)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printSummary(w io.Writer, s model.Summary) {
	fmt.Fprintf(w, "model id  %s\n", s.ID)
	fmt.Fprintf(w, "name      %s (opset %d)\n", s.Name, s.Opset)
	for _, v := range s.Inputs {
		fmt.Fprintf(w, "input     %s %v%v\n", v.Name, v.DType, v.Shape)
	}
	for _, v := range s.Outputs {
		fmt.Fprintf(w, "output    %s %v%v\n", v.Name, v.DType, v.Shape)
	}
	fmt.Fprintf(w, "nodes     %d\n", s.Nodes)
	fmt.Fprintf(w, "params    %d in %d weights (%d bytes)\n", s.Params, s.Weights, s.WeightBytes)
	fmt.Fprintf(w, "ops      ")
	for _, o := range s.Ops {
		fmt.Fprintf(w, " %s:%d", o.OpType, o.Count)
	}
	fmt.Fprintln(w)
}

type modelInspectReport struct {
	model.Summary
	ChunkSize  int                 `json:"chunk_size"`
	ProofSizes []infer.OpProofSize `json:"proof_sizes,omitempty"`
}

func newModelInspectCmd() *cobra.Command {
	var asJSON, proofs bool
	var samples int
	cmd := &cobra.Command{
		Use:   "inspect model.pvm [--json] [--proof-sizes]",
		Short: "Show a model package's graph summary, model id and one-step proof sizes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := model.Load(args[0])
			if err != nil {
				return err
			}
			rep := modelInspectReport{Summary: m.Summary(), ChunkSize: model.ChunkSize}
			if proofs {
				if rep.ProofSizes, err = infer.ProofReport(m, samples); err != nil {
					return err
				}
			}
			return emit(cmd.OutOrStdout(), asJSON, rep, func(w io.Writer) {
				printSummary(w, rep.Summary)
				if !proofs {
					return
				}
				fmt.Fprintf(w, "\nworst one-step proof per op (chunk %d bytes, %d samples per node output):\n", model.ChunkSize, samples)
				for _, p := range rep.ProofSizes {
					if p.Bytes < 0 {
						fmt.Fprintf(w, "  %-22s %4d nodes  no single-element recomputation\n", p.OpType, p.Nodes)
						continue
					}
					fmt.Fprintf(w, "  %-22s %4d nodes  %8d bytes  (node %d %q, element %d)\n", p.OpType, p.Nodes, p.Bytes, p.Node, p.Name, p.Flat)
				}
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&proofs, "proof-sizes", false, "report the worst one-step proof size per op type")
	cmd.Flags().IntVar(&samples, "samples", 32, "elements sampled per node output for --proof-sizes")
	return cmd
}

// loadModelInputs maps --input flags (path, or name=path) to the model's
// inputs.
func loadModelInputs(m *model.Model, specs []string) (map[string]*tensor.Tensor, error) {
	out := map[string]*tensor.Tensor{}
	for _, s := range specs {
		name, path, ok := strings.Cut(s, "=")
		if !ok {
			if len(m.Inputs) != 1 {
				return nil, fmt.Errorf("--input %s: the model has %d inputs, use name=path", s, len(m.Inputs))
			}
			name, path = m.Inputs[0].Name, s
		}
		var in *model.ValueInfo
		for k := range m.Inputs {
			if m.Inputs[k].Name == name {
				in = &m.Inputs[k]
			}
		}
		if in == nil {
			return nil, fmt.Errorf("--input %s: the model has no input %q", s, name)
		}
		t, err := loadModelInput(path, *in)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

func loadModelInput(path string, in model.ValueInfo) (*tensor.Tensor, error) {
	for _, l := range modelInputLoaders {
		t, ok, err := l(path, in)
		if ok || err != nil {
			return t, err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if strings.EqualFold(filepath.Ext(path), ".json") {
		return readJSONTensor(f, in)
	}
	t, err := npy.Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// readJSONTensor reads a (possibly nested) JSON array of numbers in C order
// for a small input; its shape is the model's.
func readJSONTensor(r io.Reader, in model.ValueInfo) (*tensor.Tensor, error) {
	var v any
	dec := json.NewDecoder(io.LimitReader(r, 64<<20))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("json input: %w", err)
	}
	var flat []json.Number
	var walk func(x any) error
	walk = func(x any) error {
		switch x := x.(type) {
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		case json.Number:
			flat = append(flat, x)
		default:
			return errors.New("json input: want an array of numbers")
		}
		return nil
	}
	if err := walk(v); err != nil {
		return nil, err
	}
	t, err := tensor.New(in.DType, in.Shape)
	if err != nil {
		return nil, err
	}
	if len(flat) != t.Len() {
		return nil, fmt.Errorf("json input: %d numbers, shape %v needs %d", len(flat), in.Shape, t.Len())
	}
	for i, n := range flat {
		switch in.DType {
		case tensor.Float32:
			f, err := strconv.ParseFloat(n.String(), 32)
			if err != nil {
				return nil, fmt.Errorf("json input: %w", err)
			}
			t.F32[i] = float32(f)
		case tensor.Int64:
			v, err := strconv.ParseInt(n.String(), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("json input: %w", err)
			}
			t.I64[i] = v
		default:
			return nil, fmt.Errorf("json input: dtype %v not supported, use .npy", in.DType)
		}
	}
	return t, nil
}

type modelRunReport struct {
	ModelID   string              `json:"model_id"`
	TraceRoot string              `json:"trace_root,omitempty"`
	Outputs   []modelOutputReport `json:"outputs"`
}

type modelOutputReport struct {
	Name  string       `json:"name"`
	DType tensor.DType `json:"dtype"`
	Shape []int        `json:"shape"`
	Root  string       `json:"root"`
	File  string       `json:"file,omitempty"`
}

func newModelRunCmd() *cobra.Command {
	var inputs, outputs []string
	var tracePath, dumpDir string
	var threads int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "run model.pvm --input x.npy [--output y.npy] [--trace t.json] [--dump dir] [--threads N]",
		Short: "Run a model deterministically",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := model.Load(args[0])
			if err != nil {
				return err
			}
			in, err := loadModelInputs(m, inputs)
			if err != nil {
				return err
			}
			if dumpDir != "" && tracePath == "" {
				tracePath = filepath.Join(dumpDir, "trace.json")
			}
			res, err := infer.Run(m, in, infer.Options{Threads: threads, Trace: tracePath != "", KeepOutputs: dumpDir != ""})
			if err != nil {
				return err
			}
			if dumpDir != "" {
				if err := dumpNodeOutputs(dumpDir, res); err != nil {
					return err
				}
			}
			files := map[string]string{}
			for _, o := range outputs {
				name, path, ok := strings.Cut(o, "=")
				if !ok {
					if len(m.Outputs) != 1 {
						return fmt.Errorf("--output %s: the model has %d outputs, use name=path", o, len(m.Outputs))
					}
					name, path = m.Outputs[0].Name, o
				}
				if res.Outputs[name] == nil {
					return fmt.Errorf("--output %s: the model has no output %q", o, name)
				}
				files[name] = path
			}
			rep := modelRunReport{ModelID: m.IDString()}
			for _, o := range m.Outputs {
				t := res.Outputs[o.Name]
				r := modelOutputReport{Name: o.Name, DType: t.DType, Shape: t.Shape, Root: model.ValueRoot(t, threads).String(), File: files[o.Name]}
				if r.File != "" {
					if err := writeNpy(r.File, t); err != nil {
						return err
					}
				}
				rep.Outputs = append(rep.Outputs, r)
			}
			if res.Trace != nil {
				rep.TraceRoot = res.Trace.Root.String()
				b, err := json.MarshalIndent(res.Trace.JSON(m), "", " ")
				if err != nil {
					return err
				}
				if err := os.WriteFile(tracePath, append(b, '\n'), 0o644); err != nil {
					return fmt.Errorf("write trace: %w", err)
				}
			}
			return emit(cmd.OutOrStdout(), asJSON, rep, func(w io.Writer) {
				fmt.Fprintf(w, "model id    %s\n", rep.ModelID)
				if rep.TraceRoot != "" {
					fmt.Fprintf(w, "trace root  %s (%s)\n", rep.TraceRoot, tracePath)
				}
				for _, o := range rep.Outputs {
					fmt.Fprintf(w, "output      %s %v%v root %s", o.Name, o.DType, o.Shape, o.Root)
					if o.File != "" {
						fmt.Fprintf(w, " -> %s", o.File)
					}
					fmt.Fprintln(w)
				}
			})
		},
	}
	cmd.Flags().StringArrayVar(&inputs, "input", nil, "input file (.npy or .json), or name=path (repeatable)")
	cmd.Flags().StringArrayVar(&outputs, "output", nil, "write an output as .npy: path, or name=path (repeatable)")
	cmd.Flags().StringVar(&tracePath, "trace", "", "write the execution trace (node roots, trace root) as JSON")
	cmd.Flags().StringVar(&dumpDir, "dump", "", "write every node output as dir/node-I-J.npy and the trace as dir/trace.json (keeps all activations in memory)")
	cmd.Flags().IntVar(&threads, "threads", 0, "worker threads (default: all CPUs; never changes the result)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func writeNpy(path string, t *tensor.Tensor) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if err := npy.Write(f, t); err != nil {
		f.Close()
		return fmt.Errorf("write output %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write output %s: %w", path, err)
	}
	return nil
}

type modelStepReport struct {
	ModelID   string `json:"model_id"`
	TraceRoot string `json:"trace_root"`
	Node      int    `json:"node"`
	Name      string `json:"name"`
	OpType    string `json:"op"`
	Output    int    `json:"output"`
	// Node mode.
	StepRoot string `json:"step_root,omitempty"`
	RunRoot  string `json:"run_root,omitempty"`
	DumpRoot string `json:"dump_root,omitempty"`
	// Element mode.
	Element    *int    `json:"element,omitempty"`
	Value      string  `json:"value,omitempty"`
	RunValue   string  `json:"run_value,omitempty"`
	ProofBytes int     `json:"proof_bytes,omitempty"`
	Verified   *bool   `json:"verified,omitempty"`
	Float      float64 `json:"float,omitempty"`
	Match      bool    `json:"match"`
}

func newModelStepCmd() *cobra.Command {
	var inputs []string
	var node, output, element int
	var tracePath, proofPath, dumpDir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "step model.pvm --input x.npy --node N [--element I] [--dump dir]",
		Short: "Re-execute one node, or one output element with its one-step proof, and compare with the full run",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := model.Load(args[0])
			if err != nil {
				return err
			}
			if node < 0 || node >= len(m.Nodes) {
				return fmt.Errorf("--node %d: the model has nodes 0 to %d", node, len(m.Nodes)-1)
			}
			n := &m.Nodes[node]
			if output < 0 || output >= len(n.OutMetas) {
				return fmt.Errorf("--output-index %d: node %d has %d outputs", output, node, len(n.OutMetas))
			}
			in, err := loadModelInputs(m, inputs)
			if err != nil {
				return err
			}
			rep := modelStepReport{ModelID: m.IDString(), Node: node, Name: n.Name, OpType: n.OpType, Output: output}
			if cmd.Flags().Changed("element") {
				res, err := infer.Run(m, in, infer.Options{Trace: true, KeepOutputs: true})
				if err != nil {
					return err
				}
				v, p, err := infer.RecomputeElement(m, res, node, output, element)
				if err != nil {
					return err
				}
				r, err := infer.VerifyStep(m.ID(), res.Trace.Root, p)
				ok := err == nil && r.Match
				run := res.NodeOutputs[node][output]
				rep.TraceRoot = res.Trace.Root.String()
				rep.Element, rep.Verified = &element, &ok
				rep.Value, rep.RunValue = fmt.Sprintf("%#x", v), fmt.Sprintf("%#x", run.Bits(element))
				if run.DType == tensor.Float32 {
					rep.Float = float64(math.Float32frombits(uint32(v)))
				}
				rep.ProofBytes = p.Size()
				rep.Match = v == run.Bits(element) && ok
				if proofPath != "" {
					b, err := json.Marshal(p)
					if err != nil {
						return err
					}
					if err := os.WriteFile(proofPath, b, 0o644); err != nil {
						return fmt.Errorf("write proof: %w", err)
					}
				}
				if err != nil {
					return fmt.Errorf("step proof does not verify: %w", err)
				}
			} else if dumpDir != "" {
				// Re-execute the node from the values another run dumped and
				// compare with that run's trace: no execution of the model.
				vals, err := dumpedInputs(dumpDir, m, in, node)
				if err != nil {
					return err
				}
				outs, err := infer.StepNode(m, vals, node)
				if err != nil {
					return err
				}
				if tracePath == "" {
					tracePath = filepath.Join(dumpDir, "trace.json")
				}
				rep.StepRoot = model.ValueRoot(outs[output], 0).String()
				rep.Match = true
			} else {
				// Run up to the node (keeping its inputs), re-execute it alone,
				// and compare with a full traced run.
				part, err := infer.Run(m, in, infer.Options{Nodes: node})
				if err != nil {
					return err
				}
				part.NodeOutputs = nil
				vals, err := partialInputs(m, part, node)
				if err != nil {
					return err
				}
				outs, err := infer.StepNode(m, vals, node)
				if err != nil {
					return err
				}
				full, err := infer.Run(m, in, infer.Options{Trace: true})
				if err != nil {
					return err
				}
				rep.TraceRoot = full.Trace.Root.String()
				rep.StepRoot = model.ValueRoot(outs[output], 0).String()
				rep.RunRoot = full.Trace.NodeRoots[node][output].String()
				rep.Match = rep.StepRoot == rep.RunRoot
			}
			if tracePath != "" {
				var dump infer.TraceJSON
				b, err := os.ReadFile(tracePath)
				if err != nil {
					return fmt.Errorf("read trace: %w", err)
				}
				if err := json.Unmarshal(b, &dump); err != nil {
					return fmt.Errorf("read trace %s: %w", tracePath, err)
				}
				if node >= len(dump.Nodes) || output >= len(dump.Nodes[node].Roots) {
					return fmt.Errorf("trace %s has no node %d output %d", tracePath, node, output)
				}
				rep.DumpRoot = dump.Nodes[node].Roots[output]
				if rep.TraceRoot == "" {
					rep.TraceRoot = dump.Root
				}
				if rep.StepRoot != "" {
					rep.Match = rep.Match && rep.DumpRoot == rep.StepRoot
				} else {
					rep.Match = rep.Match && dump.Root == rep.TraceRoot
				}
			}
			err = emit(cmd.OutOrStdout(), asJSON, rep, func(w io.Writer) {
				fmt.Fprintf(w, "node %d %s %q output %d\n", node, n.OpType, n.Name, output)
				if rep.Element != nil {
					fmt.Fprintf(w, "element %d: recomputed %s", element, rep.Value)
					if n.OutMetas[output].DType == tensor.Float32 {
						fmt.Fprintf(w, " (%g)", rep.Float)
					}
					fmt.Fprintf(w, ", full run %s\none-step proof %d bytes, verified %v\n", rep.RunValue, rep.ProofBytes, *rep.Verified)
				} else {
					fmt.Fprintf(w, "step root %s\nrun root  %s\n", rep.StepRoot, rep.RunRoot)
				}
				if rep.DumpRoot != "" {
					fmt.Fprintf(w, "dump root %s\n", rep.DumpRoot)
				}
				fmt.Fprintf(w, "match: %v\n", rep.Match)
			})
			if err == nil && !rep.Match {
				return errors.New("step does not match the full run")
			}
			return err
		},
	}
	cmd.Flags().StringArrayVar(&inputs, "input", nil, "input file (.npy or .json), or name=path (repeatable)")
	cmd.Flags().IntVar(&node, "node", 0, "node index (topological order, as in inspect and traces)")
	cmd.Flags().IntVar(&output, "output-index", 0, "which output of the node")
	cmd.Flags().IntVar(&element, "element", 0, "recompute only this flat output element, with a one-step proof")
	cmd.Flags().StringVar(&tracePath, "trace", "", "also compare with a trace written by `model run --trace`")
	cmd.Flags().StringVar(&proofPath, "proof", "", "with --element: write the one-step proof as JSON")
	cmd.Flags().StringVar(&dumpDir, "dump", "", "read the node's inputs from a `model run --dump` directory instead of running the model")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// partialInputs gathers node i's inputs from a partial run's named outputs.
func partialInputs(m *model.Model, res *infer.Result, i int) ([]*tensor.Tensor, error) {
	n := &m.Nodes[i]
	out := make([]*tensor.Tensor, len(n.Inputs))
	for j, r := range n.InRefs {
		switch r.Kind {
		case model.RefInput:
			out[j] = res.Inputs[r.Index]
		case model.RefNode:
			t := res.Outputs[n.Inputs[j]]
			if t == nil {
				return nil, fmt.Errorf("node %d input %q not produced by the partial run", i, n.Inputs[j])
			}
			out[j] = t
		}
	}
	return out, nil
}

func dumpName(dir string, node, out int) string {
	return filepath.Join(dir, fmt.Sprintf("node-%d-%d.npy", node, out))
}

// dumpNodeOutputs writes every node output of a KeepOutputs run.
func dumpNodeOutputs(dir string, res *infer.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	for i, outs := range res.NodeOutputs {
		for j, t := range outs {
			if err := writeNpy(dumpName(dir, i, j), t); err != nil {
				return fmt.Errorf("dump: %w", err)
			}
		}
	}
	return nil
}

// dumpedInputs reads node i's inputs from a dump directory (graph inputs
// from --input, weights from the model).
func dumpedInputs(dir string, m *model.Model, in map[string]*tensor.Tensor, i int) ([]*tensor.Tensor, error) {
	n := &m.Nodes[i]
	out := make([]*tensor.Tensor, len(n.Inputs))
	for j, r := range n.InRefs {
		switch r.Kind {
		case model.RefInput:
			t := in[m.Inputs[r.Index].Name]
			if t == nil {
				return nil, fmt.Errorf("node %d reads graph input %q: pass it with --input", i, m.Inputs[r.Index].Name)
			}
			out[j] = t
		case model.RefNode:
			f, err := os.Open(dumpName(dir, r.Index, r.Output))
			if err != nil {
				return nil, fmt.Errorf("dump: %w", err)
			}
			t, err := npy.Read(f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("dump node %d output %d: %w", r.Index, r.Output, err)
			}
			out[j] = t
		}
	}
	return out, nil
}
