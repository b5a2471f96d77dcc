package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/provena/provena/app"
	"github.com/provena/provena/tx"
)

// Lineage and carbon scheduling on the job commands: `model register
// --trained-on` declares the datasets a model was trained on (their
// owners then share every job's model fee), `job submit --defer-until`
// defers a job to the cleanest posted hour, and `job show` prints both.

// parseTrainedOn parses "ASSET:PCT,ASSET:PCT" (percent of the model fee,
// up to two decimals) into lineage shares.
func parseTrainedOn(s string) ([]tx.LineageShare, error) {
	var out []tx.LineageShare
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		asset, pct, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("--trained-on %q: want ASSET:PERCENT", part)
		}
		id, err := parseAssetID(asset)
		if err != nil {
			return nil, fmt.Errorf("--trained-on %q: %w", part, err)
		}
		bps, err := parsePercentBps(pct)
		if err != nil {
			return nil, fmt.Errorf("--trained-on %q: %w", part, err)
		}
		out = append(out, tx.LineageShare{Asset: id, Bps: bps})
	}
	return out, nil
}

// parsePercentBps turns "30", "12.5" or "0.25" into basis points.
func parsePercentBps(s string) (uint32, error) {
	whole, frac, _ := strings.Cut(strings.TrimSuffix(s, "%"), ".")
	if len(frac) > 2 {
		return 0, fmt.Errorf("share %q: at most two decimals (basis points)", s)
	}
	w, err := strconv.ParseUint(whole, 10, 32)
	if err != nil || w > 100 {
		return 0, fmt.Errorf("share %q: want a percentage from 0.01 to 100", s)
	}
	var f uint64
	if frac != "" {
		if f, err = strconv.ParseUint(frac+strings.Repeat("0", 2-len(frac)), 10, 32); err != nil {
			return 0, fmt.Errorf("share %q: want a percentage from 0.01 to 100", s)
		}
	}
	bps := w*100 + f
	if bps == 0 || bps > tx.BpsDenom {
		return 0, fmt.Errorf("share %q: want a percentage from 0.01 to 100", s)
	}
	return uint32(bps), nil
}

// checkLineage refuses, before anything is sent, a lineage the chain
// would refuse: malformed shares or datasets it does not know.
func (e *dataEnv) checkLineage(ctx context.Context, shares []tx.LineageShare) error {
	if err := (tx.MsgModelLineage{Model: tx.DataHash{1}, TrainedOn: shares}).ValidateBasic(); err != nil {
		return fmt.Errorf("--trained-on: %w", err)
	}
	for _, s := range shares {
		if _, err := e.asset(ctx, s.Asset); err != nil {
			return fmt.Errorf("--trained-on: %w", err)
		}
	}
	return nil
}

// declareLineage records a registered model's lineage and describes it.
func (e *dataEnv) declareLineage(ctx context.Context, model [32]byte, shares []tx.LineageShare) (string, error) {
	s, err := e.send(ctx, tx.MsgModelLineage{Model: tx.DataHash(model), TrainedOn: shares})
	if err != nil {
		return "", fmt.Errorf("model registered, but its lineage was refused: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "lineage recorded in tx %s: each job pays, out of the model fee,\n", s.Hash)
	for _, sh := range shares {
		fmt.Fprintf(&b, "  %6s  dataset %s\n", app.BpsText(sh.Bps), sh.Asset)
	}
	return b.String(), nil
}

// parseDeferHours parses --defer-until: a duration in whole hours ("6h").
func parseDeferHours(s string) (uint32, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d%time.Hour != 0 || d > tx.MaxDeferHours*time.Hour {
		return 0, fmt.Errorf("--defer-until %q: want whole hours from 1h to %dh (the deadline, in block time, from submission)", s, tx.MaxDeferHours)
	}
	return uint32(d / time.Hour), nil
}

// printJobEnergy prints a job's carbon scheduling and automatic
// retirement, if any.
func printJobEnergy(w io.Writer, j *app.OpmlJob) {
	c := j.Energy
	if c.Green || c.MaxUg > 0 || c.DeferUntil > 0 {
		var parts []string
		if c.Green {
			parts = append(parts, "green")
		}
		if c.MaxUg > 0 {
			parts = append(parts, fmt.Sprintf("at most %d µgCO2e", c.MaxUg))
		}
		if c.DeferUntil > 0 {
			parts = append(parts, "deferrable until "+time.Unix(c.DeferUntil, 0).UTC().Format("2006-01-02T15:04Z"))
		}
		fmt.Fprintf(w, "  energy: %s (estimate %d Wh)\n", strings.Join(parts, ", "), c.EstimateWh)
	}
	if j.State == app.OpmlJobPending && j.Unassignable != "" {
		fmt.Fprintf(w, "  waiting: %s\n", j.Unassignable)
	}
	if c.Schedule != "" {
		fmt.Fprintf(w, "  schedule: %s\n", c.Schedule)
	}
	if r := c.Retired; r != nil {
		fmt.Fprintf(w, "  certificates retired at settlement: %d of %d Wh (%s, %s, hour %s), bundles %v\n",
			r.RetiredWh, r.ConsumptionWh, r.Basis, r.Zone, time.Unix(r.Hour, 0).UTC().Format("2006-01-02T15Z"), r.Certs)
		if r.Note != "" {
			fmt.Fprintf(w, "    %s\n", r.Note)
		}
	}
}
