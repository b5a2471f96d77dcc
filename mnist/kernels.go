package mnist

// Inner loops of training and the trainer's own forward pass. Every
// product is converted to float32 before it is added: the conversion
// forbids the compiler from fusing multiply and add (Go fuses on arm64),
// so a seed gives the same model on every architecture.

// axpy: y += a*x.
func axpy(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	i := 0
	for ; i+4 <= len(y); i += 4 {
		y[i] += float32(a * x[i])
		y[i+1] += float32(a * x[i+1])
		y[i+2] += float32(a * x[i+2])
		y[i+3] += float32(a * x[i+3])
	}
	for ; i < len(y); i++ {
		y[i] += float32(a * x[i])
	}
}

// dot is sum x[i]*y[i] in ascending order.
func dot(x, y []float32) float32 {
	y = y[:len(x)]
	var s float32
	for i, v := range x {
		s += float32(v * y[i])
	}
	return s
}

// axpy4: y += a0*x0 + a1*x1 + a2*x2 + a3*x3, products added left to right.
// Four rows per pass quarter the loads and stores of y.
func axpy4(y []float32, a0, a1, a2, a3 float32, x0, x1, x2, x3 []float32) {
	x0, x1, x2, x3 = x0[:len(y)], x1[:len(y)], x2[:len(y)], x3[:len(y)]
	for i := range y {
		y[i] += float32(a0*x0[i]) + float32(a1*x1[i]) + float32(a2*x2[i]) + float32(a3*x3[i])
	}
}

// dot4 is four dot products of d with x0..x3, each summed in ascending
// order; the four independent sums keep the adder busy.
func dot4(d, x0, x1, x2, x3 []float32) (s0, s1, s2, s3 float32) {
	x0, x1, x2, x3 = x0[:len(d)], x1[:len(d)], x2[:len(d)], x3[:len(d)]
	for i, v := range d {
		s0 += float32(v * x0[i])
		s1 += float32(v * x1[i])
		s2 += float32(v * x2[i])
		s3 += float32(v * x3[i])
	}
	return
}

func relu(v []float32) {
	for i, x := range v {
		if !(x > 0) {
			v[i] = 0
		}
	}
}

// maxPool2 pools each of c planes of h×w with a 2×2 window, stride 2,
// floor mode, writing the flat index of each window's first maximum (for
// the backward pass) into arg.
func maxPool2(out []float32, arg []int32, in []float32, c, h, w int) {
	oh, ow := h/2, w/2
	for ch := 0; ch < c; ch++ {
		base := ch * h * w
		for y := 0; y < oh; y++ {
			for x := 0; x < ow; x++ {
				o := ch*oh*ow + y*ow + x
				best := base + 2*y*w + 2*x
				for _, j := range [3]int{best + 1, best + w, best + w + 1} {
					if in[j] > in[best] {
						best = j
					}
				}
				out[o], arg[o] = in[best], int32(best)
			}
		}
	}
}

// im2col3 lays out the 3×3 valid-convolution patches of c planes of h×w
// as col[k][p] with k = ch*9 + ky*3 + kx and p = y*(w-2) + x.
func im2col3(col, in []float32, c, h, w int) {
	oh, ow := h-2, w-2
	np := oh * ow
	for ch := 0; ch < c; ch++ {
		for ky := 0; ky < 3; ky++ {
			for kx := 0; kx < 3; kx++ {
				row := col[(ch*9+ky*3+kx)*np:][:np]
				for y := 0; y < oh; y++ {
					copy(row[y*ow:(y+1)*ow], in[ch*h*w+(y+ky)*w+kx:])
				}
			}
		}
	}
}

// col2im3 adds the patch gradients dcol back onto the c planes of h×w.
func col2im3(din, dcol []float32, c, h, w int) {
	oh, ow := h-2, w-2
	np := oh * ow
	for ch := 0; ch < c; ch++ {
		for ky := 0; ky < 3; ky++ {
			for kx := 0; kx < 3; kx++ {
				row := dcol[(ch*9+ky*3+kx)*np:][:np]
				for y := 0; y < oh; y++ {
					d := din[ch*h*w+(y+ky)*w+kx:][:ow]
					for x, v := range row[y*ow : (y+1)*ow] {
						d[x] += v
					}
				}
			}
		}
	}
}
