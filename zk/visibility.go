package zk

import (
	"fmt"
	"strings"
)

// Vis is one tensor group's visibility, as in EZKL: public (the verifier
// knows the values; public weights are compiled into the circuit as
// constants, so the verifying key itself binds them), private (a witness the
// proof reveals nothing about), hashed (private, with its Poseidon2
// commitment public).
type Vis uint8

const (
	VisPrivate Vis = iota + 1
	VisPublic
	VisHashed
)

func (v Vis) String() string {
	switch v {
	case VisPrivate:
		return "private"
	case VisPublic:
		return "public"
	case VisHashed:
		return "hashed"
	}
	return fmt.Sprintf("vis(%d)", uint8(v))
}

func parseVis(s string) (Vis, error) {
	switch s {
	case "private":
		return VisPrivate, nil
	case "public":
		return VisPublic, nil
	case "hashed":
		return VisHashed, nil
	}
	return 0, fmt.Errorf("visibility %q: want public, private or hashed", s)
}

// Visibility says what the verifier sees of the input, the weights and the
// output.
type Visibility struct {
	Input, Weights, Output Vis
}

// ChainVisibility is what chain jobs use: input and weights hashed, output
// public (the layout Verify expects).
var ChainVisibility = Visibility{Input: VisHashed, Weights: VisHashed, Output: VisPublic}

// String is the form ParseVisibility reads.
func (v Visibility) String() string {
	return fmt.Sprintf("input=%s,weights=%s,output=%s", v.Input, v.Weights, v.Output)
}

// ParseVisibility reads "input=private,weights=hashed,output=public"; parts
// left out default to ChainVisibility's.
func ParseVisibility(s string) (Visibility, error) {
	v := ChainVisibility
	if strings.TrimSpace(s) == "" {
		return v, nil
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return v, fmt.Errorf("visibility %q: want name=value", part)
		}
		if seen[k] {
			return v, fmt.Errorf("visibility: %s given twice", k)
		}
		seen[k] = true
		x, err := parseVis(val)
		if err != nil {
			return v, fmt.Errorf("%s: %w", k, err)
		}
		switch k {
		case "input":
			v.Input = x
		case "weights":
			v.Weights = x
		case "output":
			v.Output = x
		default:
			return v, fmt.Errorf("visibility: unknown tensor group %q (want input, weights, output)", k)
		}
	}
	return v, nil
}

func (v Visibility) valid() error {
	for _, x := range []Vis{v.Input, v.Weights, v.Output} {
		if x < VisPrivate || x > VisHashed {
			return fmt.Errorf("visibility %v: invalid", v)
		}
	}
	return nil
}
