package zk

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// BenchResult is one system's measured cost on one graph.
type BenchResult struct {
	System            string        `json:"system"`
	Visibility        string        `json:"visibility"`
	Constraints       int           `json:"constraints"`
	MACs              int64         `json:"macs"`
	ConstraintsPerMAC float64       `json:"constraints_per_mac"`
	Compile           time.Duration `json:"compile_ns"`
	Setup             time.Duration `json:"setup_ns"`
	Prove             time.Duration `json:"prove_ns"`
	Verify            time.Duration `json:"verify_ns"`
	ProofBytes        int           `json:"proof_bytes"`
	VKBytes           int           `json:"vk_bytes"`
	PKBytes           int           `json:"pk_bytes"`
	// PeakRSS is the process's peak resident set (VmHWM) after the run,
	// or, where /proc is unavailable, the Go heap's peak system memory.
	PeakRSS uint64 `json:"peak_rss_bytes"`
}

// Bench compiles, sets up (insecure single-party: a benchmark measures
// cost, not trust), proves x and verifies, timing each step.
func Bench(g *Graph, vis Visibility, system string, x []int64, progress func(string)) (*BenchResult, error) {
	if progress == nil {
		progress = func(string) {}
	}
	r := &BenchResult{System: system, Visibility: vis.String(), MACs: g.MACs()}
	progress(system + ": compile")
	t0 := time.Now()
	ccs, err := Compile(g, vis, system)
	if err != nil {
		return nil, err
	}
	r.Compile = time.Since(t0)
	r.Constraints = ccs.GetNbConstraints()
	if r.MACs > 0 {
		r.ConstraintsPerMAC = float64(r.Constraints) / float64(r.MACs)
	}
	progress(fmt.Sprintf("%s: setup (%d constraints)", system, r.Constraints))
	t0 = time.Now()
	keys, err := InsecureDevSetup(system, ccs)
	if err != nil {
		return nil, err
	}
	r.Setup = time.Since(t0)
	r.PKBytes, r.VKBytes = len(keys.PK), len(keys.VK)
	var blinding FieldBytes
	if vis.Weights == VisCommitted {
		if blinding, err = NewBlinding(); err != nil {
			return nil, err
		}
	}
	p, err := NewProver(system, g, vis, ccs, keys.PK, blinding)
	if err != nil {
		return nil, err
	}
	progress(system + ": prove")
	t0 = time.Now()
	st, proof, err := p.Prove(x)
	if err != nil {
		return nil, err
	}
	r.Prove = time.Since(t0)
	r.ProofBytes = len(proof)
	vec, err := st.Vector(vis)
	if err != nil {
		return nil, err
	}
	progress(system + ": verify")
	// verification is fast: take the best of a few runs to be less exposed
	// to a busy machine
	for i := 0; i < 5; i++ {
		t0 = time.Now()
		verify := func() error { return VerifyVector(system, keys.VK, proof, vec) }
		if vis.Weights == VisCommitted {
			point := p.WeightsPoint()
			verify = func() error { return VerifyCommitted(system, keys.VK, proof, vec, point[:]) }
		}
		if err := verify(); err != nil {
			return nil, fmt.Errorf("zk bench: own proof rejected: %w", err)
		}
		if d := time.Since(t0); i == 0 || d < r.Verify {
			r.Verify = d
		}
	}
	r.PeakRSS = peakRSS()
	return r, nil
}

// peakRSS reads VmHWM from /proc/self/status.
func peakRSS() uint64 {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				f := strings.Fields(rest)
				if len(f) >= 1 {
					if kb, err := strconv.ParseUint(f[0], 10, 64); err == nil {
						return kb << 10
					}
				}
			}
		}
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Sys
}
