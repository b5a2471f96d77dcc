// Package quant owns post-training quantization of float models into the
// integer operator set of package ops (QQuantize, QGemm, QConv, QMaxPool,
// QAdd, QDequantize): calibration of activation ranges on sample inputs,
// the rewrite of a validated float model.Model into a quantized one with
// symmetric per-channel int8 weights, int32 biases and fixed-point
// requantization, the static accumulator bound check, and the accuracy
// comparison of a quantized model against its float original.
//
// Quantization itself runs once, offline, in float64; only the integers it
// produces (and the two float32 scales at the graph's edges) are part of the
// quantized model, so the quantized model's results are bit-identical
// everywhere even though choosing its integers used floats.
package quant

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/model"
	"github.com/provena/provena/npy"
	"github.com/provena/provena/tensor"
)

// Calibration holds the observed range of every float value of a model:
// Max[name] is the largest |x| over all elements of that value in all
// calibration runs (the plain maximum, no percentile clipping: the models
// quantized here are small and the maximum keeps every calibration value
// representable).
type Calibration struct {
	Samples int
	Max     map[string]float64
}

// Options configures calibration and quantization.
type Options struct {
	// Threads for the calibration runs (default GOMAXPROCS).
	Threads int
	// Int8Outputs requantizes a linear layer that produces a graph output to
	// int8 like every other layer. By default such a layer keeps its int32
	// accumulator (out_int32) and uses one weight scale for all its output
	// channels, since QDequantize applies a single scale.
	Int8Outputs bool
	// Progress, when set, is called after each calibration sample.
	Progress func(done, total int)
}

// Calibrate runs the float model on every sample and records, for every
// graph input and node output, the maximum |x|.
func Calibrate(m *model.Model, samples []map[string]*tensor.Tensor, opts Options) (*Calibration, error) {
	if !m.Validated() {
		return nil, fmt.Errorf("calibrate: model not validated")
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("calibrate: no samples")
	}
	c := &Calibration{Samples: len(samples), Max: map[string]float64{}}
	note := func(name string, t *tensor.Tensor) error {
		if t == nil || t.DType != tensor.Float32 {
			return nil
		}
		mx := c.Max[name]
		for _, v := range t.F32 {
			a := math.Abs(float64(v))
			if math.IsNaN(a) || math.IsInf(a, 0) {
				return fmt.Errorf("value %q is not finite (%v)", name, v)
			}
			mx = max(mx, a)
		}
		c.Max[name] = mx
		return nil
	}
	for k, s := range samples {
		res, err := infer.Run(m, s, infer.Options{Threads: opts.Threads, KeepOutputs: true})
		if err != nil {
			return nil, fmt.Errorf("calibrate: sample %d: %w", k, err)
		}
		for i, in := range m.Inputs {
			if err := note(in.Name, res.Inputs[i]); err != nil {
				return nil, fmt.Errorf("calibrate: sample %d: %w", k, err)
			}
		}
		for i, n := range m.Nodes {
			for j, name := range n.Outputs {
				if name == "" {
					continue
				}
				if err := note(name, res.NodeOutputs[i][j]); err != nil {
					return nil, fmt.Errorf("calibrate: sample %d: %w", k, err)
				}
			}
		}
		if opts.Progress != nil {
			opts.Progress(k+1, len(samples))
		}
	}
	return c, nil
}

// MaxSampleFiles bounds how many calibration files LoadSamples reads.
const MaxSampleFiles = 100000

// LoadSamples reads every *.npy file of dir, in name order, as one input of
// a single-input model; each must match the model's input type and shape.
func LoadSamples(m *model.Model, dir string) ([]map[string]*tensor.Tensor, error) {
	if len(m.Inputs) != 1 {
		return nil, fmt.Errorf("load calibration samples: the model has %d inputs; only single-input models are supported", len(m.Inputs))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load calibration samples: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.EqualFold(filepath.Ext(e.Name()), ".npy") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("load calibration samples: no .npy files in %s", dir)
	}
	if len(names) > MaxSampleFiles {
		return nil, fmt.Errorf("load calibration samples: %d files in %s, at most %d", len(names), dir, MaxSampleFiles)
	}
	in := m.Inputs[0]
	out := make([]map[string]*tensor.Tensor, 0, len(names))
	for _, n := range names {
		path := filepath.Join(dir, n)
		t, err := readNpy(path)
		if err != nil {
			return nil, fmt.Errorf("load calibration sample %s: %w", path, err)
		}
		s := map[string]*tensor.Tensor{in.Name: t}
		if _, err := infer.CheckInputs(m, s); err != nil {
			return nil, fmt.Errorf("load calibration sample %s: %w", path, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func readNpy(path string) (*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return npy.Read(f)
}
