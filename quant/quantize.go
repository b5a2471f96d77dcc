package quant

import (
	"fmt"
	"math"

	"github.com/provena/provena/model"
	"github.com/provena/provena/ops"
	"github.com/provena/provena/tensor"
)

// actMax is the int8 range activations and weights use: symmetric
// [-127, 127], so that negation never overflows and -128 stays unused.
const actMax = 127

// accBoundInput is the largest |x| the static accumulator bound assumes for
// an int8 input: 128, not 127, so the bound holds for any int8 tensor a
// prover or a hand-built input could feed the core.
const accBoundInput = 128

// Layer describes one quantized operator in the report.
type Layer struct {
	Node     string     `json:"node"`
	Op       string     `json:"op"`
	From     []string   `json:"from"`              // float nodes folded into it
	InScale  float64    `json:"in_scale"`          // real value of one input step
	OutScale float64    `json:"out_scale"`         // real value of one output step
	WScale   [2]float64 `json:"w_scale,omitempty"` // min and max weight scale over channels
	Mult     [2]int64   `json:"mult,omitempty"`    // min and max multiplier
	Shift    [2]int64   `json:"shift,omitempty"`   // min and max shift
	Lo       int64      `json:"lo"`
	Hi       int64      `json:"hi"`
	Int32Out bool       `json:"int32_out,omitempty"`
	AccBound int64      `json:"acc_bound,omitempty"` // static bound on |accumulator| over channels
}

// Report summarizes a quantization.
type Report struct {
	Samples     int     `json:"calibration_samples"`
	Calibration string  `json:"calibration"`
	Layers      []Layer `json:"layers"`
	Params      int64   `json:"params"`
	WeightBytes int64   `json:"weight_bytes"`
}

// qval is the quantized form of a float value: real = q * scale.
type qval struct {
	name  string
	scale float64
	dtype tensor.DType
}

type builder struct {
	m         *model.Model
	cal       *Calibration
	opts      Options
	nodes     []model.Node
	weights   []model.Weight
	vals      map[string]qval
	consumers map[string][]int
	isOutput  map[string]bool
	names     map[string]bool
	copied    map[string]bool
	done      []bool
	rep       *Report
}

// QuantizeDir is LoadSamples, Calibrate and Quantize: the model quantized
// on the calibration inputs in dir.
func QuantizeDir(m *model.Model, dir string, opts Options) (*model.Model, *Report, error) {
	samples, err := LoadSamples(m, dir)
	if err != nil {
		return nil, nil, err
	}
	cal, err := Calibrate(m, samples, opts)
	if err != nil {
		return nil, nil, err
	}
	return Quantize(m, cal, opts)
}

// Quantize rewrites a validated float model into a quantized one:
// QQuantize on every input, the integer core, QDequantize on every output.
// Supported float nodes (as onnx.Import leaves them): Gemm (transA 0), MatMul
// with a constant right operand (and a following Add of a constant bias),
// Conv (group 1, dilation 1), each optionally followed by Relu or Clip which
// fold into lo/hi; MaxPool without padding; Flatten and Reshape; Add of two
// activations (optionally followed by Relu or Clip). Any other node is an
// error naming it.
func Quantize(m *model.Model, cal *Calibration, opts Options) (*model.Model, *Report, error) {
	if !m.Validated() {
		return nil, nil, fmt.Errorf("quantize: model not validated")
	}
	if cal == nil || cal.Samples == 0 {
		return nil, nil, fmt.Errorf("quantize: no calibration")
	}
	b := &builder{
		m: m, cal: cal, opts: opts,
		vals: map[string]qval{}, consumers: map[string][]int{}, isOutput: map[string]bool{},
		names: map[string]bool{}, copied: map[string]bool{}, done: make([]bool, len(m.Nodes)),
		rep: &Report{Samples: cal.Samples, Calibration: fmt.Sprintf("max |x| over %d samples; scale = max/127", cal.Samples)},
	}
	for _, in := range m.Inputs {
		b.names[in.Name] = true
	}
	for _, w := range m.Weights {
		b.names[w.Name] = true
	}
	for i, n := range m.Nodes {
		b.names[n.Name] = true
		for _, o := range n.Outputs {
			b.names[o] = true
		}
		for _, in := range n.Inputs {
			if in != "" {
				b.consumers[in] = append(b.consumers[in], i)
			}
		}
	}
	for _, o := range m.Outputs {
		b.isOutput[o.Name] = true
	}
	for _, in := range m.Inputs {
		if in.DType != tensor.Float32 {
			return nil, nil, fmt.Errorf("quantize: input %q is %v, want float32", in.Name, in.DType)
		}
		s, err := b.scaleOf(in.Name)
		if err != nil {
			return nil, nil, err
		}
		q := b.fresh(in.Name + "_q")
		b.emit(model.Node{Name: b.fresh("quantize_" + in.Name), OpType: "QQuantize", Inputs: []string{in.Name}, Outputs: []string{q},
			Attrs: ops.Attrs{"scale": {Kind: ops.AttrFloat, Float: float32(s)}}})
		b.vals[in.Name] = qval{q, s, tensor.Int8}
	}
	for i := range m.Nodes {
		if b.done[i] {
			continue
		}
		if err := b.node(i); err != nil {
			n := &m.Nodes[i]
			return nil, nil, fmt.Errorf("quantize: node %d (%s %q): %w", i, n.OpType, n.Name, err)
		}
	}
	for _, o := range m.Outputs {
		v, ok := b.vals[o.Name]
		if !ok {
			return nil, nil, fmt.Errorf("quantize: output %q has no quantized value", o.Name)
		}
		b.emit(model.Node{Name: b.fresh("dequantize_" + o.Name), OpType: "QDequantize", Inputs: []string{v.name}, Outputs: []string{o.Name},
			Attrs: ops.Attrs{"scale": {Kind: ops.AttrFloat, Float: float32(v.scale)}}})
	}
	name := m.Name + ".int8"
	if m.Name == "" {
		name = "int8"
	}
	q := &model.Model{Name: name, Opset: m.Opset, Inputs: m.Inputs, Outputs: m.Outputs, Nodes: b.nodes, Weights: b.weights}
	if err := q.Validate(); err != nil {
		return nil, nil, fmt.Errorf("quantize: the quantized model does not validate: %w", err)
	}
	b.rep.Params = q.Params()
	for _, w := range q.Weights {
		b.rep.WeightBytes += int64(w.Tensor.Len() * w.Tensor.DType.Size())
	}
	return q, b.rep, nil
}

func (b *builder) emit(n model.Node) { b.nodes = append(b.nodes, n) }

// fresh returns a name not used in the float model nor yet in the new one.
func (b *builder) fresh(base string) string {
	name := base
	for k := 2; b.names[name]; k++ {
		name = fmt.Sprintf("%s_%d", base, k)
	}
	b.names[name] = true
	return name
}

// scaleOf is the activation scale of a float value, max|x|/127 rounded to
// float32 (the scales that reach attributes are float32, and every integer
// derived from a scale must use the value the model stores). A value that
// was always zero gets scale 1/127.
func (b *builder) scaleOf(name string) (float64, error) {
	mx, ok := b.cal.Max[name]
	if !ok {
		return 0, fmt.Errorf("no calibration range for value %q (calibrate on this model)", name)
	}
	if mx == 0 {
		mx = 1
	}
	s := float64(float32(mx / actMax))
	if !(s > 0) || math.IsInf(s, 0) {
		return 0, fmt.Errorf("value %q: range %g gives no usable float32 scale", name, mx)
	}
	return s, nil
}

// input returns the quantized value feeding input j of node n.
func (b *builder) input(n *model.Node, j int) (qval, error) {
	if j >= len(n.Inputs) || n.Inputs[j] == "" {
		return qval{}, fmt.Errorf("input %d is missing", j)
	}
	v, ok := b.vals[n.Inputs[j]]
	if !ok {
		if n.InRefs[j].Kind == model.RefWeight {
			return qval{}, fmt.Errorf("input %d (%q) is a constant; only activations are supported there", j, n.Inputs[j])
		}
		return qval{}, fmt.Errorf("input %d (%q) has no quantized value", j, n.Inputs[j])
	}
	return v, nil
}

// weight returns input j of n, which must be a float32 weight.
func (b *builder) weight(n *model.Node, j int) (*tensor.Tensor, error) {
	if j >= len(n.Inputs) || n.Inputs[j] == "" || n.InRefs[j].Kind != model.RefWeight {
		return nil, fmt.Errorf("input %d must be a constant weight", j)
	}
	t, _ := b.m.Weight(n.Inputs[j])
	if t == nil || t.DType != tensor.Float32 {
		return nil, fmt.Errorf("input %d (%q) must be a float32 weight", j, n.Inputs[j])
	}
	return t, nil
}

// sole returns the only consumer of value v when v is not a graph output,
// else -1.
func (b *builder) sole(v string) int {
	if b.isOutput[v] || len(b.consumers[v]) != 1 {
		return -1
	}
	return b.consumers[v][0]
}

func (b *builder) node(i int) error {
	n := &b.m.Nodes[i]
	switch n.OpType {
	case "Gemm", "MatMul", "Conv":
		return b.linear(i)
	case "Add":
		return b.add(i)
	case "MaxPool":
		return b.maxPool(i)
	case "Flatten", "Reshape":
		return b.layout(i)
	case "Relu", "Clip":
		return fmt.Errorf("%s is only supported right after Gemm, MatMul, Conv or Add (it folds into their output range)", n.OpType)
	}
	return fmt.Errorf("operator %s is not supported by the quantizer", n.OpType)
}

// activation folds a sole Relu or Clip consumer of value v into [lo, hi]
// at output scale of the folded value; it returns the final float value.
func (b *builder) activation(v string, from *[]string) (string, [2]float64, bool, error) {
	k := b.sole(v)
	if k < 0 {
		return v, [2]float64{}, false, nil
	}
	n := &b.m.Nodes[k]
	switch n.OpType {
	case "Relu":
		b.done[k] = true
		*from = append(*from, n.Name)
		return n.Outputs[0], [2]float64{0, math.Inf(1)}, true, nil
	case "Clip":
		lo, hi := math.Inf(-1), math.Inf(1)
		if opsetOf(n) < 11 {
			if a, ok := n.Attrs["min"]; ok && a.Kind == ops.AttrFloat {
				lo = float64(a.Float)
			}
			if a, ok := n.Attrs["max"]; ok && a.Kind == ops.AttrFloat {
				hi = float64(a.Float)
			}
		} else {
			for j, p := range []*float64{&lo, &hi} {
				if j+1 >= len(n.Inputs) || n.Inputs[j+1] == "" {
					continue
				}
				t, err := b.weight(n, j+1)
				if err != nil {
					return "", [2]float64{}, false, fmt.Errorf("node %q (Clip): %w", n.Name, err)
				}
				*p = float64(t.F32[0])
			}
		}
		b.done[k] = true
		*from = append(*from, n.Name)
		return n.Outputs[0], [2]float64{lo, hi}, true, nil
	}
	return v, [2]float64{}, false, nil
}

func opsetOf(n *model.Node) int64 {
	if a, ok := n.Attrs[ops.OpsetAttr]; ok && a.Kind == ops.AttrInt {
		return a.Int
	}
	return ops.DefaultOpset
}

// bounds turns a folded real range into int8 lo/hi at scale s.
func bounds(r [2]float64, folded bool, s float64) (int64, int64, error) {
	lo, hi := int64(-actMax), int64(actMax)
	if !folded {
		return lo, hi, nil
	}
	if !math.IsInf(r[0], -1) {
		lo = max(lo, min(int64(actMax), int64(math.Round(r[0]/s))))
	}
	if !math.IsInf(r[1], 1) {
		hi = min(hi, max(-int64(actMax), int64(math.Round(r[1]/s))))
	}
	if lo > hi {
		return 0, 0, fmt.Errorf("activation range [%g, %g] is empty at scale %g", r[0], r[1], s)
	}
	return lo, hi, nil
}

// MultShift returns mult and shift with mult * 2^-shift closest to M for
// the largest shift in 1..62 that keeps mult <= 2^31-1 (maximum precision).
func MultShift(M float64) (int64, int64, error) {
	if !(M > 0) || math.IsInf(M, 0) {
		return 0, 0, fmt.Errorf("multiplier %g is not positive and finite", M)
	}
	for s := int64(ops.QShiftMax); s >= 1; s-- {
		m := math.Round(math.Ldexp(M, int(s)))
		if m <= ops.QMultMax {
			if m < 1 {
				return 0, 0, fmt.Errorf("multiplier %g is below 2^-63 (the layer's output would always be 0)", M)
			}
			return int64(m), s, nil
		}
	}
	return 0, 0, fmt.Errorf("multiplier %g is too large (needs mult >= 2^31 at shift 1)", M)
}

// linear quantizes Gemm, MatMul (with a following bias Add) and Conv, with
// a folded Relu or Clip.
func (b *builder) linear(i int) error {
	n := &b.m.Nodes[i]
	from := []string{n.Name}
	x, err := b.input(n, 0)
	if err != nil {
		return err
	}
	if x.dtype != tensor.Int8 {
		return fmt.Errorf("input 0 is %v, want int8", x.dtype)
	}
	wt, err := b.weight(n, 1)
	if err != nil {
		return err
	}
	var rows [][]float64 // rows[o] = weights of output channel o
	var bias []float64   // nil: no bias
	var wShape []int
	attrs := ops.Attrs{}
	op := "QGemm"
	switch n.OpType {
	case "Gemm":
		ta, tb := intAttr(n, "transA", 0), intAttr(n, "transB", 0)
		alpha, beta := floatAttr(n, "alpha", 1), floatAttr(n, "beta", 1)
		if ta != 0 {
			return fmt.Errorf("transA=1 is not supported")
		}
		K, N := wt.Shape[0], wt.Shape[1]
		if tb != 0 {
			K, N = N, K
		}
		rows = make([][]float64, N)
		for o := range rows {
			rows[o] = make([]float64, K)
			for k := range K {
				v := wt.F32[k*N+o]
				if tb != 0 {
					v = wt.F32[o*K+k]
				}
				rows[o][k] = float64(alpha) * float64(v)
			}
		}
		if len(n.Inputs) > 2 && n.Inputs[2] != "" {
			c, err := b.weight(n, 2)
			if err != nil {
				return err
			}
			if bias, err = channelBias(c, N, float64(beta)); err != nil {
				return fmt.Errorf("input 2: %w", err)
			}
		}
		wShape = []int{N, K}
	case "MatMul":
		if len(n.InMetas[0].Shape) != 2 || len(wt.Shape) != 2 {
			return fmt.Errorf("only 2-D MatMul is supported, got %v x %v", n.InMetas[0].Shape, wt.Shape)
		}
		K, N := wt.Shape[0], wt.Shape[1]
		rows = make([][]float64, N)
		for o := range rows {
			rows[o] = make([]float64, K)
			for k := range K {
				rows[o][k] = float64(wt.F32[k*N+o])
			}
		}
		// fold a following Add of a constant bias
		out := n.Outputs[0]
		if k := b.sole(out); k >= 0 && b.m.Nodes[k].OpType == "Add" {
			a := &b.m.Nodes[k]
			other := 1
			if a.Inputs[1] == out {
				other = 0
			}
			if a.InRefs[other].Kind == model.RefWeight && equalShape(a.OutMetas[0].Shape, n.OutMetas[0].Shape) {
				c, err := b.weight(a, other)
				if err != nil {
					return err
				}
				if bias, err = channelBias(c, N, 1); err != nil {
					return fmt.Errorf("bias Add %q: %w", a.Name, err)
				}
				b.done[k] = true
				from = append(from, a.Name)
			}
		}
		wShape = []int{N, K}
	case "Conv":
		if len(wt.Shape) != 4 {
			return fmt.Errorf("only 2-D convolutions are supported (weights %v)", wt.Shape)
		}
		if g := intAttr(n, "group", 1); g != 1 {
			return fmt.Errorf("group %d is not supported (only 1)", g)
		}
		if d, ok := n.Attrs["dilations"]; ok {
			for _, v := range d.Ints {
				if v != 1 {
					return fmt.Errorf("dilations %v are not supported (only 1)", d.Ints)
				}
			}
		}
		pads := []int64{0, 0, 0, 0}
		if p, ok := n.Attrs["pads"]; ok {
			pads = p.Ints
		}
		switch ap, _ := n.Attrs["auto_pad"]; ap.String {
		case "", "NOTSET":
		case "VALID":
			pads = []int64{0, 0, 0, 0}
		default:
			return fmt.Errorf("auto_pad %s is not supported (give explicit pads)", ap.String)
		}
		strides := []int64{1, 1}
		if s, ok := n.Attrs["strides"]; ok {
			strides = s.Ints
		}
		attrs["pads"] = ops.Attr{Kind: ops.AttrInts, Ints: append([]int64(nil), pads...)}
		attrs["strides"] = ops.Attr{Kind: ops.AttrInts, Ints: append([]int64(nil), strides...)}
		Co := wt.Shape[0]
		K := wt.Shape[1] * wt.Shape[2] * wt.Shape[3]
		rows = make([][]float64, Co)
		for o := range rows {
			rows[o] = make([]float64, K)
			for k := range K {
				rows[o][k] = float64(wt.F32[o*K+k])
			}
		}
		if len(n.Inputs) > 2 && n.Inputs[2] != "" {
			c, err := b.weight(n, 2)
			if err != nil {
				return err
			}
			if bias, err = channelBias(c, Co, 1); err != nil {
				return fmt.Errorf("input 2: %w", err)
			}
		}
		wShape = append([]int(nil), wt.Shape...)
		op = "QConv"
	}
	out := n.Outputs[0]
	if len(from) > 1 {
		out = b.m.Nodes[b.consumers[n.Outputs[0]][0]].Outputs[0]
	}
	final, rng, folded, err := b.activation(out, &from)
	if err != nil {
		return err
	}
	int32Out := !b.opts.Int8Outputs && !folded && b.isOutput[final] && len(b.consumers[final]) == 0
	N := len(rows)
	K := 0
	if N > 0 {
		K = len(rows[0])
	}
	// weight scales: per output channel, or one for an int32 output
	wmax := make([]float64, N)
	all := 0.0
	for o, r := range rows {
		for _, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("weight of channel %d is not finite", o)
			}
			wmax[o] = max(wmax[o], math.Abs(v))
		}
		all = max(all, wmax[o])
	}
	if bias != nil {
		for o, v := range bias {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("bias of channel %d is not finite", o)
			}
		}
	}
	var sOut float64
	if !int32Out {
		if sOut, err = b.scaleOf(final); err != nil {
			return err
		}
	}
	sw := make([]float64, N)
	for o := range sw {
		m := wmax[o]
		if int32Out {
			m = all
		}
		switch {
		case m > 0:
			sw[o] = m / actMax
		case int32Out:
			sw[o] = 1.0 / actMax
		default:
			// an all-zero channel outputs only its bias: M = 1 keeps the
			// bias exactly as precise as the output
			sw[o] = sOut / x.scale
		}
	}
	qw, err := tensor.New(tensor.Int8, wShape)
	if err != nil {
		return err
	}
	qb, err := tensor.New(tensor.Int32, []int{N})
	if err != nil {
		return err
	}
	mult, shift := make([]int64, N), make([]int64, N)
	layer := Layer{Op: op, From: from, InScale: x.scale, Int32Out: int32Out, WScale: [2]float64{math.Inf(1), 0},
		Mult: [2]int64{math.MaxInt64, 0}, Shift: [2]int64{math.MaxInt64, 0}}
	for o, r := range rows {
		var sum int64
		for k, v := range r {
			q := int64(math.Round(v / sw[o]))
			q = max(-actMax, min(actMax, q))
			qw.I8[o*K+k] = int8(q)
			sum += abs(q)
		}
		var bq int64
		if bias != nil {
			fb := math.Round(bias[o] / (x.scale * sw[o]))
			if math.Abs(fb) > math.MaxInt32 {
				return fmt.Errorf("channel %d: bias %g does not fit int32 at scale %g", o, bias[o], x.scale*sw[o])
			}
			bq = int64(fb)
			qb.I32[o] = int32(bq)
		}
		bound := abs(bq) + accBoundInput*sum
		if bound > math.MaxInt32 {
			return fmt.Errorf("channel %d: accumulator bound %d exceeds 2^31-1 (|bias| + 128*sum|w|)", o, bound)
		}
		layer.AccBound = max(layer.AccBound, bound)
		layer.WScale[0], layer.WScale[1] = min(layer.WScale[0], sw[o]), max(layer.WScale[1], sw[o])
		if int32Out {
			continue
		}
		if mult[o], shift[o], err = MultShift(x.scale * sw[o] / sOut); err != nil {
			return fmt.Errorf("channel %d: %w", o, err)
		}
		if bound > (1<<62-1)/mult[o] {
			return fmt.Errorf("channel %d: accumulator bound %d times multiplier %d reaches 2^62", o, bound, mult[o])
		}
		layer.Mult[0], layer.Mult[1] = min(layer.Mult[0], mult[o]), max(layer.Mult[1], mult[o])
		layer.Shift[0], layer.Shift[1] = min(layer.Shift[0], shift[o]), max(layer.Shift[1], shift[o])
	}
	base := final
	wn := b.fresh(base + ".w_q")
	b.weights = append(b.weights, model.Weight{Name: wn, Tensor: qw})
	inputs := []string{x.name, wn}
	if bias != nil {
		bn := b.fresh(base + ".b_q")
		b.weights = append(b.weights, model.Weight{Name: bn, Tensor: qb})
		inputs = append(inputs, bn)
	}
	outName := b.fresh(final + "_q")
	v := qval{outName, sOut, tensor.Int8}
	if int32Out {
		attrs["out_int32"] = ops.Attr{Kind: ops.AttrInt, Int: 1}
		v = qval{outName, float64(float32(x.scale * sw[0])), tensor.Int32}
		layer.OutScale = v.scale
		layer.Mult, layer.Shift = [2]int64{}, [2]int64{}
	} else {
		lo, hi, err := bounds(rng, folded, sOut)
		if err != nil {
			return err
		}
		attrs["mult"] = ops.Attr{Kind: ops.AttrInts, Ints: mult}
		attrs["shift"] = ops.Attr{Kind: ops.AttrInts, Ints: shift}
		attrs["lo"] = ops.Attr{Kind: ops.AttrInt, Int: lo}
		attrs["hi"] = ops.Attr{Kind: ops.AttrInt, Int: hi}
		layer.Lo, layer.Hi, layer.OutScale = lo, hi, sOut
	}
	if N == 0 {
		layer.WScale, layer.Mult, layer.Shift = [2]float64{}, [2]int64{}, [2]int64{}
	}
	layer.Node = b.fresh(n.Name + "_q")
	b.emit(model.Node{Name: layer.Node, OpType: op, Inputs: inputs, Outputs: []string{outName}, Attrs: attrs})
	b.vals[final] = v
	b.rep.Layers = append(b.rep.Layers, layer)
	return nil
}

// channelBias reads a bias with one value per channel (or one value for
// all), times beta.
func channelBias(c *tensor.Tensor, n int, beta float64) ([]float64, error) {
	out := make([]float64, n)
	switch c.Len() {
	case n:
		for i := range out {
			out[i] = beta * float64(c.F32[i])
		}
	case 1:
		for i := range out {
			out[i] = beta * float64(c.F32[0])
		}
	default:
		return nil, fmt.Errorf("bias of shape %v is not one value per output channel (%d)", c.Shape, n)
	}
	if n > 1 && c.Shape[len(c.Shape)-1] != n {
		return nil, fmt.Errorf("bias of shape %v does not run along the output channels", c.Shape)
	}
	return out, nil
}

// add quantizes Add of two activations into QAdd, folding a Relu or Clip.
func (b *builder) add(i int) error {
	n := &b.m.Nodes[i]
	from := []string{n.Name}
	xa, err := b.input(n, 0)
	if err != nil {
		return err
	}
	xb, err := b.input(n, 1)
	if err != nil {
		return err
	}
	if xa.dtype != tensor.Int8 || xb.dtype != tensor.Int8 {
		return fmt.Errorf("inputs must be int8 activations")
	}
	if !equalShape(n.InMetas[0].Shape, n.InMetas[1].Shape) {
		return fmt.Errorf("shapes %v and %v differ (QAdd does not broadcast)", n.InMetas[0].Shape, n.InMetas[1].Shape)
	}
	final, rng, folded, err := b.activation(n.Outputs[0], &from)
	if err != nil {
		return err
	}
	sOut, err := b.scaleOf(final)
	if err != nil {
		return err
	}
	big := max(xa.scale, xb.scale) / sOut
	_, shift, err := MultShift(big)
	if err != nil {
		return err
	}
	ma := int64(math.Round(math.Ldexp(xa.scale/sOut, int(shift))))
	mb := int64(math.Round(math.Ldexp(xb.scale/sOut, int(shift))))
	if ma < 1 || mb < 1 || ma > ops.QMultMax || mb > ops.QMultMax {
		return fmt.Errorf("input scales %g and %g are too far apart for one shift", xa.scale, xb.scale)
	}
	lo, hi, err := bounds(rng, folded, sOut)
	if err != nil {
		return err
	}
	out := b.fresh(final + "_q")
	name := b.fresh(n.Name + "_q")
	b.emit(model.Node{Name: name, OpType: "QAdd", Inputs: []string{xa.name, xb.name}, Outputs: []string{out}, Attrs: ops.Attrs{
		"mult_a": {Kind: ops.AttrInt, Int: ma}, "mult_b": {Kind: ops.AttrInt, Int: mb}, "shift": {Kind: ops.AttrInt, Int: shift},
		"lo": {Kind: ops.AttrInt, Int: lo}, "hi": {Kind: ops.AttrInt, Int: hi},
	}})
	b.vals[final] = qval{out, sOut, tensor.Int8}
	b.rep.Layers = append(b.rep.Layers, Layer{Node: name, Op: "QAdd", From: from, InScale: max(xa.scale, xb.scale), OutScale: sOut,
		Mult: [2]int64{min(ma, mb), max(ma, mb)}, Shift: [2]int64{shift, shift}, Lo: lo, Hi: hi})
	return nil
}

func (b *builder) maxPool(i int) error {
	n := &b.m.Nodes[i]
	x, err := b.input(n, 0)
	if err != nil {
		return err
	}
	if x.dtype != tensor.Int8 || len(n.InMetas[0].Shape) != 4 {
		return fmt.Errorf("input must be a 4-D int8 activation")
	}
	for _, name := range []string{"pads", "dilations"} {
		if a, ok := n.Attrs[name]; ok {
			for _, v := range a.Ints {
				if (name == "pads" && v != 0) || (name == "dilations" && v != 1) {
					return fmt.Errorf("%s %v are not supported", name, a.Ints)
				}
			}
		}
	}
	if intAttr(n, "ceil_mode", 0) != 0 {
		return fmt.Errorf("ceil_mode is not supported")
	}
	if ap, ok := n.Attrs["auto_pad"]; ok && ap.String != "NOTSET" && ap.String != "VALID" {
		return fmt.Errorf("auto_pad %s is not supported", ap.String)
	}
	if len(n.Outputs) > 1 && n.Outputs[1] != "" {
		return fmt.Errorf("the Indices output is not supported")
	}
	attrs := ops.Attrs{"kernel_shape": n.Attrs["kernel_shape"]}
	if s, ok := n.Attrs["strides"]; ok {
		attrs["strides"] = s
	}
	out := b.fresh(n.Outputs[0] + "_q")
	name := b.fresh(n.Name + "_q")
	b.emit(model.Node{Name: name, OpType: "QMaxPool", Inputs: []string{x.name}, Outputs: []string{out}, Attrs: attrs})
	// max commutes with a positive scale: the output keeps the input's
	b.vals[n.Outputs[0]] = qval{out, x.scale, tensor.Int8}
	b.rep.Layers = append(b.rep.Layers, Layer{Node: name, Op: "QMaxPool", From: []string{n.Name}, InScale: x.scale, OutScale: x.scale, Lo: -actMax, Hi: actMax})
	return nil
}

// layout keeps Flatten and Reshape as they are, on int8.
func (b *builder) layout(i int) error {
	n := &b.m.Nodes[i]
	x, err := b.input(n, 0)
	if err != nil {
		return err
	}
	inputs := []string{x.name}
	for j := 1; j < len(n.Inputs); j++ {
		name := n.Inputs[j]
		if name == "" || n.InRefs[j].Kind != model.RefWeight {
			return fmt.Errorf("input %d must be a constant", j)
		}
		if !b.copied[name] {
			t, _ := b.m.Weight(name)
			b.weights = append(b.weights, model.Weight{Name: name, Tensor: t})
			b.copied[name] = true
		}
		inputs = append(inputs, name)
	}
	attrs := ops.Attrs{}
	for _, k := range n.Attrs.Names() {
		attrs[k] = n.Attrs[k]
	}
	out := b.fresh(n.Outputs[0] + "_q")
	b.emit(model.Node{Name: b.fresh(n.Name + "_q"), OpType: n.OpType, Inputs: inputs, Outputs: []string{out}, Attrs: attrs})
	b.vals[n.Outputs[0]] = qval{out, x.scale, x.dtype}
	return nil
}

func intAttr(n *model.Node, name string, def int64) int64 {
	if a, ok := n.Attrs[name]; ok && a.Kind == ops.AttrInt {
		return a.Int
	}
	return def
}

func floatAttr(n *model.Node, name string, def float32) float32 {
	if a, ok := n.Attrs[name]; ok && a.Kind == ops.AttrFloat {
		return a.Float
	}
	return def
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
