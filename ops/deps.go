package ops

import "sort"

// rangeSet collects element ranges of one input and normalizes them into the
// sorted, non-overlapping form Deps returns.
type rangeSet []Range

func (s *rangeSet) add(lo, hi int) {
	if hi <= lo {
		return
	}
	if n := len(*s); n > 0 && (*s)[n-1].Hi == lo {
		(*s)[n-1].Hi = hi
		return
	}
	*s = append(*s, Range{lo, hi})
}

func (s rangeSet) norm() []Range {
	r := []Range(s)
	sort.Slice(r, func(i, j int) bool { return r[i].Lo < r[j].Lo })
	out := r[:0]
	for _, x := range r {
		if n := len(out); n > 0 && x.Lo <= out[n-1].Hi {
			out[n-1].Hi = max(out[n-1].Hi, x.Hi)
			continue
		}
		out = append(out, x)
	}
	if out == nil {
		return []Range{}
	}
	return out
}

func one(i int) []Range { return []Range{{i, i + 1}} }
