package zk

import (
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"math/big"
	"sync"

	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/constraint"
	cs "github.com/consensys/gnark/constraint/bn254"
	"github.com/consensys/gnark/constraint/solver"
	"github.com/provena/provena/tensor"
)

// # Committed weights
//
// With weights=committed the circuit's first BSB22 commitment
// (frontend.Committer.Commit, gnark's Groth16 extension) is over exactly the
// weight variables. The Groth16 prover puts that commitment into the proof as
// a Pedersen commitment, a G1 point Σ wⱼ·Bⱼ + mask·B_last over the bases
// B of the proving key's first commitment key (backend/groth16/bn254
// prove.go: pk.CommitmentKeys[i].Commit), and proves knowledge of its
// opening (the verifier checks that proof). gnark draws the mask afresh in
// every proof (its hint internal/hints.Randomize), which would make the
// point differ from proof to proof. Compile therefore rewires that one mask
// wire to weightsMaskHint, whose value the owner's prover supplies: the
// blinding m, drawn once at setup and kept in the owner's artifact. The
// point is then the same in every proof of the same weights and proving
// key, so it can be registered and compared: hiding because m is secret,
// binding because nobody knows discrete-log relations between the setup's
// bases. The second commitment (the range-check lookups') keeps gnark's
// fresh random mask, so it stays zero-knowledge.

// G1Bytes is a BN254 G1 point, uncompressed (x then y, 32 bytes each,
// big-endian: gnark-crypto's RawBytes): the registered weights commitment.
type G1Bytes [bn254.SizeOfG1AffineUncompressed]byte

// String is the hex form.
func (p G1Bytes) String() string { return hex.EncodeToString(p[:]) }

// IsZero reports an unset point.
func (p G1Bytes) IsZero() bool { return p == G1Bytes{} }

// DecodeG1 reads a G1 point in either of gnark-crypto's encodings (32 bytes
// compressed, 64 uncompressed), checking that it is on the curve and in the
// prime-order subgroup; the point at infinity is rejected (no honest
// commitment is it).
func DecodeG1(b []byte) (bn254.G1Affine, error) {
	var p bn254.G1Affine
	if len(b) != bn254.SizeOfG1AffineCompressed && len(b) != bn254.SizeOfG1AffineUncompressed {
		return p, fmt.Errorf("G1 point of %d bytes: want %d (compressed) or %d (uncompressed)", len(b), bn254.SizeOfG1AffineCompressed, bn254.SizeOfG1AffineUncompressed)
	}
	n, err := p.SetBytes(b)
	if err != nil {
		return p, fmt.Errorf("G1 point: %w", err)
	}
	if n != len(b) {
		return p, fmt.Errorf("G1 point: encoding of %d bytes in %d", n, len(b))
	}
	if p.IsInfinity() {
		return p, errors.New("G1 point: the point at infinity is not a commitment")
	}
	return p, nil
}

// ParseG1Bytes is DecodeG1 into the uncompressed form.
func ParseG1Bytes(b []byte) (G1Bytes, error) {
	p, err := DecodeG1(b)
	if err != nil {
		return G1Bytes{}, err
	}
	return G1Bytes(p.RawBytes()), nil
}

// NewBlinding draws the owner's secret blinding of the weights commitment.
func NewBlinding() (FieldBytes, error) {
	var e fr.Element
	if _, err := e.SetRandom(); err != nil {
		return FieldBytes{}, fmt.Errorf("zk: draw blinding: %w", err)
	}
	if e.IsZero() {
		return FieldBytes{}, errors.New("zk: drew a zero blinding")
	}
	return FieldBytes(e.Bytes()), nil
}

// randomizeHintName is the hint gnark's R1CS builder draws every commitment
// mask with; a hint's ID is the FNV-1a hash of its name
// (solver.GetHintID), and the package is internal, so the name is spelled
// out here and checked against the solver's registry (randomizeHintID).
const randomizeHintName = "github.com/consensys/gnark/internal/hints.Randomize"

var randomizeHintID = sync.OnceValues(func() (solver.HintID, error) {
	h := fnv.New32a()
	h.Write([]byte(randomizeHintName))
	id := solver.HintID(h.Sum32())
	f := solver.GetRegisteredHint(id)
	if f == nil || solver.GetHintName(f) != randomizeHintName {
		return 0, fmt.Errorf("zk: gnark's commitment mask hint %s is not registered under the expected ID (gnark version changed?)", randomizeHintName)
	}
	return id, nil
})

// weightsMaskHint is what the weights commitment's mask wire is solved by.
// Registered so that a circuit using it loads; the prover overrides it with
// the owner's blinding, and without one solving fails rather than
// committing under a guessable mask.
func weightsMaskHint(_ *big.Int, _, _ []*big.Int) error {
	return errors.New("zk: the weights commitment's blinding was not given to the prover")
}

var weightsMaskHintID = solver.GetHintID(weightsMaskHint)

func init() { solver.RegisterHint(weightsMaskHint) }

// WeightsMaskOption is the prover option that makes the weights
// commitment's mask the owner's blinding, in a circuit prepared with
// BindWeightsMask.
func WeightsMaskOption(blinding FieldBytes) (backend.ProverOption, error) {
	m, err := blinding.Element()
	if err != nil || m.IsZero() {
		return nil, fmt.Errorf("zk: the blinding must be a nonzero field element")
	}
	return backend.WithSolverOptions(maskOverride(m)), nil
}

// maskOverride is the solver option that makes the weights mask m.
func maskOverride(m fr.Element) solver.Option {
	return solver.OverrideHint(weightsMaskHintID, func(_ *big.Int, in, out []*big.Int) error {
		if len(in) != 0 || len(out) != 1 {
			return errors.New("zk: weights mask hint: bad arity")
		}
		m.BigInt(out[0])
		return nil
	})
}

// weightsCommitment returns the compiled R1CS's weights commitment (its
// first BSB22 commitment) and the mask wire: the last committed wire, an
// internal one allocated by Commit after every input wire.
func weightsCommitment(ccs constraint.ConstraintSystem) (*cs.R1CS, constraint.Groth16Commitment, error) {
	r, ok := ccs.(*cs.R1CS)
	if !ok {
		return nil, constraint.Groth16Commitment{}, fmt.Errorf("zk: committed weights need a BN254 R1CS (Groth16)")
	}
	cm, ok := r.CommitmentInfo.(constraint.Groth16Commitments)
	if !ok || len(cm) == 0 {
		return nil, constraint.Groth16Commitment{}, fmt.Errorf("zk: the constraint system has no weights commitment")
	}
	c := cm[0]
	n := len(c.PrivateCommitted)
	if len(c.PublicAndCommitmentCommitted) != 0 || n < 2 || c.PrivateCommitted[n-1] < r.GetNbPublicVariables()+r.GetNbSecretVariables() {
		return nil, c, fmt.Errorf("zk: the first commitment is not over the weights and a mask")
	}
	return r, c, nil
}

// BindWeightsMask rewires the weights commitment's mask, and only it, from
// gnark's Randomize to weightsMaskHint. The instruction is found by its
// output wire, not by its position, so the solver may run in parallel.
// Compile calls it for weights=committed; it is exported for other
// circuits whose first Commit is over the values to register (proved with
// WeightsMaskOption).
func BindWeightsMask(ccs constraint.ConstraintSystem) error {
	rid, err := randomizeHintID()
	if err != nil {
		return err
	}
	r, c, err := weightsCommitment(ccs)
	if err != nil {
		return err
	}
	mask := uint32(c.PrivateCommitted[len(c.PrivateCommitted)-1])
	found := 0
	for i := range r.Instructions {
		bp, ok := r.Blueprints[r.Instructions[i].BlueprintID].(*constraint.BlueprintGenericHint)
		if !ok {
			continue
		}
		inst := r.GetInstruction(i)
		if len(inst.Calldata) < 2 || solver.HintID(inst.Calldata[1]) != rid {
			continue
		}
		var h constraint.HintMapping
		bp.DecompressHint(&h, inst)
		if h.OutputRange.Start == mask && h.OutputRange.End == mask+1 {
			inst.Calldata[1] = uint32(weightsMaskHintID) // inst.Calldata aliases r.CallData
			found++
		}
	}
	if found != 1 {
		return fmt.Errorf("zk: found %d mask instructions for the weights commitment, want 1", found)
	}
	r.MHintsDependencies[weightsMaskHintID] = solver.GetHintName(weightsMaskHint)
	return nil
}

// committedWeightsBound reports whether ccs's weights mask is rewired (a
// circuit compiled by this package; an artifact's constraint system is
// checked with it).
func committedWeightsBound(ccs constraint.ConstraintSystem) error {
	r, c, err := weightsCommitment(ccs)
	if err != nil {
		return err
	}
	mask := uint32(c.PrivateCommitted[len(c.PrivateCommitted)-1])
	for i := range r.Instructions {
		bp, ok := r.Blueprints[r.Instructions[i].BlueprintID].(*constraint.BlueprintGenericHint)
		if !ok {
			continue
		}
		inst := r.GetInstruction(i)
		if len(inst.Calldata) < 2 || solver.HintID(inst.Calldata[1]) != weightsMaskHintID {
			continue
		}
		var h constraint.HintMapping
		bp.DecompressHint(&h, inst)
		if h.OutputRange.Start == mask && h.OutputRange.End == mask+1 {
			return nil
		}
	}
	return fmt.Errorf("zk: the weights commitment's mask is not the owner's blinding")
}

// weightsPoint computes the weights commitment a proof will carry: the
// Pedersen commitment of the first commitment key over the weights (in the
// committed wires' order, that is allocation order; the private vector
// holds them offset, see offsetWeights) and the blinding m.
func weightsPoint(pk *groth16bn254.ProvingKey, ccs constraint.ConstraintSystem, g *Graph, vis Visibility, m fr.Element) (G1Bytes, error) {
	r, c, err := weightsCommitment(ccs)
	if err != nil {
		return G1Bytes{}, err
	}
	if len(pk.CommitmentKeys) == 0 || len(pk.CommitmentKeys[0].Basis) != len(c.PrivateCommitted) {
		return G1Bytes{}, fmt.Errorf("zk: proving key does not fit the weights commitment")
	}
	ws, err := g.offsetWeights()
	if err != nil {
		return G1Bytes{}, err
	}
	// weights follow the input in the private vector (see layout)
	off := r.GetNbPublicVariables()
	if vis.Input != VisPublic {
		off += tensor.NumElements(g.values[g.input].shape)
	}
	vals := make([]fr.Element, len(c.PrivateCommitted))
	for j, wire := range c.PrivateCommitted[:len(c.PrivateCommitted)-1] {
		k := wire - off
		if k < 0 || k >= len(ws) {
			return G1Bytes{}, fmt.Errorf("zk: committed wire %d is not a weight", wire)
		}
		vals[j].SetInt64(ws[k])
	}
	if len(c.PrivateCommitted)-1 != len(ws) {
		return G1Bytes{}, fmt.Errorf("zk: %d committed wires for %d weights", len(c.PrivateCommitted)-1, len(ws))
	}
	vals[len(vals)-1] = m
	p, err := pk.CommitmentKeys[0].Commit(vals)
	if err != nil {
		return G1Bytes{}, fmt.Errorf("zk: weights commitment: %w", err)
	}
	return G1Bytes(p.RawBytes()), nil
}

// proofWeightsPoint is the proof's first BSB22 commitment: the weights
// commitment when weights are committed.
func proofWeightsPoint(p *groth16bn254.Proof) (G1Bytes, error) {
	if len(p.Commitments) == 0 {
		return G1Bytes{}, errors.New("the proof carries no commitment")
	}
	return G1Bytes(p.Commitments[0].RawBytes()), nil
}

// Bytes is a copy of the encoding.
func (p G1Bytes) Bytes() []byte { return append([]byte(nil), p[:]...) }
