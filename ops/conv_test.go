package ops

import (
	"testing"

	"github.com/provena/provena/tensor"
)

// convRef is a float64 reference convolution.
func convRef(x, w, b *tensor.Tensor, p *convParams) []float64 {
	out := make([]float64, p.n*p.m*p.oh*p.ow)
	cg, mg := p.c/p.g, p.m/p.g
	for n := 0; n < p.n; n++ {
		for m := 0; m < p.m; m++ {
			g := m / mg
			for y := 0; y < p.oh; y++ {
				for xo := 0; xo < p.ow; xo++ {
					s := 0.0
					if b != nil {
						s = float64(b.F32[m])
					}
					for ic := 0; ic < cg; ic++ {
						for i := 0; i < p.kh; i++ {
							for j := 0; j < p.kw; j++ {
								ih, iw := y*p.sh-p.pt+i*p.dh, xo*p.sw-p.pl+j*p.dw
								if ih < 0 || ih >= p.h || iw < 0 || iw >= p.w {
									continue
								}
								s += float64(x.F32[((n*p.c+g*cg+ic)*p.h+ih)*p.w+iw]) * float64(w.F32[((m*cg+ic)*p.kh+i)*p.kw+j])
							}
						}
					}
					out[((n*p.m+m)*p.oh+y)*p.ow+xo] = s
				}
			}
		}
	}
	return out
}

func TestConv(t *testing.T) {
	r := rng(1)
	tests := []struct {
		name string
		x, w []int
		bias bool
		a    Attrs
	}{
		{"3x3 pad1", []int{1, 3, 7, 9}, []int{4, 3, 3, 3}, true, Attrs{"pads": ints(1, 1, 1, 1)}},
		{"3x3 stride2", []int{2, 2, 9, 8}, []int{5, 2, 3, 3}, false, Attrs{"pads": ints(1, 1, 1, 1), "strides": ints(2, 2)}},
		{"1x1", []int{1, 8, 5, 7}, []int{6, 8, 1, 1}, true, nil},
		{"1x1 wide", []int{1, 5, 9, 40}, []int{9, 5, 1, 1}, true, nil},
		{"depthwise 5x5", []int{1, 4, 9, 21}, []int{4, 1, 5, 5}, true, Attrs{"group": aint(4), "pads": ints(2, 2, 2, 2)}},
		{"depthwise stride 2x1", []int{1, 3, 10, 7}, []int{3, 1, 5, 5}, true, Attrs{"group": aint(3), "pads": ints(2, 2, 2, 2), "strides": ints(2, 1)}},
		{"depthwise stride 2", []int{1, 3, 41, 43}, []int{3, 1, 3, 3}, true, Attrs{"group": aint(3), "pads": ints(1, 1, 1, 1), "strides": ints(2, 2)}},
		{"depthwise stride 2 5x5 wide", []int{1, 2, 9, 70}, []int{2, 1, 5, 5}, false, Attrs{"group": aint(2), "pads": ints(2, 2, 2, 2), "strides": ints(2, 2)}},
		{"depthwise stride 3 dilated", []int{2, 2, 13, 50}, []int{2, 1, 3, 3}, true, Attrs{"group": aint(2), "pads": ints(0, 2, 1, 0), "strides": ints(1, 3), "dilations": ints(2, 2)}},
		{"grouped", []int{1, 4, 6, 6}, []int{6, 2, 3, 3}, true, Attrs{"group": aint(2), "pads": ints(1, 1, 1, 1)}},
		{"dilated asym pads", []int{1, 2, 8, 9}, []int{3, 2, 3, 2}, true, Attrs{"dilations": ints(2, 2), "pads": ints(0, 1, 2, 1)}},
		{"1x3 pad", []int{1, 4, 1, 12}, []int{2, 4, 1, 3}, true, Attrs{"pads": ints(0, 1, 0, 1)}},
		{"same upper", []int{1, 2, 5, 6}, []int{2, 2, 3, 3}, false, Attrs{"auto_pad": astr("SAME_UPPER"), "strides": ints(2, 2)}},
		{"1d", []int{1, 3, 11}, []int{2, 3, 3}, true, Attrs{"pads": ints(1, 1)}},
		{"wide im2col", []int{1, 3, 20, 30}, []int{17, 3, 3, 3}, true, Attrs{"pads": ints(1, 1, 1, 1)}},
		// one pixel block: workers split the 40 output channels by rows
		{"1x1 row split", []int{1, 8, 3, 10}, []int{40, 8, 1, 1}, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := []*tensor.Tensor{randT(r, tc.x...), randT(r, tc.w...)}
			if tc.bias {
				in = append(in, randT(r, tc.w[0]))
			}
			out := checkElemMatchesRun(t, "Conv", in, tc.a)
			if len(tc.x) == 4 {
				p, err := convGeom("Conv", metasOf(in), tc.a, false)
				if err != nil {
					t.Fatal(err)
				}
				var b *tensor.Tensor
				if tc.bias {
					b = in[2]
				}
				closeTo(t, tc.name, out[0].F32, convRef(in[0], in[1], b, p), 1e-5)
			}
		})
	}
}

func TestConvErrors(t *testing.T) {
	r := rng(2)
	x, w := randT(r, 1, 4, 5, 5), randT(r, 2, 4, 3, 3)
	tests := []struct {
		name        string
		in          []*tensor.Tensor
		a           Attrs
		unsupported bool
	}{
		{"bad group", []*tensor.Tensor{x, w}, Attrs{"group": aint(3)}, false},
		{"channel mismatch", []*tensor.Tensor{x, randT(r, 2, 3, 3, 3)}, nil, false},
		{"zero stride", []*tensor.Tensor{x, w}, Attrs{"strides": ints(0, 1)}, false},
		{"kernel too big", []*tensor.Tensor{x, randT(r, 2, 4, 7, 7)}, nil, false},
		{"bad bias", []*tensor.Tensor{x, w, randT(r, 3)}, nil, false},
		{"3d", []*tensor.Tensor{randT(r, 1, 1, 2, 2, 2), randT(r, 1, 1, 1, 1, 1)}, nil, true},
		{"auto_pad", []*tensor.Tensor{x, w}, Attrs{"auto_pad": astr("WHAT")}, true},
		{"kernel_shape mismatch", []*tensor.Tensor{x, w}, Attrs{"kernel_shape": ints(2, 2)}, false},
	}
	for _, tc := range tests {
		op, _ := Lookup("Conv")
		_, err := op.Infer(metasOf(tc.in), tc.a)
		if err == nil {
			t.Fatalf("%s: no error", tc.name)
		}
		if tc.unsupported {
			wantUnsupported(t, err)
		}
	}
}
