package ops

import (
	"math"
	"testing"

	"github.com/provena/provena/tensor"
)

var inf = float32(math.Inf(1))

var nan = float32(math.NaN())

// opCase is one table entry: exact want (bits), approximate wantF (float64
// reference within tol of the largest magnitude), or wantErr.
type opCase struct {
	name    string
	op      string
	in      []*tensor.Tensor
	a       Attrs
	want    *tensor.Tensor
	wantF   []float64
	tol     float64
	wantErr bool
	unsup   bool
}

func runCases(t *testing.T, cases []opCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantErr || tc.unsup {
				op, ok := Lookup(tc.op)
				if !ok {
					t.Fatalf("%s not registered", tc.op)
				}
				_, err := op.Infer(metasOf(tc.in), tc.a)
				if err == nil {
					_, err = op.Run(&Ctx{Threads: 1}, tc.in, tc.a)
				}
				if err == nil {
					t.Fatal("no error")
				}
				if tc.unsup {
					wantUnsupported(t, err)
				}
				return
			}
			out := checkElemMatchesRun(t, tc.op, tc.in, tc.a)
			if tc.want != nil && !sameTensor(out[0], tc.want) {
				t.Fatalf("got %v %v%v%v, want %v %v%v%v", out[0].Shape, out[0].F32, out[0].I64, out[0].U8, tc.want.Shape, tc.want.F32, tc.want.I64, tc.want.U8)
			}
			if tc.wantF != nil {
				tol := tc.tol
				if tol == 0 {
					tol = 1e-6
				}
				closeTo(t, tc.name, out[0].F32, tc.wantF, tol)
			}
		})
	}
}

func withOpset(v int64) Attrs { return Attrs{OpsetAttr: aint(v)} }

func with(a Attrs, kv ...any) Attrs {
	b := Attrs{}
	for k, v := range a {
		b[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		b[kv[i].(string)] = kv[i+1].(Attr)
	}
	return b
}

func TestElementwise(t *testing.T) {
	x := f32T([]int{2, 3}, -2, -0.5, 0, 0.5, 1, 3)
	runCases(t, []opCase{
		{name: "relu", op: "Relu", in: []*tensor.Tensor{x}, want: f32T([]int{2, 3}, 0, 0, 0, 0.5, 1, 3)},
		{name: "neg int", op: "Neg", in: []*tensor.Tensor{i64T([]int{2}, 3, -4)}, want: i64T([]int{2}, -3, 4)},
		{name: "abs", op: "Abs", in: []*tensor.Tensor{x}, want: f32T([]int{2, 3}, 2, 0.5, 0, 0.5, 1, 3)},
		{name: "sigmoid", op: "Sigmoid", in: []*tensor.Tensor{x}, wantF: mapF(x, func(v float64) float64 { return 1 / (1 + math.Exp(-v)) })},
		{name: "tanh", op: "Tanh", in: []*tensor.Tensor{x}, wantF: mapF(x, math.Tanh)},
		{name: "exp", op: "Exp", in: []*tensor.Tensor{x}, wantF: mapF(x, math.Exp)},
		{name: "erf", op: "Erf", in: []*tensor.Tensor{x}, wantF: mapF(x, math.Erf)},
		{name: "sqrt", op: "Sqrt", in: []*tensor.Tensor{f32T([]int{3}, 4, 2, 0)}, want: f32T([]int{3}, 2, float32(math.Sqrt(2)), 0)},
		{name: "gelu", op: "Gelu", in: []*tensor.Tensor{x}, wantF: mapF(x, func(v float64) float64 { return 0.5 * v * (1 + math.Erf(v/math.Sqrt2)) })},
		{name: "gelu tanh", op: "Gelu", in: []*tensor.Tensor{x}, a: Attrs{"approximate": astr("tanh")},
			wantF: mapF(x, func(v float64) float64 { return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v))) }), tol: 1e-6},
		{name: "gelu bad", op: "Gelu", in: []*tensor.Tensor{x}, a: Attrs{"approximate": astr("erf")}, unsup: true},
		{name: "hardsigmoid", op: "HardSigmoid", in: []*tensor.Tensor{x}, a: Attrs{"alpha": afloat(0.2), "beta": afloat(0.5)},
			want: f32T([]int{2, 3}, 0.099999994, 0.4, 0.5, 0.6, 0.7, 1)},
		{name: "relu on int", op: "Relu", in: []*tensor.Tensor{i64T([]int{1}, 1)}, wantErr: true},
		{name: "clip attrs", op: "Clip", in: []*tensor.Tensor{x}, a: with(withOpset(9), "min", afloat(0), "max", afloat(0.75)),
			want: f32T([]int{2, 3}, 0, 0, 0, 0.5, 0.75, 0.75)},
		{name: "clip inputs", op: "Clip", in: []*tensor.Tensor{x, f32T(nil, -1), f32T(nil, 1)}, a: withOpset(11),
			want: f32T([]int{2, 3}, -1, -0.5, 0, 0.5, 1, 1)},
		{name: "clip max only", op: "Clip", in: []*tensor.Tensor{x, nil, f32T(nil, 0)}, a: withOpset(13),
			want: f32T([]int{2, 3}, -2, -0.5, 0, 0, 0, 0)},
		{name: "clip int", op: "Clip", in: []*tensor.Tensor{i64T([]int{3}, -5, 2, 9), i64T(nil, 0), i64T(nil, 4)}, a: withOpset(13), want: i64T([]int{3}, 0, 2, 4)},
		{name: "clip bad bound", op: "Clip", in: []*tensor.Tensor{x, f32T([]int{2}, 0, 1)}, a: withOpset(13), wantErr: true},
		{name: "cast f2i", op: "Cast", in: []*tensor.Tensor{f32T([]int{5}, -1.7, 2.9, nan, inf, -inf)}, a: Attrs{"to": aint(7)},
			want: i64T([]int{5}, -1, 2, 0, math.MaxInt64, math.MinInt64)},
		{name: "cast i2f", op: "Cast", in: []*tensor.Tensor{i64T([]int{2}, 3, 1<<40+1)}, a: Attrs{"to": aint(1)}, want: f32T([]int{2}, 3, 1<<40)},
		{name: "cast to int32", op: "Cast", in: []*tensor.Tensor{i64T([]int{1}, 5)}, a: Attrs{"to": aint(6)},
			want: &tensor.Tensor{DType: tensor.Int32, Shape: []int{1}, I32: []int32{5}}},
		{name: "cast to bool", op: "Cast", in: []*tensor.Tensor{f32T([]int{3}, 0, 2, nan)}, a: Attrs{"to": aint(9)}, want: boolT([]int{3}, 0, 1, 1)},
		{name: "cast double", op: "Cast", in: []*tensor.Tensor{x}, a: Attrs{"to": aint(11)}, unsup: true},
	})
}

func mapF(x *tensor.Tensor, f func(float64) float64) []float64 {
	r := make([]float64, len(x.F32))
	for i, v := range x.F32 {
		r[i] = f(float64(v))
	}
	return r
}

func TestBroadcastOps(t *testing.T) {
	a := f32T([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	col := f32T([]int{2, 1}, 10, 20)
	row := f32T([]int{3}, 1, 0.5, 2)
	r := rng(7)
	runCases(t, []opCase{
		{name: "add col", op: "Add", in: []*tensor.Tensor{a, col}, want: f32T([]int{2, 3}, 11, 12, 13, 24, 25, 26)},
		{name: "sub row", op: "Sub", in: []*tensor.Tensor{a, row}, want: f32T([]int{2, 3}, 0, 1.5, 1, 3, 4.5, 4)},
		{name: "mul scalar first", op: "Mul", in: []*tensor.Tensor{f32T(nil, 2), a}, want: f32T([]int{2, 3}, 2, 4, 6, 8, 10, 12)},
		{name: "div", op: "Div", in: []*tensor.Tensor{a, row}, want: f32T([]int{2, 3}, 1, 4, 1.5, 4, 10, 3)},
		{name: "outer", op: "Add", in: []*tensor.Tensor{col, row}, want: f32T([]int{2, 3}, 11, 10.5, 12, 21, 20.5, 22)},
		{name: "channel bcast 4d", op: "Mul", in: []*tensor.Tensor{randT(r, 2, 3, 4, 5), randT(r, 1, 3, 1, 1)}},
		{name: "mid bcast", op: "Add", in: []*tensor.Tensor{randT(r, 2, 1, 5), randT(r, 3, 1)}},
		{name: "pow", op: "Pow", in: []*tensor.Tensor{a, f32T(nil, 2)}, want: f32T([]int{2, 3}, 1, 4, 9, 16, 25, 36)},
		{name: "pow int exp", op: "Pow", in: []*tensor.Tensor{a, i64T(nil, 3)}, wantF: mapF(a, func(v float64) float64 { return v * v * v })},
		{name: "pow half", op: "Pow", in: []*tensor.Tensor{a, f32T(nil, 0.5)}, wantF: mapF(a, math.Sqrt)},
		{name: "min max", op: "Max", in: []*tensor.Tensor{a, row, f32T(nil, 2.5)}, want: f32T([]int{2, 3}, 2.5, 2.5, 3, 4, 5, 6)},
		{name: "min nan", op: "Min", in: []*tensor.Tensor{f32T([]int{2}, 1, nan), f32T([]int{2}, nan, 1)}, want: f32T([]int{2}, nan, nan)},
		{name: "equal", op: "Equal", in: []*tensor.Tensor{a, f32T([]int{3}, 1, 5, 3)}, want: boolT([]int{2, 3}, 1, 0, 1, 0, 1, 0)},
		{name: "equal int", op: "Equal", in: []*tensor.Tensor{i64T([]int{2}, 1, 2), i64T(nil, 2)}, want: boolT([]int{2}, 0, 1)},
		{name: "where", op: "Where", in: []*tensor.Tensor{boolT([]int{3}, 1, 0, 1), a, f32T(nil, -1)}, want: f32T([]int{2, 3}, 1, -1, 3, 4, -1, 6)},
		{name: "where int", op: "Where", in: []*tensor.Tensor{boolT([]int{2}, 0, 1), i64T([]int{2}, 1, 2), i64T([]int{2}, 3, 4)}, want: i64T([]int{2}, 3, 2)},
		{name: "int arith", op: "Div", in: []*tensor.Tensor{i64T([]int{3}, 7, -7, 9), i64T(nil, 2)}, want: i64T([]int{3}, 3, -3, 4)},
		{name: "int mul", op: "Mul", in: []*tensor.Tensor{i64T([]int{2}, 7, -7), i64T([]int{2}, 3, 2)}, want: i64T([]int{2}, 21, -14)},
		{name: "int div zero", op: "Div", in: []*tensor.Tensor{i64T([]int{1}, 7), i64T(nil, 0)}, wantErr: true},
		{name: "bad bcast", op: "Add", in: []*tensor.Tensor{a, f32T([]int{2}, 1, 2)}, wantErr: true},
		{name: "type mismatch", op: "Add", in: []*tensor.Tensor{a, i64T(nil, 1)}, wantErr: true},
		{name: "where cond type", op: "Where", in: []*tensor.Tensor{a, a, a}, wantErr: true},
	})
}

func TestMatMulGemm(t *testing.T) {
	a := f32T([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	b := f32T([]int{3, 2}, 1, 0, 0, 1, 1, 1)
	r := rng(9)
	A, B := randT(r, 2, 3, 5, 17), randT(r, 3, 17, 19)
	runCases(t, []opCase{
		{name: "matmul", op: "MatMul", in: []*tensor.Tensor{a, b}, want: f32T([]int{2, 2}, 4, 5, 10, 11)},
		{name: "vec mat", op: "MatMul", in: []*tensor.Tensor{f32T([]int{3}, 1, 1, 1), b}, want: f32T([]int{2}, 2, 2)},
		{name: "mat vec", op: "MatMul", in: []*tensor.Tensor{a, f32T([]int{3}, 1, 0, 1)}, want: f32T([]int{2}, 4, 10)},
		{name: "batched bcast", op: "MatMul", in: []*tensor.Tensor{A, B}, wantF: matmulRef(A, B, 2*3, 5, 17, 19, true), tol: 1e-5},
		{name: "wide", op: "MatMul", in: []*tensor.Tensor{randT(r, 9, 33), randT(r, 33, 300)}},
		{name: "inner mismatch", op: "MatMul", in: []*tensor.Tensor{a, a}, wantErr: true},
		{name: "gemm", op: "Gemm", in: []*tensor.Tensor{a, b, f32T([]int{2}, 100, 200)}, want: f32T([]int{2, 2}, 104, 205, 110, 211)},
		{name: "gemm trans alpha beta", op: "Gemm", in: []*tensor.Tensor{f32T([]int{3, 2}, 1, 4, 2, 5, 3, 6), f32T([]int{2, 3}, 1, 0, 1, 0, 1, 1), f32T([]int{2, 1}, 1, 2)},
			a: Attrs{"transA": aint(1), "transB": aint(1), "alpha": afloat(2), "beta": afloat(0.5)}, want: f32T([]int{2, 2}, 8.5, 10.5, 21, 23)},
		{name: "gemm random", op: "Gemm", in: []*tensor.Tensor{randT(r, 6, 20), randT(r, 40, 20), randT(r, 40)}, a: Attrs{"transB": aint(1)}},
		{name: "gemm bad C", op: "Gemm", in: []*tensor.Tensor{a, b, f32T([]int{3}, 1, 2, 3)}, wantErr: true},
	})
}

func matmulRef(A, B *tensor.Tensor, batches, m, k, n int, bBroadcast bool) []float64 {
	out := make([]float64, batches*m*n)
	for bi := 0; bi < batches; bi++ {
		bb := bi % 3
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				s := 0.0
				for p := 0; p < k; p++ {
					s += float64(A.F32[bi*m*k+i*k+p]) * float64(B.F32[bb*k*n+p*n+j])
				}
				out[bi*m*n+i*n+j] = s
			}
		}
	}
	return out
}

func TestLayout(t *testing.T) {
	x := f32T([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	x3 := f32T([]int{2, 2, 2}, 1, 2, 3, 4, 5, 6, 7, 8)
	r := rng(11)
	const big = math.MaxInt64
	runCases(t, []opCase{
		{name: "reshape -1 0", op: "Reshape", in: []*tensor.Tensor{x3, i64T([]int{2}, 0, -1)}, want: f32T([]int{2, 4}, 1, 2, 3, 4, 5, 6, 7, 8)},
		{name: "reshape bad", op: "Reshape", in: []*tensor.Tensor{x, i64T([]int{1}, 4)}, wantErr: true},
		{name: "reshape two -1", op: "Reshape", in: []*tensor.Tensor{x, i64T([]int{2}, -1, -1)}, wantErr: true},
		{name: "reshape allowzero", op: "Reshape", in: []*tensor.Tensor{f32T([]int{0, 2}), i64T([]int{2}, 2, 0)}, a: Attrs{"allowzero": aint(1)}, want: f32T([]int{2, 0})},
		{name: "flatten", op: "Flatten", in: []*tensor.Tensor{x3}, a: Attrs{"axis": aint(-1)}, want: f32T([]int{4, 2}, 1, 2, 3, 4, 5, 6, 7, 8)},
		{name: "squeeze attr", op: "Squeeze", in: []*tensor.Tensor{f32T([]int{1, 3, 1}, 1, 2, 3)}, a: with(withOpset(11), "axes", ints(0)), want: f32T([]int{3, 1}, 1, 2, 3)},
		{name: "squeeze all", op: "Squeeze", in: []*tensor.Tensor{f32T([]int{1, 3, 1}, 1, 2, 3)}, want: f32T([]int{3}, 1, 2, 3)},
		{name: "squeeze input", op: "Squeeze", in: []*tensor.Tensor{f32T([]int{1, 3, 1}, 1, 2, 3), i64T([]int{1}, -1)}, a: withOpset(13), want: f32T([]int{1, 3}, 1, 2, 3)},
		{name: "squeeze not one", op: "Squeeze", in: []*tensor.Tensor{x}, a: with(withOpset(11), "axes", ints(0)), wantErr: true},
		{name: "unsqueeze", op: "Unsqueeze", in: []*tensor.Tensor{i64T([]int{2}, 4, 5), i64T([]int{2}, 0, -1)}, a: withOpset(13), want: i64T([]int{1, 2, 1}, 4, 5)},
		{name: "unsqueeze attr", op: "Unsqueeze", in: []*tensor.Tensor{x}, a: with(withOpset(11), "axes", ints(1)), want: f32T([]int{2, 1, 3}, 1, 2, 3, 4, 5, 6)},
		{name: "identity", op: "Identity", in: []*tensor.Tensor{x}, want: x},
		{name: "dropout", op: "Dropout", in: []*tensor.Tensor{x, f32T(nil, 0.5)}, want: x},
		{name: "dropout training", op: "Dropout", in: []*tensor.Tensor{x, f32T(nil, 0.5), boolT(nil, 1)}, unsup: true},
		{name: "transpose", op: "Transpose", in: []*tensor.Tensor{x}, want: f32T([]int{3, 2}, 1, 4, 2, 5, 3, 6)},
		{name: "transpose perm", op: "Transpose", in: []*tensor.Tensor{x3}, a: Attrs{"perm": ints(1, 2, 0)}, want: f32T([]int{2, 2, 2}, 1, 5, 2, 6, 3, 7, 4, 8)},
		{name: "transpose 5d", op: "Transpose", in: []*tensor.Tensor{randT(r, 2, 3, 2, 4, 3)}, a: Attrs{"perm": ints(2, 0, 3, 1, 4)}},
		{name: "transpose bad", op: "Transpose", in: []*tensor.Tensor{x}, a: Attrs{"perm": ints(0, 0)}, wantErr: true},
		{name: "concat 0", op: "Concat", in: []*tensor.Tensor{x, f32T([]int{1, 3}, 7, 8, 9)}, a: Attrs{"axis": aint(0)}, want: f32T([]int{3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9)},
		{name: "concat last", op: "Concat", in: []*tensor.Tensor{x, f32T([]int{2, 1}, 7, 8)}, a: Attrs{"axis": aint(-1)}, want: f32T([]int{2, 4}, 1, 2, 3, 7, 4, 5, 6, 8)},
		{name: "concat int", op: "Concat", in: []*tensor.Tensor{i64T([]int{1}, 1), i64T([]int{2}, 2, 3)}, a: Attrs{"axis": aint(0)}, want: i64T([]int{3}, 1, 2, 3)},
		{name: "concat mismatch", op: "Concat", in: []*tensor.Tensor{x, x3}, a: Attrs{"axis": aint(0)}, wantErr: true},
		{name: "split sizes", op: "Split", in: []*tensor.Tensor{x, i64T([]int{2}, 1, 2)}, a: with(withOpset(13), "axis", aint(1)), want: f32T([]int{2, 1}, 1, 4)},
		{name: "split equal", op: "Split", in: []*tensor.Tensor{x3}, a: Attrs{OutputsAttr: aint(2)}, want: f32T([]int{1, 2, 2}, 1, 2, 3, 4)},
		{name: "split bad", op: "Split", in: []*tensor.Tensor{x, i64T([]int{2}, 1, 1)}, a: with(withOpset(13), "axis", aint(1)), wantErr: true},
		{name: "slice attrs", op: "Slice", in: []*tensor.Tensor{x}, a: with(withOpset(9), "starts", ints(1), "ends", ints(big), "axes", ints(1)), want: f32T([]int{2, 2}, 2, 3, 5, 6)},
		{name: "slice neg step", op: "Slice", in: []*tensor.Tensor{x, i64T([]int{1}, -1), i64T([]int{1}, -big), i64T([]int{1}, 1), i64T([]int{1}, -2)}, a: withOpset(13),
			want: f32T([]int{2, 2}, 3, 1, 6, 4)},
		{name: "slice neg start", op: "Slice", in: []*tensor.Tensor{x, i64T([]int{2}, -1, 0), i64T([]int{2}, big, 2)}, a: withOpset(13), want: f32T([]int{1, 2}, 4, 5)},
		{name: "slice empty", op: "Slice", in: []*tensor.Tensor{x, i64T([]int{1}, 2), i64T([]int{1}, 1), i64T([]int{1}, 1)}, a: withOpset(13), want: f32T([]int{2, 0})},
		{name: "slice int", op: "Slice", in: []*tensor.Tensor{i64T([]int{4}, 1, 3, 640, 640), i64T([]int{1}, 2), i64T([]int{1}, 4)}, a: withOpset(13), want: i64T([]int{2}, 640, 640)},
		{name: "slice zero step", op: "Slice", in: []*tensor.Tensor{x, i64T([]int{1}, 0), i64T([]int{1}, 1), i64T([]int{1}, 0), i64T([]int{1}, 0)}, a: withOpset(13), wantErr: true},
		{name: "slice not const", op: "Slice", in: []*tensor.Tensor{x, nil}, a: withOpset(13), wantErr: true},
		{name: "gather", op: "Gather", in: []*tensor.Tensor{x, i64T([]int{2}, 1, -3)}, a: Attrs{"axis": aint(1)}, want: f32T([]int{2, 2}, 2, 1, 5, 4)},
		{name: "gather scalar idx", op: "Gather", in: []*tensor.Tensor{i64T([]int{3}, 7, 8, 9), i64T(nil, 2)}, want: i64T(nil, 9)},
		{name: "gather rows", op: "Gather", in: []*tensor.Tensor{x3, &tensor.Tensor{DType: tensor.Int32, Shape: []int{1, 2}, I32: []int32{1, 0}}}, want: f32T([]int{1, 2, 2, 2}, 5, 6, 7, 8, 1, 2, 3, 4)},
		{name: "gather out of range", op: "Gather", in: []*tensor.Tensor{x, i64T([]int{1}, 2)}, wantErr: true},
		{name: "pad constant", op: "Pad", in: []*tensor.Tensor{x, i64T([]int{4}, 0, 1, 1, 0), f32T(nil, 9)}, a: withOpset(13),
			want: f32T([]int{3, 4}, 9, 1, 2, 3, 9, 4, 5, 6, 9, 9, 9, 9)},
		{name: "pad reflect", op: "Pad", in: []*tensor.Tensor{x, i64T([]int{4}, 0, 2, 0, 1)}, a: with(withOpset(13), "mode", astr("reflect")),
			want: f32T([]int{2, 6}, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5)},
		{name: "pad edge crop", op: "Pad", in: []*tensor.Tensor{x, i64T([]int{4}, 0, -1, 1, 1)}, a: with(withOpset(13), "mode", astr("edge")),
			want: f32T([]int{3, 3}, 2, 3, 3, 5, 6, 6, 5, 6, 6)},
		{name: "pad attrs", op: "Pad", in: []*tensor.Tensor{x}, a: with(withOpset(9), "pads", ints(1, 0, 0, 0)), want: f32T([]int{3, 3}, 0, 0, 0, 1, 2, 3, 4, 5, 6)},
		{name: "pad wrap", op: "Pad", in: []*tensor.Tensor{x, i64T([]int{4}, 0, 0, 0, 0)}, a: with(withOpset(13), "mode", astr("wrap")), unsup: true},
		{name: "expand", op: "Expand", in: []*tensor.Tensor{f32T([]int{2, 1}, 1, 2), i64T([]int{2}, 2, 3)}, want: f32T([]int{2, 3}, 1, 1, 1, 2, 2, 2)},
		{name: "shape", op: "Shape", in: []*tensor.Tensor{x3}, want: i64T([]int{3}, 2, 2, 2)},
		{name: "shape start", op: "Shape", in: []*tensor.Tensor{randT(r, 1, 3, 4)}, a: Attrs{"start": aint(-2)}, want: i64T([]int{2}, 3, 4)},
	})
}

func TestReducePoolNorm(t *testing.T) {
	x := f32T([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	r := rng(13)
	img := randT(r, 2, 3, 7, 8)
	runCases(t, []opCase{
		{name: "reducemean last", op: "ReduceMean", in: []*tensor.Tensor{x}, a: with(withOpset(11), "axes", ints(-1)), want: f32T([]int{2, 1}, 2, 5)},
		{name: "reducesum all", op: "ReduceSum", in: []*tensor.Tensor{x}, a: Attrs{"keepdims": aint(0)}, want: f32T(nil, 21)},
		{name: "reducesum axes input", op: "ReduceSum", in: []*tensor.Tensor{x, i64T([]int{1}, 0)}, a: withOpset(13), want: f32T([]int{1, 3}, 5, 7, 9)},
		{name: "reducemax", op: "ReduceMax", in: []*tensor.Tensor{x}, a: with(withOpset(13), "axes", ints(0), "keepdims", aint(0)), want: f32T([]int{3}, 4, 5, 6)},
		{name: "reducemin", op: "ReduceMin", in: []*tensor.Tensor{x}, a: with(withOpset(13), "axes", ints(1)), want: f32T([]int{2, 1}, 1, 4)},
		{name: "reducemean middle", op: "ReduceMean", in: []*tensor.Tensor{img}, a: with(withOpset(13), "axes", ints(1, 3))},
		{name: "reduce bad axis", op: "ReduceSum", in: []*tensor.Tensor{x}, a: with(withOpset(11), "axes", ints(2)), wantErr: true},
		{name: "gap", op: "GlobalAveragePool", in: []*tensor.Tensor{f32T([]int{1, 2, 1, 2}, 1, 2, 3, 5)}, want: f32T([]int{1, 2, 1, 1}, 1.5, 4)},
		{name: "gap random", op: "GlobalAveragePool", in: []*tensor.Tensor{img}},
		{name: "gmp", op: "GlobalMaxPool", in: []*tensor.Tensor{img}},
		{name: "avgpool", op: "AveragePool", in: []*tensor.Tensor{f32T([]int{1, 1, 2, 4}, 1, 2, 3, 4, 5, 6, 7, 8)}, a: Attrs{"kernel_shape": ints(2, 2), "strides": ints(2, 2)},
			want: f32T([]int{1, 1, 1, 2}, 3.5, 5.5)},
		{name: "avgpool rec", op: "AveragePool", in: []*tensor.Tensor{img}, a: Attrs{"kernel_shape": ints(3, 2), "strides": ints(3, 2)}},
		{name: "avgpool pad", op: "AveragePool", in: []*tensor.Tensor{f32T([]int{1, 1, 1, 3}, 3, 6, 9)}, a: Attrs{"kernel_shape": ints(1, 2), "pads": ints(0, 1, 0, 0)},
			want: f32T([]int{1, 1, 1, 3}, 3, 4.5, 7.5)},
		{name: "avgpool include pad", op: "AveragePool", in: []*tensor.Tensor{f32T([]int{1, 1, 1, 3}, 3, 6, 9)}, a: Attrs{"kernel_shape": ints(1, 2), "pads": ints(0, 1, 0, 0), "count_include_pad": aint(1)},
			want: f32T([]int{1, 1, 1, 3}, 1.5, 4.5, 7.5)},
		{name: "maxpool ceil", op: "MaxPool", in: []*tensor.Tensor{f32T([]int{1, 1, 1, 5}, 1, 5, 2, 8, 3)}, a: Attrs{"kernel_shape": ints(1, 2), "strides": ints(1, 2), "ceil_mode": aint(1)},
			want: f32T([]int{1, 1, 1, 3}, 5, 8, 3)},
		{name: "maxpool random", op: "MaxPool", in: []*tensor.Tensor{img}, a: Attrs{"kernel_shape": ints(3, 3), "strides": ints(2, 2), "pads": ints(1, 1, 1, 1), "dilations": ints(1, 2)}},
		{name: "maxpool 3d", op: "MaxPool", in: []*tensor.Tensor{randT(r, 1, 1, 2, 2, 2)}, a: Attrs{"kernel_shape": ints(1, 1, 1)}, unsup: true},
		{name: "batchnorm", op: "BatchNormalization", in: []*tensor.Tensor{f32T([]int{1, 2, 2}, 1, 2, 3, 4), f32T([]int{2}, 1, 2), f32T([]int{2}, 0, 1), f32T([]int{2}, 1, 3), f32T([]int{2}, 4, 1)},
			a: Attrs{"epsilon": afloat(0)}, want: f32T([]int{1, 2, 2}, 0, 0.5, 1, 3)},
		{name: "batchnorm random", op: "BatchNormalization", in: []*tensor.Tensor{img, randT(r, 3), randT(r, 3), randT(r, 3), f32T([]int{3}, 1, 2, 3)}},
		{name: "layernorm", op: "LayerNormalization", in: []*tensor.Tensor{f32T([]int{2, 2}, 1, 3, 2, 4), f32T([]int{2}, 1, 2), f32T([]int{2}, 0, 1)},
			a: Attrs{"epsilon": afloat(0)}, want: f32T([]int{2, 2}, -1, 3, -1, 3)},
		{name: "layernorm random", op: "LayerNormalization", in: []*tensor.Tensor{randT(r, 2, 3, 8), randT(r, 3, 8), randT(r, 8)}, a: Attrs{"axis": aint(1)}},
		{name: "softmax 13", op: "Softmax", in: []*tensor.Tensor{x}, a: with(withOpset(13), "axis", aint(0)),
			wantF: []float64{sm(1, 4), sm(2, 5), sm(3, 6), sm(4, 1), sm(5, 2), sm(6, 3)}},
		{name: "softmax 11 coerced", op: "Softmax", in: []*tensor.Tensor{f32T([]int{1, 2, 2}, 0, 0, 0, 0)}, a: with(withOpset(11), "axis", aint(1)), want: f32T([]int{1, 2, 2}, 0.25, 0.25, 0.25, 0.25)},
		{name: "softmax random", op: "Softmax", in: []*tensor.Tensor{img}, a: with(withOpset(13), "axis", aint(2))},
		{name: "logsoftmax", op: "LogSoftmax", in: []*tensor.Tensor{img}, a: withOpset(13)},
	})
}

// sm is the softmax weight of a against b.
func sm(a, b float64) float64 { return math.Exp(a) / (math.Exp(a) + math.Exp(b)) }

func TestResize(t *testing.T) {
	x := f32T([]int{1, 1, 2, 2}, 1, 2, 3, 4)
	sc := func(v ...float32) *tensor.Tensor { return f32T([]int{len(v)}, v...) }
	r := rng(17)
	img := randT(r, 1, 2, 5, 7)
	empty := f32T([]int{0})
	runCases(t, []opCase{
		{name: "nearest asymmetric floor", op: "Resize", in: []*tensor.Tensor{x, empty, sc(1, 1, 2, 2)},
			a:    with(withOpset(11), "mode", astr("nearest"), "coordinate_transformation_mode", astr("asymmetric"), "nearest_mode", astr("floor")),
			want: f32T([]int{1, 1, 4, 4}, 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4)},
		{name: "nearest sizes half pixel", op: "Resize", in: []*tensor.Tensor{img, nil, nil, i64T([]int{4}, 1, 2, 9, 4)}, a: withOpset(13)},
		{name: "linear half pixel", op: "Resize", in: []*tensor.Tensor{x, empty, sc(1, 1, 2, 2)}, a: with(withOpset(11), "mode", astr("linear")),
			want: f32T([]int{1, 1, 4, 4}, 1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4)},
		{name: "linear align corners", op: "Resize", in: []*tensor.Tensor{f32T([]int{1, 1, 1, 2}, 0, 3), empty, nil, i64T([]int{4}, 1, 1, 1, 4)},
			a: with(withOpset(11), "mode", astr("linear"), "coordinate_transformation_mode", astr("align_corners")), want: f32T([]int{1, 1, 1, 4}, 0, 1, 2, 3)},
		{name: "linear random down", op: "Resize", in: []*tensor.Tensor{img, nil, sc(1, 1, 0.6, 1.7)}, a: with(withOpset(13), "mode", astr("linear"), "coordinate_transformation_mode", astr("pytorch_half_pixel"))},
		{name: "nearest random ceil", op: "Resize", in: []*tensor.Tensor{img, nil, sc(1, 1, 1.5, 0.5)}, a: with(withOpset(13), "nearest_mode", astr("ceil"), "coordinate_transformation_mode", astr("tf_half_pixel_for_nearest"))},
		{name: "opset 10", op: "Resize", in: []*tensor.Tensor{x, sc(1, 1, 1, 2)}, a: withOpset(10), want: f32T([]int{1, 1, 2, 4}, 1, 1, 2, 2, 3, 3, 4, 4)},
		{name: "cubic", op: "Resize", in: []*tensor.Tensor{x, empty, sc(1, 1, 2, 2)}, a: with(withOpset(11), "mode", astr("cubic")), unsup: true},
		{name: "crop and resize", op: "Resize", in: []*tensor.Tensor{x, empty, sc(1, 1, 2, 2)}, a: with(withOpset(11), "coordinate_transformation_mode", astr("tf_crop_and_resize")), unsup: true},
		{name: "scales and sizes", op: "Resize", in: []*tensor.Tensor{x, empty, sc(1, 1, 2, 2), i64T([]int{4}, 1, 1, 4, 4)}, a: withOpset(13), wantErr: true},
		{name: "linear channel", op: "Resize", in: []*tensor.Tensor{x, empty, sc(1, 2, 1, 1)}, a: with(withOpset(11), "mode", astr("linear")), unsup: true},
	})
}

func TestConvTranspose(t *testing.T) {
	r := rng(19)
	runCases(t, []opCase{
		{name: "identity 1x1", op: "ConvTranspose", in: []*tensor.Tensor{f32T([]int{1, 1, 1, 2}, 1, 2), f32T([]int{1, 1, 1, 1}, 3)}, want: f32T([]int{1, 1, 1, 2}, 3, 6)},
		{name: "stride 2 k2", op: "ConvTranspose", in: []*tensor.Tensor{f32T([]int{1, 1, 1, 2}, 1, 2), f32T([]int{1, 1, 1, 2}, 1, 10), f32T([]int{1}, 0.5)},
			a: Attrs{"strides": ints(1, 2)}, want: f32T([]int{1, 1, 1, 4}, 1.5, 10.5, 2.5, 20.5)},
		{name: "overlap", op: "ConvTranspose", in: []*tensor.Tensor{f32T([]int{1, 1, 1, 2}, 1, 2), f32T([]int{1, 1, 1, 3}, 1, 1, 1)},
			a: Attrs{"strides": ints(1, 2)}, want: f32T([]int{1, 1, 1, 5}, 1, 1, 3, 2, 2)},
		{name: "det style", op: "ConvTranspose", in: []*tensor.Tensor{randT(r, 1, 4, 3, 5), randT(r, 4, 3, 2, 2), randT(r, 3)}, a: Attrs{"strides": ints(2, 2), "kernel_shape": ints(2, 2)}},
		{name: "grouped padded dilated", op: "ConvTranspose", in: []*tensor.Tensor{randT(r, 2, 4, 4, 3), randT(r, 4, 1, 3, 3)},
			a: Attrs{"strides": ints(2, 3), "group": aint(2), "pads": ints(1, 0, 1, 2), "dilations": ints(1, 2), "output_padding": ints(1, 0)}},
		{name: "output_shape", op: "ConvTranspose", in: []*tensor.Tensor{randT(r, 1, 1, 2, 2), randT(r, 1, 1, 2, 2)}, a: Attrs{"output_shape": ints(4, 4)}, unsup: true},
	})
}
