package state

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	ics23 "github.com/cosmos/ics23/go"
)

// GetWithProof returns the value of key at a committed version and an ICS23
// proof of it against that version's root hash: an existence proof, or a
// non-existence proof when value is nil. version 0 means the latest.
func (s *Store) GetWithProof(key []byte, version int64) (value []byte, proof *ics23.CommitmentProof, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if version == 0 {
		version = s.tree.Version()
	}
	if !s.tree.VersionExists(version) {
		return nil, nil, fmt.Errorf("prove %x: version %d is not available (latest %d)", key, version, s.tree.Version())
	}
	it, err := s.tree.GetImmutable(version)
	if err != nil {
		return nil, nil, fmt.Errorf("prove %x at %d: %w", key, version, err)
	}
	value, err = it.Get(key)
	if err != nil {
		return nil, nil, fmt.Errorf("prove %x at %d: %w", key, version, err)
	}
	if it.Size() == 0 {
		// iavl cannot prove anything about an empty tree, whose hash is
		// SHA-256 of nothing; there is nothing a client could check either.
		return nil, nil, fmt.Errorf("prove %x at %d: the state is empty", key, version)
	}
	proof, err = it.GetProof(key)
	if err != nil {
		return nil, nil, fmt.Errorf("prove %x at %d: %w", key, version, err)
	}
	return value, proof, nil
}

// VerifyProof checks proof against root (the app hash): that key holds value,
// or, when value is nil, that key is absent. It needs no store, so clients
// call it with the app hash from a block header.
func VerifyProof(root, key, value []byte, proof *ics23.CommitmentProof) error {
	if proof == nil {
		return errors.New("verify proof: no proof")
	}
	if len(root) == 0 {
		return errors.New("verify proof: empty root hash")
	}
	if value == nil {
		if proof.GetNonexist() == nil {
			return fmt.Errorf("verify proof: key %x is claimed absent but the proof is not a non-existence proof", key)
		}
		if !ics23.VerifyNonMembership(ics23.IavlSpec, root, proof, key) {
			return fmt.Errorf("verify proof: non-existence of key %x does not verify against root %X", key, root)
		}
		return nil
	}
	if proof.GetExist() == nil {
		return fmt.Errorf("verify proof: key %x is claimed present but the proof is not an existence proof", key)
	}
	if !ics23.VerifyMembership(ics23.IavlSpec, root, proof, key, value) {
		return fmt.Errorf("verify proof: key %x with the given value does not verify against root %X", key, root)
	}
	return nil
}

// ProvenValue returns the value an existence proof commits to, or nil for a
// non-existence proof. The value is only trustworthy after VerifyProof.
func ProvenValue(key []byte, proof *ics23.CommitmentProof) ([]byte, error) {
	if proof == nil {
		return nil, errors.New("proven value: no proof")
	}
	if ex := proof.GetExist(); ex != nil {
		if !bytes.Equal(ex.Key, key) {
			return nil, fmt.Errorf("proven value: proof is for key %x, not %x", ex.Key, key)
		}
		return ex.Value, nil
	}
	if proof.GetNonexist() != nil {
		return nil, nil
	}
	return nil, errors.New("proven value: proof is neither existence nor non-existence")
}

// proofJSON is the JSON form of a proof: the protobuf encoding in base64.
type proofJSON struct {
	Type  string `json:"type"`
	Proof string `json:"proof"`
}

// ProofType names the proof format in JSON and in CometBFT ProofOps.
const ProofType = "ics23:iavl"

// MarshalProof encodes a proof as JSON {"type":"ics23:iavl","proof":base64}.
func MarshalProof(p *ics23.CommitmentProof) ([]byte, error) {
	b, err := ProofBytes(p)
	if err != nil {
		return nil, err
	}
	return json.Marshal(proofJSON{Type: ProofType, Proof: base64.StdEncoding.EncodeToString(b)})
}

// UnmarshalProof decodes MarshalProof's output.
func UnmarshalProof(b []byte) (*ics23.CommitmentProof, error) {
	var pj proofJSON
	if err := json.Unmarshal(b, &pj); err != nil {
		return nil, fmt.Errorf("unmarshal proof: %w", err)
	}
	if pj.Type != ProofType {
		return nil, fmt.Errorf("unmarshal proof: type %q, want %q", pj.Type, ProofType)
	}
	raw, err := base64.StdEncoding.DecodeString(pj.Proof)
	if err != nil {
		return nil, fmt.Errorf("unmarshal proof: %w", err)
	}
	return ParseProofBytes(raw)
}

// ProofBytes is the protobuf encoding of a proof (the Data of a CometBFT
// ProofOp).
func ProofBytes(p *ics23.CommitmentProof) ([]byte, error) {
	if p == nil {
		return nil, errors.New("marshal proof: no proof")
	}
	b, err := p.Marshal()
	if err != nil {
		return nil, fmt.Errorf("marshal proof: %w", err)
	}
	return b, nil
}

// ParseProofBytes decodes ProofBytes's output.
func ParseProofBytes(b []byte) (p *ics23.CommitmentProof, err error) {
	defer func() {
		// gogoproto generated code is not written to survive every input.
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("unmarshal proof: malformed protobuf: %v", r)
		}
	}()
	p = &ics23.CommitmentProof{}
	if err := p.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("unmarshal proof: %w", err)
	}
	return p, nil
}
