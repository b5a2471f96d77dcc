package zk

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/plonk"
	"github.com/consensys/gnark/constraint"
	"github.com/provena/provena/model"
	"github.com/provena/provena/tensor"
)

// Artifact format (.zk), version 2, one file:
//
//	"PVZK" | version byte 2 | sections | SHA-256 of all bytes before it
//
// where each section is a uvarint length then its bytes, in order: system,
// visibility, setup (how the keys were made, e.g. "insecure-dev" or the
// ceremony's contribution digests), the quantized model (model.Encode), the
// Poseidon2 weights commitment (32 bytes), the Pedersen weights commitment
// (64 bytes, uncompressed G1) and its blinding (32 bytes, the owner's
// secret) when weights are committed (empty otherwise), the constraint
// system, the proving key and the verifying key (gnark's binary encodings).
// The checksum is verified before any gnark decoder sees a byte, so a
// corrupted file is an error rather than input to decoders that trust their
// data; the artifact is the prover's own file (the blinding in it must stay
// with the owner), the chain never reads it. Version 1 (no Pedersen
// sections) is not read: its chain visibility hashed the weights.

const (
	artifactMagic   = "PVZK"
	artifactVersion = 2
	proofMagic      = "PVZP"
	proofVersion    = 2
	// maxArtifactBytes bounds what Open reads (keys of a large circuit are
	// hundreds of MB).
	maxArtifactBytes = 8 << 30
)

// Artifact is a set-up circuit for one quantized model.
type Artifact struct {
	System        string
	Vis           Visibility
	SetupInfo     string
	Model         *model.Model
	Graph         *Graph
	WeightsCommit FieldBytes
	// weights committed: the Pedersen commitment every proof carries, and
	// its blinding (secret)
	WeightsPoint G1Bytes
	Blinding     FieldBytes
	CCS          constraint.ConstraintSystem
	PK, VK       []byte

	prover *Prover
}

// SetupOptions says how to make the keys.
type SetupOptions struct {
	System string
	Vis    Visibility
	// InsecureDevSetup allows a single-party setup (Groth16's groth16.Setup,
	// PLONK's unsafekzg SRS): whoever runs it can forge proofs.
	InsecureDevSetup bool
	// Ceremony, for Groth16, is a verified multi-party transcript.
	Ceremony *Ceremony
	Progress func(string)
}

// Ceremony is a Groth16 mpcsetup transcript: phase-1 contributions and the
// beacon that sealed them, phase-2 contributions and their beacon.
type Ceremony struct {
	Domain           uint64
	Phase1, Phase2   [][]byte
	Beacon1, Beacon2 []byte
	Commons          []byte // the sealed phase 1 (recomputed and compared when Phase1 is given)
}

// Setup compiles m's core under the options and makes its keys.
func Setup(m *model.Model, opts SetupOptions) (*Artifact, error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	if err := checkSystem(opts.System); err != nil {
		return nil, err
	}
	if err := opts.Vis.valid(); err != nil {
		return nil, err
	}
	if opts.Ceremony == nil && !opts.InsecureDevSetup {
		return nil, ErrInsecureSetupRequired
	}
	g, err := FromModel(m)
	if err != nil {
		return nil, err
	}
	a := &Artifact{System: opts.System, Vis: opts.Vis, Model: m, Graph: g}
	if a.WeightsCommit, err = g.WeightsCommitment(); err != nil {
		return nil, err
	}
	progress("compile circuit")
	if a.CCS, err = Compile(g, opts.Vis, opts.System); err != nil {
		return nil, err
	}
	progress(fmt.Sprintf("setup (%d constraints)", a.CCS.GetNbConstraints()))
	var keys *Keys
	switch {
	case opts.Ceremony != nil:
		if opts.System != Groth16 {
			return nil, fmt.Errorf("zk: a ceremony is for groth16; plonk needs a KZG SRS, available here only with the insecure dev setup")
		}
		c := opts.Ceremony
		commons := c.Commons
		if len(c.Phase1) > 0 {
			if commons, err = SealPhase1(c.Domain, c.Beacon1, c.Phase1); err != nil {
				return nil, err
			}
			if c.Commons != nil && !bytes.Equal(commons, c.Commons) {
				return nil, fmt.Errorf("zk: sealed phase 1 differs from the transcript's")
			}
		}
		if keys, err = SealPhase2(a.CCS, commons, c.Beacon2, c.Phase2); err != nil {
			return nil, err
		}
		a.SetupInfo = fmt.Sprintf("groth16 mpcsetup ceremony: %d phase-1 and %d phase-2 contributions, beacons %x / %x", len(c.Phase1), len(c.Phase2), c.Beacon1, c.Beacon2)
	case opts.InsecureDevSetup:
		if keys, err = InsecureDevSetup(opts.System, a.CCS); err != nil {
			return nil, err
		}
		a.SetupInfo = "insecure-dev (single party: whoever ran it can forge proofs)"
	default:
		return nil, ErrInsecureSetupRequired
	}
	a.PK, a.VK = keys.PK, keys.VK
	if opts.Vis.Weights == VisCommitted {
		progress("weights commitment")
		if a.Blinding, err = NewBlinding(); err != nil {
			return nil, err
		}
		pr, err := a.Prover()
		if err != nil {
			return nil, err
		}
		a.WeightsPoint = pr.WeightsPoint()
	}
	return a, nil
}

// Proof is a proof with the statement it proves.
type Proof struct {
	System string
	Vis    Visibility
	Statement
	Bytes []byte
}

// Prover returns the artifact's prover (the proving key decoded once).
func (a *Artifact) Prover() (*Prover, error) {
	if a.prover == nil {
		p, err := NewProver(a.System, a.Graph, a.Vis, a.CCS, a.PK, a.Blinding)
		if err != nil {
			return nil, err
		}
		if a.Vis.Weights == VisCommitted && !a.WeightsPoint.IsZero() && p.WeightsPoint() != a.WeightsPoint {
			return nil, fmt.Errorf("zk: the proving key and blinding give another weights commitment than the artifact's")
		}
		a.prover = p
	}
	return a.prover, nil
}

// Public is the chain's view of a proof made under ChainVisibility.
func (p *Proof) Public() (Public, error) {
	if p.Vis != ChainVisibility {
		return Public{}, fmt.Errorf("zk: proof visibility %v is not the chain's (%v)", p.Vis, ChainVisibility)
	}
	return Public{WeightsPoint: p.WeightsPoint, InputCommit: p.InputCommit, Output: p.Output}, nil
}

// Prove proves one input: a float tensor goes through the model's QQuantize
// first, an int8 tensor is the circuit input itself.
func (a *Artifact) Prove(input *tensor.Tensor) (*Proof, error) {
	x, err := QuantizeInput(a.Model, input)
	if err != nil {
		return nil, err
	}
	pr, err := a.Prover()
	if err != nil {
		return nil, err
	}
	st, b, err := pr.Prove(x)
	if err != nil {
		return nil, err
	}
	return &Proof{System: a.System, Vis: a.Vis, Statement: *st, Bytes: b}, nil
}

// Verify checks p against the artifact's key, with the artifact's weights
// commitment.
func (a *Artifact) Verify(p *Proof) error {
	if p.System != a.System || p.Vis != a.Vis {
		return fmt.Errorf("zk: proof is %s %v, artifact %s %v", p.System, p.Vis, a.System, a.Vis)
	}
	if a.Vis.Weights == VisHashed && p.WeightsCommit != a.WeightsCommit {
		return fmt.Errorf("zk: proof is for other weights (commitment %s, model %s)", p.WeightsCommit, a.WeightsCommit)
	}
	if a.Vis.Weights == VisCommitted && p.WeightsPoint != a.WeightsPoint {
		return fmt.Errorf("zk: proof is for other weights (commitment %s, model %s)", p.WeightsPoint, a.WeightsPoint)
	}
	vec, err := p.Vector(p.Vis)
	if err != nil {
		return err
	}
	if a.Vis.Weights == VisCommitted {
		return VerifyCommitted(a.System, a.VK, p.Bytes, vec, a.WeightsPoint[:])
	}
	return VerifyVector(a.System, a.VK, p.Bytes, vec)
}

// Encode serializes the artifact.
func (a *Artifact) Encode() ([]byte, error) {
	ccs, err := writeAll(a.CCS)
	if err != nil {
		return nil, fmt.Errorf("zk: write constraint system: %w", err)
	}
	var b []byte
	b = append(b, artifactMagic...)
	b = append(b, artifactVersion)
	var point, blinding []byte
	if a.Vis.Weights == VisCommitted {
		point, blinding = a.WeightsPoint[:], a.Blinding[:]
	}
	for _, s := range [][]byte{[]byte(a.System), []byte(a.Vis.String()), []byte(a.SetupInfo), a.Model.Encode(), a.WeightsCommit[:], point, blinding, ccs, a.PK, a.VK} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...), nil
}

// Save writes the artifact to path.
func (a *Artifact) Save(path string) error {
	b, err := a.Encode()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("zk: save %s: %w", path, err)
	}
	return nil
}

// Open reads an artifact file.
func Open(path string) (*Artifact, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("zk: open %s: %w", path, err)
	}
	if st.Size() > maxArtifactBytes {
		return nil, fmt.Errorf("zk: open %s: %d bytes exceed %d", path, st.Size(), int64(maxArtifactBytes))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("zk: open %s: %w", path, err)
	}
	a, err := DecodeArtifact(b)
	if err != nil {
		return nil, fmt.Errorf("zk: open %s: %w", path, err)
	}
	return a, nil
}

// sections splits the framed sections after a magic and version.
func sections(b []byte, magic string, version byte, n int) ([][]byte, error) {
	if len(b) < len(magic)+1 || string(b[:len(magic)]) != magic {
		return nil, fmt.Errorf("not a %s file", magic)
	}
	if b[len(magic)] != version {
		return nil, fmt.Errorf("%s version %d, this build reads %d", magic, b[len(magic)], version)
	}
	r := b[len(magic)+1:]
	out := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		l, k := binary.Uvarint(r)
		if k <= 0 || l > uint64(len(r)-k) {
			return nil, fmt.Errorf("section %d: bad length", i)
		}
		out = append(out, r[k:k+int(l)])
		r = r[k+int(l):]
	}
	if len(r) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(r))
	}
	return out, nil
}

// DecodeArtifact parses and checks an artifact: checksum, model, circuit
// (recompiled graph and weights commitment must agree), keys.
func DecodeArtifact(b []byte) (*Artifact, error) {
	if len(b) < 32 {
		return nil, fmt.Errorf("zk artifact: too short")
	}
	body, sum := b[:len(b)-32], b[len(b)-32:]
	if s := sha256.Sum256(body); !bytes.Equal(s[:], sum) {
		return nil, fmt.Errorf("zk artifact: checksum mismatch (corrupted file)")
	}
	sec, err := sections(body, artifactMagic, artifactVersion, 10)
	if err != nil {
		return nil, fmt.Errorf("zk artifact: %w", err)
	}
	a := &Artifact{System: string(sec[0]), SetupInfo: string(sec[2])}
	if err := checkSystem(a.System); err != nil {
		return nil, err
	}
	if a.Vis, err = ParseVisibility(string(sec[1])); err != nil {
		return nil, fmt.Errorf("zk artifact: %w", err)
	}
	if a.Model, err = model.Decode(sec[3]); err != nil {
		return nil, fmt.Errorf("zk artifact: model: %w", err)
	}
	if a.Graph, err = FromModel(a.Model); err != nil {
		return nil, fmt.Errorf("zk artifact: %w", err)
	}
	if len(sec[4]) != 32 {
		return nil, fmt.Errorf("zk artifact: weights commitment of %d bytes", len(sec[4]))
	}
	copy(a.WeightsCommit[:], sec[4])
	if wc, err := a.Graph.WeightsCommitment(); err != nil || wc != a.WeightsCommit {
		return nil, fmt.Errorf("zk artifact: weights commitment does not match the model")
	}
	if a.Vis.Weights == VisCommitted {
		if a.System != Groth16 {
			return nil, fmt.Errorf("zk artifact: committed weights with %s", a.System)
		}
		if len(sec[5]) != len(a.WeightsPoint) {
			return nil, fmt.Errorf("zk artifact: weights commitment point of %d bytes, want %d", len(sec[5]), len(a.WeightsPoint))
		}
		if a.WeightsPoint, err = ParseG1Bytes(sec[5]); err != nil {
			return nil, fmt.Errorf("zk artifact: weights commitment: %w", err)
		}
		if len(sec[6]) != len(a.Blinding) {
			return nil, fmt.Errorf("zk artifact: blinding of %d bytes", len(sec[6]))
		}
		copy(a.Blinding[:], sec[6])
		if m, err := a.Blinding.Element(); err != nil || m.IsZero() {
			return nil, fmt.Errorf("zk artifact: blinding is not a nonzero field element")
		}
	} else if len(sec[5]) != 0 || len(sec[6]) != 0 {
		return nil, fmt.Errorf("zk artifact: weights commitment point without committed weights")
	}
	sec = append(sec[:5], sec[7:]...)
	if a.System == Groth16 {
		a.CCS = groth16.NewCS(ecc.BN254)
	} else {
		a.CCS = plonk.NewCS(ecc.BN254)
	}
	if err := readAll(a.CCS, sec[5]); err != nil {
		return nil, fmt.Errorf("zk artifact: constraint system: %w", err)
	}
	nPub, nPriv := layout(a.Graph, a.Vis)
	if a.CCS.GetNbPublicVariables() != nPub+1 || a.CCS.GetNbSecretVariables() != nPriv {
		return nil, fmt.Errorf("zk artifact: constraint system does not fit the model and visibility")
	}
	if a.Vis.Weights == VisCommitted {
		if err := committedWeightsBound(a.CCS); err != nil {
			return nil, fmt.Errorf("zk artifact: %w", err)
		}
	}
	a.PK, a.VK = sec[6], sec[7]
	if err := DecodeVerifyingKey(a.System, a.VK); err != nil {
		return nil, fmt.Errorf("zk artifact: %w", err)
	}
	return a, nil
}

// Encode serializes a proof file:
//
//	"PVZP" | version 2 | sections: system, visibility, weights commitment
//	(Poseidon2, 32 bytes), weights point (Pedersen, 64 bytes, or empty unless
//	weights are committed), input commitment, output commitment (32 bytes
//	each), input values, output values (zigzag varints each), proof
func (p *Proof) Encode() []byte {
	ints := func(vs []int64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.AppendVarint(b, v)
		}
		return b
	}
	var b []byte
	b = append(b, proofMagic...)
	b = append(b, proofVersion)
	var point []byte
	if p.Vis.Weights == VisCommitted {
		point = p.WeightsPoint[:]
	}
	for _, s := range [][]byte{[]byte(p.System), []byte(p.Vis.String()), p.WeightsCommit[:], point, p.InputCommit[:], p.OutputCommit[:], ints(p.Input), ints(p.Output), p.Bytes} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// DecodeProof parses a proof file (the proof bytes themselves are checked
// when verified).
func DecodeProof(b []byte) (*Proof, error) {
	sec, err := sections(b, proofMagic, proofVersion, 9)
	if err != nil {
		return nil, fmt.Errorf("zk proof file: %w", err)
	}
	p := &Proof{System: string(sec[0]), Bytes: sec[8]}
	if err := checkSystem(p.System); err != nil {
		return nil, err
	}
	if p.Vis, err = ParseVisibility(string(sec[1])); err != nil {
		return nil, fmt.Errorf("zk proof file: %w", err)
	}
	if p.Vis.Weights == VisCommitted {
		if len(sec[3]) != len(p.WeightsPoint) {
			return nil, fmt.Errorf("zk proof file: weights commitment point of %d bytes, want %d", len(sec[3]), len(p.WeightsPoint))
		}
		if p.WeightsPoint, err = ParseG1Bytes(sec[3]); err != nil {
			return nil, fmt.Errorf("zk proof file: weights commitment: %w", err)
		}
	} else if len(sec[3]) != 0 {
		return nil, fmt.Errorf("zk proof file: weights commitment point without committed weights")
	}
	sec = append(sec[:3], sec[4:]...)
	for i, dst := range []*FieldBytes{&p.WeightsCommit, &p.InputCommit, &p.OutputCommit} {
		if len(sec[2+i]) != 32 {
			return nil, fmt.Errorf("zk proof file: commitment %d of %d bytes", i, len(sec[2+i]))
		}
		copy(dst[:], sec[2+i])
	}
	for i, dst := range []*[]int64{&p.Input, &p.Output} {
		r := sec[5+i]
		for len(r) > 0 {
			v, k := binary.Varint(r)
			if k <= 0 {
				return nil, fmt.Errorf("zk proof file: bad value")
			}
			*dst = append(*dst, v)
			r = r[k:]
		}
	}
	if len(p.Bytes) > MaxProofBytes {
		return nil, fmt.Errorf("zk proof file: proof of %d bytes exceeds %d", len(p.Bytes), MaxProofBytes)
	}
	return p, nil
}
