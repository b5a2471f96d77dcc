package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/internal/kernels"
	"github.com/provena/provena/model"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/onnx"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
	"github.com/provena/provena/worker"
)

func init() { benchCommands = append(benchCommands, newBenchModelCmd) }

// OrtRefEnv names scripts/ort_ref.js when the command does not run from a
// checkout of the repository.
const OrtRefEnv = "PROVENA_ORT_REF"

type benchModelFlags struct {
	onnx       string
	input      string
	threads    int
	repeat     int
	json       bool
	cpuprofile string
	ortScript  string
	shape      string
	ops        int
	rounds     int
}

func newBenchModelCmd() *cobra.Command {
	var f benchModelFlags
	cmd := &cobra.Command{
		Use:   "model MODEL.pvm|MODEL.onnx",
		Short: "Time a model under Provena (plain, optimistic job, traced) against onnxruntime on the same input and threads",
		Long: `Runs the model under onnxruntime-node (scripts/ort_ref.js, as a child
process) and under Provena on the same input with the same thread count:
plain; as an optimistic job's worker runs it (plain, then the value roots of
the graph outputs, which is all a result posts); and with the full trace (what
a challenged worker re-runs, and every job paid before the trace was
deferred to a challenge). It prints p50 latency over --repeat runs after one
warm-up, throughput, the ratios Provena/onnxruntime, optimistic/plain and
traced/plain, and peak memory (Provena: this process's VmHWM, reset before
each run so each kind gets its own; onnxruntime: the node child's VmHWM).
The runs are split into --rounds rounds, each an onnxruntime child (with its
own warm-up) followed by Provena's share, so that the two runtimes sample
the same phases of a shared machine; the p50 is over all rounds.

The ONNX file is MODEL.onnx next to the package unless --onnx says otherwise.
MODEL may also be an ONNX file, imported at --input-shape for Provena and
given to onnxruntime as it is.
Without --input the input is deterministic pseudo-random values in [-1, 1] of
the model's input shape. onnxruntime-node is installed by scripts/fixtures.sh.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBenchModel(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.onnx, "onnx", "", "ONNX file for onnxruntime (default: the package path with .onnx)")
	fl.StringVar(&f.input, "input", "", "input .npy for the model's first input (default: deterministic pseudo-random)")
	fl.IntVar(&f.threads, "threads", 1, "threads for both runtimes")
	fl.IntVar(&f.repeat, "repeat", 10, "timed runs after the warm-up")
	fl.BoolVar(&f.json, "json", false, "print machine-readable JSON, no progress")
	fl.IntVar(&f.ops, "ops", 0, "also time every node alone and print the N op types that take the most time")
	fl.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of Provena's runs to this file")
	fl.StringVar(&f.shape, "input-shape", "", "NAME=D,D,...: the input's shape when MODEL is an ONNX file to import, as x=1,3,640,640")
	fl.IntVar(&f.rounds, "rounds", 3, "rounds that alternate onnxruntime and Provena (the runs are split among them)")
	fl.StringVar(&f.ortScript, "ort-script", "", "path of scripts/ort_ref.js (default: env "+OrtRefEnv+", else found from the working directory)")
	return cmd
}

// benchSide is one runtime's figures.
type benchSide struct {
	Runtime      string    `json:"runtime"`
	FirstMS      float64   `json:"first_ms"`
	RunsMS       []float64 `json:"runs_ms"`
	P50MS        float64   `json:"p50_ms"`
	CPURunsMS    []float64 `json:"cpu_runs_ms"` // user+system time of all threads per run
	CPUP50MS     float64   `json:"cpu_p50_ms"`
	PerSecond    float64   `json:"inferences_per_s"`
	PeakRSSBytes int64     `json:"peak_rss_bytes"`
}

type benchModelReport struct {
	Model      string    `json:"model"`
	ModelID    string    `json:"model_id"`
	ONNX       string    `json:"onnx"`
	Input      string    `json:"input"`
	Shape      []int     `json:"shape"`
	Threads    int       `json:"threads"`
	Repeat     int       `json:"repeat"`
	Rounds     int       `json:"rounds"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	Kernels    string    `json:"kernels"` // "avx2" needs a GOEXPERIMENT=simd build
	ORT        benchSide `json:"onnxruntime"`
	Plain      benchSide `json:"provena_plain"`
	Traced     benchSide `json:"provena_traced"`
	// Optimistic is an optimistic job's result: a plain run and the value
	// roots of its graph outputs (worker.OutputRoots).
	Optimistic           benchSide `json:"provena_optimistic"`
	RatioProvenaORT      float64   `json:"ratio_provena_ort"`
	RatioTracedPlain     float64   `json:"ratio_traced_plain"`
	RatioOptimisticPlain float64   `json:"ratio_optimistic_plain"`
	// OutputRootsMS is the p50 of the output-roots step alone (wall), a
	// figure the machine's noise on whole runs does not drown.
	OutputRootsMS float64 `json:"output_roots_ms"`
	// The same ratios in CPU time, steadier than wall time on a loaded machine.
	CPURatioProvenaORT      float64  `json:"cpu_ratio_provena_ort"`
	CPURatioTracedPlain     float64  `json:"cpu_ratio_traced_plain"`
	CPURatioOptimisticPlain float64  `json:"cpu_ratio_optimistic_plain"`
	CPUProfile              string   `json:"cpuprofile,omitempty"`
	Ops                     []opTime `json:"ops,omitempty"`
	ProvenaPeakSource       string   `json:"provena_peak_source"`
}

func runBenchModel(cmd *cobra.Command, pkg string, f benchModelFlags) error {
	if f.threads < 1 || f.threads > 1024 {
		return fmt.Errorf("--threads %d: want 1 to 1024", f.threads)
	}
	if f.repeat < 1 || f.repeat > 100000 {
		return fmt.Errorf("--repeat %d: want 1 to 100000", f.repeat)
	}
	if f.rounds < 1 || f.rounds > 1000 {
		return fmt.Errorf("--rounds %d: want 1 to 1000", f.rounds)
	}
	f.rounds = min(f.rounds, f.repeat) // every round has at least one run
	progress := func(format string, a ...any) {}
	if !f.json && benchIsTerminal(os.Stderr) {
		progress = func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }
	}

	m, err := benchLoad(pkg, f.shape)
	if err != nil {
		return fmt.Errorf("bench model: %w", err)
	}
	if len(m.Inputs) != 1 {
		return fmt.Errorf("bench model: the model has %d inputs; only single-input models are supported", len(m.Inputs))
	}
	onnxPath := f.onnx
	if onnxPath == "" && benchIsONNX(pkg) {
		onnxPath = pkg
	} else if onnxPath == "" {
		onnxPath = strings.TrimSuffix(pkg, filepath.Ext(pkg)) + ".onnx"
		if _, err := os.Stat(onnxPath); err != nil {
			return fmt.Errorf("bench model: no ONNX file %s next to the package; pass --onnx", onnxPath)
		}
	}
	script, err := benchFindOrtRef(f.ortScript)
	if err != nil {
		return fmt.Errorf("bench model: %w", err)
	}

	in := m.Inputs[0]
	var x *tensor.Tensor
	inputDesc := f.input
	if f.input != "" {
		if x, err = benchReadNpy(f.input); err != nil {
			return fmt.Errorf("bench model: %w", err)
		}
		if x.DType != in.DType || !slices.Equal(x.Shape, in.Shape) {
			return fmt.Errorf("bench model: input %s is %v%v, the model's %s is %v%v", f.input, x.DType, x.Shape, in.Name, in.DType, in.Shape)
		}
	} else {
		if x, err = benchInput(in); err != nil {
			return fmt.Errorf("bench model: %w", err)
		}
		inputDesc = "pseudo-random [-1, 1]"
	}
	// onnxruntime reads the same bytes from a temporary .npy file.
	tmp, err := os.CreateTemp("", "provena-bench-*.npy")
	if err != nil {
		return fmt.Errorf("bench model: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := npy.Write(tmp, x); err != nil {
		tmp.Close()
		return fmt.Errorf("bench model: write input: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("bench model: write input: %w", err)
	}

	rep := benchModelReport{
		Model: pkg, ModelID: fmt.Sprintf("%x", m.ID()), ONNX: onnxPath, Input: inputDesc, Shape: in.Shape,
		Threads: f.threads, Repeat: f.repeat, Rounds: f.rounds, GOMAXPROCS: runtime.GOMAXPROCS(0), Kernels: kernels.Path(),
		ProvenaPeakSource: "VmHWM of the provena process (plain, optimistic and traced runs together)",
	}

	// ort runs onnxruntime's share of one round and adds it to rep.ORT.
	ort := func(round, n int) error {
		progress("onnxruntime: round %d/%d: %s, %d threads, 1 warm-up + %d runs", round+1, f.rounds, filepath.Base(onnxPath), f.threads, n)
		s, err := benchORT(script, onnxPath, tmp.Name(), f.threads, n)
		if err != nil {
			return fmt.Errorf("bench model: onnxruntime: %w", err)
		}
		if round == 0 {
			rep.ORT = s
			return nil
		}
		rep.ORT.RunsMS = append(rep.ORT.RunsMS, s.RunsMS...)
		rep.ORT.CPURunsMS = append(rep.ORT.CPURunsMS, s.CPURunsMS...)
		rep.ORT.PeakRSSBytes = max(rep.ORT.PeakRSSBytes, s.PeakRSSBytes)
		return nil
	}
	// roundEnd is where round r's runs end: the runs are split as evenly as
	// possible.
	roundEnd := func(r int) int { return (r + 1) * f.repeat / f.rounds }
	if err := ort(0, roundEnd(0)); err != nil {
		return err
	}

	if f.cpuprofile != "" {
		pf, err := os.Create(f.cpuprofile)
		if err != nil {
			return fmt.Errorf("bench model: %w", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fmt.Errorf("bench model: cpu profile: %w", err)
		}
		rep.CPUProfile = f.cpuprofile
	}
	inputs := map[string]*tensor.Tensor{in.Name: x}
	var cpuMS float64 // CPU time of the last run
	var rootsMS []float64
	// The kernel's peak RSS is reset before each run where Linux allows it
	// (clear_refs 5), so each kind of run gets its own peak.
	perRun := benchResetHWM() == nil
	// The three kinds of run, in the order they alternate.
	sides := []struct {
		side  *benchSide
		name  string
		trace bool
		roots bool // an optimistic job's result: plain, then the output roots
	}{
		{&rep.Plain, "provena", false, false},
		{&rep.Optimistic, "provena plain + out roots", false, true},
		{&rep.Traced, "provena traced", true, false},
	}
	peak := make([]int64, len(sides))
	run := func(k int) (float64, error) {
		if perRun {
			perRun = benchResetHWM() == nil
		}
		c0 := benchCPUTime()
		start := time.Now()
		res, err := infer.Run(m, inputs, infer.Options{Threads: f.threads, Trace: sides[k].trace})
		if err == nil && sides[k].roots {
			r0 := time.Now()
			_, _, err = worker.OutputRoots(m, res.Outputs)
			rootsMS = append(rootsMS, float64(time.Since(r0).Nanoseconds())/1e6)
		}
		wall := float64(time.Since(start).Nanoseconds()) / 1e6
		cpuMS = float64(benchCPUTime()-c0) / 1e6
		if hwm, herr := benchVmHWM(); herr == nil && perRun {
			peak[k] = max(peak[k], hwm)
		}
		if err != nil {
			return 0, fmt.Errorf("%s: %w", sides[k].name, err)
		}
		return wall, nil
	}
	progress("provena: warm-up, plain, optimistic and traced")
	for k, s := range sides {
		if s.side.FirstMS, err = run(k); err != nil {
			pprof.StopCPUProfile()
			return fmt.Errorf("bench model: %w", err)
		}
	}
	// The kinds of run alternate, so that drift in the machine's speed
	// (other load, frequency) falls on all alike, and their order goes
	// through every permutation, so that each follows each other kind (the
	// traced run's garbage is collected during the next run) as often.
	orders := [][]int{{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 2, 1}, {2, 1, 0}, {1, 0, 2}}
	round := 0
	for i := range f.repeat {
		if i == roundEnd(round) {
			round++
			if err := ort(round, roundEnd(round)-i); err != nil {
				pprof.StopCPUProfile()
				return err
			}
		}
		progress("provena: run %d/%d", i+1, f.repeat)
		for _, k := range orders[i%len(orders)] {
			s := sides[k]
			t, err := run(k)
			if err != nil {
				pprof.StopCPUProfile()
				return fmt.Errorf("bench model: %w", err)
			}
			s.side.RunsMS = append(s.side.RunsMS, t)
			s.side.CPURunsMS = append(s.side.CPURunsMS, cpuMS)
		}
	}
	pprof.StopCPUProfile()
	rep.ORT.P50MS = benchMedian(rep.ORT.RunsMS)
	rep.ORT.CPUP50MS = benchMedian(rep.ORT.CPURunsMS)
	rep.ORT.PerSecond = benchPerSecond(rep.ORT.P50MS)
	hwm, hwmErr := benchVmHWM()
	switch {
	case perRun:
		rep.ProvenaPeakSource = "VmHWM of the provena process, reset before each run (the process also holds the model and the input)"
	case hwmErr != nil:
		rep.ProvenaPeakSource = "unavailable: " + hwmErr.Error()
	}
	for k, s := range sides {
		s.side.Runtime = s.name
		s.side.P50MS = benchMedian(s.side.RunsMS)
		s.side.CPUP50MS = benchMedian(s.side.CPURunsMS)
		s.side.PerSecond = benchPerSecond(s.side.P50MS)
		if perRun {
			s.side.PeakRSSBytes = peak[k]
		} else if hwmErr == nil {
			s.side.PeakRSSBytes = hwm
		}
	}
	rep.RatioProvenaORT = rep.Plain.P50MS / rep.ORT.P50MS
	rep.RatioTracedPlain = rep.Traced.P50MS / rep.Plain.P50MS
	rep.RatioOptimisticPlain = rep.Optimistic.P50MS / rep.Plain.P50MS
	rep.OutputRootsMS = benchMedian(rootsMS)
	rep.CPURatioProvenaORT = rep.Plain.CPUP50MS / rep.ORT.CPUP50MS
	rep.CPURatioTracedPlain = rep.Traced.CPUP50MS / rep.Plain.CPUP50MS
	rep.CPURatioOptimisticPlain = rep.Optimistic.CPUP50MS / rep.Plain.CPUP50MS

	if f.ops > 0 {
		progress("provena: timing each node alone")
		if rep.Ops, err = benchOps(m, inputs, f.threads, f.ops); err != nil {
			return fmt.Errorf("bench model: %w", err)
		}
	}

	out := cmd.OutOrStdout()
	if f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printBenchModel(out, rep)
	return nil
}

func printBenchModel(w io.Writer, r benchModelReport) {
	fmt.Fprintf(w, "model %s (id %s)\n", r.Model, benchShortHex(r.ModelID))
	fmt.Fprintf(w, "input %v (%s), threads %d, p50 of %d runs in %d rounds alternating the runtimes, each after a warm-up, %s kernels\n", r.Shape, r.Input, r.Threads, r.Repeat, r.Rounds, r.Kernels)
	for _, s := range []benchSide{r.ORT, r.Plain, r.Optimistic, r.Traced} {
		fmt.Fprintf(w, "  %-26s p50 %9.2f ms  cpu %9.2f ms  first %9.2f ms  %7.2f inf/s  peak %s\n",
			s.Runtime, s.P50MS, s.CPUP50MS, s.FirstMS, s.PerSecond, benchMiB(s.PeakRSSBytes))
	}
	fmt.Fprintf(w, "provena/onnxruntime %.2fx (cpu %.2fx)   traced/plain %.3fx (cpu %.3fx)\n",
		r.RatioProvenaORT, r.CPURatioProvenaORT, r.RatioTracedPlain, r.CPURatioTracedPlain)
	fmt.Fprintf(w, "optimistic job (plain + output roots)/plain %.3fx (cpu %.3fx); output roots alone %.2f ms (%.1f%% of plain p50); the trace is run only by a challenged worker\n",
		r.RatioOptimisticPlain, r.CPURatioOptimisticPlain, r.OutputRootsMS, 100*r.OutputRootsMS/r.Plain.P50MS)
	if len(r.Ops) > 0 {
		fmt.Fprintf(w, "CPU time by op type (each node run alone, median of 3):\n")
		for _, o := range r.Ops {
			fmt.Fprintf(w, "  %-20s %4d nodes %9.2f ms %5.1f%%\n", o.Op, o.Nodes, o.MS, o.Share*100)
		}
	}
	if r.CPUProfile != "" {
		fmt.Fprintf(w, "cpu profile of provena's runs: %s (go tool pprof -top %s)\n", r.CPUProfile, r.CPUProfile)
	}
}

// opTime is the time the nodes of one op type take.
type opTime struct {
	Op    string  `json:"op"`
	Nodes int     `json:"nodes"`
	MS    float64 `json:"cpu_ms"`
	Share float64 `json:"share"`
}

// benchOps runs the model once keeping every node output, then runs each
// node alone on those inputs three times and sums the median CPU time (all
// threads; steadier than wall time when the machine is shared) by op type.
// It returns the top types, largest first.
func benchOps(m *model.Model, inputs map[string]*tensor.Tensor, threads, top int) ([]opTime, error) {
	res, err := infer.Run(m, inputs, infer.Options{Threads: threads, KeepOutputs: true})
	if err != nil {
		return nil, err
	}
	ctx := &ops.Ctx{Threads: threads}
	byOp := map[string]*opTime{}
	var total float64
	for i := range m.Nodes {
		n := &m.Nodes[i]
		op, ok := ops.Lookup(n.OpType)
		if !ok {
			return nil, fmt.Errorf("node %d: operator %s not implemented", i, n.OpType)
		}
		in := make([]*tensor.Tensor, len(n.InRefs))
		for j, r := range n.InRefs {
			switch r.Kind {
			case model.RefInput:
				in[j] = res.Inputs[r.Index]
			case model.RefWeight:
				in[j] = m.Weights[r.Index].Tensor
			case model.RefNode:
				in[j] = res.NodeOutputs[r.Index][r.Output]
			}
		}
		var runs [3]float64
		for k := range runs {
			c0 := benchCPUTime()
			if _, err := op.Run(ctx, in, n.Attrs); err != nil {
				return nil, fmt.Errorf("node %d (%s %q): %w", i, n.OpType, n.Name, err)
			}
			runs[k] = float64(benchCPUTime()-c0) / 1e6
		}
		ms := benchMedian(runs[:])
		o := byOp[n.OpType]
		if o == nil {
			o = &opTime{Op: n.OpType}
			byOp[n.OpType] = o
		}
		o.Nodes++
		o.MS += ms
		total += ms
	}
	list := make([]opTime, 0, len(byOp))
	for _, o := range byOp {
		o.Share = o.MS / total
		list = append(list, *o)
	}
	slices.SortFunc(list, func(a, b opTime) int {
		if a.MS != b.MS {
			if a.MS > b.MS {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Op, b.Op)
	})
	return list[:min(top, len(list))], nil
}

func benchIsONNX(path string) bool { return strings.EqualFold(filepath.Ext(path), ".onnx") }

// benchLoad reads a model package, or imports an ONNX file with the given
// input shape (NAME=D,D,...).
func benchLoad(path, shape string) (*model.Model, error) {
	if !benchIsONNX(path) {
		if shape != "" {
			return nil, fmt.Errorf("--input-shape is for ONNX files; %s is a package", path)
		}
		return model.Load(path)
	}
	name, dimList, ok := strings.Cut(shape, "=")
	if !ok || name == "" {
		return nil, fmt.Errorf("%s is an ONNX file: pass --input-shape NAME=D,D,..., as x=1,3,640,640", path)
	}
	var dims []int
	for _, s := range strings.Split(dimList, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || d < 1 {
			return nil, fmt.Errorf("--input-shape %q: want positive integers separated by commas", shape)
		}
		dims = append(dims, d)
	}
	return onnx.ImportFile(path, onnx.Options{InputShapes: map[string][]int{name: dims}})
}

// benchORT runs scripts/ort_ref.js and reads its JSON report; the child's
// peak memory comes from the kernel's rusage, not from the child itself.
func benchORT(script, onnxPath, input string, threads, repeat int) (benchSide, error) {
	c := exec.Command("node", script, "--model", onnxPath, "--input", input,
		"--threads", strconv.Itoa(threads), "--repeat", strconv.Itoa(repeat), "--json")
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		return benchSide{}, fmt.Errorf("node %s: %w: %s", script, err, strings.TrimSpace(stderr.String()))
	}
	var r struct {
		Runtime   string    `json:"runtime"`
		FirstMS   float64   `json:"first_ms"`
		RunsMS    []float64 `json:"runs_ms"`
		CPURunsMS []float64 `json:"cpu_runs_ms"`
		VmHWMKB   int64     `json:"vm_hwm_kb"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return benchSide{}, fmt.Errorf("parse the report of %s: %w", script, err)
	}
	if len(r.RunsMS) != repeat {
		return benchSide{}, fmt.Errorf("%s reported %d runs, want %d", script, len(r.RunsMS), repeat)
	}
	s := benchSide{Runtime: r.Runtime, FirstMS: r.FirstMS, RunsMS: r.RunsMS, P50MS: benchMedian(r.RunsMS),
		CPURunsMS: r.CPURunsMS, CPUP50MS: benchMedian(r.CPURunsMS)}
	s.PerSecond = benchPerSecond(s.P50MS)
	// The child's own VmHWM where it could read it: rusage's max RSS also
	// counts the memory of this process, which the child inherits at exec
	// (Go execs from a vfork that shares this process's memory).
	if r.VmHWMKB > 0 {
		s.PeakRSSBytes = r.VmHWMKB * 1024
	} else if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.PeakRSSBytes = int64(ru.Maxrss) * 1024 // Linux reports KiB
	}
	return s, nil
}

// benchFindOrtRef locates scripts/ort_ref.js: the flag, the environment, then the
// working directory and its parents (a checkout of the repository).
func benchFindOrtRef(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if p := os.Getenv(OrtRefEnv); p != "" {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "ort_ref.js")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("scripts/ort_ref.js not found from the working directory; pass --ort-script or set %s", OrtRefEnv)
		}
		dir = parent
	}
}

// benchInput fills the model's input with deterministic values: splitmix64
// mapped to [-1, 1] for floats, small non-negative integers otherwise.
func benchInput(in model.ValueInfo) (*tensor.Tensor, error) {
	t, err := tensor.New(in.DType, in.Shape)
	if err != nil {
		return nil, err
	}
	var s uint64 = 2026
	next := func() uint64 {
		s += 0x9e3779b97f4a7c15
		z := s
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	switch in.DType {
	case tensor.Float32:
		for i := range t.F32 {
			t.F32[i] = float32(next()>>40)/float32(1<<23) - 1
		}
	case tensor.Int64:
		for i := range t.I64 {
			t.I64[i] = int64(next() % 16)
		}
	default:
		return nil, fmt.Errorf("input %s: no generated values for %v; pass --input", in.Name, in.DType)
	}
	return t, nil
}

func benchReadNpy(path string) (*tensor.Tensor, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	t, err := npy.Read(fh)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return t, nil
}

// benchCPUTime is the user+system time of the whole process in nanoseconds.
func benchCPUTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchResetHWM resets this process's VmHWM to its current RSS (Linux 4.0
// and later).
func benchResetHWM() error {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// benchVmHWM is this process's peak resident set size, from /proc/self/status.
func benchVmHWM() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmHWM %q: %w", rest, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}

func benchMedian(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func benchPerSecond(ms float64) float64 {
	if ms <= 0 {
		return 0
	}
	return 1000 / ms
}

func benchMiB(b int64) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func benchShortHex(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

func benchIsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
