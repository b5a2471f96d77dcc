// Package infer owns execution of Provena model packages: the deterministic
// executor (Run), execution traces that commit every node output (Trace),
// single-node re-execution (StepNode), and single-element recomputation with
// a self-contained one-step proof (RecomputeElement, VerifyStep), which is
// what an optimistic dispute settles on chain.
//
// # Memory
//
// Run frees every intermediate tensor after its last consumer, in plain and
// traced mode alike: a trace keeps only the roots (32 bytes per node
// output), hashing each output on a pool of goroutines while later nodes
// execute; the hashing worker holds a tensor until it is hashed, and at most
// maxPending (64 MiB) of outputs wait for hashing before execution pauses.
// Measured on PP-OCRv4 det at 1x3x640x640 (2 threads): peak RSS about
// 130-165 MB plain, about 40-60 MB more traced, before the output pool
// (ops.Recycle: dead activations become later outputs, up to 64 MiB held),
// which costs about 150 MB more at det 640 and saves about 40% of plain
// execution's CPU. With
// Options.KeepOutputs every node output and its Merkle tree are kept, which
// openings and one-step proofs need (about 1.3x the sum of all node output
// sizes). Conv weights laid out for the GEMM tiles are kept from one run to
// the next for the last four models run (about the size of their Conv
// weights).
package infer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"crypto/sha256"

	"github.com/provena/provena/merkle"
	"github.com/provena/provena/model"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
)

// Options configures a run. None of them but Tamper changes the results'
// bits.
type Options struct {
	// Threads is the number of workers kernels and hashing may use
	// (default: GOMAXPROCS).
	Threads int
	// Trace commits every node output and computes the trace root.
	Trace bool
	// KeepOutputs keeps every node output (Result.NodeOutputs) and, when
	// tracing, every output's Merkle tree, so that the trace can open chunks
	// and prove single elements.
	KeepOutputs bool
	// Nodes, when positive, runs only the first Nodes nodes (the trace then
	// covers those nodes only and Outputs holds what they produced).
	Nodes int
	// Tamper, when set, receives each node's outputs as they are computed
	// and returns the ones the run keeps, commits and feeds to later nodes.
	// It models a faulty executor (a worker that computes one wrong value,
	// which later nodes then compute on) for tests and demonstrations, so
	// plain and traced runs of one fault agree. It must return new tensors
	// rather than modify the ones it is given (they may share memory with
	// other values). Nodes then run one by one (no fused elementwise chains).
	Tamper func(node int, outs []*tensor.Tensor) ([]*tensor.Tensor, error)
}

// Result is what a run produced.
type Result struct {
	Outputs map[string]*tensor.Tensor
	Trace   *Trace
	// NodeOutputs[i][j] is output j of node i, with KeepOutputs.
	NodeOutputs [][]*tensor.Tensor
	// Inputs are the run's inputs in model input order.
	Inputs []*tensor.Tensor
}

// Trace commits one execution: every node output is a Merkle root over
// model.ChunkSize chunks of its canonical bytes (model.ValueRoot), and
//
//	nodes root  = Merkle root over leaf(output roots of node i, concatenated)
//	inputs root = Merkle root over leaf(value root of input k)
//	trace root  = SHA-256("provena/trace/v1\0" || model id || inputs root ||
//	              nodes root || uint64 #inputs || uint64 #nodes)
//
// so that bisection can open the i-th node's roots with one proof.
type Trace struct {
	ModelID    merkle.Hash
	InputRoots []merkle.Hash
	NodeRoots  [][]merkle.Hash
	InputsRoot merkle.Hash
	NodesRoot  merkle.Hash
	Root       merkle.Hash

	inputTree  *merkle.Tree
	nodeTree   *merkle.Tree
	inputTrees []*merkle.Tree
	valueTrees [][]*merkle.Tree // with KeepOutputs
	inputs     []*tensor.Tensor
	values     [][]*tensor.Tensor // with KeepOutputs
}

const traceDomain = "provena/trace/v1\x00"

// TraceRoot combines the parts of a trace commitment.
func TraceRoot(modelID, inputsRoot, nodesRoot merkle.Hash, numInputs, numNodes int) merkle.Hash {
	b := make([]byte, 0, len(traceDomain)+3*32+16)
	b = append(b, traceDomain...)
	b = append(b, modelID[:]...)
	b = append(b, inputsRoot[:]...)
	b = append(b, nodesRoot[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(numInputs))
	b = binary.BigEndian.AppendUint64(b, uint64(numNodes))
	return sha256.Sum256(b)
}

func nodeLeafData(roots []merkle.Hash) []byte {
	b := make([]byte, 0, 32*len(roots))
	for _, r := range roots {
		b = append(b, r[:]...)
	}
	return b
}

// CheckInputs validates inputs against the model's declared inputs and
// returns them in model order.
func CheckInputs(m *model.Model, inputs map[string]*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(inputs) != len(m.Inputs) {
		return nil, fmt.Errorf("model takes %d inputs, got %d", len(m.Inputs), len(inputs))
	}
	out := make([]*tensor.Tensor, len(m.Inputs))
	for i, in := range m.Inputs {
		t, ok := inputs[in.Name]
		if !ok || t == nil {
			return nil, fmt.Errorf("missing input %q", in.Name)
		}
		if err := checkTensor(t, in.Meta()); err != nil {
			return nil, fmt.Errorf("input %q: %w", in.Name, err)
		}
		out[i] = t
	}
	return out, nil
}

func checkTensor(t *tensor.Tensor, want tensor.Meta) error {
	if t.DType != want.DType || len(t.Shape) != len(want.Shape) {
		return fmt.Errorf("is %v%v, want %v%v", t.DType, t.Shape, want.DType, want.Shape)
	}
	for i := range t.Shape {
		if t.Shape[i] != want.Shape[i] {
			return fmt.Errorf("is %v%v, want %v%v", t.DType, t.Shape, want.DType, want.Shape)
		}
	}
	if t.Len() != tensor.NumElements(t.Shape) {
		return fmt.Errorf("has %d elements for shape %v", t.Len(), t.Shape)
	}
	return nil
}

func threads(n int) int {
	if n <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return n
}

// Run executes the model on inputs (by input name).
func Run(m *model.Model, inputs map[string]*tensor.Tensor, opts Options) (*Result, error) {
	if !m.Validated() {
		return nil, errors.New("run model: model not validated (build it with Validate, or Load/Decode it)")
	}
	ins, err := CheckInputs(m, inputs)
	if err != nil {
		return nil, fmt.Errorf("run model: %w", err)
	}
	nn := len(m.Nodes)
	if opts.Nodes > 0 && opts.Nodes < nn {
		nn = opts.Nodes
	}
	ctx := &ops.Ctx{Threads: threads(opts.Threads), Weights: weightCache(m)}
	// lastUse[i][j] is the last node reading output j of node i; graph
	// outputs and kept values are never freed.
	lastUse := make([][]int, nn)
	for i := 0; i < nn; i++ {
		lastUse[i] = make([]int, len(m.Nodes[i].Outputs))
		for j := range lastUse[i] {
			lastUse[i][j] = -1
		}
	}
	for i := 0; i < nn; i++ {
		for _, r := range m.Nodes[i].InRefs {
			if r.Kind == model.RefNode {
				lastUse[r.Index][r.Output] = i
			}
		}
	}
	isOutput := map[model.Ref]bool{}
	for _, r := range m.OutputRefs() {
		isOutput[r] = true
	}
	vals := make([][]*tensor.Tensor, nn)
	res := &Result{Inputs: ins}
	// A partial run keeps everything: its values feed a later step.
	free := !opts.KeepOutputs && nn == len(m.Nodes)

	if free {
		ops.BeginRecycling()
		defer ops.EndRecycling()
	}
	var h *hasher
	if opts.Trace {
		h = newHasher(m, nn, ctx.Threads, opts.KeepOutputs, free)
	}
	get := func(r model.Ref) *tensor.Tensor {
		switch r.Kind {
		case model.RefInput:
			return ins[r.Index]
		case model.RefWeight:
			return m.Weights[r.Index].Tensor
		case model.RefNode:
			return vals[r.Index][r.Output]
		}
		return nil
	}
	// Plain runs that free intermediates may run chains of elementwise
	// nodes in one pass: the chain's inner values are never materialized,
	// which a trace (it commits every node's output) and KeepOutputs need.
	var chainEnd []int
	if free && h == nil && opts.Tamper == nil {
		chainEnd = elementwiseChains(m, nn, lastUse, isOutput)
	}
	for i := 0; i < nn; i++ {
		n := &m.Nodes[i]
		if chainEnd != nil && chainEnd[i] > i {
			if out, ok, err := runChain(ctx, m, i, chainEnd[i], get); err != nil {
				return nil, fmt.Errorf("run model: %w", err)
			} else if ok {
				for k := i; k < chainEnd[i]; k++ {
					vals[k] = make([]*tensor.Tensor, 1)
				}
				e := chainEnd[i]
				vals[e] = []*tensor.Tensor{out}
				for k := i; k < e; k++ {
					releaseInputs(&m.Nodes[k], k, lastUse, isOutput, vals, vals[e])
				}
				i = e
				n = &m.Nodes[i]
				releaseOutputs(i, lastUse, isOutput, vals[i])
				releaseInputs(n, i, lastUse, isOutput, vals, vals[i])
				continue
			}
		}
		outs, err := runNode(ctx, m, n, i, get)
		if err == nil && opts.Tamper != nil {
			var got []*tensor.Tensor
			if got, err = opts.Tamper(i, outs); err == nil && len(got) != len(outs) {
				err = fmt.Errorf("node %d: tamper returned %d outputs, the node has %d", i, len(got), len(outs))
			}
			outs = got
		}
		if err != nil {
			if h != nil {
				h.close()
			}
			return nil, fmt.Errorf("run model: %w", err)
		}
		vals[i] = outs
		if h != nil {
			h.submit(i, outs)
		}
		if !free {
			continue
		}
		// Dead activations go back to the output pool (after hashing, when
		// tracing), which spares the allocation of later outputs.
		dead := func(t *tensor.Tensor) {
			keep := !aliases(t, outs)
			if h != nil {
				h.release(t, keep)
			} else if keep {
				ops.Recycle(t)
			}
		}
		for j := range outs {
			if lastUse[i][j] < 0 && !isOutput[model.Ref{Kind: model.RefNode, Index: i, Output: j}] {
				t := outs[j]
				outs[j] = nil
				dead(t)
			}
		}
		for _, r := range n.InRefs {
			if r.Kind == model.RefNode && lastUse[r.Index][r.Output] == i && !isOutput[r] && vals[r.Index][r.Output] != nil {
				t := vals[r.Index][r.Output]
				vals[r.Index][r.Output] = nil
				dead(t)
			}
		}
	}
	res.Outputs = map[string]*tensor.Tensor{}
	if nn == len(m.Nodes) {
		for k, r := range m.OutputRefs() {
			res.Outputs[m.Outputs[k].Name] = vals[r.Index][r.Output]
		}
	} else {
		for i := 0; i < nn; i++ {
			for j, name := range m.Nodes[i].Outputs {
				if name != "" && vals[i][j] != nil {
					res.Outputs[name] = vals[i][j]
				}
			}
		}
	}
	if opts.KeepOutputs {
		res.NodeOutputs = vals
	}
	if h != nil {
		res.Trace = h.finish(ins)
		if opts.KeepOutputs {
			res.Trace.values = vals
		}
	}
	return res, nil
}

// aliases reports whether t shares its float32 data with one of outs (an
// operator that returned its input's buffer), in which case t must not be
// recycled.
func aliases(t *tensor.Tensor, outs []*tensor.Tensor) bool {
	if t == nil || len(t.F32) == 0 {
		return false
	}
	for _, o := range outs {
		if o != nil && len(o.F32) > 0 && &o.F32[0] == &t.F32[0] {
			return true
		}
	}
	return false
}

// runNode runs node i with inputs from get and checks the outputs against
// the node's validated metadata, so that a misbehaving kernel is caught at
// the node that misbehaved.
func runNode(ctx *ops.Ctx, m *model.Model, n *model.Node, i int, get func(model.Ref) *tensor.Tensor) ([]*tensor.Tensor, error) {
	op, ok := ops.Lookup(n.OpType)
	if !ok {
		return nil, fmt.Errorf("node %d (%s %q): operator not implemented", i, n.OpType, n.Name)
	}
	in := make([]*tensor.Tensor, len(n.Inputs))
	var konst []bool
	for j, r := range n.InRefs {
		if r.Kind == model.RefNone {
			continue
		}
		if in[j] = get(r); in[j] == nil {
			return nil, fmt.Errorf("node %d (%s %q): input %d (%s) not available", i, n.OpType, n.Name, j, n.Inputs[j])
		}
		if r.Kind == model.RefWeight && ctx.Weights != nil {
			if konst == nil {
				konst = make([]bool, len(n.Inputs))
			}
			konst[j] = true
		}
	}
	if konst != nil {
		c := *ctx
		c.Const = konst
		ctx = &c
	}
	outs, err := op.Run(ctx, in, n.Attrs)
	if err != nil {
		return nil, fmt.Errorf("node %d (%s %q): %w", i, n.OpType, n.Name, err)
	}
	if len(outs) < len(n.OutMetas) {
		return nil, fmt.Errorf("node %d (%s %q): kernel returned %d outputs, want %d", i, n.OpType, n.Name, len(outs), len(n.OutMetas))
	}
	outs = outs[:len(n.OutMetas)]
	for j, o := range outs {
		if o == nil {
			return nil, fmt.Errorf("node %d (%s %q): kernel returned no output %d", i, n.OpType, n.Name, j)
		}
		if err := checkTensor(o, n.OutMetas[j]); err != nil {
			return nil, fmt.Errorf("node %d (%s %q): output %d %w", i, n.OpType, n.Name, j, err)
		}
	}
	return outs, nil
}

// maxPending bounds the bytes of node outputs waiting to be hashed, so that
// a trace cannot hold every activation alive when hashing falls behind
// execution: the executor then waits, which costs no CPU it could have used.
const maxPending = 64 << 20

// hasher commits node outputs on a goroutine pool while execution goes on.
type hasher struct {
	mu      sync.Mutex
	cond    *sync.Cond
	pending int
	keep    bool
	m       *model.Model
	roots   [][]merkle.Hash
	trees   [][]*merkle.Tree
	jobs    chan hashJob
	wg      sync.WaitGroup
	// With recycle, a tensor goes back to the output pool once it is both
	// hashed and dead in the executor, whichever comes last. dropped holds
	// the tensors the executor released before they were hashed, with
	// whether to recycle them.
	recycle bool
	hashed  map[*tensor.Tensor]bool
	dropped map[*tensor.Tensor]bool
}

type hashJob struct {
	node, out int
	t         *tensor.Tensor
}

func newHasher(m *model.Model, nn, workers int, keep, recycle bool) *hasher {
	h := &hasher{keep: keep, m: m, roots: make([][]merkle.Hash, nn), jobs: make(chan hashJob, 1024),
		recycle: recycle, hashed: map[*tensor.Tensor]bool{}, dropped: map[*tensor.Tensor]bool{}}
	h.cond = sync.NewCond(&h.mu)
	if keep {
		h.trees = make([][]*merkle.Tree, nn)
	}
	for i := 0; i < nn; i++ {
		h.roots[i] = make([]merkle.Hash, len(m.Nodes[i].Outputs))
		if keep {
			h.trees[i] = make([]*merkle.Tree, len(m.Nodes[i].Outputs))
		}
	}
	for w := 0; w < workers; w++ {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			for j := range h.jobs {
				// Each job writes only its own slot.
				if keep {
					tr := model.ValueTree(j.t, 1)
					h.trees[j.node][j.out] = tr
					h.roots[j.node][j.out] = tr.Root()
				} else {
					h.roots[j.node][j.out] = model.ValueRoot(j.t, 1)
				}
				h.mu.Lock()
				h.pending -= bytesOf(j.t)
				h.cond.Broadcast()
				if h.recycle {
					if keep, ok := h.dropped[j.t]; ok {
						delete(h.dropped, j.t)
						if keep {
							ops.Recycle(j.t)
						}
					} else {
						h.hashed[j.t] = true
					}
				}
				h.mu.Unlock()
			}
		}()
	}
	return h
}

func bytesOf(t *tensor.Tensor) int { return t.Len() * t.DType.Size() }

func (h *hasher) submit(node int, outs []*tensor.Tensor) {
	for j, t := range outs {
		n := bytesOf(t)
		h.mu.Lock()
		for h.pending > 0 && h.pending+n > maxPending {
			h.cond.Wait()
		}
		h.pending += n
		h.mu.Unlock()
		h.jobs <- hashJob{node, j, t}
	}
}

// release reports that the executor no longer needs t; keep says whether
// its buffer should go back to the output pool once hashed.
func (h *hasher) release(t *tensor.Tensor, keep bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.recycle {
		return
	}
	if h.hashed[t] {
		delete(h.hashed, t)
		if keep {
			ops.Recycle(t)
		}
		return
	}
	h.dropped[t] = keep
}

func (h *hasher) close() {
	close(h.jobs)
	h.wg.Wait()
}

func (h *hasher) finish(ins []*tensor.Tensor) *Trace {
	h.close()
	tr := &Trace{ModelID: h.m.ID(), NodeRoots: h.roots, valueTrees: h.trees}
	il := make([]merkle.Hash, len(ins))
	for k, t := range ins {
		vt := model.ValueTree(t, 0)
		tr.inputTrees = append(tr.inputTrees, vt)
		tr.InputRoots = append(tr.InputRoots, vt.Root())
		root := vt.Root()
		il[k] = merkle.LeafHash(root[:])
	}
	tr.inputs = ins
	tr.inputTree, _ = merkle.New(il)
	nl := make([]merkle.Hash, len(h.roots))
	for i, r := range h.roots {
		nl[i] = merkle.LeafHash(nodeLeafData(r))
	}
	if len(nl) == 0 {
		nl = append(nl, merkle.LeafHash(nil))
	}
	tr.nodeTree, _ = merkle.New(nl)
	tr.InputsRoot = tr.inputTree.Root()
	tr.NodesRoot = tr.nodeTree.Root()
	tr.Root = TraceRoot(tr.ModelID, tr.InputsRoot, tr.NodesRoot, len(ins), len(h.roots))
	return tr
}

// elementwiseChains returns end[i] = the last node of a chain of at least
// two consecutive float32 elementwise nodes (Add, Sub, Mul, Div, Clip) of
// one output shape that starts at node i, or -1. Inside a chain each node's
// output is read by the next node only, so a plain run need not keep it.
func elementwiseChains(m *model.Model, nn int, lastUse [][]int, isOutput map[model.Ref]bool) []int {
	end := make([]int, nn)
	for i := range end {
		end[i] = -1
	}
	kind := func(n *model.Node) bool {
		switch n.OpType {
		case "Add", "Sub", "Mul", "Div", "Clip":
			return len(n.Outputs) == 1 && len(n.OutMetas) == 1 && n.OutMetas[0].DType == tensor.Float32
		}
		return false
	}
	for i := 0; i < nn; {
		if !kind(&m.Nodes[i]) {
			i++
			continue
		}
		shape := m.Nodes[i].OutMetas[0].Shape
		j := i
		for j+1 < nn {
			next := &m.Nodes[j+1]
			if !kind(next) || !slices.Equal(next.OutMetas[0].Shape, shape) ||
				lastUse[j][0] != j+1 || isOutput[model.Ref{Kind: model.RefNode, Index: j}] {
				break
			}
			j++
		}
		if j > i {
			end[i] = j
		}
		i = j + 1
	}
	return end
}

// runChain runs nodes s..e (an elementwiseChains chain) in one pass. It
// reports false, having run nothing, where a node's actual inputs do not
// fit a chain step; the nodes then run one by one.
func runChain(ctx *ops.Ctx, m *model.Model, s, e int, get func(model.Ref) *tensor.Tensor) (*tensor.Tensor, bool, error) {
	shape := m.Nodes[e].OutMetas[0].Shape
	steps := make([]ops.ChainStep, 0, e-s+1)
	for k := s; k <= e; k++ {
		n := &m.Nodes[k]
		in := make([]*tensor.Tensor, len(n.Inputs))
		prev := make([]bool, len(n.Inputs))
		for j, r := range n.InRefs {
			switch {
			case k > s && r.Kind == model.RefNode && r.Index == k-1:
				prev[j] = true
			case r.Kind != model.RefNone:
				if in[j] = get(r); in[j] == nil {
					return nil, false, nil // runNode says which input is missing
				}
			}
		}
		st, ok := ops.NewChainStep(n.OpType, in, prev, n.Attrs, shape)
		if !ok {
			return nil, false, nil
		}
		steps = append(steps, st)
	}
	out, err := ops.RunChain(ctx, shape, steps)
	if err != nil {
		return nil, false, fmt.Errorf("nodes %d to %d (elementwise chain): %w", s, e, err)
	}
	n := &m.Nodes[e]
	if err := checkTensor(out, n.OutMetas[0]); err != nil {
		return nil, false, fmt.Errorf("node %d (%s %q): output 0 %w", e, n.OpType, n.Name, err)
	}
	return out, true, nil
}

// releaseOutputs recycles the outputs of node i that nothing reads (plain
// runs, no hasher).
func releaseOutputs(i int, lastUse [][]int, isOutput map[model.Ref]bool, outs []*tensor.Tensor) {
	for j := range outs {
		if lastUse[i][j] < 0 && !isOutput[model.Ref{Kind: model.RefNode, Index: i, Output: j}] && outs[j] != nil {
			t := outs[j]
			outs[j] = nil
			if !aliases(t, outs) {
				ops.Recycle(t)
			}
		}
	}
}

// releaseInputs recycles the node outputs whose last reader is node i
// (plain runs, no hasher); outs are what node i (or its chain) produced.
func releaseInputs(n *model.Node, i int, lastUse [][]int, isOutput map[model.Ref]bool, vals [][]*tensor.Tensor, outs []*tensor.Tensor) {
	for _, r := range n.InRefs {
		if r.Kind == model.RefNode && lastUse[r.Index][r.Output] == i && !isOutput[r] && vals[r.Index][r.Output] != nil {
			t := vals[r.Index][r.Output]
			vals[r.Index][r.Output] = nil
			if !aliases(t, outs) {
				ops.Recycle(t)
			}
		}
	}
}

// weightCaches keeps the packed weights (ops.WeightCache) of the models
// run most recently, so that repeated runs of a model pack its Conv
// weights once; a few models at most, so that a process that loads many
// models does not keep each one's copy (the size of its Conv weights).
var weightCaches struct {
	mu     sync.Mutex
	models []*model.Model
	caches []*ops.WeightCache
}

const maxWeightCaches = 4

func weightCache(m *model.Model) *ops.WeightCache {
	weightCaches.mu.Lock()
	defer weightCaches.mu.Unlock()
	wc := &weightCaches
	if i := slices.Index(wc.models, m); i >= 0 {
		c := wc.caches[i]
		// most recent last
		wc.models = append(slices.Delete(wc.models, i, i+1), m)
		wc.caches = append(slices.Delete(wc.caches, i, i+1), c)
		return c
	}
	c := ops.NewWeightCache()
	wc.models, wc.caches = append(wc.models, m), append(wc.caches, c)
	if len(wc.models) > maxWeightCaches {
		wc.models[0], wc.caches[0] = nil, nil
		wc.models, wc.caches = wc.models[1:], wc.caches[1:]
	}
	return c
}
