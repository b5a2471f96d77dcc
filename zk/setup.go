package zk

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/groth16/bn254/mpcsetup"
	"github.com/consensys/gnark/backend/plonk"
	"github.com/consensys/gnark/constraint"
	cs "github.com/consensys/gnark/constraint/bn254"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/frontend/cs/scs"
	"github.com/consensys/gnark/test/unsafekzg"
)

// Compile builds the constraint system of g under vis: R1CS for Groth16,
// PLONKish (SparseR1CS) for PLONK.
func Compile(g *Graph, vis Visibility, system string) (constraint.ConstraintSystem, error) {
	if err := checkSystem(system); err != nil {
		return nil, err
	}
	c, err := NewCircuit(g, vis)
	if err != nil {
		return nil, err
	}
	if vis.Weights == VisCommitted && system != Groth16 {
		// PLONK's BSB22 commitment is a KZG commitment the prover blinds
		// with fresh random entries: no fixed point to register
		return nil, fmt.Errorf("zk: weights=committed needs %s (a Pedersen commitment in the proof); with %s use weights=hashed", Groth16, system)
	}
	var ccs constraint.ConstraintSystem
	if system == Plonk {
		ccs, err = frontend.Compile(ecc.BN254.ScalarField(), scs.NewBuilder, c)
	} else {
		ccs, err = frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, c)
	}
	if err != nil {
		return nil, fmt.Errorf("zk: compile: %w", err)
	}
	if vis.Weights == VisCommitted {
		if err := BindWeightsMask(ccs); err != nil {
			return nil, err
		}
	}
	return ccs, nil
}

// ErrInsecureSetupRequired is returned where only a single-party setup is
// available and the caller did not ask for one explicitly.
var ErrInsecureSetupRequired = errors.New("zk: this setup would be single-party (whoever runs it can forge proofs); pass the insecure dev setup option explicitly, or run a ceremony")

// Keys are a circuit's proving and verifying keys, serialized.
type Keys struct {
	PK, VK []byte
}

// InsecureDevSetup runs a single-party setup: for Groth16 gnark's
// groth16.Setup, for PLONK a KZG SRS from gnark's unsafekzg. Whoever runs it
// knows the toxic waste and can forge proofs for this circuit: for
// development and benchmarks only.
func InsecureDevSetup(system string, ccs constraint.ConstraintSystem) (*Keys, error) {
	switch system {
	case Groth16:
		pk, vk, err := groth16.Setup(ccs)
		if err != nil {
			return nil, fmt.Errorf("zk: groth16 setup: %w", err)
		}
		return serializeKeys(pk, vk)
	case Plonk:
		srs, lag, err := unsafekzg.NewSRS(ccs)
		if err != nil {
			return nil, fmt.Errorf("zk: kzg srs: %w", err)
		}
		pk, vk, err := plonk.Setup(ccs, srs, lag)
		if err != nil {
			return nil, fmt.Errorf("zk: plonk setup: %w", err)
		}
		return serializeKeys(pk, vk)
	}
	return nil, checkSystem(system)
}

func serializeKeys(pk, vk io.WriterTo) (*Keys, error) {
	var a, b bytes.Buffer
	if _, err := pk.WriteTo(&a); err != nil {
		return nil, fmt.Errorf("zk: write proving key: %w", err)
	}
	if _, err := vk.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("zk: write verifying key: %w", err)
	}
	return &Keys{PK: a.Bytes(), VK: b.Bytes()}, nil
}

// # Groth16 ceremony
//
// Groth16 needs a structured reference string whose trapdoor nobody knows.
// gnark's mpcsetup runs it as two phases of sequential contributions: phase
// 1 (powers of τ, α, β; reusable by every circuit of the same domain size)
// and phase 2 (δ, and the commitment keys; per circuit). Each contribution
// carries a proof that it extends the previous one, so anyone can verify the
// whole transcript; the result is sound if at least one contributor
// destroyed their randomness. A public random beacon, drawn after the last
// contribution, seals each phase. The functions below pass contributions as
// bytes so that each party can run on its own machine.

// CeremonyDomain is the phase-1 domain size a circuit needs.
func CeremonyDomain(ccs constraint.ConstraintSystem) uint64 {
	return ecc.NextPowerOfTwo(uint64(ccs.GetNbConstraints()))
}

// Phase1Contribute adds a contribution to the last phase-1 state (nil for
// the first, which starts from the domain size n) and returns its bytes.
func Phase1Contribute(n uint64, prev []byte) ([]byte, error) {
	p := new(mpcsetup.Phase1)
	if prev == nil {
		if n == 0 || n&(n-1) != 0 {
			return nil, fmt.Errorf("zk: phase 1 domain %d is not a power of two", n)
		}
		p.Initialize(n)
	} else if err := readAll(p, prev); err != nil {
		return nil, fmt.Errorf("zk: phase 1 state: %w", err)
	}
	p.Contribute()
	return writeAll(p)
}

// SealPhase1 verifies every phase-1 contribution in order and seals them with
// the beacon into the common parameters (bytes).
func SealPhase1(n uint64, beacon []byte, contributions [][]byte) ([]byte, error) {
	if len(contributions) == 0 {
		return nil, fmt.Errorf("zk: phase 1 has no contribution")
	}
	ps := make([]*mpcsetup.Phase1, len(contributions))
	for i, b := range contributions {
		ps[i] = new(mpcsetup.Phase1)
		if err := readAll(ps[i], b); err != nil {
			return nil, fmt.Errorf("zk: phase 1 contribution %d: %w", i, err)
		}
	}
	commons, err := mpcsetup.VerifyPhase1(n, beacon, ps...)
	if err != nil {
		return nil, fmt.Errorf("zk: phase 1 transcript does not verify: %w", err)
	}
	return writeAll(&commons)
}

func r1csOf(ccs constraint.ConstraintSystem) (*cs.R1CS, error) {
	r, ok := ccs.(*cs.R1CS)
	if !ok {
		return nil, fmt.Errorf("zk: the Groth16 ceremony needs a BN254 R1CS")
	}
	return r, nil
}

// Phase2Contribute adds a contribution to the last phase-2 state (nil for the
// first, which is initialized from the circuit and the sealed phase 1).
func Phase2Contribute(ccs constraint.ConstraintSystem, commons, prev []byte) ([]byte, error) {
	r, err := r1csOf(ccs)
	if err != nil {
		return nil, err
	}
	p := new(mpcsetup.Phase2)
	if prev == nil {
		var c mpcsetup.SrsCommons
		if err := readAll(&c, commons); err != nil {
			return nil, fmt.Errorf("zk: phase 1 parameters: %w", err)
		}
		if uint64(len(c.G1.AlphaTau)) < uint64(r.GetNbConstraints()) {
			return nil, fmt.Errorf("zk: phase 1 domain %d is smaller than the circuit (%d constraints)", len(c.G1.AlphaTau), r.GetNbConstraints())
		}
		p.Initialize(r, &c)
	} else if err := readAll(p, prev); err != nil {
		return nil, fmt.Errorf("zk: phase 2 state: %w", err)
	}
	p.Contribute()
	return writeAll(p)
}

// SealPhase2 verifies every phase-2 contribution against the circuit and the
// phase-1 parameters and seals them with the beacon into the keys.
func SealPhase2(ccs constraint.ConstraintSystem, commons, beacon []byte, contributions [][]byte) (*Keys, error) {
	r, err := r1csOf(ccs)
	if err != nil {
		return nil, err
	}
	if len(contributions) == 0 {
		return nil, fmt.Errorf("zk: phase 2 has no contribution")
	}
	var c mpcsetup.SrsCommons
	if err := readAll(&c, commons); err != nil {
		return nil, fmt.Errorf("zk: phase 1 parameters: %w", err)
	}
	if uint64(len(c.G1.AlphaTau)) < uint64(r.GetNbConstraints()) {
		return nil, fmt.Errorf("zk: phase 1 domain %d is smaller than the circuit", len(c.G1.AlphaTau))
	}
	ps := make([]*mpcsetup.Phase2, len(contributions))
	for i, b := range contributions {
		ps[i] = new(mpcsetup.Phase2)
		if err := readAll(ps[i], b); err != nil {
			return nil, fmt.Errorf("zk: phase 2 contribution %d: %w", i, err)
		}
	}
	pk, vk, err := mpcsetup.VerifyPhase2(r, &c, beacon, ps...)
	if err != nil {
		return nil, fmt.Errorf("zk: phase 2 transcript does not verify: %w", err)
	}
	return serializeKeys(pk, vk)
}

// ContributionDigest identifies a contribution (what a contributor publishes
// so that others can check theirs is in the transcript).
func ContributionDigest(b []byte) [32]byte { return sha256.Sum256(b) }

func writeAll(w io.WriterTo) ([]byte, error) {
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func readAll(r io.ReaderFrom, b []byte) error { return readAllWith(r.ReadFrom, b) }

// readAllWith decodes b with read, which must consume all of it.
func readAllWith(read func(io.Reader) (int64, error), b []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed (%v)", p)
		}
	}()
	n, err := read(bytes.NewReader(b))
	if err != nil {
		return err
	}
	if n != int64(len(b)) {
		return fmt.Errorf("%d trailing bytes", int64(len(b))-n)
	}
	return nil
}

// ReadR1CS reads a BN254 R1CS written by ConstraintSystem.WriteTo (a
// ceremony's circuit file).
func ReadR1CS(path string) (constraint.ConstraintSystem, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("zk: read circuit: %w", err)
	}
	ccs := groth16.NewCS(ecc.BN254)
	if err := readAll(ccs, b); err != nil {
		return nil, fmt.Errorf("zk: circuit %s: %w", path, err)
	}
	return ccs, nil
}
