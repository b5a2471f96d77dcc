package ops

import (
	"math"
	"testing"

	"github.com/provena/provena/tensor"
)

// TestConvWeightCache runs Conv with its weights marked constant and cached
// (second run from the cache) and checks both against an uncached run.
func TestConvWeightCache(t *testing.T) {
	r := rng(7)
	op, _ := Lookup("Conv")
	for _, tc := range []struct {
		x, w []int
		a    Attrs
	}{
		{[]int{1, 8, 6, 9}, []int{13, 8, 3, 3}, Attrs{"pads": ints(1, 1, 1, 1)}},
		{[]int{1, 4, 6, 6}, []int{6, 2, 1, 1}, Attrs{"group": aint(2)}},
	} {
		in := []*tensor.Tensor{randT(r, tc.x...), randT(r, tc.w...), randT(r, tc.w[0])}
		want, err := op.Run(&Ctx{Threads: 1}, in, tc.a)
		if err != nil {
			t.Fatal(err)
		}
		cache := NewWeightCache()
		for run := range 2 {
			got, err := op.Run(&Ctx{Threads: 2, Weights: cache, Const: []bool{false, true, true}}, in, tc.a)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range want[0].F32 {
				if math.Float32bits(got[0].F32[i]) != math.Float32bits(v) {
					t.Fatalf("run %d: element %d = %g, want %g", run, i, got[0].F32[i], v)
				}
			}
		}
		if len(cache.m) != 1 {
			t.Fatalf("cache holds %d entries, want 1", len(cache.m))
		}
	}
}
