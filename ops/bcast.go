package ops

import "github.com/provena/provena/tensor"

// bcastPlan walks an output shape in row-major order together with the flat
// offsets of several broadcast inputs, one contiguous run at a time.
// Dimensions of size 1 are dropped and adjacent dimensions that every input
// walks contiguously are merged, so a same-shape or per-channel broadcast
// has long runs.
type bcastPlan struct {
	shape []int   // collapsed output shape, never empty
	st    [][]int // per input, stride of each collapsed dimension
	step  []int   // per input, stride of the last collapsed dimension
}

func newBcastPlan(out []int, ins [][]int) *bcastPlan {
	full := make([][]int, len(ins))
	for i, s := range ins {
		full[i] = tensor.BroadcastStrides(s, out)
	}
	p := &bcastPlan{st: make([][]int, len(ins))}
	for d, n := range out {
		if n == 1 {
			continue
		}
		last := len(p.shape) - 1
		merge := last >= 0
		for i := range ins {
			if merge && p.st[i][last] != full[i][d]*n {
				merge = false
			}
		}
		if merge {
			p.shape[last] *= n
			for i := range ins {
				p.st[i][last] = full[i][d]
			}
			continue
		}
		p.shape = append(p.shape, n)
		for i := range ins {
			p.st[i] = append(p.st[i], full[i][d])
		}
	}
	if len(p.shape) == 0 {
		p.shape = []int{1}
		for i := range ins {
			p.st[i] = []int{0}
		}
	}
	p.step = make([]int, len(ins))
	for i := range ins {
		p.step[i] = p.st[i][len(p.shape)-1]
	}
	return p
}

// rows calls fn for each run of output elements [o, o+n) inside [lo, hi);
// off[i] is input i's flat offset of element o, and the element o+j reads
// off[i]+j*p.step[i].
func (p *bcastPlan) rows(lo, hi int, fn func(o int, off []int, n int)) {
	if lo >= hi {
		return
	}
	r := len(p.shape)
	idx := make([]int, r)
	unravel(lo, p.shape, idx)
	off := make([]int, len(p.st))
	for o := lo; o < hi; {
		for i, st := range p.st {
			s := 0
			for d := range r {
				s += idx[d] * st[d]
			}
			off[i] = s
		}
		n := min(p.shape[r-1]-idx[r-1], hi-o)
		fn(o, off, n)
		o += n
		idx[r-1] += n
		for d := r - 1; d > 0 && idx[d] == p.shape[d]; d-- {
			idx[d] = 0
			idx[d-1]++
		}
	}
}

// bcastIndex maps an output element to input flat indices (for Elem/Deps).
func bcastIndex(out []int, ins [][]int, flat int) []int {
	idx := make([]int, len(out))
	unravel(flat, out, idx)
	res := make([]int, len(ins))
	for i, s := range ins {
		st := tensor.BroadcastStrides(s, out)
		for d := range out {
			res[i] += idx[d] * st[d]
		}
	}
	return res
}
