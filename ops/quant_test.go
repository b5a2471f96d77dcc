package ops

import (
	"math"
	"strings"
	"testing"

	"github.com/provena/provena/tensor"
)

func i8T(shape []int, v ...int8) *tensor.Tensor {
	return &tensor.Tensor{DType: tensor.Int8, Shape: shape, I8: v}
}

func i32T(shape []int, v ...int32) *tensor.Tensor {
	return &tensor.Tensor{DType: tensor.Int32, Shape: shape, I32: v}
}

// int8Of fills an int8 tensor with values in [-128, 127] (so -128, which
// the quantizer never produces, still flows through every kernel).
func (s *splitmix) int8Of(shape ...int) *tensor.Tensor {
	t, _ := tensor.New(tensor.Int8, shape)
	for i := range t.I8 {
		t.I8[i] = int8(s.next() >> 56)
	}
	return t
}

func (s *splitmix) int32Of(bound int64, shape ...int) *tensor.Tensor {
	t, _ := tensor.New(tensor.Int32, shape)
	for i := range t.I32 {
		t.I32[i] = int32(int64(s.next()>>33)%(2*bound+1) - bound)
	}
	return t
}

func rep(v int64, n int) Attr {
	x := make([]int64, n)
	for i := range x {
		x[i] = v
	}
	return ints(x...)
}

// qrq is a requantization attribute set: mult and shift for n channels.
func qrq(mult, shift int64, n int, lo, hi int64) Attrs {
	return Attrs{"mult": rep(mult, n), "shift": rep(shift, n), "lo": aint(lo), "hi": aint(hi)}
}

// quantBattery are QGemm/QConv/QMaxPool/QAdd/QQuantize/QDequantize runs
// large enough to split across threads; TestGoldenDigest hashes them too.
func quantBattery(s *splitmix, x *tensor.Tensor) []batteryRun {
	qx := s.int8Of(1, 16, 40, 52)
	mult := make([]int64, 24)
	shift := make([]int64, 24)
	for i := range mult {
		mult[i] = 1<<30 + int64(s.next()>>34)
		shift[i] = 38 + int64(i%5)
	}
	rq := Attrs{"mult": ints(mult...), "shift": ints(shift...), "lo": aint(0), "hi": aint(127)}
	conv := with(rq, "pads", ints(1, 0, 1, 2), "strides", ints(1, 2))
	gemm := Attrs{"mult": ints(mult[:20]...), "shift": ints(shift[:20]...), "lo": aint(-128), "hi": aint(127)}
	return []batteryRun{
		{"QQuantize", []*tensor.Tensor{x}, Attrs{"scale": afloat(1.0 / 60)}},
		{"QConv", []*tensor.Tensor{qx, s.int8Of(24, 16, 3, 3), s.int32Of(1<<16, 24)}, conv},
		{"QConv", []*tensor.Tensor{qx, s.int8Of(24, 16, 1, 1)}, Attrs{"out_int32": aint(1)}},
		{"QGemm", []*tensor.Tensor{s.int8Of(37, 300), s.int8Of(20, 300), s.int32Of(1<<20, 20)}, gemm},
		{"QGemm", []*tensor.Tensor{s.int8Of(3, 300), s.int8Of(50, 300)}, Attrs{"out_int32": aint(1)}},
		{"QMaxPool", []*tensor.Tensor{qx}, Attrs{"kernel_shape": ints(3, 2), "strides": ints(2, 2)}},
		{"QAdd", []*tensor.Tensor{qx, s.int8Of(1, 16, 40, 52)}, Attrs{"mult_a": aint(1<<30 + 12345), "mult_b": aint(987654321), "shift": aint(31), "lo": aint(-100), "hi": aint(127)}},
		{"QDequantize", []*tensor.Tensor{qx}, Attrs{"scale": afloat(0.0123)}},
		{"QDequantize", []*tensor.Tensor{s.int32Of(1<<30, 7, 300)}, Attrs{"scale": afloat(3.1e-6)}},
	}
}

func TestQuantOps(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	x33 := i8T([]int{1, 1, 3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	w22 := i8T([]int{1, 1, 2, 2}, 1, 0, 0, -1)
	gemmRQ := qrq(1<<30, 31, 2, -128, 127) // multiplier 0.5
	runCases(t, []opCase{
		// x/0.5: 0.5 and -0.5 are ties (away from zero), 1.48 rounds down,
		// +-200 and Inf clamp to +-127 (never -128), NaN is 0.
		{name: "quantize", op: "QQuantize", in: []*tensor.Tensor{f32T([]int{2, 5}, 0.25, -0.25, 0.75, 1, 100, -100, nan, 0.74, inf, -0.2)},
			a: Attrs{"scale": afloat(0.5)}, want: i8T([]int{2, 5}, 1, -1, 2, 2, 127, -127, 0, 1, 127, 0)},
		{name: "quantize no scale", op: "QQuantize", in: []*tensor.Tensor{f32T([]int{1}, 1)}, wantErr: true},
		{name: "quantize zero scale", op: "QQuantize", in: []*tensor.Tensor{f32T([]int{1}, 1)}, a: Attrs{"scale": afloat(0)}, wantErr: true},
		{name: "quantize nan scale", op: "QQuantize", in: []*tensor.Tensor{f32T([]int{1}, 1)}, a: Attrs{"scale": afloat(nan)}, wantErr: true},
		{name: "quantize int input", op: "QQuantize", in: []*tensor.Tensor{i8T([]int{1}, 1)}, a: Attrs{"scale": afloat(1)}, wantErr: true},
		{name: "quantize int scale", op: "QQuantize", in: []*tensor.Tensor{f32T([]int{1}, 1)}, a: Attrs{"scale": aint(1)}, wantErr: true},

		{name: "dequantize int8", op: "QDequantize", in: []*tensor.Tensor{i8T([]int{3}, -127, 0, 5)}, a: Attrs{"scale": afloat(0.5)},
			want: f32T([]int{3}, -63.5, 0, 2.5)},
		{name: "dequantize int32", op: "QDequantize", in: []*tensor.Tensor{i32T([]int{2}, 100000, -3)}, a: Attrs{"scale": afloat(0.25)},
			want: f32T([]int{2}, 25000, -0.75)},
		{name: "dequantize float", op: "QDequantize", in: []*tensor.Tensor{f32T([]int{1}, 1)}, a: Attrs{"scale": afloat(1)}, wantErr: true},
		{name: "dequantize neg scale", op: "QDequantize", in: []*tensor.Tensor{i8T([]int{1}, 1)}, a: Attrs{"scale": afloat(-1)}, wantErr: true},

		// 5*0.5 = 2.5 rounds half up to 3, -5*0.5 = -2.5 to -2.
		{name: "gemm ties", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, 5), i8T([]int{2, 1}, 1, -1)}, a: gemmRQ,
			want: i8T([]int{1, 2}, 3, -2)},
		// 7*0.5 = 3.5 -> 4, -7*0.5 = -3.5 -> -3, 3*0.5 = 1.5 -> 2, -3*.5 -> -1.
		{name: "gemm ties 2", op: "QGemm", in: []*tensor.Tensor{i8T([]int{2, 1}, 7, 3), i8T([]int{2, 1}, 1, -1)}, a: gemmRQ,
			want: i8T([]int{2, 2}, 4, -3, 2, -1)},
		// acc = +-10000 with multiplier 1 clamps to hi and lo.
		{name: "gemm clamp", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, 100), i8T([]int{2, 1}, 100, -100)},
			a: qrq(1<<30, 30, 2, -128, 127), want: i8T([]int{1, 2}, 127, -128)},
		{name: "gemm clamp -127", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, 100), i8T([]int{2, 1}, 100, -100)},
			a: qrq(1<<30, 30, 2, -127, 127), want: i8T([]int{1, 2}, 127, -127)},
		// ReLU folded: acc = [3-4, 3+4] = [-1, 7], lo = 0.
		{name: "gemm relu", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 2}, 3, -4), i8T([]int{2, 2}, 1, 1, 1, -1)},
			a: qrq(1<<30, 30, 2, 0, 127), want: i8T([]int{1, 2}, 0, 7)},
		// Per-channel multipliers 0.75 and 0.25 with bias: acc = [10+1-2+3, -3+2-3] = [12, -4];
		// 12*0.75 = 9, -4*0.25 = -1.
		{name: "gemm bias per channel", op: "QGemm",
			in: []*tensor.Tensor{i8T([]int{1, 3}, 1, -2, 3), i8T([]int{2, 3}, 1, 1, 1, 2, 0, -1), i32T([]int{2}, 10, -3)},
			a:  Attrs{"mult": ints(3<<28, 1<<30), "shift": ints(30, 32), "lo": aint(-128), "hi": aint(127)}, want: i8T([]int{1, 2}, 9, -1)},
		{name: "gemm int32 out", op: "QGemm",
			in: []*tensor.Tensor{i8T([]int{2, 2}, 1, 2, 3, 4), i8T([]int{3, 2}, 1, 0, 0, 1, -128, 127), i32T([]int{3}, 100, -100, 1<<20)},
			a:  Attrs{"out_int32": aint(1)}, want: i32T([]int{2, 3}, 101, -98, 1<<20+126, 103, -96, 1<<20+124)},
		{name: "gemm acc overflow", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, 1), i8T([]int{1, 1}, 1), i32T([]int{1}, math.MaxInt32)},
			a: Attrs{"out_int32": aint(1)}, wantErr: true},
		{name: "gemm acc overflow requant", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, -1), i8T([]int{1, 1}, 1), i32T([]int{1}, math.MinInt32)},
			a: qrq(1, 1, 1, -128, 127), wantErr: true},
		{name: "gemm mult 0", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, 1), i8T([]int{1, 1}, 1)}, a: qrq(0, 1, 1, -128, 127), wantErr: true},
		{name: "gemm mult 2^31", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, 1), i8T([]int{1, 1}, 1)}, a: qrq(1<<31, 1, 1, -128, 127), wantErr: true},
		{name: "gemm shift 0", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, 1), i8T([]int{1, 1}, 1)}, a: qrq(1, 0, 1, -128, 127), wantErr: true},
		{name: "gemm shift 63", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, 1), i8T([]int{1, 1}, 1)}, a: qrq(1, 63, 1, -128, 127), wantErr: true},
		{name: "gemm lo > hi", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, 1), i8T([]int{1, 1}, 1)}, a: qrq(1, 1, 1, 5, 4), wantErr: true},
		{name: "gemm lo -129", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, 1), i8T([]int{1, 1}, 1)}, a: qrq(1, 1, 1, -129, 4), wantErr: true},
		{name: "gemm hi 128", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, 1), i8T([]int{1, 1}, 1)}, a: qrq(1, 1, 1, 0, 128), wantErr: true},
		{name: "gemm mult per channel", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, 1), i8T([]int{2, 1}, 1, 1)}, a: qrq(1, 1, 1, 0, 1), wantErr: true},
		{name: "gemm no mult", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, 1), i8T([]int{1, 1}, 1)}, a: Attrs{"shift": ints(1), "lo": aint(0), "hi": aint(1)}, wantErr: true},
		{name: "gemm no lo", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, 1), i8T([]int{1, 1}, 1)}, a: Attrs{"mult": ints(1), "shift": ints(1), "hi": aint(1)}, wantErr: true},
		{name: "gemm out_int32 2", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, 1), i8T([]int{1, 1}, 1)}, a: Attrs{"out_int32": aint(2)}, wantErr: true},
		{name: "gemm K mismatch", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 2}, 1, 1), i8T([]int{1, 1}, 1)}, a: qrq(1, 1, 1, 0, 1), wantErr: true},
		{name: "gemm float W", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, 1), f32T([]int{1, 1}, 1)}, a: qrq(1, 1, 1, 0, 1), wantErr: true},
		{name: "gemm int8 bias", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, 1), i8T([]int{1, 1}, 1), i8T([]int{1}, 1)}, a: qrq(1, 1, 1, 0, 1), wantErr: true},
		{name: "gemm bias shape", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1}, 1), i8T([]int{1, 1}, 1), i32T([]int{2}, 1, 1)}, a: qrq(1, 1, 1, 0, 1), wantErr: true},
		{name: "gemm rank 3", op: "QGemm", in: []*tensor.Tensor{i8T([]int{1, 1, 1}, 1), i8T([]int{1, 1}, 1)}, a: qrq(1, 1, 1, 0, 1), wantErr: true},

		// out[y,x] = X[y,x] - X[y+1,x+1] = -4, plus bias 2, times 1.
		{name: "conv", op: "QConv", in: []*tensor.Tensor{x33, w22, i32T([]int{1}, 2)}, a: qrq(1<<30, 30, 1, -128, 127),
			want: i8T([]int{1, 1, 2, 2}, -2, -2, -2, -2)},
		// Padded by 1, stride 2: accs [-1, -3, -7, -4] times 0.75 -> [-0.75, -2.25, -5.25, -3]
		// round half up -> [-1, -2, -5, -3].
		{name: "conv pads strides", op: "QConv", in: []*tensor.Tensor{x33, w22}, a: with(qrq(3<<28, 30, 1, -128, 127), "pads", ints(1, 1, 1, 1), "strides", ints(2, 2)),
			want: i8T([]int{1, 1, 2, 2}, -1, -2, -5, -3)},
		// Two channels: identity tap (x1) and negated tap with ReLU; int32 output variant below.
		{name: "conv relu channels", op: "QConv", in: []*tensor.Tensor{i8T([]int{1, 1, 1, 3}, -3, 0, 4), i8T([]int{2, 1, 1, 1}, 1, -1)},
			a: Attrs{"mult": ints(1<<30, 1<<29), "shift": ints(30, 30), "lo": aint(0), "hi": aint(127)}, want: i8T([]int{1, 2, 1, 3}, 0, 0, 4, 2, 0, 0)},
		{name: "conv int32", op: "QConv", in: []*tensor.Tensor{i8T([]int{1, 1, 1, 3}, -3, 0, 4), i8T([]int{2, 1, 1, 1}, 1, -1), i32T([]int{2}, 1000, 0)},
			a: Attrs{"out_int32": aint(1)}, want: i32T([]int{1, 2, 1, 3}, 997, 1000, 1004, 3, 0, -4)},
		{name: "conv group", op: "QConv", in: []*tensor.Tensor{x33, w22}, a: with(qrq(1, 1, 1, 0, 1), "group", aint(2)), unsup: true},
		{name: "conv dilation", op: "QConv", in: []*tensor.Tensor{x33, w22}, a: with(qrq(1, 1, 1, 0, 1), "dilations", ints(2, 2)), unsup: true},
		{name: "conv channels", op: "QConv", in: []*tensor.Tensor{x33, i8T([]int{1, 2, 1, 1}, 1, 1)}, a: qrq(1, 1, 1, 0, 1), wantErr: true},
		{name: "conv too small", op: "QConv", in: []*tensor.Tensor{i8T([]int{1, 1, 1, 1}, 1), w22}, a: qrq(1, 1, 1, 0, 1), wantErr: true},
		{name: "conv bad pads", op: "QConv", in: []*tensor.Tensor{x33, w22}, a: with(qrq(1, 1, 1, 0, 1), "pads", ints(1, 1)), wantErr: true},
		{name: "conv kernel_shape", op: "QConv", in: []*tensor.Tensor{x33, w22}, a: with(qrq(1, 1, 1, 0, 1), "kernel_shape", ints(3, 3)), wantErr: true},
		{name: "conv float", op: "QConv", in: []*tensor.Tensor{f32T([]int{1, 1, 1, 1}, 1), i8T([]int{1, 1, 1, 1}, 1)}, a: qrq(1, 1, 1, 0, 1), wantErr: true},

		{name: "maxpool", op: "QMaxPool", in: []*tensor.Tensor{i8T([]int{1, 1, 3, 4}, -128, -5, 3, 1, -7, -128, 2, 9, 100, 100, 100, 100)},
			a: Attrs{"kernel_shape": ints(2, 2), "strides": ints(2, 2)}, want: i8T([]int{1, 1, 1, 2}, -5, 9)},
		{name: "maxpool all min", op: "QMaxPool", in: []*tensor.Tensor{i8T([]int{1, 1, 2, 2}, -128, -128, -128, -128)},
			a: Attrs{"kernel_shape": ints(2, 1)}, want: i8T([]int{1, 1, 1, 2}, -128, -128)},
		{name: "maxpool pads", op: "QMaxPool", in: []*tensor.Tensor{x33}, a: Attrs{"kernel_shape": ints(2, 2), "pads": ints(1, 1, 1, 1)}, unsup: true},
		{name: "maxpool no kernel", op: "QMaxPool", in: []*tensor.Tensor{x33}, wantErr: true},
		{name: "maxpool big kernel", op: "QMaxPool", in: []*tensor.Tensor{x33}, a: Attrs{"kernel_shape": ints(4, 1)}, wantErr: true},
		{name: "maxpool float", op: "QMaxPool", in: []*tensor.Tensor{f32T([]int{1, 1, 1, 1}, 1)}, a: Attrs{"kernel_shape": ints(1, 1)}, wantErr: true},

		// a + b/2: 12.5 -> 13, -7.5 -> -7, 190.5 -> 127, -192 -> -128, 1.
		{name: "add", op: "QAdd", in: []*tensor.Tensor{i8T([]int{5}, 10, -10, 127, -128, 1), i8T([]int{5}, 5, 5, 127, -128, 0)},
			a: Attrs{"mult_a": aint(1 << 30), "mult_b": aint(1 << 29), "shift": aint(30), "lo": aint(-128), "hi": aint(127)}, want: i8T([]int{5}, 13, -7, 127, -128, 1)},
		{name: "add relu", op: "QAdd", in: []*tensor.Tensor{i8T([]int{5}, 10, -10, 127, -128, 1), i8T([]int{5}, 5, 5, 127, -128, 0)},
			a: Attrs{"mult_a": aint(1 << 30), "mult_b": aint(1 << 29), "shift": aint(30), "lo": aint(0), "hi": aint(127)}, want: i8T([]int{5}, 13, 0, 127, 0, 1)},
		{name: "add shapes", op: "QAdd", in: []*tensor.Tensor{i8T([]int{2}, 1, 1), i8T([]int{1}, 1)},
			a: Attrs{"mult_a": aint(1), "mult_b": aint(1), "shift": aint(1), "lo": aint(0), "hi": aint(1)}, wantErr: true},
		{name: "add no shift", op: "QAdd", in: []*tensor.Tensor{i8T([]int{1}, 1), i8T([]int{1}, 1)},
			a: Attrs{"mult_a": aint(1), "mult_b": aint(1), "lo": aint(0), "hi": aint(1)}, wantErr: true},
		{name: "add mult 0", op: "QAdd", in: []*tensor.Tensor{i8T([]int{1}, 1), i8T([]int{1}, 1)},
			a: Attrs{"mult_a": aint(0), "mult_b": aint(1), "shift": aint(1), "lo": aint(0), "hi": aint(1)}, wantErr: true},
		{name: "add int32", op: "QAdd", in: []*tensor.Tensor{i32T([]int{1}, 1), i8T([]int{1}, 1)},
			a: Attrs{"mult_a": aint(1), "mult_b": aint(1), "shift": aint(1), "lo": aint(0), "hi": aint(1)}, wantErr: true},
	})
}

// TestQuantErrorsNameOpAndInput checks the error text carries the op and,
// for input problems, the input index.
func TestQuantErrorsNameOpAndInput(t *testing.T) {
	for _, c := range []struct {
		op   string
		in   []*tensor.Tensor
		a    Attrs
		want string
	}{
		{"QGemm", []*tensor.Tensor{i8T([]int{1, 1}, 1), f32T([]int{1, 1}, 1)}, qrq(1, 1, 1, 0, 1), "op QGemm: input 1"},
		{"QGemm", []*tensor.Tensor{i8T([]int{1, 1}, 1), i8T([]int{1, 1}, 1), i32T([]int{2}, 1, 1)}, qrq(1, 1, 1, 0, 1), "op QGemm: input 2"},
		{"QGemm", []*tensor.Tensor{i8T([]int{1, 1}, 1), i8T([]int{1, 1}, 1)}, qrq(1, 70, 1, 0, 1), "op QGemm: attribute shift[0]"},
		{"QConv", []*tensor.Tensor{i8T([]int{1, 2, 3, 3}), i8T([]int{1, 1, 1, 1}, 1)}, qrq(1, 1, 1, 0, 1), "op QConv: input 1"},
		{"QMaxPool", []*tensor.Tensor{i8T([]int{1, 1, 3})}, Attrs{"kernel_shape": ints(1, 1)}, "op QMaxPool: input 0"},
		{"QAdd", []*tensor.Tensor{i8T([]int{1}, 1), i8T([]int{2}, 1, 1)}, nil, "op QAdd: input 1"},
		{"QQuantize", []*tensor.Tensor{i8T([]int{1}, 1)}, Attrs{"scale": afloat(1)}, "op QQuantize: input 0"},
		{"QDequantize", []*tensor.Tensor{i8T([]int{1}, 1)}, nil, "op QDequantize: attribute scale"},
	} {
		op, _ := Lookup(c.op)
		_, err := op.Infer(metasOf(c.in), c.a)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.op, err, c.want)
		}
	}
}

// TestQuantElemMatchesRun runs random geometries through Run (1, 2, 8
// threads) and Elem at every output element.
func TestQuantElemMatchesRun(t *testing.T) {
	s := splitmix(7)
	mk := func(n int, lo, hi int64) Attrs {
		m, sh := make([]int64, n), make([]int64, n)
		for i := range m {
			m[i] = 1 + int64(s.next()>>33)
			sh[i] = 30 + int64(s.next()%8)
		}
		return Attrs{"mult": ints(m...), "shift": ints(sh...), "lo": aint(lo), "hi": aint(hi)}
	}
	for _, c := range []struct {
		op string
		in []*tensor.Tensor
		a  Attrs
	}{
		{"QConv", []*tensor.Tensor{s.int8Of(2, 3, 7, 9), s.int8Of(5, 3, 3, 2), s.int32Of(5000, 5)}, with(mk(5, 0, 127), "pads", ints(2, 1, 0, 3), "strides", ints(2, 3))},
		{"QConv", []*tensor.Tensor{s.int8Of(1, 4, 6, 6), s.int8Of(3, 4, 5, 5)}, with(mk(3, -128, 127), "strides", ints(1, 1))},
		{"QConv", []*tensor.Tensor{s.int8Of(1, 2, 4, 5), s.int8Of(3, 2, 2, 2), s.int32Of(100, 3)}, Attrs{"out_int32": aint(1), "pads": ints(1, 1, 1, 1)}},
		{"QGemm", []*tensor.Tensor{s.int8Of(4, 33), s.int8Of(9, 33), s.int32Of(1<<20, 9)}, mk(9, -127, 127)},
		{"QGemm", []*tensor.Tensor{s.int8Of(3, 0), s.int8Of(2, 0), s.int32Of(9, 2)}, mk(2, -128, 127)},
		{"QMaxPool", []*tensor.Tensor{s.int8Of(2, 3, 7, 8)}, Attrs{"kernel_shape": ints(3, 2), "strides": ints(2, 3)}},
		{"QAdd", []*tensor.Tensor{s.int8Of(3, 5, 7), s.int8Of(3, 5, 7)}, Attrs{"mult_a": aint(QMultMax), "mult_b": aint(QMultMax), "shift": aint(QShiftMax), "lo": aint(-5), "hi": aint(5)}},
		{"QAdd", []*tensor.Tensor{s.int8Of(3, 5, 7), s.int8Of(3, 5, 7)}, Attrs{"mult_a": aint(1 << 30), "mult_b": aint(3 << 29), "shift": aint(31), "lo": aint(-128), "hi": aint(127)}},
		{"QQuantize", []*tensor.Tensor{s.tensorOf(3, 40)}, Attrs{"scale": afloat(1.0 / 50)}},
		{"QDequantize", []*tensor.Tensor{s.int8Of(3, 40)}, Attrs{"scale": afloat(0.07)}},
	} {
		checkElemMatchesRun(t, c.op, c.in, c.a)
	}
}

// TestQRequantExtremes checks rshift and the requantization at the largest
// multiplier, shift and accumulator the contract allows (no int64 overflow).
func TestQRequantExtremes(t *testing.T) {
	for _, c := range []struct{ acc, mult, shift, lo, hi, want int64 }{
		// (2^31-1)^2 = 2^62 - 2^32 + 1: (that + 2^61) >> 62 = 1, no overflow.
		{math.MaxInt32, QMultMax, 62, -128, 127, 1},
		// -2^31 (2^31-1) = -2^62 + 2^31: (that + 2^61) >> 62 = floor(-0.49..) = -1.
		{math.MinInt32, QMultMax, 62, -128, 127, -1},
		{math.MaxInt32, QMultMax, 31, -128, 127, 127},  // huge, clamps
		{math.MinInt32, QMultMax, 31, -128, 127, -128}, // huge negative, clamps
		{-3, 1, 1, -128, 127, -1},                      // -1.5 -> -1 (half up)
		{3, 1, 1, -128, 127, 2},                        // 1.5 -> 2
		{-1, 1, 1, -128, 127, 0},                       // -0.5 -> 0
		{-2, 3, 2, -128, 127, -1},                      // -1.5 -> -1
		{-10, 1, 2, 0, 127, 0},                         // ReLU
		{1000, 1 << 30, 30, -128, 100, 100},            // hi below 127
		{1 << 30, 1 << 30, 60, -128, 127, 1},           // 2^60 / 2^60
		{-(1 << 30), 1 << 30, 61, -128, 127, 0},        // -0.5 -> 0
		{-(1 << 30) - 1, 1 << 30, 61, -128, 127, -1},   // just below -0.5 -> -1
	} {
		if got := QRequant(c.acc, c.mult, c.shift, c.lo, c.hi); got != c.want {
			t.Errorf("QRequant(%d, %d, %d) = %d, want %d", c.acc, c.mult, c.shift, got, c.want)
		}
	}
}

// FuzzQuantInfer feeds the quantized operators random input types, shapes
// and attribute values around their valid ranges. Infer must not panic; an
// accepted small case must run, and Elem must match Run at the last element.
func FuzzQuantInfer(f *testing.F) {
	f.Add([]byte{2, 2, 0, 2, 1, 3, 0, 2, 2, 3, 1, 4, 1, 0, 2, 3, 4, 5})
	f.Add([]byte{1, 3, 0, 4, 1, 1, 3, 3, 0, 4, 1, 1, 2, 2, 1, 1, 0, 2, 1, 1, 1})
	f.Add([]byte{0, 1, 1, 2, 2, 2, 1, 7, 0})
	f.Add([]byte{4, 2, 0, 1, 5, 0, 1, 5, 6, 8, 1, 6, 1, 6, 3, 5, 4, 9})
	names := []string{"QQuantize", "QDequantize", "QGemm", "QConv", "QMaxPool", "QAdd"}
	attrNames := []string{"scale", "mult", "shift", "lo", "hi", "out_int32", "strides", "pads", "kernel_shape", "group",
		"dilations", "mult_a", "mult_b", "ceil_mode"}
	types := []tensor.DType{tensor.Int8, tensor.Int8, tensor.Int32, tensor.Float32, tensor.Int64, 0}
	ivals := []int64{0, 1, 2, 3, -1, -128, 127, 128, -129, 62, 63, QMultMax, QMultMax + 1, 1 << 30, math.MinInt64, math.MaxInt64}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzReader{b: data}
		opType := names[r.n(len(names))]
		op, _ := Lookup(opType)
		in := make([]*tensor.Tensor, r.n(4))
		metas := make([]tensor.Meta, len(in))
		for i := range in {
			dt := types[r.n(len(types))]
			if dt == 0 {
				continue
			}
			shape := make([]int, r.n(5))
			for d := range shape {
				shape[d] = r.n(5)
			}
			x, err := tensor.New(dt, shape)
			if err != nil {
				t.Fatal(err)
			}
			for k := range x.Len() {
				setBits(x, k, uint64(r.small()*37))
				if dt == tensor.Float32 {
					x.F32[k] = float32(r.small()) / 3
				}
			}
			in[i], metas[i] = x, metaOf(x)
		}
		a := Attrs{}
		for range r.n(8) {
			name := attrNames[r.n(len(attrNames))]
			switch r.n(4) {
			case 0:
				a[name] = aint(ivals[r.n(len(ivals))])
			case 1:
				v := make([]int64, r.n(5))
				for k := range v {
					v[k] = ivals[r.n(len(ivals))]
				}
				a[name] = ints(v...)
			case 2:
				a[name] = afloat([]float32{0, -1, 0.5, float32(math.Inf(1)), float32(math.NaN()), 1e-30}[r.n(6)])
			case 3:
				a[name] = astr("x")
			}
		}
		outs, err := op.Infer(metas, a)
		if err != nil {
			return
		}
		if len(outs) != 1 || tensor.NumElements(outs[0].Shape) > 1<<12 {
			return
		}
		got, err := op.Run(&Ctx{Threads: 2}, in, a)
		if err != nil {
			return
		}
		if got[0].DType != outs[0].DType || !equalInts(got[0].Shape, outs[0].Shape) {
			t.Fatalf("%s: Run output %v%v, Infer said %v%v", opType, got[0].DType, got[0].Shape, outs[0].DType, outs[0].Shape)
		}
		if got[0].Len() == 0 {
			return
		}
		e := op.(ElemOp)
		last := got[0].Len() - 1
		if _, err := e.Deps(metas, a, 0, last); err != nil {
			t.Fatalf("%s: Deps failed after Run succeeded: %v", opType, err)
		}
		b, err := e.Elem(in, a, 0, last)
		if err != nil {
			t.Fatalf("%s: Elem failed after Run succeeded: %v", opType, err)
		}
		if w := got[0].Bits(last); b != w {
			t.Fatalf("%s: Elem(%d) = %#x, Run %#x", opType, last, b, w)
		}
	})
}

// TestQConvGeometries checks Run against Elem over many small geometries:
// kernels wider than the input, pads larger than the kernel, strides
// larger than the kernel.
func TestQConvGeometries(t *testing.T) {
	s := splitmix(11)
	n := 0
	for h := 1; h <= 5; h += 2 {
		for w := 1; w <= 6; w++ {
			for k := 1; k <= 3; k++ {
				for st := 1; st <= 3; st++ {
					for p := 0; p <= 2; p++ {
						if h+2*p < k || w+p < k {
							continue
						}
						x := s.int8Of(1, 2, h, w)
						wt := s.int8Of(2, 2, k, k)
						a := Attrs{"out_int32": aint(1), "pads": ints(int64(p), 0, int64(p), int64(p)), "strides": ints(int64(st), int64(st))}
						checkElemMatchesRun(t, "QConv", []*tensor.Tensor{x, wt, s.int32Of(50, 2)}, a)
						n++
					}
				}
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d geometries", n)
	}
}

// TestQGemmHugeEmptyOutput: K = 0 makes the inputs empty while M*N is far
// beyond any tensor; Infer must refuse it rather than let Run allocate.
func TestQGemmHugeEmptyOutput(t *testing.T) {
	op, _ := Lookup("QGemm")
	in := []tensor.Meta{{DType: tensor.Int8, Shape: []int{1 << 30, 0}}, {DType: tensor.Int8, Shape: []int{1 << 30, 0}}}
	if _, err := op.Infer(in, Attrs{"out_int32": aint(1)}); err == nil {
		t.Fatal("2^60-element output accepted")
	}
}
