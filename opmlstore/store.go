// Package opmlstore is the content-addressed store of opML model packages
// (models/<id>.pvm), job inputs (inputs/<inputs root>/<name>.npy) and job
// outputs (outputs/<value root>.npy) that requesters, workers, watchers and
// the node's API share, together with the HTTP routes that serve it and the
// client that fetches from them. Everything is addressed by its own
// commitment and checked against it before use.
package opmlstore

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/provena/provena/model"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/opml"
	"github.com/provena/provena/tensor"
)

// Dir is a store rooted at a directory (by default <home>/opml).
type Dir string

func (s Dir) modelPath(id [32]byte) string {
	return filepath.Join(string(s), "models", hex.EncodeToString(id[:])+".pvm")
}

func (s Dir) inputDir(root [32]byte) string {
	return filepath.Join(string(s), "inputs", hex.EncodeToString(root[:]))
}

// modelFile names, inside an input directory, the file holding the hex id of
// the model the inputs were checked against.
const modelFile = "model"

// PutModel stores a package under its id.
func (s Dir) PutModel(m *model.Model) error {
	p := s.modelPath(m.ID())
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("model store: %w", err)
	}
	if err := m.Save(p); err != nil {
		return fmt.Errorf("model store: %w", err)
	}
	return nil
}

// Model loads a stored package and checks it against its id.
func (s Dir) Model(id [32]byte) (*model.Model, error) {
	m, err := model.Load(s.modelPath(id))
	if err != nil {
		return nil, fmt.Errorf("model store: %w", err)
	}
	if m.ID() != id {
		return nil, fmt.Errorf("model store: %s holds model %x, not %x", s.modelPath(id), m.ID(), id)
	}
	return m, nil
}

// PutInputs stores a job input under its inputs root for model m and
// returns the root.
func (s Dir) PutInputs(m *model.Model, in map[string]*tensor.Tensor) ([32]byte, error) {
	root, err := opml.InputsRoot(m, in)
	if err != nil {
		return root, err
	}
	dir := s.inputDir(root)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return root, fmt.Errorf("input store: %w", err)
	}
	for _, vi := range m.Inputs {
		f, err := os.Create(filepath.Join(dir, vi.Name+".npy"))
		if err != nil {
			return root, fmt.Errorf("input store: %w", err)
		}
		err = npy.Write(f, in[vi.Name])
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return root, fmt.Errorf("store input %s: %w", vi.Name, err)
		}
	}
	id := m.ID()
	if err := os.WriteFile(filepath.Join(dir, modelFile), []byte(hex.EncodeToString(id[:])), 0o644); err != nil {
		return root, fmt.Errorf("input store: %w", err)
	}
	return root, nil
}

// Inputs loads a stored job input; the caller checks it against the root.
func (s Dir) Inputs(root [32]byte) (map[string]*tensor.Tensor, error) {
	dir := s.inputDir(root)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("input store: %w", err)
	}
	out := map[string]*tensor.Tensor{}
	for _, e := range ents {
		name := e.Name()
		if filepath.Ext(name) != ".npy" {
			continue
		}
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("input store: %w", err)
		}
		t, err := npy.Read(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("input store %s: %w", name, err)
		}
		out[name[:len(name)-4]] = t
	}
	return out, nil
}

// InputsModel returns the id of the model a stored input was checked
// against when it was stored.
func (s Dir) InputsModel(root [32]byte) ([32]byte, error) {
	var id [32]byte
	b, err := os.ReadFile(filepath.Join(s.inputDir(root), modelFile))
	if err != nil {
		return id, fmt.Errorf("input store: %w", err)
	}
	if d, err := hex.DecodeString(string(b)); err != nil || len(d) != 32 {
		return id, fmt.Errorf("input store: %s/%s is not a model id", s.inputDir(root), modelFile)
	} else {
		copy(id[:], d)
	}
	return id, nil
}

func (s Dir) outputPath(root [32]byte) string {
	return filepath.Join(string(s), "outputs", hex.EncodeToString(root[:])+".npy")
}

// PutOutput stores a job output under its value root.
func (s Dir) PutOutput(root [32]byte, t *tensor.Tensor) error {
	p := s.outputPath(root)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("output store: %w", err)
	}
	f, err := os.Create(p)
	if err != nil {
		return fmt.Errorf("output store: %w", err)
	}
	err = npy.Write(f, t)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("output store: %w", err)
	}
	return nil
}

// Output loads a stored output and checks it against its root.
func (s Dir) Output(root [32]byte) (*tensor.Tensor, error) {
	f, err := os.Open(s.outputPath(root))
	if err != nil {
		return nil, fmt.Errorf("output store: %w", err)
	}
	defer f.Close()
	t, err := npy.Read(f)
	if err != nil {
		return nil, fmt.Errorf("output store: %w", err)
	}
	if got := model.ValueRoot(t, 0); got != root {
		return nil, fmt.Errorf("output store: %s has root %x, the job commits %x", s.outputPath(root), got, root)
	}
	return t, nil
}
