package zk

import (
	"fmt"
	"strings"
)

// Vis is one tensor group's visibility, as in EZKL: public (the verifier
// knows the values; public weights are compiled into the circuit as
// constants, so the verifying key itself binds them), private (a witness the
// proof reveals nothing about), hashed (private, with its Poseidon2
// commitment public), committed (weights only, Groth16 only: private, bound
// by the Pedersen commitment gnark's BSB22 extension puts into the proof,
// blinded with the owner's fixed secret so that it is the same point in
// every proof; see weights.go).
type Vis uint8

const (
	VisPrivate Vis = iota + 1
	VisPublic
	VisHashed
	VisCommitted
)

func (v Vis) String() string {
	switch v {
	case VisPrivate:
		return "private"
	case VisPublic:
		return "public"
	case VisHashed:
		return "hashed"
	case VisCommitted:
		return "committed"
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
	case "committed":
		return VisCommitted, nil
	}
	return 0, fmt.Errorf("visibility %q: want public, private, hashed or committed", s)
}

// Visibility says what the verifier sees of the input, the weights and the
// output.
type Visibility struct {
	Input, Weights, Output Vis
}

// ChainVisibility is what chain jobs use: input hashed, weights committed,
// output public (the layout Verify expects). Committed rather than hashed
// weights because the Poseidon2 hash of the MNIST MLP's 101,770 weights
// costs ~396k of its 622k constraints, the Pedersen commitment none.
var ChainVisibility = Visibility{Input: VisHashed, Weights: VisCommitted, Output: VisPublic}

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
	return v, v.valid()
}

func (v Visibility) valid() error {
	for _, x := range []Vis{v.Input, v.Weights, v.Output} {
		if x < VisPrivate || x > VisCommitted {
			return fmt.Errorf("visibility %v: invalid", v)
		}
	}
	if v.Input == VisCommitted || v.Output == VisCommitted {
		return fmt.Errorf("visibility %v: committed applies to the weights only (one fixed commitment per model; use hashed for inputs and outputs)", v)
	}
	return nil
}
