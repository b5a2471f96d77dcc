package ops

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/provena/provena/internal/kernels"
	"github.com/provena/provena/tensor"
)

var update = flag.Bool("update", false, "rewrite testdata/digest.txt")

// splitmix is a tiny fixed generator so the battery's inputs are identical on
// every platform and Go version.
type splitmix uint64

func (s *splitmix) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// tensorOf fills a tensor with values in [-2, 2) on a 1/1024 grid plus a
// small irrational-looking part, so sums round.
func (s *splitmix) tensorOf(shape ...int) *tensor.Tensor {
	t, _ := tensor.New(tensor.Float32, shape)
	for i := range t.F32 {
		hi := float32(int64(s.next()>>40)%4096-2048) / 1024
		t.F32[i] = hi + float32(float32(s.next()>>41)*1e-9) // explicit rounding: no fused multiply-add
	}
	return t
}

type batteryRun struct {
	op string
	in []*tensor.Tensor
	a  Attrs
}

// battery is a fixed set of op runs large enough that every kernel splits
// work across threads and takes its vector paths.
func battery() []batteryRun {
	s := splitmix(42)
	x := s.tensorOf(1, 16, 40, 52)
	pos := s.tensorOf(1, 16, 40, 52)
	for i, v := range pos.F32 {
		if v < 0 {
			pos.F32[i] = -v
		}
	}
	return append([]batteryRun{
		{"Conv", []*tensor.Tensor{x, s.tensorOf(24, 16, 3, 3), s.tensorOf(24)}, Attrs{"pads": ints(1, 1, 1, 1)}},
		{"Conv", []*tensor.Tensor{x, s.tensorOf(20, 16, 1, 1), s.tensorOf(20)}, nil},
		{"Conv", []*tensor.Tensor{x, s.tensorOf(16, 1, 5, 5), s.tensorOf(16)}, Attrs{"group": aint(16), "pads": ints(2, 2, 2, 2)}},
		{"Conv", []*tensor.Tensor{x, s.tensorOf(16, 1, 3, 3)}, Attrs{"group": aint(16), "pads": ints(1, 1, 1, 1), "strides": ints(2, 1)}},
		{"Conv", []*tensor.Tensor{x, s.tensorOf(8, 4, 3, 3)}, Attrs{"group": aint(4), "pads": ints(1, 1, 1, 1), "strides": ints(2, 2)}},
		{"ConvTranspose", []*tensor.Tensor{x, s.tensorOf(16, 4, 2, 2), s.tensorOf(4)}, Attrs{"strides": ints(2, 2)}},
		{"MatMul", []*tensor.Tensor{s.tensorOf(2, 37, 120), s.tensorOf(120, 131)}, nil},
		{"Gemm", []*tensor.Tensor{s.tensorOf(20, 64), s.tensorOf(50, 64), s.tensorOf(50)}, Attrs{"transB": aint(1), "alpha": afloat(0.5)}},
		{"Add", []*tensor.Tensor{x, s.tensorOf(1, 16, 1, 1)}, nil},
		{"Mul", []*tensor.Tensor{x, pos}, nil},
		{"Div", []*tensor.Tensor{x, s.tensorOf(52)}, nil},
		{"Pow", []*tensor.Tensor{pos, f32T(nil, 1.7)}, nil},
		{"Sigmoid", []*tensor.Tensor{x}, nil},
		{"Tanh", []*tensor.Tensor{x}, nil},
		{"Exp", []*tensor.Tensor{x}, nil},
		{"Erf", []*tensor.Tensor{x}, nil},
		{"Gelu", []*tensor.Tensor{x}, nil},
		{"Sqrt", []*tensor.Tensor{pos}, nil},
		{"Log", []*tensor.Tensor{pos}, nil},
		{"HardSigmoid", []*tensor.Tensor{x}, Attrs{"alpha": afloat(0.1666667)}},
		{"GlobalAveragePool", []*tensor.Tensor{x}, nil},
		{"AveragePool", []*tensor.Tensor{x}, Attrs{"kernel_shape": ints(3, 2), "strides": ints(3, 2)}},
		{"ReduceMean", []*tensor.Tensor{x}, Attrs{OpsetAttr: aint(11), "axes": ints(-1)}},
		{"Softmax", []*tensor.Tensor{x}, Attrs{"axis": aint(2)}},
		{"LayerNormalization", []*tensor.Tensor{x, s.tensorOf(52), s.tensorOf(52)}, nil},
		{"BatchNormalization", []*tensor.Tensor{x, s.tensorOf(16), s.tensorOf(16), s.tensorOf(16), firstN(pos, 16)}, nil},
		{"Resize", []*tensor.Tensor{x, nil, f32T([]int{4}, 1, 1, 2, 2)}, Attrs{"mode": astr("linear")}},
		{"Resize", []*tensor.Tensor{x, nil, f32T([]int{4}, 1, 1, 2, 2)}, Attrs{"coordinate_transformation_mode": astr("asymmetric"), "nearest_mode": astr("floor")}},
		{"Transpose", []*tensor.Tensor{x}, Attrs{"perm": ints(0, 2, 3, 1)}},
	}, quantBattery(&s, x)...)
}

// firstN returns the first n elements of t as a 1-D tensor.
func firstN(t *tensor.Tensor, n int) *tensor.Tensor {
	return f32T([]int{n}, append([]float32(nil), t.F32[:n]...)...)
}

// TestGoldenDigest runs the battery with 1, 2 and 8 threads and with the
// pure-Go kernels, requires identical bits, and compares the SHA-256 of all
// outputs with the committed digest, which amd64 and arm64 (under qemu)
// must both reproduce.
func TestGoldenDigest(t *testing.T) {
	var runs [][]*tensor.Tensor
	for _, b := range battery() {
		out, err := run(t, b.op, b.in, b.a, 1)
		if err != nil {
			t.Fatalf("%s: %v", b.op, err)
		}
		runs = append(runs, out)
	}
	check := func(what string, threads int) {
		for i, b := range battery() {
			out, err := run(t, b.op, b.in, b.a, threads)
			if err != nil {
				t.Fatalf("%s %s: %v", what, b.op, err)
			}
			for o := range out {
				if !sameTensor(out[o], runs[i][o]) {
					t.Fatalf("%s: %s (battery %d) output differs", what, b.op, i)
				}
			}
		}
	}
	check("2 threads", 2)
	check("8 threads", 8)
	kernels.SetPurego(true)
	check("purego kernels", 3)
	kernels.SetPurego(false)

	h := sha256.New()
	bat := battery()
	for i, out := range runs {
		hi := sha256.New()
		for _, o := range out {
			h.Write(o.CanonicalBytes())
			hi.Write(o.CanonicalBytes())
		}
		// per-run digests locate a cross-platform difference (go test -v)
		t.Logf("%2d %-20s %x", i, bat[i].op, hi.Sum(nil)[:8])
	}
	got := hex.EncodeToString(h.Sum(nil))
	const path = "testdata/digest.txt"
	if *update {
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != strings.TrimSpace(string(want)) {
		t.Fatalf("digest %s, want %s (kernel path %s): some operator's bits changed", got, strings.TrimSpace(string(want)), kernels.Path())
	}
}
