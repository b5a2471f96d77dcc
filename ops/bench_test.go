package ops

import (
	"testing"

	"github.com/provena/provena/internal/kernels"
	"github.com/provena/provena/tensor"
)

// benchOp runs op single-threaded on both kernel paths and reports
// GFLOP/s (flops counts a multiply and an add as two).
func benchOp(b *testing.B, opType string, in []*tensor.Tensor, a Attrs, flops float64) {
	op, _ := Lookup(opType)
	for _, purego := range []bool{false, true} {
		kernels.SetPurego(purego)
		name := kernels.Path()
		b.Run(name, func(b *testing.B) {
			ctx := &Ctx{Threads: 1}
			for b.Loop() {
				if _, err := op.Run(ctx, in, a); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
	kernels.SetPurego(false)
}

func BenchmarkConv3x3(b *testing.B) {
	r := rng(1)
	in := []*tensor.Tensor{randT(r, 1, 32, 80, 80), randT(r, 32, 32, 3, 3), randT(r, 32)}
	benchOp(b, "Conv", in, Attrs{"pads": ints(1, 1, 1, 1)}, 2*32*32*9*80*80)
}

func BenchmarkConv1x1(b *testing.B) {
	r := rng(2)
	in := []*tensor.Tensor{randT(r, 1, 96, 80, 80), randT(r, 96, 96, 1, 1), randT(r, 96)}
	benchOp(b, "Conv", in, nil, 2*96*96*80*80)
}

func BenchmarkDepthwise(b *testing.B) {
	r := rng(3)
	in := []*tensor.Tensor{randT(r, 1, 192, 40, 40), randT(r, 192, 1, 5, 5), randT(r, 192)}
	benchOp(b, "Conv", in, Attrs{"group": aint(192), "pads": ints(2, 2, 2, 2)}, 2*192*25*40*40)
}

func BenchmarkMatMul(b *testing.B) {
	r := rng(4)
	in := []*tensor.Tensor{randT(r, 256, 256), randT(r, 256, 256)}
	benchOp(b, "MatMul", in, nil, 2*256*256*256)
}

// BenchmarkConvDeep is det's 96->24 3x3 head convolution (k = 864).
func BenchmarkConvDeep(b *testing.B) {
	r := rng(6)
	in := []*tensor.Tensor{randT(r, 1, 96, 160, 160), randT(r, 24, 96, 3, 3), randT(r, 24)}
	benchOp(b, "Conv", in, Attrs{"pads": ints(1, 1, 1, 1)}, 2*24*864*160*160)
}
