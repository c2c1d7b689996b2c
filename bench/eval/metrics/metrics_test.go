package metrics

import (
	"math"
	"strings"
	"testing"
)

// The synthetic set, worked by hand (scores sorted):
//
//	genuine  0.4 0.6 0.8 0.9                (4)
//	impostor 0.1 0.2 0.3 0.5 0.6            (5; one tie with a genuine)
//
//	threshold  0.1  0.2  0.3  0.4  0.5  0.6  0.8  0.9  +Inf
//	FMR        5/5  4/5  3/5  2/5  2/5  1/5  0    0    0
//	FNMR       0    0    0    0    1/4  1/4  2/4  3/4  1
//
// AUC (Mann-Whitney, ties 1/2): impostors below each genuine score are
// 0.9->5, 0.8->5, 0.6->4+0.5, 0.4->3, so 17.5/20 = 0.875.
// EER: FMR-FNMR is +0.15 at 0.5 and -0.05 at 0.6, so alpha = 0.15/0.2 =
// 0.75; FMR = 0.4 + 0.75*(0.2-0.4) = 0.25 = FNMR; threshold 0.5+0.75*0.1.
var synth = Scores{
	Genuine:  []float64{0.9, 0.8, 0.6, 0.4},
	Impostor: []float64{0.1, 0.2, 0.3, 0.5, 0.6},
}

const eps = 1e-12

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestCurve(t *testing.T) {
	want := []Point{
		{0.1, 1, 0}, {0.2, 0.8, 0}, {0.3, 0.6, 0}, {0.4, 0.4, 0}, {0.5, 0.4, 0.25},
		{0.6, 0.2, 0.25}, {0.8, 0, 0.5}, {0.9, 0, 0.75}, {math.Inf(1), 0, 1},
	}
	got := synth.Curve()
	if len(got) != len(want) {
		t.Fatalf("curve has %d points, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].Threshold != want[i].Threshold || !near(got[i].FMR, want[i].FMR) || !near(got[i].FNMR, want[i].FNMR) {
			t.Errorf("point %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestAUC(t *testing.T) {
	if got := synth.AUC(); !near(got, 0.875) {
		t.Errorf("AUC = %v, want 0.875", got)
	}
	// The trapezoidal area under the curve's ROC agrees.
	pts := synth.Curve()
	var area float64
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		area += (a.FMR - b.FMR) * (a.TMR() + b.TMR()) / 2
	}
	if !near(area, 0.875) {
		t.Errorf("trapezoid area = %v, want 0.875", area)
	}
	perfect := Scores{Genuine: []float64{0.7, 0.8}, Impostor: []float64{0.1, 0.69}}
	if got := perfect.AUC(); got != 1 {
		t.Errorf("separable AUC = %v, want 1", got)
	}
}

func TestEER(t *testing.T) {
	e := synth.EER()
	if !near(e.FMR, 0.25) || !near(e.FNMR, 0.25) || !near(e.Threshold, 0.575) {
		t.Errorf("EER = %+v, want rate 0.25 at threshold 0.575", e)
	}
	perfect := Scores{Genuine: []float64{0.7, 0.8}, Impostor: []float64{0.1, 0.2}}
	if e := perfect.EER(); e.FMR != 0 || e.Threshold != 0.7 {
		t.Errorf("separable EER = %+v, want 0 at 0.7", e)
	}
}

func TestAtFMR(t *testing.T) {
	cases := []struct {
		target, thr, fmr, fnmr float64
		attainable             bool
	}{
		{0.5, 0.4, 0.4, 0, true},
		{0.2, 0.6, 0.2, 0.25, true},
		{0.1, 0.8, 0, 0.5, false}, // needs 10 impostors, has 5
		{1e-4, 0.8, 0, 0.5, false},
	}
	for _, c := range cases {
		r := synth.AtFMR(c.target)
		if r.Threshold != c.thr || !near(r.FMR, c.fmr) || !near(r.FNMR, c.fnmr) || r.Attainable != c.attainable {
			t.Errorf("AtFMR(%g) = %+v, want thr %g FMR %g FNMR %g attainable %v", c.target, r, c.thr, c.fmr, c.fnmr, c.attainable)
		}
		if !c.attainable && !strings.Contains(r.Note, "not enough impostor pairs") {
			t.Errorf("AtFMR(%g) note = %q", c.target, r.Note)
		}
	}
	if r := synth.AtFMR(0.1); r.Needed != 10 || r.Impostors != 5 {
		t.Errorf("needed/impostors = %d/%d, want 10/5", r.Needed, r.Impostors)
	}
}

func TestAccuracy(t *testing.T) {
	for _, c := range []struct{ thr, want float64 }{
		{0.55, 7.0 / 9}, {0.45, 6.0 / 9}, {0.0, 4.0 / 9}, {1.0, 5.0 / 9},
	} {
		if got := synth.Accuracy(c.thr); !near(got, c.want) {
			t.Errorf("Accuracy(%g) = %v, want %v", c.thr, got, c.want)
		}
	}
	p := synth.At(0.55)
	if !near(p.FMR, 0.2) || !near(p.FNMR, 0.25) {
		t.Errorf("At(0.55) = %+v", p)
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{4, 1, 3, 2})
	if s.Min != 1 || s.Max != 4 || s.Median != 2.5 || s.Mean != 2.5 || !near(s.Std, math.Sqrt(1.25)) {
		t.Errorf("summary = %+v", s)
	}
	if m := Median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median = %v", m)
	}
}

// Identification, by hand. Gallery identities A, B, C.
//
//	probe  mate  A    B    C     rank  top
//	p1     A     .9   .3   .2    1     .9
//	p2     A     .5   .6   .1    2     .6
//	p3     B     .4   .4   .1    2     .4   (tie counts against the mate)
//	p4     C     .2   .1   .7    1     .7
//	n1     -     .55  .2   .1    -     .55
//	n2     -     .3   .35  .1    -     .35
//
// Rank-1 = 2/4, rank-2 = 4/4.
// Watchlist at 0.5: misses p2, p3 -> FNIR 2/4; alarms n1 -> FPIR 1/2.
// At 0.8: only p1 hits -> FNIR 3/4; FPIR 0. At 0.3: FNIR 2/4, FPIR 2/2.
var searches = []Search{
	{Probe: "p1", Mate: "A", Scores: map[string]float64{"A": .9, "B": .3, "C": .2}},
	{Probe: "p2", Mate: "A", Scores: map[string]float64{"A": .5, "B": .6, "C": .1}},
	{Probe: "p3", Mate: "B", Scores: map[string]float64{"A": .4, "B": .4, "C": .1}},
	{Probe: "p4", Mate: "C", Scores: map[string]float64{"A": .2, "B": .1, "C": .7}},
	{Probe: "n1", Scores: map[string]float64{"A": .55, "B": .2, "C": .1}},
	{Probe: "n2", Scores: map[string]float64{"A": .3, "B": .35, "C": .1}},
}

func TestIdentification(t *testing.T) {
	ranks := []int{1, 2, 2, 1, 0, 0}
	for i, s := range searches {
		if r := s.Rank(); r != ranks[i] {
			t.Errorf("%s rank = %d, want %d", s.Probe, r, ranks[i])
		}
	}
	if r := IdentificationRate(searches, 1); r != 0.5 {
		t.Errorf("rank-1 = %v, want 0.5", r)
	}
	if r := IdentificationRate(searches, 2); r != 1 {
		t.Errorf("rank-2 = %v, want 1", r)
	}
	if c := searches[1].Ranked(); c[0].ID != "B" || c[1].ID != "A" {
		t.Errorf("ranked = %v", c)
	}
}

func TestWatchlist(t *testing.T) {
	for _, c := range []struct{ thr, fpir, fnir float64 }{
		{0.5, 0.5, 0.5}, {0.8, 0, 0.75}, {0.3, 1, 0.5}, {math.Inf(1), 0, 1},
	} {
		p := Watchlist(searches, c.thr)
		if !near(p.FPIR, c.fpir) || !near(p.FNIR, c.fnir) || p.Mated != 4 || p.NonMated != 2 {
			t.Errorf("Watchlist(%g) = %+v, want FPIR %g FNIR %g", c.thr, p, c.fpir, c.fnir)
		}
	}
	curve := WatchlistCurve(searches)
	for i := 1; i < len(curve); i++ {
		if curve[i].FPIR > curve[i-1].FPIR+eps || curve[i].Threshold <= curve[i-1].Threshold {
			t.Errorf("curve not monotone at %d: %+v then %+v", i, curve[i-1], curve[i])
		}
	}
}

func TestCalibrate(t *testing.T) {
	// FMR 0.2 is measurable on 5 impostors: raw threshold 0.6 (see above).
	c := Calibrate(synth, CalibrationPolicy{TargetFMR: 0.2, Lo: 0.3, Hi: 0.9, Round: 0.05, Low: 0.05, Medium: 0.15})
	if c.Raw != 0.6 || c.Threshold != 0.6 || c.Clamped {
		t.Errorf("calibration = %+v", c)
	}
	// FMR 0.01 is not: falls back to the EER threshold 0.575, rounded up to
	// 0.6, then clamped to the upper bound 0.55.
	c = Calibrate(synth, CalibrationPolicy{TargetFMR: 0.01, Lo: 0.3, Hi: 0.55, Round: 0.05, Low: 0.07, Medium: 0.2})
	if !near(c.Raw, 0.575) || c.Threshold != 0.55 || !c.Clamped {
		t.Errorf("fallback calibration = %+v", c)
	}
	// Bands around 0.55 (low < 0.07, medium < 0.2, high): genuine 0.6 low,
	// 0.4 medium (wrong), 0.8 and 0.9 high; impostor 0.5 and 0.6 low (0.6
	// wrong), 0.3, 0.2 and 0.1 high.
	want := []Band{
		{Name: "low", Genuine: 1, Impostor: 2, Wrong: 1},
		{Name: "medium", Genuine: 1, Impostor: 0, Wrong: 1},
		{Name: "high", Genuine: 2, Impostor: 3, Wrong: 0},
	}
	for i, w := range want {
		b := c.Bands[i]
		if b.Name != w.Name || b.Genuine != w.Genuine || b.Impostor != w.Impostor || b.Wrong != w.Wrong {
			t.Errorf("band %d = %+v, want %+v", i, b, w)
		}
	}
	if Confidence(0.56, 0.55, 0.05, 0.15) != "low" || Confidence(0.45, 0.55, 0.05, 0.15) != "medium" || Confidence(0.2, 0.55, 0.05, 0.15) != "high" {
		t.Error("Confidence bands")
	}
}
