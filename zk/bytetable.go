package zk

import (
	"fmt"
	"math/big"

	"github.com/consensys/gnark/constraint/solver"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/std/multicommit"
)

// byteTable range-checks values into 0..255 with a log-derivative lookup
// into the constant table 0..255 (Haböck's argument): with r a random
// challenge drawn after the queries q and the multiplicities mₜ are fixed,
// Σ_q 1/(r − q) = Σₜ mₜ/(r − t) holds for a random r (except with
// probability about #queries/p) only if every q is in the table. Cost: one
// constraint per query (an inverse) plus one per table entry, against about
// two per 8-bit check through std/rangecheck, which decomposes each value
// into limbs of a width it chooses for the whole circuit. The int8 weights
// are the bulk of a model's range checks (101,632 for the MNIST MLP).
//
// The challenge comes from std/multicommit, which derives it from the one
// BSB22 commitment std/rangecheck already makes: a commitment of our own
// would add a commitment key, and so pairing work, to verification.
type byteTable struct {
	queries []frontend.Variable
}

func init() { solver.RegisterHint(byteCountHint) }

// check queues v for the lookup (v must lie in 0..255).
func (t *byteTable) check(v frontend.Variable) { t.queries = append(t.queries, v) }

// build adds the lookup's constraints; called once, at the end of Define.
func (t *byteTable) build(api frontend.API) error {
	if len(t.queries) == 0 {
		return nil
	}
	mult, err := api.Compiler().NewHint(byteCountHint, 256, t.queries...)
	if err != nil {
		return fmt.Errorf("zk: byte table: %w", err)
	}
	toCommit := make([]frontend.Variable, 0, len(t.queries)+len(mult))
	toCommit = append(append(toCommit, t.queries...), mult...)
	queries := t.queries
	multicommit.WithCommitment(api, func(api frontend.API, r frontend.Variable) error {
		lhs := make([]frontend.Variable, len(queries))
		for i, q := range queries {
			lhs[i] = api.Inverse(api.Sub(r, q))
		}
		rhs := make([]frontend.Variable, len(mult))
		for v, m := range mult {
			rhs[v] = api.DivUnchecked(m, api.Sub(r, v))
		}
		// the table side (256 terms) in B, the queries' side in C: see sumO
		api.AssertIsEqual(sum(api, rhs), sumO(api, lhs))
		return nil
	}, toCommit...)
	return nil
}

// byteCountHint: the multiplicity of each of 0..255 among the inputs.
// Values outside the table are not counted, so that the lookup constraint
// (not the hint) is what rejects them.
func byteCountHint(_ *big.Int, in, out []*big.Int) error {
	if len(out) != 256 {
		return fmt.Errorf("byteCountHint: %d outputs, want 256", len(out))
	}
	var n [256]uint64
	for _, v := range in {
		if v.IsUint64() && v.Uint64() < 256 {
			n[v.Uint64()]++
		}
	}
	for i := range out {
		out[i].SetUint64(n[i])
	}
	return nil
}
