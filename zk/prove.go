package zk

import (
	"fmt"
	"io"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/backend/plonk"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/frontend"
)

// Statement is what a proof claims, in the terms of its visibility.
type Statement struct {
	WeightsCommit FieldBytes // weights hashed
	WeightsPoint  G1Bytes    // weights committed (checked against the proof's own commitment, not a public input)
	InputCommit   FieldBytes // input hashed
	OutputCommit  FieldBytes // output hashed
	Input         []int64    // input public
	Output        []int64    // output public (outputs concatenated)
}

// Vector is the public witness of a statement under vis (see Circuit).
func (s *Statement) Vector(vis Visibility) ([]fr.Element, error) {
	var out []fr.Element
	addC := func(c FieldBytes) error {
		e, err := c.Element()
		if err != nil {
			return err
		}
		out = append(out, e)
		return nil
	}
	addI := func(vs []int64) {
		for _, v := range vs {
			var e fr.Element
			e.SetInt64(v)
			out = append(out, e)
		}
	}
	if vis.Weights == VisHashed {
		if err := addC(s.WeightsCommit); err != nil {
			return nil, err
		}
	}
	switch vis.Input {
	case VisPublic:
		addI(s.Input)
	case VisHashed:
		if err := addC(s.InputCommit); err != nil {
			return nil, err
		}
	}
	switch vis.Output {
	case VisPublic:
		addI(s.Output)
	case VisHashed:
		if err := addC(s.OutputCommit); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// WeightsCommitment is the Poseidon2 commitment to the graph's weights: one
// hash over the count of weight tensors, then each tensor (its count, then
// its values packed, int8 31 and int32 7 to a field element) in the order
// the layers use them (per layer: W, then B).
func (g *Graph) WeightsCommitment() (FieldBytes, error) { return commitTensors(g.weights) }

// offsetWeights is the private vector's weight part: every weight value
// v − lo of its packing width (int8 + 128, int32 + 2³¹), so non-negative
// and small. The prover's multi-scalar multiplications skip zero windows,
// and a signed value would be a full-size field element p − |v| for every
// negative weight: the weights (in the Groth16 B column, G1 and G2, and in
// the weights commitment) then cost one window each instead of all.
func (g *Graph) offsetWeights() ([]int64, error) {
	var out []int64
	for _, t := range g.weights {
		w, err := widthOf(t.DType)
		if err != nil {
			return nil, err
		}
		for _, v := range tensorInts(t) {
			out = append(out, v-w.lo)
		}
	}
	return out, nil
}

// statement evaluates the graph natively and fills the statement and the
// full assignment.
func (g *Graph) statement(vis Visibility, x []int64) (*Statement, *Circuit, error) {
	vals, err := g.Eval(x)
	if err != nil {
		return nil, nil, err
	}
	st := &Statement{}
	var outs []int64
	for _, o := range g.outputs {
		outs = append(outs, vals[o]...)
	}
	var pub, priv []frontend.Variable
	addV := func(dst *[]frontend.Variable, vs []int64) {
		for _, v := range vs {
			*dst = append(*dst, v)
		}
	}
	addC := func(c FieldBytes) {
		e, _ := c.Element() // our own hash output: canonical
		pub = append(pub, e)
	}
	if vis.Weights == VisHashed {
		if st.WeightsCommit, err = g.WeightsCommitment(); err != nil {
			return nil, nil, err
		}
		addC(st.WeightsCommit)
	}
	switch vis.Input {
	case VisPublic:
		st.Input = x
		addV(&pub, x)
	case VisHashed:
		if st.InputCommit, err = Commit(x); err != nil {
			return nil, nil, err
		}
		addC(st.InputCommit)
		addV(&priv, x)
	default:
		addV(&priv, x)
	}
	if vis.Weights != VisPublic {
		ws, err := g.offsetWeights()
		if err != nil {
			return nil, nil, err
		}
		addV(&priv, ws)
	}
	switch vis.Output {
	case VisPublic:
		st.Output = outs
		addV(&pub, outs)
	case VisHashed:
		ts, err := g.outputTensors(vals)
		if err != nil {
			return nil, nil, err
		}
		if st.OutputCommit, err = commitTensors(ts); err != nil {
			return nil, nil, err
		}
		addC(st.OutputCommit)
	}
	nPub, nPriv := layout(g, vis)
	if len(pub) != nPub || len(priv) != nPriv {
		return nil, nil, fmt.Errorf("zk: assignment layout mismatch")
	}
	return st, &Circuit{Pub: pub, Priv: priv, g: g, vis: vis}, nil
}

// Prover proves statements about one compiled graph.
type Prover struct {
	System string
	Graph  *Graph
	Vis    Visibility
	CCS    constraint.ConstraintSystem
	pk     any // groth16.ProvingKey or plonk.ProvingKey
	// weights committed: the point every proof carries, and the solver
	// option that fixes its mask to the owner's blinding
	point G1Bytes
	opts  []backend.ProverOption
}

// NewProver decodes the proving key for ccs. blinding is the owner's
// secret mask of the weights commitment (weights committed; ignored
// otherwise).
func NewProver(system string, g *Graph, vis Visibility, ccs constraint.ConstraintSystem, pkBytes []byte, blinding FieldBytes) (*Prover, error) {
	p := &Prover{System: system, Graph: g, Vis: vis, CCS: ccs}
	if vis.Weights == VisCommitted && system != Groth16 {
		return nil, fmt.Errorf("zk: weights=committed needs %s", Groth16)
	}
	switch system {
	case Groth16:
		// the proving key is the prover's own (from its checksummed artifact,
		// or just made): decoding it without the curve and subgroup checks of
		// its ~300k points (the G2 ones are costly) cuts opening the MNIST
		// MLP's key from ~40 s to a few on two cores; a corrupt key can only
		// give proofs that the verifier, which does check, rejects
		pk := groth16.NewProvingKey(ecc.BN254)
		if err := readAllWith(pk.UnsafeReadFrom, pkBytes); err != nil {
			return nil, fmt.Errorf("zk: proving key: %w", err)
		}
		p.pk = pk
		if vis.Weights == VisCommitted {
			m, err := blinding.Element()
			if err != nil || m.IsZero() {
				return nil, fmt.Errorf("zk: weights=committed needs the owner's nonzero blinding")
			}
			if err := committedWeightsBound(ccs); err != nil {
				return nil, err
			}
			if p.point, err = weightsPoint(pk.(*groth16bn254.ProvingKey), ccs, g, vis, m); err != nil {
				return nil, err
			}
			p.opts = []backend.ProverOption{backend.WithSolverOptions(maskOverride(m))}
		}
	case Plonk:
		pk := plonk.NewProvingKey(ecc.BN254)
		if err := readAll(pk, pkBytes); err != nil {
			return nil, fmt.Errorf("zk: proving key: %w", err)
		}
		p.pk = pk
	default:
		return nil, checkSystem(system)
	}
	return p, nil
}

// Prove evaluates the graph on the int8 input x and proves the result.
func (p *Prover) Prove(x []int64) (*Statement, []byte, error) {
	st, a, err := p.Graph.statement(p.Vis, x)
	if err != nil {
		return nil, nil, err
	}
	w, err := frontend.NewWitness(a, ecc.BN254.ScalarField())
	if err != nil {
		return nil, nil, fmt.Errorf("zk: witness: %w", err)
	}
	var proof io.WriterTo
	switch p.System {
	case Groth16:
		proof, err = groth16.Prove(p.CCS, p.pk.(groth16.ProvingKey), w, p.opts...)
		if err == nil && p.Vis.Weights == VisCommitted {
			// a cheap guard of everything the registered point rests on
			// (mask rewiring, commitment order, wire order)
			if got, e := proofWeightsPoint(proof.(*groth16bn254.Proof)); e != nil || got != p.point {
				return nil, nil, fmt.Errorf("zk: prove: the proof's weights commitment is not the registered one (%v)", e)
			}
			st.WeightsPoint = p.point
		}
	case Plonk:
		proof, err = plonk.Prove(p.CCS, p.pk.(plonk.ProvingKey), w)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("zk: prove: %w", err)
	}
	b, err := writeAll(proof)
	if err != nil {
		return nil, nil, fmt.Errorf("zk: write proof: %w", err)
	}
	return st, b, nil
}

// WeightsPoint is the weights commitment every proof of this prover
// carries (weights committed).
func (p *Prover) WeightsPoint() G1Bytes { return p.point }
