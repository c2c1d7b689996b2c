package report

import (
	"image/color"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

var (
	genuineColor  = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	impostorColor = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	thresholdGray = color.Gray{Y: 0x60}
)

// WritePlots writes scores.png, roc.png, det.png and (with identification)
// watchlist.png into dir and returns their names.
func WritePlots(dir string, r *Result, genuine, impostor []float64) ([]string, error) {
	var names []string
	save := func(p *plot.Plot, name string) error {
		if err := p.Save(6*vg.Inch, 4*vg.Inch, filepath.Join(dir, name)); err != nil {
			return err
		}
		names = append(names, name)
		return nil
	}
	if p, err := scoresPlot(r, genuine, impostor); err != nil {
		return nil, err
	} else if err := save(p, "scores.png"); err != nil {
		return nil, err
	}
	if err := save(rocPlot(r), "roc.png"); err != nil {
		return nil, err
	}
	if err := save(detPlot(r), "det.png"); err != nil {
		return nil, err
	}
	if r.Identification != nil {
		if err := save(watchlistPlot(r), "watchlist.png"); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// HistogramLine draws a normalised histogram (fractions per bin) on fixed
// bins as a filled step outline, so two distributions share their bins.
func HistogramLine(xs []float64, lo, width float64, bins int, c color.RGBA) (*plotter.Line, error) {
	counts := make([]float64, bins)
	for _, x := range xs {
		k := int(math.Floor((x - lo) / width))
		k = max(0, min(bins-1, k))
		counts[k]++
	}
	var pts plotter.XYs
	for k, n := range counts {
		frac := 0.0
		if len(xs) > 0 {
			frac = n / float64(len(xs))
		}
		x0 := lo + float64(k)*width
		pts = append(pts, plotter.XY{X: x0, Y: frac}, plotter.XY{X: x0 + width, Y: frac})
	}
	pts = append(plotter.XYs{{X: lo, Y: 0}}, append(pts, plotter.XY{X: lo + float64(bins)*width, Y: 0})...)
	l, err := plotter.NewLine(pts)
	if err != nil {
		return nil, err
	}
	l.Color = c
	l.Width = vg.Points(1.5)
	l.FillColor = color.NRGBA{R: c.R, G: c.G, B: c.B, A: 0x50} // not premultiplied
	return l, nil
}

// VLine is a dashed grey vertical line: a threshold on a score plot.
func VLine(x, y0, y1 float64) *plotter.Line {
	l, _ := plotter.NewLine(plotter.XYs{{X: x, Y: y0}, {X: x, Y: y1}})
	l.Color = thresholdGray
	l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	return l
}

func scoresPlot(r *Result, genuine, impostor []float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Score distributions (cosine similarity)"
	p.X.Label.Text = "score"
	p.Y.Label.Text = "fraction of comparisons"
	lo, width, bins := -0.3, 0.05, 26 // -0.3 .. 1.0
	g, err := HistogramLine(genuine, lo, width, bins, genuineColor)
	if err != nil {
		return nil, err
	}
	im, err := HistogramLine(impostor, lo, width, bins, impostorColor)
	if err != nil {
		return nil, err
	}
	p.Add(im, g)
	p.Legend.Add("genuine", g)
	p.Legend.Add("impostor", im)
	if t := r.Calibration.Threshold; t > 0 {
		top := 0.0
		for _, l := range []*plotter.Line{g, im} {
			for _, xy := range l.XYs {
				top = math.Max(top, xy.Y)
			}
		}
		v := VLine(t, 0, top)
		p.Add(v)
		p.Legend.Add("default threshold", v)
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p, nil
}

// floorFMR is where zero rates are drawn on log axes: half a comparison.
func floorRate(n int) float64 {
	if n <= 0 {
		return 1e-4
	}
	return 0.5 / float64(n)
}

func rocPlot(r *Result) *plot.Plot {
	v := &r.Verification
	p := plot.New()
	p.Title.Text = "ROC"
	p.X.Label.Text = "FMR (log)"
	p.Y.Label.Text = "TMR = 1 - FNMR"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	floor := floorRate(v.ImpostorPairs)
	var pts plotter.XYs
	for _, q := range v.Curve {
		pts = append(pts, plotter.XY{X: math.Max(q.FMR, floor), Y: 1 - q.FNMR})
	}
	if l, err := plotter.NewLine(pts); err == nil {
		l.Color = genuineColor
		l.Width = vg.Points(1.5)
		p.Add(l)
	}
	p.X.Min, p.X.Max = floor, 1
	p.Y.Min, p.Y.Max = 0, 1.01
	p.Add(plotter.NewGrid())
	return p
}

func detPlot(r *Result) *plot.Plot {
	v := &r.Verification
	p := plot.New()
	p.Title.Text = "DET"
	p.X.Label.Text = "FMR (log)"
	p.Y.Label.Text = "FNMR (log)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	fx, fy := floorRate(v.ImpostorPairs), floorRate(v.GenuinePairs)
	var pts plotter.XYs
	for _, q := range v.Curve {
		pts = append(pts, plotter.XY{X: math.Max(q.FMR, fx), Y: math.Max(q.FNMR, fy)})
	}
	if l, err := plotter.NewLine(pts); err == nil {
		l.Color = impostorColor
		l.Width = vg.Points(1.5)
		p.Add(l)
	}
	if e := v.EER; !math.IsNaN(e.FMR) && e.FMR > 0 {
		if s, err := plotter.NewScatter(plotter.XYs{{X: e.FMR, Y: e.FNMR}}); err == nil {
			s.Color = thresholdGray
			p.Add(s)
			p.Legend.Add("EER", s)
		}
	}
	p.X.Min, p.X.Max = fx, 1
	p.Y.Min, p.Y.Max = fy, 1
	p.Add(plotter.NewGrid())
	return p
}

func watchlistPlot(r *Result) *plot.Plot {
	wl := &r.Identification.Watchlist
	p := plot.New()
	p.Title.Text = "Watchlist: FNIR vs FPIR (rank 1)"
	p.X.Label.Text = "FPIR"
	p.Y.Label.Text = "FNIR"
	var pts plotter.XYs
	for _, q := range wl.Curve {
		if !math.IsNaN(q.FPIR) && !math.IsNaN(q.FNIR) {
			pts = append(pts, plotter.XY{X: q.FPIR, Y: q.FNIR})
		}
	}
	if l, err := plotter.NewLine(pts); err == nil {
		l.Color = genuineColor
		l.Width = vg.Points(1.5)
		p.Add(l)
	}
	a := wl.AtThreshold
	if !math.IsNaN(a.FPIR) && !math.IsNaN(a.FNIR) {
		if s, err := plotter.NewScatter(plotter.XYs{{X: a.FPIR, Y: a.FNIR}}); err == nil {
			s.Color = impostorColor
			p.Add(s)
			p.Legend.Add("default threshold", s)
		}
	}
	p.X.Min, p.X.Max = 0, 1
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	return p
}
