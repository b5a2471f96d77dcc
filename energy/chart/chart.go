// Package chart draws the energy report: hourly production, consumption and
// 24/7-matched energy of one account as an SVG bar chart (gonum.org/v1/plot).
// It only draws; the figures come from the ledger through the CLI.
package chart

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Hour is one bar group.
type Hour struct {
	Start         time.Time
	ProductionWh  uint64
	ConsumptionWh uint64
	MatchedWh     uint64 // 24/7: same zone and UTC hour
}

// Report is what the chart shows.
type Report struct {
	Title string
	// Notes are printed under the title: the matched shares and, when any
	// series shown is synthetic, a line saying so.
	Notes []string
	Hours []Hour
}

// WriteSVG draws r as an SVG of width × height.
func WriteSVG(w io.Writer, r Report, width, height vg.Length) error {
	return write(w, r, width, height, "svg")
}

func write(w io.Writer, r Report, width, height vg.Length, format string) error {
	if len(r.Hours) == 0 {
		return errors.New("chart: no hours to draw")
	}
	p := plot.New()
	p.Title.Text = r.Title
	for _, n := range r.Notes {
		p.Title.Text += "\n" + n
	}
	p.Y.Label.Text = "Wh"
	p.X.Label.Text = "UTC hour"
	prod, cons, match := make(plotter.Values, len(r.Hours)), make(plotter.Values, len(r.Hours)), make(plotter.Values, len(r.Hours))
	names := make([]string, len(r.Hours))
	for i, h := range r.Hours {
		prod[i], cons[i], match[i] = float64(h.ProductionWh), float64(h.ConsumptionWh), float64(h.MatchedWh)
		names[i] = h.Start.UTC().Format("15")
		if i == 0 || h.Start.UTC().Hour() == 0 {
			names[i] = h.Start.UTC().Format("01-02 15")
		}
	}
	bw := vg.Points(max(2, float64(width)/float64(len(r.Hours))/4.5))
	series := []struct {
		name string
		v    plotter.Values
		c    color.RGBA
	}{
		{"production", prod, color.RGBA{R: 240, G: 180, B: 20, A: 255}},
		{"consumption", cons, color.RGBA{R: 90, G: 110, B: 140, A: 255}},
		{"matched 24/7", match, color.RGBA{R: 40, G: 160, B: 80, A: 255}},
	}
	for i, s := range series {
		b, err := plotter.NewBarChart(s.v, bw)
		if err != nil {
			return fmt.Errorf("chart: %s: %w", s.name, err)
		}
		b.Color = s.c
		b.LineStyle.Width = 0
		b.Offset = vg.Length(i-1) * bw
		p.Add(b)
		p.Legend.Add(s.name, b)
	}
	p.Legend.Top = true
	// Head room so the legend does not sit on the tallest bars.
	top := 1.0
	for _, v := range [][]float64{prod, cons, match} {
		for _, x := range v {
			top = max(top, x)
		}
	}
	p.Y.Min, p.Y.Max = 0, top*1.25
	p.NominalX(names...)
	p.Add(plotter.NewGrid())
	wt, err := p.WriterTo(width, height, format)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if _, err := wt.WriteTo(w); err != nil {
		return fmt.Errorf("chart: write %s: %w", format, err)
	}
	return nil
}
