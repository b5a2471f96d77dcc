package mnist

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/provena/provena/model"
	"github.com/provena/provena/onnx"
	"github.com/provena/provena/tensor"
)

// Arch names a network architecture.
type Arch string

// The two reference architectures (contract: docs/mnist.md).
//
//	mlp: Flatten -> Gemm(784->128) -> Relu -> Gemm(128->10)
//	cnn: Conv(1->8,3x3) -> Relu -> MaxPool(2) -> Conv(8->16,3x3) -> Relu ->
//	     MaxPool(2) -> Flatten -> Gemm(400->10)
const (
	MLP Arch = "mlp"
	CNN Arch = "cnn"
)

// Layer sizes.
const (
	mlpHidden = 128
	c1, c2    = 8, 16
	s1        = Side - 2 // conv1 output side (26)
	q1        = s1 / 2   // pool1 output side (13)
	s2        = q1 - 2   // conv2 output side (11)
	q2        = s2 / 2   // pool2 output side (5)
	cnnFlat   = c2 * q2 * q2
)

// Model input and output names and the opset of exported models.
const (
	InputName  = "x"
	OutputName = "logits"
	Opset      = 13
)

// Param is one weight tensor, in the layout of the exported ONNX
// initializer of the same name (Gemm weights [out, in] with transB=1, Conv
// weights [out, in, kh, kw]).
type Param struct {
	Name  string
	Shape []int
	Data  []float32
}

// Net is a trained (or initialised) network.
type Net struct {
	Arch   Arch
	Params []*Param
}

func paramShapes(a Arch) ([]Param, error) {
	switch a {
	case MLP:
		return []Param{
			{Name: "fc1.weight", Shape: []int{mlpHidden, Pixels}},
			{Name: "fc1.bias", Shape: []int{mlpHidden}},
			{Name: "fc2.weight", Shape: []int{Classes, mlpHidden}},
			{Name: "fc2.bias", Shape: []int{Classes}},
		}, nil
	case CNN:
		return []Param{
			{Name: "conv1.weight", Shape: []int{c1, 1, 3, 3}},
			{Name: "conv1.bias", Shape: []int{c1}},
			{Name: "conv2.weight", Shape: []int{c2, c1, 3, 3}},
			{Name: "conv2.bias", Shape: []int{c2}},
			{Name: "fc.weight", Shape: []int{Classes, cnnFlat}},
			{Name: "fc.bias", Shape: []int{Classes}},
		}, nil
	}
	return nil, fmt.Errorf("mnist: unknown architecture %q (want mlp or cnn)", a)
}

// NewNet initialises a network: He-normal weights (std sqrt(2/fan_in))
// from a PCG generator seeded with seed, zero biases.
func NewNet(a Arch, seed uint64) (*Net, error) {
	shapes, err := paramShapes(a)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x6d6e697374)) // "mnist"
	n := &Net{Arch: a}
	for _, p := range shapes {
		q := &Param{Name: p.Name, Shape: p.Shape, Data: make([]float32, tensor.NumElements(p.Shape))}
		if len(p.Shape) > 1 {
			fanIn := tensor.NumElements(p.Shape[1:])
			std := math.Sqrt(2 / float64(fanIn))
			for i := range q.Data {
				q.Data[i] = float32(rng.NormFloat64() * std)
			}
		}
		n.Params = append(n.Params, q)
	}
	return n, nil
}

// FromModel takes a network's weights back from an imported model (the
// importer keeps initializer names), so that a model read from an ONNX
// file can be evaluated with the trainer's own forward pass.
func FromModel(m *model.Model, a Arch) (*Net, error) {
	shapes, err := paramShapes(a)
	if err != nil {
		return nil, err
	}
	n := &Net{Arch: a}
	for _, p := range shapes {
		w, ok := m.Weight(p.Name)
		if !ok {
			return nil, fmt.Errorf("mnist: model %q has no weight %q for a %s network", m.Name, p.Name, a)
		}
		if w.DType != tensor.Float32 || !slices.Equal(w.Shape, p.Shape) || len(w.F32) != tensor.NumElements(p.Shape) {
			return nil, fmt.Errorf("mnist: weight %q is %v%v, want float32%v", p.Name, w.DType, w.Shape, p.Shape)
		}
		n.Params = append(n.Params, &Param{Name: p.Name, Shape: p.Shape, Data: slices.Clone(w.F32)})
	}
	return n, nil
}

// check verifies that the parameters are the architecture's.
func (n *Net) check() error {
	shapes, err := paramShapes(n.Arch)
	if err != nil {
		return err
	}
	if len(n.Params) != len(shapes) {
		return fmt.Errorf("mnist: %s network has %d parameters, want %d", n.Arch, len(n.Params), len(shapes))
	}
	for i, p := range n.Params {
		w := shapes[i]
		if p == nil || p.Name != w.Name || !slices.Equal(p.Shape, w.Shape) || len(p.Data) != tensor.NumElements(w.Shape) {
			return fmt.Errorf("mnist: %s parameter %d is not %s%v", n.Arch, i, w.Name, w.Shape)
		}
	}
	return nil
}

// work holds one example's activations (kept for the backward pass) and,
// in training, that worker's gradient sums.
type work struct {
	net *Net
	x   []float32
	nz  []int32 // indices of non-zero pixels (the MLP skips the rest)

	h []float32 // mlp hidden, after Relu

	col1, a1, p1, col2, a2, p2 []float32 // cnn
	arg1, arg2                 []int32

	logits []float32

	grad                     [][]float32 // same order as net.Params
	dh, da1, dp1, dcol2, da2 []float32
	dp2                      []float32
}

func newWork(n *Net, train bool) *work {
	w := &work{net: n, x: make([]float32, Pixels), nz: make([]int32, 0, Pixels), logits: make([]float32, Classes)}
	switch n.Arch {
	case MLP:
		w.h = make([]float32, mlpHidden)
		if train {
			w.dh = make([]float32, mlpHidden)
		}
	case CNN:
		w.col1 = make([]float32, 9*s1*s1)
		w.a1 = make([]float32, c1*s1*s1)
		w.p1 = make([]float32, c1*q1*q1)
		w.arg1 = make([]int32, c1*q1*q1)
		w.col2 = make([]float32, c1*9*s2*s2)
		w.a2 = make([]float32, c2*s2*s2)
		w.p2 = make([]float32, cnnFlat)
		w.arg2 = make([]int32, cnnFlat)
		if train {
			w.da1 = make([]float32, c1*s1*s1)
			w.dp1 = make([]float32, c1*q1*q1)
			w.dcol2 = make([]float32, c1*9*s2*s2)
			w.da2 = make([]float32, c2*s2*s2)
			w.dp2 = make([]float32, cnnFlat)
		}
	}
	if train {
		for _, p := range n.Params {
			w.grad = append(w.grad, make([]float32, len(p.Data)))
		}
	}
	return w
}

// setImage loads pixels scaled as Set.Input does.
func (w *work) setImage(img []uint8) {
	pixelsTo(w.x, img)
	w.setNZ()
}

func (w *work) setNZ() {
	w.nz = w.nz[:0]
	for i, v := range w.x {
		if v != 0 {
			w.nz = append(w.nz, int32(i))
		}
	}
}

// forward computes w.logits from w.x.
func (w *work) forward() {
	P := w.net.Params
	switch w.net.Arch {
	case MLP:
		w1, b1, w2, b2 := P[0].Data, P[1].Data, P[2].Data, P[3].Data
		for j := range w.h {
			row := w1[j*Pixels : (j+1)*Pixels]
			var s float32
			// Zero pixels add exactly +0, so skipping them keeps the
			// ascending-order sum of the dense dot product.
			for _, i := range w.nz {
				s += float32(row[i] * w.x[i])
			}
			w.h[j] = s + b1[j]
		}
		relu(w.h)
		for k := range w.logits {
			w.logits[k] = dot(w2[k*mlpHidden:(k+1)*mlpHidden], w.h) + b2[k]
		}
	case CNN:
		cw1, cb1, cw2, cb2, fw, fb := P[0].Data, P[1].Data, P[2].Data, P[3].Data, P[4].Data, P[5].Data
		im2col3(w.col1, w.x, 1, Side, Side)
		conv(w.a1, w.col1, cw1, cb1, c1, 9, s1*s1)
		relu(w.a1)
		maxPool2(w.p1, w.arg1, w.a1, c1, s1, s1)
		im2col3(w.col2, w.p1, c1, q1, q1)
		conv(w.a2, w.col2, cw2, cb2, c2, c1*9, s2*s2)
		relu(w.a2)
		maxPool2(w.p2, w.arg2, w.a2, c2, s2, s2)
		for k := range w.logits {
			w.logits[k] = dot(fw[k*cnnFlat:(k+1)*cnnFlat], w.p2) + fb[k]
		}
	}
}

// conv computes out[o][p] = b[o] + sum_k wt[o][k]*col[k][p].
func conv(out, col, wt, b []float32, nout, nk, np int) {
	for o := 0; o < nout; o++ {
		row := out[o*np : (o+1)*np]
		clear(row)
		w := wt[o*nk : (o+1)*nk]
		k := 0
		for ; k+4 <= nk; k += 4 {
			axpy4(row, w[k], w[k+1], w[k+2], w[k+3],
				col[k*np:(k+1)*np], col[(k+1)*np:(k+2)*np], col[(k+2)*np:(k+3)*np], col[(k+3)*np:(k+4)*np])
		}
		for ; k < nk; k++ {
			axpy(row, w[k], col[k*np:(k+1)*np])
		}
		bo := b[o]
		for p := range row {
			row[p] += bo
		}
	}
}

// backward adds the gradient of the loss for dlogits (d loss / d logits)
// into w.grad; forward must have run on the same example.
func (w *work) backward(dl []float32) {
	P, G := w.net.Params, w.grad
	switch w.net.Arch {
	case MLP:
		w2 := P[2].Data
		gw1, gb1, gw2, gb2 := G[0], G[1], G[2], G[3]
		clear(w.dh)
		for k, d := range dl {
			gb2[k] += d
			axpy(gw2[k*mlpHidden:(k+1)*mlpHidden], d, w.h)
			axpy(w.dh, d, w2[k*mlpHidden:(k+1)*mlpHidden])
		}
		for j, d := range w.dh {
			if !(w.h[j] > 0) || d == 0 {
				continue
			}
			gb1[j] += d
			row := gw1[j*Pixels : (j+1)*Pixels]
			for _, i := range w.nz {
				row[i] += float32(d * w.x[i])
			}
		}
	case CNN:
		cw2, fw := P[2].Data, P[4].Data
		gw1, gb1, gw2, gb2, gfw, gfb := G[0], G[1], G[2], G[3], G[4], G[5]
		clear(w.dp2)
		for k, d := range dl {
			gfb[k] += d
			axpy(gfw[k*cnnFlat:(k+1)*cnnFlat], d, w.p2)
			axpy(w.dp2, d, fw[k*cnnFlat:(k+1)*cnnFlat])
		}
		unpool(w.da2, w.dp2, w.arg2, w.a2)
		convBackward(gw2, gb2, w.dcol2, w.da2, w.col2, cw2, c2, c1*9, s2*s2)
		clear(w.dp1)
		col2im3(w.dp1, w.dcol2, c1, q1, q1)
		unpool(w.da1, w.dp1, w.arg1, w.a1)
		convBackward(gw1, gb1, nil, w.da1, w.col1, nil, c1, 9, s1*s1)
	}
}

// unpool routes pooled gradients to each window's maximum and applies the
// Relu that preceded the pool (a is the Relu output).
func unpool(da, dp []float32, arg []int32, a []float32) {
	clear(da)
	for i, d := range dp {
		if j := arg[i]; a[j] > 0 {
			da[j] += d
		}
	}
}

// convBackward adds the weight and bias gradients of an im2col
// convolution and, when dcol is not nil, sets dcol to the gradient of its
// patches.
func convBackward(gw, gb, dcol, dout, col, wt []float32, nout, nk, np int) {
	for o := 0; o < nout; o++ {
		d := dout[o*np : (o+1)*np]
		var s float32
		for _, v := range d {
			s += v
		}
		gb[o] += s
		g := gw[o*nk : (o+1)*nk]
		k := 0
		for ; k+4 <= nk; k += 4 {
			s0, s1, s2, s3 := dot4(d, col[k*np:(k+1)*np], col[(k+1)*np:(k+2)*np], col[(k+2)*np:(k+3)*np], col[(k+3)*np:(k+4)*np])
			g[k] += s0
			g[k+1] += s1
			g[k+2] += s2
			g[k+3] += s3
		}
		for ; k < nk; k++ {
			g[k] += dot(d, col[k*np:(k+1)*np])
		}
	}
	if dcol == nil {
		return
	}
	for k := 0; k < nk; k++ {
		row := dcol[k*np : (k+1)*np]
		clear(row)
		o := 0
		for ; o+4 <= nout; o += 4 {
			axpy4(row, wt[o*nk+k], wt[(o+1)*nk+k], wt[(o+2)*nk+k], wt[(o+3)*nk+k],
				dout[o*np:(o+1)*np], dout[(o+1)*np:(o+2)*np], dout[(o+2)*np:(o+3)*np], dout[(o+3)*np:(o+4)*np])
		}
		for ; o < nout; o++ {
			axpy(row, wt[o*nk+k], dout[o*np:(o+1)*np])
		}
	}
}

// Forward runs the trainer's own forward pass on one input (Pixels values,
// as Set.Input holds them) and returns the 10 logits.
func (n *Net) Forward(x []float32) ([]float32, error) {
	if err := n.check(); err != nil {
		return nil, err
	}
	if len(x) != Pixels {
		return nil, fmt.Errorf("mnist: input has %d values, want %d", len(x), Pixels)
	}
	w := newWork(n, false)
	copy(w.x, x)
	w.setNZ()
	w.forward()
	return slices.Clone(w.logits), nil
}

// ONNX exports the network: input "x" float32 [1,1,28,28], output
// "logits" float32 [1,10], opset 13, weights as raw_data initializers.
func (n *Net) ONNX() ([]byte, error) {
	if err := n.check(); err != nil {
		return nil, err
	}
	b := onnx.NewBuilder("mnist-"+string(n.Arch), Opset)
	b.ProducerVersion = fmt.Sprintf("mnist recipe %d", RecipeVersion)
	b.Doc = fmt.Sprintf("MNIST %s trained by provena (package mnist)", n.Arch)
	b.Input(InputName, tensor.Float32, 1, 1, Side, Side)
	for _, p := range n.Params {
		b.Float32(p.Name, p.Shape, p.Data)
	}
	f32 := tensor.Float32
	transB := onnx.IntAttr("transB", 1)
	k3 := []onnx.Attr{onnx.IntsAttr("kernel_shape", 3, 3), onnx.IntsAttr("strides", 1, 1), onnx.IntsAttr("pads", 0, 0, 0, 0)}
	pool := []onnx.Attr{onnx.IntsAttr("kernel_shape", 2, 2), onnx.IntsAttr("strides", 2, 2)}
	switch n.Arch {
	case MLP:
		b.Node("Flatten", "flatten", []string{InputName}, []string{"flat"}, onnx.IntAttr("axis", 1))
		b.Node("Gemm", "fc1", []string{"flat", "fc1.weight", "fc1.bias"}, []string{"fc1.out"}, transB)
		b.Node("Relu", "relu1", []string{"fc1.out"}, []string{"relu1.out"})
		b.Node("Gemm", "fc2", []string{"relu1.out", "fc2.weight", "fc2.bias"}, []string{OutputName}, transB)
		b.ValueInfo("flat", f32, 1, Pixels)
		b.ValueInfo("fc1.out", f32, 1, mlpHidden)
		b.ValueInfo("relu1.out", f32, 1, mlpHidden)
	case CNN:
		b.Node("Conv", "conv1", []string{InputName, "conv1.weight", "conv1.bias"}, []string{"conv1.out"}, k3...)
		b.Node("Relu", "relu1", []string{"conv1.out"}, []string{"relu1.out"})
		b.Node("MaxPool", "pool1", []string{"relu1.out"}, []string{"pool1.out"}, pool...)
		b.Node("Conv", "conv2", []string{"pool1.out", "conv2.weight", "conv2.bias"}, []string{"conv2.out"}, k3...)
		b.Node("Relu", "relu2", []string{"conv2.out"}, []string{"relu2.out"})
		b.Node("MaxPool", "pool2", []string{"relu2.out"}, []string{"pool2.out"}, pool...)
		b.Node("Flatten", "flatten", []string{"pool2.out"}, []string{"flat"}, onnx.IntAttr("axis", 1))
		b.Node("Gemm", "fc", []string{"flat", "fc.weight", "fc.bias"}, []string{OutputName}, transB)
		b.ValueInfo("conv1.out", f32, 1, c1, s1, s1)
		b.ValueInfo("relu1.out", f32, 1, c1, s1, s1)
		b.ValueInfo("pool1.out", f32, 1, c1, q1, q1)
		b.ValueInfo("conv2.out", f32, 1, c2, s2, s2)
		b.ValueInfo("relu2.out", f32, 1, c2, s2, s2)
		b.ValueInfo("pool2.out", f32, 1, c2, q2, q2)
		b.ValueInfo("flat", f32, 1, cnnFlat)
	}
	b.Output(OutputName, f32, 1, Classes)
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("mnist: export %s: %w", n.Arch, err)
	}
	return out, nil
}
