package ops

import (
	"errors"
	"fmt"

	"github.com/provena/provena/internal/fmath"
	"github.com/provena/provena/internal/kernels"
	"github.com/provena/provena/tensor"
)

// nary is an elementwise operator over multidirectionally broadcast inputs:
// Add, Sub, Mul, Div, Pow, Equal, Min, Max and Where. Each output element is
// one application of the op's scalar formula to the broadcast input
// elements: a+b, a-b, a*b, a/b (IEEE, correctly rounded); Pow is
// fmath.Pow; Min and Max fold left to right from input 0 and let a NaN win;
// Where is cond ? x : y. Integer Div truncates toward zero and a zero divisor
// is an error.
type nary struct {
	name   string
	code   naryCode
	lo, hi int // input count
}

type naryCode uint8

const (
	nAdd naryCode = iota
	nSub
	nMul
	nDiv
	nPow
	nEqual
	nMin
	nMax
	nWhere
	nGreater
	nLess
)

var errDivZero = errors.New("integer division by zero")

func init() {
	for _, n := range []*nary{
		{"Add", nAdd, 2, 2}, {"Sub", nSub, 2, 2}, {"Mul", nMul, 2, 2}, {"Div", nDiv, 2, 2},
		{"Pow", nPow, 2, 2}, {"Equal", nEqual, 2, 2}, {"Greater", nGreater, 2, 2}, {"Less", nLess, 2, 2},
		{"Min", nMin, 1, 64}, {"Max", nMax, 1, 64}, {"Where", nWhere, 3, 3},
	} {
		Register(n.name, n)
	}
}

func (n *nary) Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error) {
	if err := checkInputs(n.name, in, n.lo, n.hi); err != nil {
		return nil, err
	}
	for i := range in {
		if in[i].DType == 0 {
			return nil, fmt.Errorf("op %s: input %d is required", n.name, i)
		}
	}
	dt := in[0].DType
	switch n.code {
	case nAdd, nSub, nMul, nDiv, nMin, nMax:
		if err := checkType(n.name, in, 0, tensor.Float32, tensor.Int64, tensor.Int32); err != nil {
			return nil, err
		}
	case nPow:
		if err := checkType(n.name, in, 0, tensor.Float32); err != nil {
			return nil, err
		}
		if err := checkType(n.name, in, 1, tensor.Float32, tensor.Int64, tensor.Int32); err != nil {
			return nil, err
		}
	case nEqual, nGreater, nLess:
		if err := checkType(n.name, in, 0, tensor.Float32, tensor.Int64, tensor.Int32, tensor.Int8, tensor.Uint8, tensor.Bool); err != nil {
			return nil, err
		}
		dt = tensor.Bool
	case nWhere:
		if err := checkType(n.name, in, 0, tensor.Bool); err != nil {
			return nil, err
		}
		dt = in[1].DType
		if in[2].DType != dt {
			return nil, fmt.Errorf("op %s: input 2: type %v differs from input 1's %v", n.name, in[2].DType, dt)
		}
	}
	if n.code != nPow && n.code != nWhere {
		for i := 1; i < len(in); i++ {
			if in[i].DType != in[0].DType {
				return nil, fmt.Errorf("op %s: input %d: type %v differs from input 0's %v", n.name, i, in[i].DType, in[0].DType)
			}
		}
	}
	shapes := make([][]int, len(in))
	for i := range in {
		shapes[i] = in[i].Shape
	}
	out, err := tensor.BroadcastShapes(shapes...)
	if err != nil {
		return nil, fmt.Errorf("op %s: %w", n.name, err)
	}
	return outMeta(dt, out), nil
}

// elem computes one output element from input flat indices idx.
func (n *nary) elem(in []*tensor.Tensor, idx []int) (uint64, error) {
	x := in[0]
	switch n.code {
	case nWhere:
		if in[0].U8[idx[0]] != 0 {
			return in[1].Bits(idx[1]), nil
		}
		return in[2].Bits(idx[2]), nil
	case nPow:
		var y float32
		if in[1].DType == tensor.Float32 {
			y = in[1].F32[idx[1]]
		} else {
			y = float32(intAt(in[1], idx[1]))
		}
		return f32bits(fmath.Pow(x.F32[idx[0]], y)), nil
	case nEqual, nGreater, nLess:
		var c int
		if x.DType == tensor.Float32 {
			a, b := x.F32[idx[0]], in[1].F32[idx[1]]
			switch {
			case a == b:
				c = 0
			case a < b:
				c = -1
			case a > b:
				c = 1
			default: // NaN: every comparison is false
				return 0, nil
			}
		} else {
			a, b := intAt(x, idx[0]), intAt(in[1], idx[1])
			switch {
			case a < b:
				c = -1
			case a > b:
				c = 1
			}
		}
		if (n.code == nEqual && c == 0) || (n.code == nGreater && c > 0) || (n.code == nLess && c < 0) {
			return 1, nil
		}
		return 0, nil
	}
	if x.DType == tensor.Float32 {
		r := x.F32[idx[0]]
		for i := 1; i < len(in); i++ {
			r = binF32(n.code, r, in[i].F32[idx[i]])
		}
		return f32bits(r), nil
	}
	r := intAt(x, idx[0])
	for i := 1; i < len(in); i++ {
		v := intAt(in[i], idx[i])
		switch n.code {
		case nAdd:
			r += v
		case nSub:
			r -= v
		case nMul:
			r *= v
		case nDiv:
			if v == 0 {
				return 0, fmt.Errorf("op %s: %w", n.name, errDivZero)
			}
			if x.DType == tensor.Int32 {
				r = int64(int32(r) / int32(v))
			} else {
				r /= v
			}
		case nMin:
			r = min(r, v)
		case nMax:
			r = max(r, v)
		}
	}
	return intBits(x.DType, r), nil
}

func binF32(code naryCode, a, b float32) float32 {
	switch code {
	case nAdd:
		return a + b
	case nSub:
		return a - b
	case nMul:
		return a * b
	case nDiv:
		return a / b
	case nMin:
		if b < a || b != b {
			return b
		}
		return a
	case nMax:
		if b > a || b != b {
			return b
		}
		return a
	}
	panic("unreachable")
}

func (n *nary) Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error) {
	metas, err := n.Infer(metasOf(in), a)
	if err != nil {
		return nil, err
	}
	out, err := newOutDirty(metas[0].DType, metas[0].Shape)
	if err != nil {
		return nil, err
	}
	shapes := make([][]int, len(in))
	for i, t := range in {
		shapes[i] = t.Shape
	}
	p := newBcastPlan(out.Shape, shapes)
	fast := len(in) == 2 && in[0].DType == tensor.Float32 && in[1].DType == tensor.Float32 &&
		(n.code == nAdd || n.code == nSub || n.code == nMul || n.code == nDiv)
	var mu errOnce
	parallelRange(ctx, out.Len(), 1<<14, func(lo, hi int) {
		idx := make([]int, len(in))
		p.rows(lo, hi, func(o int, off []int, cnt int) {
			if fast {
				binRowF32(n.code, out.F32[o:o+cnt], in[0].F32[off[0]:], in[1].F32[off[1]:], p.step[0], p.step[1])
				return
			}
			for j := range cnt {
				for i := range in {
					idx[i] = off[i] + j*p.step[i]
				}
				b, err := n.elem(in, idx)
				if err != nil {
					mu.set(err)
					return
				}
				setBits(out, o+j, b)
			}
		})
	})
	if mu.err != nil {
		return nil, mu.err
	}
	return []*tensor.Tensor{out}, nil
}

func (n *nary) Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error) {
	m, err := n.Infer(in, a)
	if err != nil {
		return nil, err
	}
	if err := checkOut(n.name, out, flat, m[0].Shape); err != nil {
		return nil, err
	}
	shapes := make([][]int, len(in))
	for i := range in {
		shapes[i] = in[i].Shape
	}
	idx := bcastIndex(m[0].Shape, shapes, flat)
	deps := make([][]Range, len(in))
	for i, j := range idx {
		deps[i] = one(j)
	}
	return deps, nil
}

func (n *nary) Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error) {
	m, err := n.Infer(metasOf(in), a)
	if err != nil {
		return 0, err
	}
	if err := checkOut(n.name, out, flat, m[0].Shape); err != nil {
		return 0, err
	}
	shapes := make([][]int, len(in))
	for i, t := range in {
		shapes[i] = t.Shape
	}
	return n.elem(in, bcastIndex(m[0].Shape, shapes, flat))
}

// binRowF32 is the hot loop of float Add/Sub/Mul/Div: o[j] = a[j*sa] op
// b[j*sb], the same single IEEE operation as binF32 on every path.
func binRowF32(code naryCode, o, a, b []float32, sa, sb int) {
	if (sa == 0 || sa == 1) && (sb == 0 || sb == 1) && sa+sb > 0 {
		kernels.BinaryRow(int(code-nAdd)+kernels.OpAdd, o, a, b, sa, sb)
		return
	}
	for j := range o {
		o[j] = binF32(code, a[j*sa], b[j*sb])
	}
}
