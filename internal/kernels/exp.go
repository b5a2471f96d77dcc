package kernels

import "github.com/provena/provena/internal/fmath"

// ExpSubRow computes o[j] = fmath.Exp(x[j] - s): the float32 difference,
// then exp in float64 through fmath.Exp64's operations, rounded once to
// float32. This is Softmax's numerator. The vector path evaluates Exp64's
// sequence lane by lane (separate multiplies and adds, the same floor and
// an exact scaling by 2^k) for arguments in [-700, 700] and hands every
// other group of lanes to the scalar function, so all paths give the same
// bits.
func ExpSubRow(o, x []float32, s float32) {
	x = x[:len(o)]
	expImpl(o, x, s)
}

// SigmoidRow computes o[j] = fmath.Sigmoid(x[j]) = float32(1/(1+Exp64(-x)))
// on every path.
func SigmoidRow(o, x []float32) {
	x = x[:len(o)]
	sigImpl(o, x)
}

var (
	expImpl = expScalar
	sigImpl = sigScalar
)

func expScalar(o, x []float32, s float32) {
	for j, v := range x {
		o[j] = fmath.Exp(v - s)
	}
}

func sigScalar(o, x []float32) {
	for j, v := range x {
		o[j] = fmath.Sigmoid(v)
	}
}
