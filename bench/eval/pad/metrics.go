// Package pad measures presentation attack detection the way ISO/IEC
// 30107-3 reports it: BPCER (bona fide presentations classified as attacks)
// and APCER per attack type (attacks classified as bona fide), with counts
// and confidence intervals, over the engine's P(live) score.
package pad

import (
	"math"
	"sort"
)

// Rate is a proportion with its counts and its 95% Wilson score interval
// (the interval stays inside [0,1] and is meaningful at 0 of n, where the
// normal approximation collapses to a point).
type Rate struct {
	K     int     `json:"k"`
	N     int     `json:"n"`
	Value float64 `json:"value"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
}

// z95 is the two-sided 95% normal quantile.
const z95 = 1.959963984540054

// NewRate is k of n with its Wilson interval; 0 of 0 is a zero rate with
// the whole [0,1] as its interval.
func NewRate(k, n int) Rate {
	r := Rate{K: k, N: n, Hi: 1}
	if n <= 0 {
		return r
	}
	p := float64(k) / float64(n)
	nf := float64(n)
	z2 := z95 * z95
	den := 1 + z2/nf
	centre := (p + z2/(2*nf)) / den
	half := z95 * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / den
	r.Value = p
	r.Lo = math.Max(0, centre-half)
	r.Hi = math.Min(1, centre+half)
	if k == 0 {
		r.Lo = 0
	}
	if k == n {
		r.Hi = 1
	}
	return r
}

// BPCER is the share of bona fide scores refused at threshold t (P(live)
// under t).
func BPCER(bona []float64, t float64) Rate {
	k := 0
	for _, s := range bona {
		if s < t {
			k++
		}
	}
	return NewRate(k, len(bona))
}

// APCER is the share of attack scores accepted at threshold t (P(live) at
// or over t).
func APCER(attack []float64, t float64) Rate {
	k := 0
	for _, s := range attack {
		if s >= t {
			k++
		}
	}
	return NewRate(k, len(attack))
}

// ThresholdFor is the highest threshold whose BPCER on bona stays within
// target: the k-th smallest score, k = floor(target x n), so that at most k
// scores lie under it. The highest such threshold refuses the most attacks.
// It is rounded down to 4 decimals (a config value that keeps the bound).
func ThresholdFor(bona []float64, target float64) float64 {
	if len(bona) == 0 {
		return 0
	}
	s := append([]float64(nil), bona...)
	sort.Float64s(s)
	k := int(math.Floor(target * float64(len(s))))
	if k >= len(s) {
		k = len(s) - 1
	}
	return math.Floor(s[k]*1e4) / 1e4
}

// ROCPoint is the error pair at one threshold.
type ROCPoint struct {
	Threshold float64 `json:"threshold"`
	BPCER     Rate    `json:"bpcer"`
	APCER     Rate    `json:"apcer"`
}

// ROC is the curve over every distinct score (plus 0 and 1), ascending by
// threshold: BPCER rises and APCER falls along it.
func ROC(bona, attack []float64) []ROCPoint {
	ts := map[float64]bool{0: true, 1: true}
	for _, s := range bona {
		ts[s] = true
	}
	for _, s := range attack {
		ts[s] = true
	}
	sorted := make([]float64, 0, len(ts))
	for t := range ts {
		sorted = append(sorted, t)
	}
	sort.Float64s(sorted)
	out := make([]ROCPoint, 0, len(sorted))
	for _, t := range sorted {
		out = append(out, ROCPoint{Threshold: t, BPCER: BPCER(bona, t), APCER: APCER(attack, t)})
	}
	return out
}

// Grid is the ROC at a few fixed thresholds, for a printed table.
func Grid(bona, attack []float64, ts []float64) []ROCPoint {
	out := make([]ROCPoint, 0, len(ts))
	for _, t := range ts {
		out = append(out, ROCPoint{Threshold: t, BPCER: BPCER(bona, t), APCER: APCER(attack, t)})
	}
	return out
}

// AUC is the probability that a bona fide presentation scores above an
// attack (ties count half): the threshold-free separation of the two.
func AUC(bona, attack []float64) float64 {
	if len(bona) == 0 || len(attack) == 0 {
		return 0
	}
	a := append([]float64(nil), attack...)
	sort.Float64s(a)
	var sum float64
	for _, b := range bona {
		lo := sort.SearchFloat64s(a, b)                                 // attacks < b
		hi := sort.Search(len(a), func(i int) bool { return a[i] > b }) // attacks <= b
		sum += float64(lo) + 0.5*float64(hi-lo)
	}
	return sum / (float64(len(bona)) * float64(len(a)))
}
