package main

import (
	"image/color"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"vizor/bench/eval/pad"
	"vizor/bench/eval/report"
)

var (
	bonaColor   = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	attackColor = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
)

// writePlots draws roc.png (APCER against BPCER over every threshold,
// held-out bona fide against all attacks) and scores.png (histograms of
// log10 P(live) for both sides, with the chosen threshold).
func writePlots(dir string, r *Report, outs []Outcome) error {
	var bona, attack []float64
	for _, o := range outs {
		if !o.scored() {
			continue
		}
		if o.Set == "bona" && o.Part == pad.HeldOut {
			bona = append(bona, o.Live)
		} else if o.Set == "attack" {
			attack = append(attack, o.Live)
		}
	}
	p := plot.New()
	p.Title.Text = "PAD ROC (held-out bona fide vs attacks)"
	p.X.Label.Text = "BPCER"
	p.Y.Label.Text = "APCER"
	var pts plotter.XYs
	for _, q := range pad.ROC(bona, attack) {
		pts = append(pts, plotter.XY{X: q.BPCER.Value, Y: q.APCER.Value})
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	l.Color = bonaColor
	p.Add(l, plotter.NewGrid())
	b, a := pad.BPCER(bona, r.Threshold), pad.APCER(attack, r.Threshold)
	s, err := plotter.NewScatter(plotter.XYs{{X: b.Value, Y: a.Value}})
	if err != nil {
		return err
	}
	s.Color = attackColor
	p.Add(s)
	p.Legend.Add("ROC", l)
	p.Legend.Add("default threshold", s)
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	if err := p.Save(6*vg.Inch, 4*vg.Inch, filepath.Join(dir, "roc.png")); err != nil {
		return err
	}

	h := plot.New()
	h.Title.Text = "P(live), log10"
	h.X.Label.Text = "log10 P(live)"
	h.Y.Label.Text = "fraction"
	for _, side := range []struct {
		xs   []float64
		c    color.RGBA
		name string
	}{{bona, bonaColor, "bona fide (held-out)"}, {attack, attackColor, "attacks"}} {
		ln, err := report.HistogramLine(log10s(side.xs), -6, 0.2, 30, side.c)
		if err != nil {
			return err
		}
		h.Add(ln)
		h.Legend.Add(side.name, ln)
	}
	tl := report.VLine(math.Log10(math.Max(r.Threshold, 1e-6)), 0, 0.5)
	h.Add(tl)
	h.Legend.Add("default threshold", tl)
	h.Legend.Left = true
	return h.Save(6*vg.Inch, 4*vg.Inch, filepath.Join(dir, "scores.png"))
}

// log10s is log10 of each P(live), floored at 1e-6 (the plot's left edge).
func log10s(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = math.Log10(math.Max(x, 1e-6))
	}
	return out
}
