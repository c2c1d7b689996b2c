// Package metrics computes biometric accuracy figures from comparison scores:
// verification (ROC, DET, AUC, EER, FNMR at a given FMR, the threshold that
// yields a requested FMR, accuracy at a threshold) and identification
// (rank-k identification rate, FPIR/FNIR on a watchlist).
//
// Scores are similarities: higher means more alike, and a comparison is a
// match when score >= threshold. Every rate is a plain empirical fraction;
// nothing is smoothed or fitted, so each figure can be checked by hand.
package metrics

import (
	"fmt"
	"math"
	"sort"
)

// Scores are the genuine (same identity) and impostor (different identity)
// comparison scores of a verification experiment.
type Scores struct {
	Genuine  []float64
	Impostor []float64
}

// Point is one operating point: the rates obtained at Threshold.
type Point struct {
	Threshold float64 `json:"threshold"`
	FMR       float64 `json:"fmr"`  // impostor scores >= threshold / impostors
	FNMR      float64 `json:"fnmr"` // genuine scores < threshold / genuines
}

// TMR is the true match rate, 1 - FNMR.
func (p Point) TMR() float64 { return 1 - p.FNMR }

// At returns the operating point at threshold t.
func (s Scores) At(t float64) Point {
	return Point{Threshold: t, FMR: fracAtLeast(s.Impostor, t), FNMR: 1 - fracAtLeast(s.Genuine, t)}
}

func fracAtLeast(xs []float64, t float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	n := 0
	for _, x := range xs {
		if x >= t {
			n++
		}
	}
	return float64(n) / float64(len(xs))
}

// Curve returns every distinct operating point, by ascending threshold: one
// per distinct score, then +Inf (nothing matches). FMR falls and FNMR rises
// along it. Any threshold between two consecutive scores behaves like the
// higher one, so these points are all the operating points there are.
func (s Scores) Curve() []Point {
	all := make([]float64, 0, len(s.Genuine)+len(s.Impostor))
	all = append(all, s.Genuine...)
	all = append(all, s.Impostor...)
	sort.Float64s(all)
	g := sortedCopy(s.Genuine)
	im := sortedCopy(s.Impostor)
	var pts []Point
	gi, ii := 0, 0 // counts of scores strictly below the current threshold
	for k := 0; k <= len(all); k++ {
		t := math.Inf(1)
		if k < len(all) {
			t = all[k]
			if k > 0 && all[k-1] == t {
				continue
			}
		}
		for gi < len(g) && g[gi] < t {
			gi++
		}
		for ii < len(im) && im[ii] < t {
			ii++
		}
		pts = append(pts, Point{
			Threshold: t,
			FMR:       ratio(len(im)-ii, len(im)),
			FNMR:      ratio(gi, len(g)),
		})
	}
	return pts
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func sortedCopy(xs []float64) []float64 {
	c := append([]float64(nil), xs...)
	sort.Float64s(c)
	return c
}

// AUC is the area under the ROC curve, computed as the Mann-Whitney
// statistic: the probability that a random genuine score exceeds a random
// impostor score, ties counting one half. It equals the trapezoidal area
// under the curve from Curve.
func (s Scores) AUC() float64 {
	if len(s.Genuine) == 0 || len(s.Impostor) == 0 {
		return math.NaN()
	}
	im := sortedCopy(s.Impostor)
	var sum float64
	for _, g := range s.Genuine {
		below := sort.SearchFloat64s(im, g) // impostors < g
		upto := sort.Search(len(im), func(i int) bool { return im[i] > g })
		sum += float64(below) + 0.5*float64(upto-below)
	}
	return sum / (float64(len(s.Genuine)) * float64(len(s.Impostor)))
}

// EER is the equal error rate: where FMR and FNMR cross. Between the two
// consecutive operating points that bracket the crossing, both rates are
// interpolated linearly (the straight ROC segment joining them), and
// Threshold is interpolated the same way (the lower point's threshold when
// the upper one is +Inf).
func (s Scores) EER() Point {
	pts := s.Curve()
	if len(s.Genuine) == 0 || len(s.Impostor) == 0 {
		return Point{Threshold: math.NaN(), FMR: math.NaN(), FNMR: math.NaN()}
	}
	for k := 0; k+1 < len(pts); k++ {
		a, b := pts[k], pts[k+1]
		d1, d2 := a.FMR-a.FNMR, b.FMR-b.FNMR
		if d1 < 0 || d2 > 0 {
			continue
		}
		if d1 == 0 {
			return Point{Threshold: a.Threshold, FMR: a.FMR, FNMR: a.FNMR}
		}
		alpha := d1 / (d1 - d2)
		rate := a.FMR + alpha*(b.FMR-a.FMR)
		t := a.Threshold
		if !math.IsInf(b.Threshold, 1) {
			t += alpha * (b.Threshold - a.Threshold)
		}
		return Point{Threshold: t, FMR: rate, FNMR: rate}
	}
	// Unreachable for non-empty inputs: the curve starts at FMR=1, FNMR=0
	// and ends at FMR=0, FNMR=1.
	return Point{Threshold: math.NaN(), FMR: math.NaN(), FNMR: math.NaN()}
}

// FMRTarget is the result of asking for an operating point at a target FMR.
type FMRTarget struct {
	Target     float64 `json:"target_fmr"`
	Threshold  float64 `json:"threshold"`  // smallest threshold with FMR <= Target
	FMR        float64 `json:"fmr"`        // achieved FMR at Threshold
	FNMR       float64 `json:"fnmr"`       // FNMR at Threshold
	Impostors  int     `json:"impostors"`  // impostor comparisons available
	Needed     int     `json:"needed"`     // impostor comparisons the target needs (ceil(1/Target))
	Attainable bool    `json:"attainable"` // Impostors >= Needed
	Note       string  `json:"note,omitempty"`
}

// AtFMR returns the operating point with the lowest threshold whose FMR does
// not exceed target, hence the lowest FNMR at that FMR. With fewer than
// ceil(1/target) impostor comparisons a single false match already exceeds
// the target, so the figure says nothing about it: Attainable is false and
// Note says "not enough impostor pairs". Threshold is +Inf when only
// rejecting everything meets the target.
func (s Scores) AtFMR(target float64) FMRTarget {
	r := FMRTarget{Target: target, Impostors: len(s.Impostor), Needed: int(math.Ceil(1/target - 1e-9))}
	r.Attainable = r.Impostors >= r.Needed && len(s.Genuine) > 0
	for _, p := range s.Curve() {
		if p.FMR <= target {
			r.Threshold, r.FMR, r.FNMR = p.Threshold, p.FMR, p.FNMR
			break
		}
	}
	if !r.Attainable {
		r.Note = fmt.Sprintf("not enough impostor pairs (%d; FMR %.0e needs at least %d)", r.Impostors, target, r.Needed)
		if len(s.Genuine) == 0 {
			r.Note = "no genuine pairs"
		}
	}
	return r
}

// Accuracy is the fraction of comparisons decided correctly at threshold t:
// genuine scores >= t plus impostor scores < t, over all comparisons.
func (s Scores) Accuracy(t float64) float64 {
	n := len(s.Genuine) + len(s.Impostor)
	if n == 0 {
		return math.NaN()
	}
	ok := 0
	for _, g := range s.Genuine {
		if g >= t {
			ok++
		}
	}
	for _, i := range s.Impostor {
		if i < t {
			ok++
		}
	}
	return float64(ok) / float64(n)
}

// Summary describes a score distribution.
type Summary struct {
	N      int     `json:"n"`
	Min    float64 `json:"min"`
	P05    float64 `json:"p05"`
	Median float64 `json:"median"`
	Mean   float64 `json:"mean"`
	P95    float64 `json:"p95"`
	Max    float64 `json:"max"`
	Std    float64 `json:"std"`
}

// Summarize returns a distribution's summary (quantiles by linear
// interpolation between order statistics).
func Summarize(xs []float64) Summary {
	s := Summary{N: len(xs)}
	if len(xs) == 0 {
		nan := math.NaN()
		s.Min, s.P05, s.Median, s.Mean, s.P95, s.Max, s.Std = nan, nan, nan, nan, nan, nan, nan
		return s
	}
	c := sortedCopy(xs)
	s.Min, s.Max = c[0], c[len(c)-1]
	s.P05, s.Median, s.P95 = Quantile(c, 0.05), Quantile(c, 0.5), Quantile(c, 0.95)
	for _, x := range c {
		s.Mean += x
	}
	s.Mean /= float64(len(c))
	for _, x := range c {
		s.Std += (x - s.Mean) * (x - s.Mean)
	}
	s.Std = math.Sqrt(s.Std / float64(len(c)))
	return s
}

// Quantile of sorted data, q in [0,1], linear between order statistics.
func Quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}

// Median of several measurements (e.g. repeated benchmark runs).
func Median(xs []float64) float64 { return Quantile(sortedCopy(xs), 0.5) }
