package ops

import (
	"testing"

	"github.com/provena/provena/tensor"
)

// TestDirtyOutputsFullyWritten runs the operator battery with dirty outputs
// poisoned: every kernel that skips zeroing must still produce the bits of
// a run on clean buffers, at one thread and several.
func TestDirtyOutputsFullyWritten(t *testing.T) {
	s := splitmix(9)
	x := s.tensorOf(1, 8, 13, 21)
	// Besides the golden battery: the other operators on dirty outputs and
	// the paths the battery does not take (strided and padded shapes,
	// broadcasts, row tails).
	bat := append(battery(), []batteryRun{
		{"Clip", []*tensor.Tensor{x, f32T(nil, -0.5), f32T(nil, 0.75)}, nil},
		{"Clip", []*tensor.Tensor{x}, Attrs{OpsetAttr: aint(6), "min": afloat(0), "max": afloat(6)}},
		{"Relu", []*tensor.Tensor{x}, nil},
		{"Neg", []*tensor.Tensor{x}, nil},
		{"Sub", []*tensor.Tensor{s.tensorOf(8, 1, 1), x}, nil},
		{"Max", []*tensor.Tensor{x, s.tensorOf(21), s.tensorOf(1, 8, 13, 1)}, nil},
		{"Conv", []*tensor.Tensor{x, s.tensorOf(8, 1, 3, 3)}, Attrs{"group": aint(8), "pads": ints(1, 0, 2, 1), "strides": ints(2, 3)}},
		{"Conv", []*tensor.Tensor{x, s.tensorOf(5, 8, 1, 1)}, Attrs{"strides": ints(2, 2)}},
		{"Conv", []*tensor.Tensor{x, s.tensorOf(6, 8, 2, 3), s.tensorOf(6)}, Attrs{"dilations": ints(2, 1), "pads": ints(1, 1, 1, 1)}},
		{"ConvTranspose", []*tensor.Tensor{x, s.tensorOf(8, 3, 3, 3), s.tensorOf(3)}, Attrs{"strides": ints(2, 2), "pads": ints(1, 1, 1, 1)}},
		{"MaxPool", []*tensor.Tensor{x}, Attrs{"kernel_shape": ints(3, 3), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1)}},
		{"AveragePool", []*tensor.Tensor{x}, Attrs{"kernel_shape": ints(2, 2), "strides": ints(1, 2), "pads": ints(0, 1, 1, 0)}},
		{"ReduceMean", []*tensor.Tensor{x}, Attrs{OpsetAttr: aint(11), "axes": ints(1), "keepdims": aint(0)}},
		{"Resize", []*tensor.Tensor{x, nil, f32T([]int{4}, 1, 1, 1.5, 0.5)}, Attrs{"mode": astr("linear")}},
		{"Concat", []*tensor.Tensor{x, s.tensorOf(1, 3, 13, 21)}, Attrs{"axis": aint(1)}},
		{"Transpose", []*tensor.Tensor{x}, Attrs{"perm": ints(3, 1, 0, 2)}},
		{"MatMul", []*tensor.Tensor{s.tensorOf(3, 5, 7), s.tensorOf(7, 9)}, nil},
		{"Gemm", []*tensor.Tensor{s.tensorOf(5, 7), s.tensorOf(7, 3)}, nil},
		{"Softmax", []*tensor.Tensor{x}, Attrs{"axis": aint(-1)}},
	}...)
	var clean [][]*tensor.Tensor
	for _, b := range bat {
		out, err := run(t, b.op, b.in, b.a, 1)
		if err != nil {
			t.Fatalf("%s: %v", b.op, err)
		}
		clean = append(clean, out)
	}
	PoisonDirtyOutputs(true)
	defer PoisonDirtyOutputs(false)
	for _, threads := range []int{1, 3} {
		for i, b := range bat {
			out, err := run(t, b.op, b.in, b.a, threads)
			if err != nil {
				t.Fatalf("%s: %v", b.op, err)
			}
			for o := range out {
				if !sameTensor(out[o], clean[i][o]) {
					t.Fatalf("%s (battery %d, %d threads): output %d differs on poisoned buffers: an element is not written", b.op, i, threads, o)
				}
			}
		}
	}
}

// TestRecycledOutputsZeroed checks that newOut hands out a recycled buffer
// only after zeroing it, and newOutDirty only buffers of the right length.
func TestRecycledOutputsZeroed(t *testing.T) {
	BeginRecycling()
	defer EndRecycling()
	old := &tensor.Tensor{DType: tensor.Float32, Shape: []int{3, 5}, F32: make([]float32, 15)}
	for i := range old.F32 {
		old.F32[i] = float32(i + 1)
	}
	Recycle(old)
	if old.F32 != nil {
		t.Fatal("Recycle left the tensor holding its buffer")
	}
	z, err := newOut(tensor.Float32, []int{5, 3})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range z.F32 {
		if v != 0 {
			t.Fatalf("recycled output element %d = %g, want 0", i, v)
		}
	}
	Recycle(z)
	d, err := newOutDirty(tensor.Float32, []int{4, 2})
	if err != nil || len(d.F32) != 8 || cap(d.F32) != 15 {
		t.Fatalf("dirty output of 8 elements: %v, len %d cap %d (want the 15-element buffer, best fit within 2x)", err, len(d.F32), cap(d.F32))
	}
	Recycle(d)
	if b := pooledF32(7, false); b != nil {
		t.Fatal("a 15-element buffer was handed out for 7 elements (more than twice the need)")
	}
	if b := pooledF32(15, true); len(b) != 15 {
		t.Fatal("recycling a resliced buffer lost its capacity")
	}
	if _, err := newOutDirty(tensor.Float32, []int{-1}); err == nil {
		t.Fatal("bad shape accepted")
	}
}

// TestRecyclingPeriod checks that the pool keeps nothing outside a run.
func TestRecyclingPeriod(t *testing.T) {
	Recycle(&tensor.Tensor{DType: tensor.Float32, Shape: []int{7}, F32: make([]float32, 7)})
	if b := pooledF32(7, true); b != nil {
		t.Fatal("a buffer recycled outside a run was kept")
	}
	BeginRecycling()
	BeginRecycling()
	Recycle(&tensor.Tensor{DType: tensor.Float32, Shape: []int{7}, F32: make([]float32, 7)})
	EndRecycling()
	if outPool.bytes != 28 {
		t.Fatalf("pool holds %d bytes while a run is open, want 28", outPool.bytes)
	}
	EndRecycling()
	if outPool.bytes != 0 || outPool.free != nil {
		t.Fatal("pool not emptied when the last run ended")
	}
}
