package conformance

import (
	"math"
	"strings"
	"testing"

	"github.com/provena/provena/tensor"
)

func f32(shape []int, v ...float32) *tensor.Tensor {
	return &tensor.Tensor{DType: tensor.Float32, Shape: shape, F32: v}
}

func TestCompare(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name      string
		got, want *tensor.Tensor
		wantDiff  Diff
		wantErr   string
	}{
		{"equal", f32([]int{2}, 1, -2), f32([]int{2}, 1, -2), Diff{MaxRef: 2}, ""},
		{"error", f32([]int{3}, 1, 2.5, -4), f32([]int{3}, 1, 2, -4), Diff{MaxAbsErr: 0.5, MaxRef: 4, At: 1}, ""},
		{"shape", f32([]int{2}, 1, 2), f32([]int{1, 2}, 1, 2), Diff{}, "shape"},
		{"nan", f32([]int{1}, nan), f32([]int{1}, 1), Diff{}, "element 0"},
		{"dtype", &tensor.Tensor{DType: tensor.Int64, Shape: []int{1}, I64: []int64{1}}, f32([]int{1}, 1), Diff{}, "float32"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Compare(tc.got, tc.want)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || d != tc.wantDiff {
				t.Fatalf("got %+v, %v; want %+v", d, err, tc.wantDiff)
			}
		})
	}
	if r := (Diff{MaxAbsErr: 0.5, MaxRef: 4}).Rel(); r != 0.125 {
		t.Errorf("Rel = %v", r)
	}
}
