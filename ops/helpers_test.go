package ops

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/provena/provena/internal/kernels"
	"github.com/provena/provena/tensor"
)

// rng is the fixed-seed generator every test input comes from.
func rng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

func randT(r *rand.Rand, shape ...int) *tensor.Tensor {
	t, err := tensor.New(tensor.Float32, shape)
	if err != nil {
		panic(err)
	}
	for i := range t.F32 {
		t.F32[i] = float32(r.NormFloat64())
	}
	return t
}

func f32T(shape []int, v ...float32) *tensor.Tensor {
	return &tensor.Tensor{DType: tensor.Float32, Shape: shape, F32: v}
}

func i64T(shape []int, v ...int64) *tensor.Tensor {
	return &tensor.Tensor{DType: tensor.Int64, Shape: shape, I64: v}
}

func boolT(shape []int, v ...uint8) *tensor.Tensor {
	return &tensor.Tensor{DType: tensor.Bool, Shape: shape, U8: v}
}

func ints(v ...int64) Attr  { return Attr{Kind: AttrInts, Ints: v} }
func aint(v int64) Attr     { return Attr{Kind: AttrInt, Int: v} }
func afloat(v float32) Attr { return Attr{Kind: AttrFloat, Float: v} }
func astr(v string) Attr    { return Attr{Kind: AttrString, String: v} }

// run infers and runs op with the given thread count and checks that the
// outputs have the inferred metadata.
func run(t *testing.T, opType string, in []*tensor.Tensor, a Attrs, threads int) ([]*tensor.Tensor, error) {
	t.Helper()
	op, ok := Lookup(opType)
	if !ok {
		t.Fatalf("op %s not registered", opType)
	}
	metas, err := op.Infer(metasOf(in), a)
	if err != nil {
		return nil, err
	}
	out, err := op.Run(&Ctx{Threads: threads}, in, a)
	if err != nil {
		return nil, err
	}
	if len(out) != len(metas) {
		t.Fatalf("%s: Run gave %d outputs, Infer %d", opType, len(out), len(metas))
	}
	for i, o := range out {
		if o.DType != metas[i].DType || !equalInts(o.Shape, metas[i].Shape) || o.Len() != tensor.NumElements(o.Shape) {
			t.Fatalf("%s: output %d is %v%v (len %d), Infer said %v%v", opType, i, o.DType, o.Shape, o.Len(), metas[i].DType, metas[i].Shape)
		}
	}
	return out, nil
}

func equalInts(a, b []int) bool {
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

func sameTensor(a, b *tensor.Tensor) bool {
	if a.DType != b.DType || !equalInts(a.Shape, b.Shape) || a.Len() != b.Len() {
		return false
	}
	for i := range a.Len() {
		if a.Bits(i) != b.Bits(i) {
			return false
		}
	}
	return true
}

// poison returns a copy of t with every element outside keep overwritten
// (NaN for floats, a large odd value for integers).
func poison(t *tensor.Tensor, keep []Range) *tensor.Tensor {
	c, _ := tensor.New(t.DType, t.Shape)
	for i := range c.Len() {
		switch t.DType {
		case tensor.Float32:
			c.F32[i] = float32(math.NaN())
		case tensor.Int64:
			c.I64[i] = 1<<40 + 7
		case tensor.Int32:
			c.I32[i] = 1<<30 + 7
		default:
			setBits(c, i, 0x55)
		}
	}
	for _, r := range keep {
		copyElems(c, r.Lo, t, r.Lo, r.Hi-r.Lo)
	}
	return c
}

// checkElemMatchesRun checks, at every output element, that Elem gives Run's
// bits while every input element outside Deps is poisoned, that Deps ranges
// are sorted, disjoint and in bounds, and that Run is identical for 1, 2 and
// 8 threads and for the SIMD and pure-Go kernels.
func checkElemMatchesRun(t *testing.T, opType string, in []*tensor.Tensor, a Attrs) []*tensor.Tensor {
	t.Helper()
	want, err := run(t, opType, in, a, 1)
	if err != nil {
		t.Fatalf("%s: %v", opType, err)
	}
	for _, th := range []int{2, 8} {
		got, err := run(t, opType, in, a, th)
		if err != nil {
			t.Fatalf("%s threads=%d: %v", opType, th, err)
		}
		for i := range want {
			if !sameTensor(got[i], want[i]) {
				t.Fatalf("%s: output %d differs between 1 and %d threads", opType, i, th)
			}
		}
	}
	kernels.SetPurego(true)
	got, err := run(t, opType, in, a, 3)
	kernels.SetPurego(false)
	if err != nil {
		t.Fatalf("%s purego: %v", opType, err)
	}
	for i := range want {
		if !sameTensor(got[i], want[i]) {
			t.Fatalf("%s: output %d differs between kernel path %s and purego", opType, i, kernels.Path())
		}
	}
	op, _ := Lookup(opType)
	eop, ok := op.(ElemOp)
	if !ok {
		t.Fatalf("%s does not implement ElemOp", opType)
	}
	metas := make([]tensor.Meta, len(in))
	for i, x := range in {
		if x != nil {
			// Deps sees what Infer saw at import time: constants carry
			// their values (shape-defining inputs need them).
			metas[i] = tensor.Meta{DType: x.DType, Shape: x.Shape, Const: x}
		}
	}
	for o := range want {
		for flat := range want[o].Len() {
			deps, err := eop.Deps(metas, a, o, flat)
			if err != nil {
				t.Fatalf("%s Deps(%d, %d): %v", opType, o, flat, err)
			}
			if len(deps) > len(in) {
				t.Fatalf("%s Deps: %d inputs listed, op has %d", opType, len(deps), len(in))
			}
			masked := make([]*tensor.Tensor, len(in))
			for i, x := range in {
				if x == nil {
					continue
				}
				var keep []Range
				if i < len(deps) {
					keep = deps[i]
				}
				prev := 0
				for _, r := range keep {
					if r.Lo < prev || r.Hi <= r.Lo || r.Hi > x.Len() {
						t.Fatalf("%s Deps(%d): input %d ranges %v not sorted, disjoint and in bounds", opType, flat, i, keep)
					}
					prev = r.Hi
				}
				masked[i] = poison(x, keep)
			}
			bits, err := eop.Elem(masked, a, o, flat)
			if err != nil {
				t.Fatalf("%s Elem(%d, %d): %v", opType, o, flat, err)
			}
			if w := want[o].Bits(flat); bits != w {
				t.Fatalf("%s Elem(%d, %d) = %#x, Run gave %#x", opType, o, flat, bits, w)
			}
		}
	}
	return want
}

func wantUnsupported(t *testing.T, err error) {
	t.Helper()
	var u *UnsupportedError
	if !errors.As(err, &u) {
		t.Fatalf("error %v, want *UnsupportedError", err)
	}
}

// closeTo compares got with a float64 reference within tol relative to the
// reference's largest magnitude.
func closeTo(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale := 1e-30
	for _, w := range want {
		scale = max(scale, math.Abs(w))
	}
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*scale || math.IsNaN(float64(got[i])) != math.IsNaN(want[i]) {
			t.Fatalf("%s: element %d = %g, want %g", what, i, got[i], want[i])
		}
	}
}
