package zk

import (
	"fmt"
	"math/bits"

	"github.com/provena/provena/tensor"
)

// The circuit is compiled from a small integer IR rather than straight from
// model nodes, so that the native reference (eval) and the circuit (Define)
// walk exactly the same index arithmetic.

type layerKind uint8

const (
	kLinear  layerKind = iota + 1 // QGemm and QConv
	kMaxPool                      // QMaxPool
	kAdd                          // QAdd
	kReshape                      // Flatten, Reshape
)

// value is one integer tensor of the core.
type value struct {
	dtype tensor.DType // Int8 or Int32
	shape []int
}

// requant is y = clamp(rshift(v*mult, shift), lo, hi) per channel, or the raw
// accumulator when out32.
type requant struct {
	mult, shift []int64
	lo, hi      int64
	out32       bool
}

// layer is one operator of the core. A linear layer is viewed as positions ×
// channels × reduction: output (p, n) = bias[n] + Σ_k x[xIndex(p, k)] ·
// w[n·K + k], with xIndex −1 for a zero (padded) input.
type layer struct {
	kind layerKind
	name string
	in   []int
	out  int

	// linear
	w, b     int // weight indices (b −1 when absent)
	P, N, K  int
	xIdx     []int32 // P×K, −1 for padding
	outIndex func(p, n int) int
	rq       requant

	// max pool: windows[o] lists the input indices of output o
	windows [][]int32

	// add
	multA, multB int64
}

// Graph is the integer core of a quantized model.
type Graph struct {
	values  []value
	input   int
	weights []*tensor.Tensor // in commitment order: per node, W then B
	layers  []layer
	outputs []int
}

// InputShape is the shape of the circuit's int8 input.
func (g *Graph) InputShape() []int { return g.values[g.input].shape }

// OutputSizes are the element counts of the outputs, in order.
func (g *Graph) OutputSizes() []int {
	out := make([]int, len(g.outputs))
	for i, o := range g.outputs {
		out[i] = tensor.NumElements(g.values[o].shape)
	}
	return out
}

// MACs counts multiply-accumulates of the linear layers (padding excluded).
func (g *Graph) MACs() int64 {
	var n int64
	for i := range g.layers {
		l := &g.layers[i]
		if l.kind != kLinear {
			continue
		}
		for _, xi := range l.xIdx {
			if xi >= 0 {
				n += int64(l.N)
			}
		}
	}
	return n
}

func (g *Graph) addValue(dt tensor.DType, shape []int) int {
	g.values = append(g.values, value{dtype: dt, shape: append([]int(nil), shape...)})
	return len(g.values) - 1
}

// rshift is the contract's rounding shift: (v + 2^(s−1)) >> s, arithmetic.
func rshift(v int64, s int64) int64 { return (v + 1<<(s-1)) >> s }

func clamp(v, lo, hi int64) int64 { return max(lo, min(v, hi)) }

// mulChecked multiplies, failing where int64 would overflow (the quantizer
// guarantees |acc·mult| < 2^62, so a failure is a malformed model).
func mulChecked(a, b int64) (int64, error) {
	neg := (a < 0) != (b < 0)
	ua, ub := uint64(a), uint64(b)
	if a < 0 {
		ua = uint64(-a)
	}
	if b < 0 {
		ub = uint64(-b)
	}
	hi, lo := bits.Mul64(ua, ub)
	if hi != 0 || lo >= 1<<62 {
		return 0, fmt.Errorf("|%d × %d| reaches 2^62", a, b)
	}
	if neg {
		return -int64(lo), nil
	}
	return int64(lo), nil
}

func (r *requant) apply(acc int64, n int) (int64, error) {
	// the runtime rejects an accumulator outside int32 in both modes
	if acc < -1<<31 || acc >= 1<<31 {
		return 0, fmt.Errorf("accumulator %d leaves int32", acc)
	}
	if r.out32 {
		return acc, nil
	}
	v, err := mulChecked(acc, r.mult[n])
	if err != nil {
		return 0, err
	}
	return clamp(rshift(v, r.shift[n]), r.lo, r.hi), nil
}

// Eval runs the core natively on an int8 input and returns every value
// (values[g.outputs[i]] are the outputs).
func (g *Graph) Eval(x []int64) ([][]int64, error) {
	vals := make([][]int64, len(g.values))
	if want := tensor.NumElements(g.values[g.input].shape); len(x) != want {
		return nil, fmt.Errorf("zk: input has %d values, circuit takes %d", len(x), want)
	}
	for i, v := range x {
		if v < -128 || v > 127 {
			return nil, fmt.Errorf("zk: input value %d at %d is not int8", v, i)
		}
	}
	vals[g.input] = x
	w := make([][]int64, len(g.weights))
	for i, t := range g.weights {
		w[i] = tensorInts(t)
	}
	for li := range g.layers {
		l := &g.layers[li]
		out := make([]int64, tensor.NumElements(g.values[l.out].shape))
		switch l.kind {
		case kLinear:
			x := vals[l.in[0]]
			W := w[l.w]
			for p := 0; p < l.P; p++ {
				row := l.xIdx[p*l.K : (p+1)*l.K]
				for n := 0; n < l.N; n++ {
					var acc int64
					if l.b >= 0 {
						acc = w[l.b][n]
					}
					wr := W[n*l.K : (n+1)*l.K]
					for k, xi := range row {
						if xi >= 0 {
							acc += x[xi] * wr[k]
						}
					}
					y, err := l.rq.apply(acc, n)
					if err != nil {
						return nil, fmt.Errorf("zk: layer %s: %w", l.name, err)
					}
					out[l.outIndex(p, n)] = y
				}
			}
		case kMaxPool:
			x := vals[l.in[0]]
			for o, win := range l.windows {
				m := x[win[0]]
				for _, xi := range win[1:] {
					m = max(m, x[xi])
				}
				out[o] = m
			}
		case kAdd:
			a, b := vals[l.in[0]], vals[l.in[1]]
			for i := range out {
				s := a[i]*l.multA + b[i]*l.multB
				out[i] = clamp(rshift(s, l.rq.shift[0]), l.rq.lo, l.rq.hi)
			}
		case kReshape:
			copy(out, vals[l.in[0]])
		}
		vals[l.out] = out
	}
	return vals, nil
}

// Outputs runs Eval and returns the outputs concatenated in order.
func (g *Graph) Outputs(x []int64) ([]int64, error) {
	vals, err := g.Eval(x)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, o := range g.outputs {
		out = append(out, vals[o]...)
	}
	return out, nil
}

// gemmLayer builds a linear layer for X [M,K] · W[N,K]ᵀ.
func gemmLayer(M, K, N int) layer {
	l := layer{kind: kLinear, P: M, N: N, K: K, xIdx: make([]int32, M*K)}
	for m := 0; m < M; m++ {
		for k := 0; k < K; k++ {
			l.xIdx[m*K+k] = int32(m*K + k)
		}
	}
	l.outIndex = func(p, n int) int { return p*N + n }
	return l
}

// convLayer builds a linear layer for a 2-D convolution (group 1, dilation
// 1), reduction index k = (c·kh + i)·kw + j as the contract orders it.
func convLayer(B, C, H, W, Co, kh, kw int, strides, pads []int) (layer, []int, error) {
	OH := (H+pads[0]+pads[2]-kh)/strides[0] + 1
	OW := (W+pads[1]+pads[3]-kw)/strides[1] + 1
	if OH <= 0 || OW <= 0 {
		return layer{}, nil, fmt.Errorf("empty convolution output")
	}
	K := C * kh * kw
	P := B * OH * OW
	l := layer{kind: kLinear, P: P, N: Co, K: K, xIdx: make([]int32, P*K)}
	for b := 0; b < B; b++ {
		for oh := 0; oh < OH; oh++ {
			for ow := 0; ow < OW; ow++ {
				p := (b*OH+oh)*OW + ow
				for c := 0; c < C; c++ {
					for i := 0; i < kh; i++ {
						for j := 0; j < kw; j++ {
							k := (c*kh+i)*kw + j
							ih := oh*strides[0] - pads[0] + i
							iw := ow*strides[1] - pads[1] + j
							xi := int32(-1)
							if ih >= 0 && ih < H && iw >= 0 && iw < W {
								xi = int32(((b*C+c)*H+ih)*W + iw)
							}
							l.xIdx[p*K+k] = xi
						}
					}
				}
			}
		}
	}
	l.outIndex = func(p, n int) int {
		b, r := p/(OH*OW), p%(OH*OW)
		return (b*Co+n)*OH*OW + r
	}
	return l, []int{B, Co, OH, OW}, nil
}

// poolLayer builds max-pool windows (no padding).
func poolLayer(B, C, H, W, kh, kw, sh, sw int) (layer, []int, error) {
	OH := (H-kh)/sh + 1
	OW := (W-kw)/sw + 1
	if OH <= 0 || OW <= 0 {
		return layer{}, nil, fmt.Errorf("empty pooling output")
	}
	l := layer{kind: kMaxPool, windows: make([][]int32, B*C*OH*OW)}
	for bc := 0; bc < B*C; bc++ {
		for oh := 0; oh < OH; oh++ {
			for ow := 0; ow < OW; ow++ {
				win := make([]int32, 0, kh*kw)
				for i := 0; i < kh; i++ {
					for j := 0; j < kw; j++ {
						win = append(win, int32((bc*H+oh*sh+i)*W+ow*sw+j))
					}
				}
				l.windows[(bc*OH+oh)*OW+ow] = win
			}
		}
	}
	return l, []int{B, C, OH, OW}, nil
}

// NewGraph starts a graph whose input is an int8 tensor of the given shape.
func NewGraph(inputShape []int) (*Graph, error) {
	if _, err := tensor.CheckShape(inputShape); err != nil {
		return nil, fmt.Errorf("zk: input shape: %w", err)
	}
	g := &Graph{}
	g.input = g.addValue(tensor.Int8, inputShape)
	return g, nil
}

func (g *Graph) checkValue(v int, dt tensor.DType) error {
	if v < 0 || v >= len(g.values) {
		return fmt.Errorf("value %d undefined", v)
	}
	if g.values[v].dtype != dt {
		return fmt.Errorf("value %d is %v, want %v", v, g.values[v].dtype, dt)
	}
	return nil
}

func (g *Graph) addWeight(t *tensor.Tensor, dt tensor.DType, shape ...int) (int, error) {
	if t == nil || t.DType != dt {
		return 0, fmt.Errorf("weight must be %v", dt)
	}
	if tensor.NumElements(t.Shape) != tensor.NumElements(shape) || t.Len() != tensor.NumElements(shape) {
		return 0, fmt.Errorf("weight shape %v, want %v", t.Shape, shape)
	}
	g.weights = append(g.weights, t)
	return len(g.weights) - 1, nil
}

func (r *requant) check(n int) error {
	if r.out32 {
		return nil
	}
	if len(r.mult) != n || len(r.shift) != n {
		return fmt.Errorf("mult and shift need %d entries", n)
	}
	for i := range r.mult {
		if r.mult[i] < 1 || r.mult[i] >= 1<<31 {
			return fmt.Errorf("mult[%d] = %d outside 1..2^31-1", i, r.mult[i])
		}
		if r.shift[i] < 1 || r.shift[i] > 62 {
			return fmt.Errorf("shift[%d] = %d outside 1..62", i, r.shift[i])
		}
	}
	if r.lo < -128 || r.lo > r.hi || r.hi > 127 {
		return fmt.Errorf("clamp [%d, %d] outside int8", r.lo, r.hi)
	}
	return nil
}

func (g *Graph) addLinear(l layer, name string, x int, W, B *tensor.Tensor, outShape []int, rq requant) (int, error) {
	l.name, l.in, l.rq, l.b = name, []int{x}, rq, -1
	if err := rq.check(l.N); err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	var err error
	if l.w, err = g.addWeight(W, tensor.Int8, l.N, l.K); err != nil {
		return 0, fmt.Errorf("%s: W: %w", name, err)
	}
	if B != nil {
		if l.b, err = g.addWeight(B, tensor.Int32, l.N); err != nil {
			return 0, fmt.Errorf("%s: B: %w", name, err)
		}
	}
	dt := tensor.Int8
	if rq.out32 {
		dt = tensor.Int32
	}
	l.out = g.addValue(dt, outShape)
	g.layers = append(g.layers, l)
	return l.out, nil
}

// AddGemm adds y = requant(B + X·Wᵀ) for X int8 [M,K], W int8 [N,K], B int32
// [N] or nil.
func (g *Graph) AddGemm(name string, x int, W, B *tensor.Tensor, mult, shift []int64, lo, hi int64, out32 bool) (int, error) {
	if err := g.checkValue(x, tensor.Int8); err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	xs := g.values[x].shape
	if len(xs) != 2 || W == nil || len(W.Shape) != 2 || W.Shape[1] != xs[1] {
		return 0, fmt.Errorf("%s: want X [M,K] and W [N,K]", name)
	}
	M, K, N := xs[0], xs[1], W.Shape[0]
	return g.addLinear(gemmLayer(M, K, N), name, x, W, B, []int{M, N}, requant{mult: mult, shift: shift, lo: lo, hi: hi, out32: out32})
}

// AddConv adds a 2-D convolution, X int8 [B,C,H,W], W int8 [Co,C,kh,kw].
func (g *Graph) AddConv(name string, x int, W, B *tensor.Tensor, strides, pads []int, mult, shift []int64, lo, hi int64, out32 bool) (int, error) {
	if err := g.checkValue(x, tensor.Int8); err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	xs := g.values[x].shape
	if len(xs) != 4 || W == nil || len(W.Shape) != 4 || W.Shape[1] != xs[1] {
		return 0, fmt.Errorf("%s: want X [B,C,H,W] and W [Co,C,kh,kw]", name)
	}
	if len(strides) != 2 || len(pads) != 4 || strides[0] < 1 || strides[1] < 1 {
		return 0, fmt.Errorf("%s: want 2 positive strides and 4 pads", name)
	}
	for _, p := range pads {
		if p < 0 || p > 1<<10 {
			return 0, fmt.Errorf("%s: pad %d", name, p)
		}
	}
	l, outShape, err := convLayer(xs[0], xs[1], xs[2], xs[3], W.Shape[0], W.Shape[2], W.Shape[3], strides, pads)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return g.addLinear(l, name, x, W, B, outShape, requant{mult: mult, shift: shift, lo: lo, hi: hi, out32: out32})
}

// AddMaxPool adds a max pool over X int8 [B,C,H,W] (no padding).
func (g *Graph) AddMaxPool(name string, x int, kernel, strides []int) (int, error) {
	if err := g.checkValue(x, tensor.Int8); err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	xs := g.values[x].shape
	if len(xs) != 4 || len(kernel) != 2 || len(strides) != 2 || kernel[0] < 1 || kernel[1] < 1 || strides[0] < 1 || strides[1] < 1 {
		return 0, fmt.Errorf("%s: want X [B,C,H,W], 2 kernel sizes, 2 strides", name)
	}
	l, outShape, err := poolLayer(xs[0], xs[1], xs[2], xs[3], kernel[0], kernel[1], strides[0], strides[1])
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	l.name, l.in = name, []int{x}
	l.out = g.addValue(tensor.Int8, outShape)
	g.layers = append(g.layers, l)
	return l.out, nil
}

// AddAdd adds y = clamp(rshift(a·multA + b·multB, shift), lo, hi).
func (g *Graph) AddAdd(name string, a, b int, multA, multB, shift, lo, hi int64) (int, error) {
	for _, v := range []int{a, b} {
		if err := g.checkValue(v, tensor.Int8); err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
	}
	if tensor.NumElements(g.values[a].shape) != tensor.NumElements(g.values[b].shape) {
		return 0, fmt.Errorf("%s: operands differ in shape", name)
	}
	rq := requant{mult: []int64{1}, shift: []int64{shift}, lo: lo, hi: hi}
	if err := rq.check(1); err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	if multA < -(1<<31) || multA >= 1<<31 || multB < -(1<<31) || multB >= 1<<31 {
		return 0, fmt.Errorf("%s: multipliers must fit int32", name)
	}
	l := layer{kind: kAdd, name: name, in: []int{a, b}, multA: multA, multB: multB, rq: rq}
	l.out = g.addValue(tensor.Int8, g.values[a].shape)
	g.layers = append(g.layers, l)
	return l.out, nil
}

// AddReshape gives x a new shape (Flatten, Reshape): no constraint.
func (g *Graph) AddReshape(name string, x int, shape []int) (int, error) {
	if x < 0 || x >= len(g.values) {
		return 0, fmt.Errorf("%s: value %d undefined", name, x)
	}
	if tensor.NumElements(shape) != tensor.NumElements(g.values[x].shape) {
		return 0, fmt.Errorf("%s: reshape %v to %v", name, g.values[x].shape, shape)
	}
	l := layer{kind: kReshape, name: name, in: []int{x}}
	l.out = g.addValue(g.values[x].dtype, shape)
	g.layers = append(g.layers, l)
	return l.out, nil
}

// SetOutputs names the circuit's outputs, in order.
func (g *Graph) SetOutputs(vs ...int) error {
	if len(vs) == 0 {
		return fmt.Errorf("zk: a circuit needs an output")
	}
	for _, v := range vs {
		if v < 0 || v >= len(g.values) || v == g.input {
			return fmt.Errorf("zk: output value %d is not a layer output", v)
		}
	}
	g.outputs = append([]int(nil), vs...)
	return nil
}

// outputTensors wraps the evaluated outputs as tensors of their dtypes.
func (g *Graph) outputTensors(vals [][]int64) ([]*tensor.Tensor, error) {
	ts := make([]*tensor.Tensor, len(g.outputs))
	for i, o := range g.outputs {
		t, err := tensor.New(g.values[o].dtype, g.values[o].shape)
		if err != nil {
			return nil, err
		}
		for j, v := range vals[o] {
			if t.DType == tensor.Int8 {
				t.I8[j] = int8(v)
			} else {
				t.I32[j] = int32(v)
			}
		}
		ts[i] = t
	}
	return ts, nil
}
