package onnx

import (
	"math"

	"github.com/provena/provena/model"
	"github.com/provena/provena/tensor"
)

// foldBatchNorm folds every BatchNormalization whose input is the only use
// of a Conv or ConvTranspose output into that node. ConvTranspose weights
// are [C_in, C_out/group, kh, kw], so their output channel is
// (ci / (C_in/group)) * (C_out/group) + j. Per output channel c, in float32 with
// each operation rounded (no fused multiply-add, hence the conversions):
//
//	s     = gamma[c] / float32(sqrt(float64(var[c] + eps)))
//	w'    = w * s                      for every weight of channel c
//	b'[c] = (b[c] - mean[c]) * s + beta[c]   (b = 0 without a Conv bias)
//
// sqrt is computed in float64 and rounded once, which is the correctly
// rounded float32 square root on every platform.
func (im *importer) foldBatchNorm(outputs []model.ValueInfo) {
	uses := map[string]int{}
	for _, n := range im.nodes {
		for _, in := range n.Inputs {
			uses[in]++
		}
	}
	for _, o := range outputs {
		uses[o.Name]++
	}
	producer := map[string]int{}
	for i, n := range im.nodes {
		for _, o := range n.Outputs {
			producer[o] = i
		}
	}
	removed := make([]bool, len(im.nodes))
	for i, bn := range im.nodes {
		if bn.OpType != "BatchNormalization" || len(bn.Inputs) != 5 || len(bn.Outputs) < 1 {
			continue
		}
		if v, ok := bn.Attrs["training_mode"]; ok && v.Int != 0 {
			continue
		}
		extra := false
		for _, o := range bn.Outputs[1:] {
			extra = extra || (o != "" && uses[o] > 0)
		}
		x := bn.Inputs[0]
		j, ok := producer[x]
		if extra || !ok || uses[x] != 1 || removed[j] {
			continue
		}
		conv := im.nodes[j]
		if (conv.OpType != "Conv" && conv.OpType != "ConvTranspose") || len(conv.Inputs) < 2 {
			continue
		}
		w := im.consts[conv.Inputs[1]]
		var b *tensor.Tensor
		if len(conv.Inputs) >= 3 && conv.Inputs[2] != "" {
			if b = im.consts[conv.Inputs[2]]; b == nil {
				continue
			}
		}
		p := make([]*tensor.Tensor, 4)
		for k := range p {
			p[k] = im.consts[bn.Inputs[1+k]]
		}
		if w == nil || w.DType != tensor.Float32 || len(w.Shape) < 2 || p[0] == nil || p[1] == nil || p[2] == nil || p[3] == nil {
			continue
		}
		// chanOf maps a weight element to its output channel.
		ch := w.Shape[0]
		per := w.Len() / max(ch, 1)
		chanOf := func(k int) int { return k / per }
		if conv.OpType == "ConvTranspose" {
			group := 1
			if g, ok := conv.Attrs["group"]; ok {
				group = int(g.Int)
			}
			if group < 1 || w.Shape[0]%group != 0 {
				continue
			}
			inPer, outPer := w.Shape[0]/group, w.Shape[1]
			ch = outPer * group
			spatial := w.Len() / max(w.Shape[0]*w.Shape[1], 1)
			chanOf = func(k int) int {
				ci, j := k/(outPer*spatial), (k/spatial)%outPer
				return (ci/inPer)*outPer + j
			}
		}
		okShapes := b == nil || (b.DType == tensor.Float32 && b.Len() == ch)
		for _, t := range p {
			okShapes = okShapes && t.DType == tensor.Float32 && t.Len() == ch
		}
		if !okShapes || ch == 0 {
			continue
		}
		eps := float32(1e-5)
		if v, ok := bn.Attrs["epsilon"]; ok {
			eps = v.Float
		}
		gamma, beta, mean, variance := p[0].F32, p[1].F32, p[2].F32, p[3].F32
		nw, _ := tensor.New(tensor.Float32, w.Shape)
		nb, _ := tensor.New(tensor.Float32, []int{ch})
		scale := make([]float32, ch)
		for c := range scale {
			scale[c] = gamma[c] / float32(math.Sqrt(float64(float32(variance[c]+eps))))
		}
		for k, v := range w.F32 {
			nw.F32[k] = float32(v * scale[chanOf(k)])
		}
		for c := 0; c < ch; c++ {
			s := scale[c]
			bc := float32(0)
			if b != nil {
				bc = b.F32[c]
			}
			nb.F32[c] = float32(float32(float32(bc-mean[c])*s) + beta[c])
		}
		wn := im.fresh(conv.Inputs[1] + "/bn_folded")
		bname := im.fresh(bn.Outputs[0] + "/bn_folded_bias")
		im.consts[wn], im.consts[bname] = nw, nb
		conv.Inputs = []string{conv.Inputs[0], wn, bname}
		conv.Outputs = []string{bn.Outputs[0]}
		removed[i] = true
	}
	kept := im.nodes[:0]
	for i, n := range im.nodes {
		if !removed[i] {
			kept = append(kept, n)
		}
	}
	im.nodes = kept
}
