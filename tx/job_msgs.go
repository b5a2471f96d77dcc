package tx

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/provena/provena/vault"
)

// Wire types of the private job modes (docs/opml.md, "Job modes"): tee
// jobs take 410..419, zk jobs 500..509. Bodies are canonical JSON, like the
// data and tee modules'. Delivery of the sealed input (411) serves both
// private modes.
const (
	TypeTeeSubmitJob    MsgType = 410
	TypeJobDeliverInput MsgType = 411
	TypeTeePostResult   MsgType = 412

	TypeZkRegister   MsgType = 500
	TypeZkSubmitJob  MsgType = 501
	TypeZkPostResult MsgType = 502
)

// Limits of the job-mode messages.
const (
	// ZkMaxKey bounds a verifying key (a Groth16 or PLONK key over BN254
	// for a circuit with a few dozen public inputs is a few KB).
	ZkMaxKey = 64 << 10
	// ZkMaxProof bounds a proof (Groth16: 256 bytes compressed; PLONK:
	// about 1 KB).
	ZkMaxProof = 16 << 10
	// ZkWeightsCommitBytes is the size of a registered weights commitment:
	// an uncompressed BN254 G1 point (zk.G1Bytes).
	ZkWeightsCommitBytes = 64
	// ZkMaxOutput bounds the public output values of a zk job.
	ZkMaxOutput = 4096
)

// ZkSystems are the proof systems a zk registration may name.
var ZkSystems = []string{"groth16", "plonk"}

func init() {
	RegisterMsg(TypeTeeSubmitJob, "tee_submit_job", jsonDecoder[MsgTeeSubmitJob]())
	RegisterMsg(TypeJobDeliverInput, "job_deliver_input", jsonDecoder[MsgJobDeliverInput]())
	RegisterMsg(TypeTeePostResult, "tee_post_result", jsonDecoder[MsgTeePostResult]())
	RegisterMsg(TypeZkRegister, "zk_register", jsonDecoder[MsgZkRegister]())
	RegisterMsg(TypeZkSubmitJob, "zk_submit_job", jsonDecoder[MsgZkSubmitJob]())
	RegisterMsg(TypeZkPostResult, "zk_post_result", jsonDecoder[MsgZkPostResult]())
}

// MsgTeeSubmitJob asks for one inference of ModelID in an attested
// enclave. InputsRoot commits to the input as in an optimistic job
// (opml.InputsRoot); the input itself reaches the worker only sealed to
// the enclave's attested X25519 key (MsgJobDeliverInput), and the output
// is sealed to Recipient, the requester's age key. The sender escrows the
// model fee plus WorkerFee.
type MsgTeeSubmitJob struct {
	ModelID    DataHash `json:"model_id"`
	InputsRoot DataHash `json:"inputs_root"`
	WorkerFee  uint64   `json:"worker_fee"`
	Recipient  string   `json:"recipient"`
}

// MsgJobDeliverInput records, after assignment, the SHA-256 of the input
// sealed (vault.Seal) to the assigned worker's key; the ciphertext itself
// sits in the nodes' opML stores under that hash. Only the requester sends
// it; the worker's result deadline starts here.
type MsgJobDeliverInput struct {
	Job    uint64   `json:"job"`
	Sealed DataHash `json:"sealed"`
}

// MsgTeePostResult is an enclave's result: the value root of each graph
// output (model.ValueRoot, as in an optimistic result), the SHA-256 of the
// outputs sealed to the requester, and an ed25519 signature by the attested
// signing key over TeeResultMessage.
type MsgTeePostResult struct {
	Job          uint64     `json:"job"`
	OutputRoots  []DataHash `json:"output_roots"`
	SealedOutput DataHash   `json:"sealed_output"`
	Signature    []byte     `json:"signature"`
}

// MsgZkRegister registers a zk circuit for a registered model (only its
// owner may): the proof system, the verifying key (checked with
// zk.DecodeVerifyingKey), the commitment to the integer weights (the
// Pedersen commitment every proof carries, a BN254 G1 point, uncompressed:
// ZkWeightsCommitBytes), and the
// prover: the worker account that holds the artifact (weights never leave
// it) and the age recipient inputs are sealed to.
type MsgZkRegister struct {
	ModelID       DataHash `json:"model_id"`
	System        string   `json:"system"`
	VerifyingKey  []byte   `json:"verifying_key"`
	WeightsCommit []byte   `json:"weights_commit"`
	Prover        Address  `json:"prover"`
	ProverKey     string   `json:"prover_key"`
}

// MsgZkSubmitJob asks for one proved inference. InputCommit is
// zk.CommitTensor of the model's quantized input (the QQuantize output),
// computed by the requester; the input reaches the prover sealed
// (MsgJobDeliverInput). Recipient is the requester's age key.
type MsgZkSubmitJob struct {
	ModelID     DataHash `json:"model_id"`
	InputCommit DataHash `json:"input_commit"`
	WorkerFee   uint64   `json:"worker_fee"`
	Recipient   string   `json:"recipient"`
}

// MsgZkPostResult is the prover's result: the proof, the circuit's public
// outputs, and the SHA-256 of the float outputs sealed to the requester.
type MsgZkPostResult struct {
	Job          uint64   `json:"job"`
	Proof        []byte   `json:"proof"`
	Output       []int64  `json:"output"`
	SealedOutput DataHash `json:"sealed_output"`
}

func (MsgTeeSubmitJob) Type() MsgType    { return TypeTeeSubmitJob }
func (MsgJobDeliverInput) Type() MsgType { return TypeJobDeliverInput }
func (MsgTeePostResult) Type() MsgType   { return TypeTeePostResult }
func (MsgZkRegister) Type() MsgType      { return TypeZkRegister }
func (MsgZkSubmitJob) Type() MsgType     { return TypeZkSubmitJob }
func (MsgZkPostResult) Type() MsgType    { return TypeZkPostResult }

func (m MsgTeeSubmitJob) AppendBody(b []byte) []byte    { return appendJSON(b, m) }
func (m MsgJobDeliverInput) AppendBody(b []byte) []byte { return appendJSON(b, m) }
func (m MsgTeePostResult) AppendBody(b []byte) []byte   { return appendJSON(b, m) }
func (m MsgZkRegister) AppendBody(b []byte) []byte      { return appendJSON(b, m) }
func (m MsgZkSubmitJob) AppendBody(b []byte) []byte     { return appendJSON(b, m) }
func (m MsgZkPostResult) AppendBody(b []byte) []byte    { return appendJSON(b, m) }

func checkRecipient(what, r string) error {
	if _, err := vault.ParseRecipient(r); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// ValidateBasic implements Msg.
func (m MsgTeeSubmitJob) ValidateBasic() error {
	if m.ModelID.IsZero() || m.InputsRoot.IsZero() {
		return errors.New("tee job: model id and inputs root must be set")
	}
	return checkRecipient("tee job: recipient", m.Recipient)
}

// ValidateBasic implements Msg.
func (m MsgJobDeliverInput) ValidateBasic() error {
	if m.Job == 0 || m.Sealed.IsZero() {
		return errors.New("deliver input: job and sealed hash must be set")
	}
	return nil
}

// ValidateBasic implements Msg.
func (m MsgTeePostResult) ValidateBasic() error {
	if m.Job == 0 {
		return errors.New("tee result: job must be set")
	}
	if len(m.OutputRoots) == 0 || len(m.OutputRoots) > MaxModelIO {
		return fmt.Errorf("tee result: %d output roots, want 1..%d", len(m.OutputRoots), MaxModelIO)
	}
	if m.SealedOutput.IsZero() {
		return errors.New("tee result: sealed output hash must be set")
	}
	if len(m.Signature) != 64 {
		return fmt.Errorf("tee result: signature is %d bytes, want 64", len(m.Signature))
	}
	return nil
}

// ValidateBasic implements Msg.
func (m MsgZkRegister) ValidateBasic() error {
	if m.ModelID.IsZero() {
		return errors.New("zk register: model id must be set")
	}
	if err := checkZkSystem(m.System); err != nil {
		return fmt.Errorf("zk register: %w", err)
	}
	if len(m.VerifyingKey) == 0 || len(m.VerifyingKey) > ZkMaxKey {
		return fmt.Errorf("zk register: verifying key is %d bytes, want 1..%d", len(m.VerifyingKey), ZkMaxKey)
	}
	if len(m.WeightsCommit) != ZkWeightsCommitBytes {
		return fmt.Errorf("zk register: weights commitment is %d bytes, want %d (an uncompressed G1 point)", len(m.WeightsCommit), ZkWeightsCommitBytes)
	}
	if m.Prover.IsZero() {
		return errors.New("zk register: prover address must be set")
	}
	return checkRecipient("zk register: prover_key", m.ProverKey)
}

// ValidateBasic implements Msg.
func (m MsgZkSubmitJob) ValidateBasic() error {
	if m.ModelID.IsZero() {
		return errors.New("zk job: model id must be set")
	}
	return checkRecipient("zk job: recipient", m.Recipient)
}

// ValidateBasic implements Msg.
func (m MsgZkPostResult) ValidateBasic() error {
	if m.Job == 0 {
		return errors.New("zk result: job must be set")
	}
	if len(m.Proof) == 0 || len(m.Proof) > ZkMaxProof {
		return fmt.Errorf("zk result: proof is %d bytes, want 1..%d", len(m.Proof), ZkMaxProof)
	}
	if len(m.Output) == 0 || len(m.Output) > ZkMaxOutput {
		return fmt.Errorf("zk result: %d output values, want 1..%d", len(m.Output), ZkMaxOutput)
	}
	if m.SealedOutput.IsZero() {
		return errors.New("zk result: sealed output hash must be set")
	}
	return nil
}

func checkZkSystem(s string) error {
	for _, want := range ZkSystems {
		if s == want {
			return nil
		}
	}
	return fmt.Errorf("proof system %q: want one of %v", s, ZkSystems)
}

// TeeResultMessage is what an enclave signs for a tee job: the job id, the
// job's inputs root, and one hash of its outputs (the output value roots,
// then the sealed output's hash), so a signed result can be shown to
// anyone and cannot be moved to another job or input.
func TeeResultMessage(job uint64, inputsRoot [32]byte, outputRoots []DataHash, sealedOutput DataHash) []byte {
	h := sha256.New()
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(outputRoots))))
	for _, r := range outputRoots {
		h.Write(r[:])
	}
	h.Write(sealedOutput[:])
	b := append([]byte("provena/tee/result/v1\x00"), binary.BigEndian.AppendUint64(nil, job)...)
	b = append(b, inputsRoot[:]...)
	return h.Sum(b)
}
