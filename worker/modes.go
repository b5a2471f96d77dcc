package worker

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"filippo.io/age"

	"github.com/provena/provena/app"
	"github.com/provena/provena/infer"
	"github.com/provena/provena/model"
	"github.com/provena/provena/opml"
	"github.com/provena/provena/opmlstore"
	"github.com/provena/provena/tensor"
	"github.com/provena/provena/tx"
	"github.com/provena/provena/vault"
)

// The private job modes (tee, zk; app/job_modes.go). Their inputs and
// outputs travel only as age ciphertexts addressed by SHA-256: the
// requester seals the input to the worker's key after assignment, the
// worker seals the outputs to the requester's key. Neither party writes a
// plaintext to disk: the worker decrypts, runs and seals in memory.

// SealedStore is what private-mode parties need from storage: age
// ciphertexts by their SHA-256 (the nodes' opML stores).
type SealedStore interface {
	Sealed(h [32]byte) ([]byte, error)
	PutSealed(b []byte) ([32]byte, error)
}

// Keys is a private-mode worker's identity: the X25519 identity inputs are
// sealed to (an enclave's attested key, or the zk prover's registered key)
// and the ed25519 key that signs tee results (the attested signing key,
// which is the worker's account key).
type Keys struct {
	Identity *age.X25519Identity
	Sign     ed25519.PrivateKey
}

// SimulatedKeys are the keys of a simulated enclave, derived from the
// account key (vault.AccountIdentity); a real enclave generates its own.
func SimulatedKeys(account ed25519.PrivateKey) (*Keys, error) {
	id, err := vault.AccountIdentity(account)
	if err != nil {
		return nil, err
	}
	return &Keys{Identity: id, Sign: account}, nil
}

// Prover proves zk jobs of one model: from the job's float input (which
// it quantizes with the model's QQuantize) to a proof and the circuit's
// public outputs.
type Prover interface {
	ModelID() [32]byte
	System() string
	Prove(input *tensor.Tensor) (proof []byte, output []int64, err error)
}

// MaxPlain bounds a decrypted input or output.
const MaxPlain = opmlstore.MaxInputsBytes

// private is a worker's private-mode setup (Worker.SetPrivate).
type private struct {
	keys    *Keys
	provers map[[32]byte]Prover
	once    sync.Map // job id -> logged "waiting for input"
}

// SetPrivate lets the worker take tee and zk jobs: keys opens their inputs
// and signs tee results; provers (may be empty) prove zk jobs of their
// models.
func (w *Worker) SetPrivate(keys *Keys, provers ...Prover) {
	p := &private{keys: keys, provers: map[[32]byte]Prover{}}
	for _, pr := range provers {
		p.provers[pr.ModelID()] = pr
	}
	w.priv = p
}

// SealInput is the requester's side of delivery: the job input in its
// store wire form (opmlstore.InputsDoc), sealed to the worker's key.
func SealInput(m *model.Model, in map[string]*tensor.Tensor, to string) ([]byte, error) {
	r, err := vault.ParseRecipient(to)
	if err != nil {
		return nil, fmt.Errorf("seal input: worker key: %w", err)
	}
	b, err := encodeTensors(m.ID(), in)
	if err != nil {
		return nil, err
	}
	return vault.Seal(b, r)
}

func encodeTensors(id [32]byte, ts map[string]*tensor.Tensor) ([]byte, error) {
	doc, err := opmlstore.EncodeInputs(id, ts)
	if err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

func decodeTensors(plain []byte, want [32]byte) (map[string]*tensor.Tensor, error) {
	var doc opmlstore.InputsDoc
	if err := json.Unmarshal(plain, &doc); err != nil {
		return nil, fmt.Errorf("decode sealed tensors: %w", err)
	}
	id, ts, err := doc.Decode()
	if err != nil {
		return nil, err
	}
	if id != want {
		return nil, fmt.Errorf("sealed tensors are for model %x, the job's model is %x", id, want)
	}
	return ts, nil
}

// OpenOutputs is the requester's side of a private result: it decrypts the
// sealed outputs with the requester's identity and, for a tee job, checks
// each against the value root the enclave signed on chain.
func OpenOutputs(j *app.OpmlJob, sealed []byte, id *age.X25519Identity) (map[string]*tensor.Tensor, error) {
	if j.Private == nil {
		return nil, fmt.Errorf("job %d is %s: its outputs are not sealed", j.ID, j.ModeName())
	}
	if sha256.Sum256(sealed) != [32]byte(j.Private.SealedOutput) {
		return nil, fmt.Errorf("job %d: sealed output does not hash to the one on chain", j.ID)
	}
	plain, err := vault.Open(sealed, id, MaxPlain)
	if err != nil {
		return nil, fmt.Errorf("job %d: %w (is this the requester's key?)", j.ID, err)
	}
	outs, err := decodeTensors(plain, j.ModelID)
	if err != nil {
		return nil, fmt.Errorf("job %d: %w", j.ID, err)
	}
	return outs, nil
}

// CheckOutputRoots checks a tee job's opened outputs against the roots on
// chain, in the model's output order.
func CheckOutputRoots(j *app.OpmlJob, m *model.Model, outs map[string]*tensor.Tensor) error {
	if len(j.OutputRoots) != len(m.Outputs) {
		return fmt.Errorf("job %d commits %d outputs, the model has %d", j.ID, len(j.OutputRoots), len(m.Outputs))
	}
	for k, o := range m.Outputs {
		t, ok := outs[o.Name]
		if !ok {
			return fmt.Errorf("job %d: sealed outputs lack %q", j.ID, o.Name)
		}
		if model.ValueRoot(t, 0) != [32]byte(j.OutputRoots[k]) {
			return fmt.Errorf("job %d: output %q does not match the root the enclave signed", j.ID, o.Name)
		}
	}
	return nil
}

// stepPrivate serves a tee or zk job the worker holds: once the sealed
// input is delivered, open it, run (tee) or prove (zk), seal the outputs
// to the requester and post the result.
func (w *Worker) stepPrivate(j *app.OpmlJob, h int64) error {
	if j.Worker != w.c.Address() || w.fault.NoResult {
		return nil
	}
	if j.State == app.OpmlJobAwaitingInput {
		if _, seen := w.priv0().once.LoadOrStore(j.ID, true); !seen {
			w.logf("worker %s: %s job %d: waiting for the requester to deliver the input sealed to %s", w.c.Address(), j.Mode, j.ID, j.Private.WorkerKey)
		}
		return nil
	}
	if j.State != app.OpmlJobAssigned {
		return nil
	}
	if s, ok := w.sent[j.ID]; ok && s.stage == 0 && h < s.height+resendAfter {
		return nil
	}
	p := w.priv
	if p == nil {
		return fmt.Errorf("job %d is a %s job and this worker was started without private-mode keys", j.ID, j.Mode)
	}
	ss, ok := w.c.(SealedStore)
	if !ok {
		return fmt.Errorf("job %d: the worker's client has no sealed store", j.ID)
	}
	msg, err := w.privateResult(j, p, ss)
	if err != nil {
		return err
	}
	w.sent[j.ID] = sentMove{height: h}
	w.Results++
	return w.c.Send(msg)
}

func (w *Worker) priv0() *private {
	if w.priv == nil {
		w.priv = &private{provers: map[[32]byte]Prover{}}
	}
	return w.priv
}

func (w *Worker) privateResult(j *app.OpmlJob, p *private, ss SealedStore) (tx.Msg, error) {
	if p.keys == nil {
		return nil, fmt.Errorf("job %d: no keys to open its input", j.ID)
	}
	sealed, err := ss.Sealed(j.Private.SealedInput)
	if err != nil {
		return nil, fmt.Errorf("job %d: fetch sealed input: %w", j.ID, err)
	}
	plain, err := vault.Open(sealed, p.keys.Identity, MaxPlain)
	if err != nil {
		return nil, fmt.Errorf("job %d: open sealed input: %w", j.ID, err)
	}
	in, err := decodeTensors(plain, j.ModelID)
	if err != nil {
		return nil, fmt.Errorf("job %d: %w", j.ID, err)
	}
	m, err := w.c.Model(j.ModelID)
	if err != nil {
		return nil, fmt.Errorf("job %d: fetch model: %w", j.ID, err)
	}
	if m.ID() != j.ModelID {
		return nil, fmt.Errorf("job %d: model package has id %x, job wants %x", j.ID, m.ID(), j.ModelID)
	}
	var prover Prover
	if j.Mode == app.JobModeZk {
		if prover = p.provers[j.ModelID]; prover == nil {
			return nil, fmt.Errorf("job %d: no zk artifact for model %x (start the worker with --zk)", j.ID, j.ModelID)
		}
	} else {
		root, err := opml.InputsRoot(m, in)
		if err != nil {
			return nil, fmt.Errorf("job %d: %w", j.ID, err)
		}
		if root != [32]byte(j.InputsRoot) {
			return nil, fmt.Errorf("job %d: the delivered input has root %x, the job commits %x", j.ID, root, j.InputsRoot)
		}
	}
	res, err := infer.Run(m, in, infer.Options{})
	if err != nil {
		return nil, fmt.Errorf("job %d: run: %w", j.ID, err)
	}
	outs := map[string]*tensor.Tensor{}
	var roots []tx.DataHash
	for _, o := range m.Outputs {
		t, ok := res.Outputs[o.Name]
		if !ok {
			return nil, fmt.Errorf("job %d: run produced no output %q", j.ID, o.Name)
		}
		outs[o.Name] = t
		roots = append(roots, tx.DataHash(model.ValueRoot(t, 0)))
	}
	b, err := encodeTensors(j.ModelID, outs)
	if err != nil {
		return nil, err
	}
	r, err := vault.ParseRecipient(j.Private.Recipient)
	if err != nil {
		return nil, fmt.Errorf("job %d: requester key: %w", j.ID, err)
	}
	sealedOut, err := vault.Seal(b, r)
	if err != nil {
		return nil, err
	}
	sh, err := ss.PutSealed(sealedOut)
	if err != nil {
		return nil, fmt.Errorf("job %d: store sealed output: %w", j.ID, err)
	}
	if prover != nil {
		if len(m.Inputs) != 1 {
			return nil, fmt.Errorf("job %d: zk jobs take one input, the model has %d", j.ID, len(m.Inputs))
		}
		proof, out, err := prover.Prove(in[m.Inputs[0].Name])
		if err != nil {
			return nil, fmt.Errorf("job %d: prove: %w", j.ID, err)
		}
		w.logf("worker %s: zk job %d: %s proof, %d bytes, %d public outputs", w.c.Address(), j.ID, prover.System(), len(proof), len(out))
		return tx.MsgZkPostResult{Job: j.ID, Proof: proof, Output: out, SealedOutput: tx.DataHash(sh)}, nil
	}
	sig := ed25519.Sign(p.keys.Sign, tx.TeeResultMessage(j.ID, j.InputsRoot, roots, tx.DataHash(sh)))
	w.logf("worker %s: tee job %d: result signed by the attested key, outputs sealed to the requester", w.c.Address(), j.ID)
	return tx.MsgTeePostResult{Job: j.ID, OutputRoots: roots, SealedOutput: tx.DataHash(sh), Signature: sig}, nil
}

// errNoSealed is returned by an InProc store without the blob.
var errNoSealed = errors.New("store: no sealed blob")

// Sealed implements SealedStore.
func (s *MemStore) Sealed(h [32]byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.sealed[h]
	if !ok {
		return nil, fmt.Errorf("%w %x", errNoSealed, h)
	}
	return b, nil
}

// PutSealed implements SealedStore.
func (s *MemStore) PutSealed(b []byte) ([32]byte, error) {
	h := sha256.Sum256(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sealed == nil {
		s.sealed = map[[32]byte][]byte{}
	}
	s.sealed[h] = append([]byte(nil), b...)
	return h, nil
}

// Sealed implements SealedStore.
func (c *InProc) Sealed(h [32]byte) ([]byte, error) { return c.Store.Sealed(h) }

// PutSealed implements SealedStore.
func (c *InProc) PutSealed(b []byte) ([32]byte, error) { return c.Store.PutSealed(b) }
