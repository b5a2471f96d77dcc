package quant

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/model"
	"github.com/provena/provena/tensor"
)

// Sample returns labelled example i: the model input and its class.
type Sample func(i int) (*tensor.Tensor, int, error)

// Accuracy compares a float classifier with its quantized version on
// labelled examples (top-1 over the last dimension of the first output).
type Accuracy struct {
	N            int     `json:"n"`
	FloatCorrect int     `json:"float_correct"`
	QuantCorrect int     `json:"quant_correct"`
	Agree        int     `json:"agree"`
	FloatAcc     float64 `json:"float_accuracy"`
	QuantAcc     float64 `json:"quant_accuracy"`
	Agreement    float64 `json:"agreement"`
	// MaxAbsDiff is the largest |float - dequantized quantized| output
	// element over all examples; MaxAbsFloat the largest |float| output.
	MaxAbsDiff  float64 `json:"max_abs_diff"`
	MaxAbsFloat float64 `json:"max_abs_float"`
}

// Evaluate runs both models on examples 0..n-1 (quant may be nil to
// evaluate the float model alone). Examples run concurrently, one thread
// each, up to threads at a time (0: GOMAXPROCS); the counts do not depend on
// the split. progress, when set, is called with the number of examples done.
func Evaluate(float, quant *model.Model, n int, sample Sample, threads int, progress func(done, total int)) (*Accuracy, error) {
	if n <= 0 {
		return nil, fmt.Errorf("evaluate: no examples")
	}
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	type result struct {
		label, f, q int
		diff, fmax  float64
		err         error
	}
	res := make([]result, n)
	var mu sync.Mutex
	done := 0
	var next int
	var wg sync.WaitGroup
	for range min(threads, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				r := &res[i]
				r.label, r.f, r.q, r.diff, r.fmax, r.err = evalOne(float, quant, i, sample)
				mu.Lock()
				done++
				if progress != nil {
					progress(done, n)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	a := &Accuracy{N: n}
	for i, r := range res {
		if r.err != nil {
			return nil, fmt.Errorf("evaluate: example %d: %w", i, r.err)
		}
		if r.f == r.label {
			a.FloatCorrect++
		}
		if quant != nil {
			if r.q == r.label {
				a.QuantCorrect++
			}
			if r.q == r.f {
				a.Agree++
			}
		}
		a.MaxAbsDiff = max(a.MaxAbsDiff, r.diff)
		a.MaxAbsFloat = max(a.MaxAbsFloat, r.fmax)
	}
	a.FloatAcc = float64(a.FloatCorrect) / float64(n)
	a.QuantAcc = float64(a.QuantCorrect) / float64(n)
	a.Agreement = float64(a.Agree) / float64(n)
	return a, nil
}

func evalOne(float, quant *model.Model, i int, sample Sample) (label, f, q int, diff, fmax float64, err error) {
	x, label, err := sample(i)
	if err != nil {
		return 0, 0, 0, 0, 0, err
	}
	fo, err := classify(float, x)
	if err != nil {
		return 0, 0, 0, 0, 0, fmt.Errorf("float model: %w", err)
	}
	f = argmax(fo.F32)
	for _, v := range fo.F32 {
		fmax = max(fmax, math.Abs(float64(v)))
	}
	if quant == nil {
		return label, f, -1, 0, fmax, nil
	}
	qo, err := classify(quant, x)
	if err != nil {
		return 0, 0, 0, 0, 0, fmt.Errorf("quantized model: %w", err)
	}
	if len(qo.F32) != len(fo.F32) {
		return 0, 0, 0, 0, 0, fmt.Errorf("outputs differ in size: %d and %d", len(fo.F32), len(qo.F32))
	}
	for k := range fo.F32 {
		diff = max(diff, math.Abs(float64(fo.F32[k])-float64(qo.F32[k])))
	}
	return label, f, argmax(qo.F32), diff, fmax, nil
}

// classify runs a single-input model and returns its first output, which
// must be float32.
func classify(m *model.Model, x *tensor.Tensor) (*tensor.Tensor, error) {
	if len(m.Inputs) != 1 {
		return nil, fmt.Errorf("model has %d inputs, want 1", len(m.Inputs))
	}
	r, err := infer.Run(m, map[string]*tensor.Tensor{m.Inputs[0].Name: x}, infer.Options{Threads: 1})
	if err != nil {
		return nil, err
	}
	out := r.Outputs[m.Outputs[0].Name]
	if out == nil || out.DType != tensor.Float32 || out.Len() == 0 {
		return nil, fmt.Errorf("output %q is not a non-empty float32 tensor", m.Outputs[0].Name)
	}
	return out, nil
}

// argmax is the first index of the largest value (NaN never wins).
func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] || v[best] != v[best] {
			best = i
		}
	}
	return best
}
