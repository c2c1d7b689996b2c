package metrics

import (
	"fmt"
	"math"
)

// CalibrationPolicy says how a default match threshold is derived from data.
type CalibrationPolicy struct {
	TargetFMR float64 // the FMR the threshold should hold on impostors, e.g. 1e-2
	Lo, Hi    float64 // bounds the threshold is clamped to
	Round     float64 // round the threshold up to a multiple of this (0: no rounding)
	// Band edges, as distances from the threshold: |score-threshold| < Low
	// is "low" confidence, < Medium is "medium", otherwise "high".
	Low, Medium float64
}

// DefaultPolicy is the policy behind Vizor's default threshold.
var DefaultPolicy = CalibrationPolicy{TargetFMR: 1e-2, Lo: 0.30, Hi: 0.60, Round: 0.01, Low: 0.05, Medium: 0.15}

// Band is one confidence band, with how the evaluated comparisons fell in it.
type Band struct {
	Name        string  `json:"name"`
	MinDistance float64 `json:"min_distance"` // |score-threshold| >= this
	MaxDistance float64 `json:"max_distance"` // and < this (+Inf for "high")
	Genuine     int     `json:"genuine"`
	Impostor    int     `json:"impostor"`
	Wrong       int     `json:"wrong"` // comparisons decided wrongly at the threshold
	ErrorRate   float64 `json:"error_rate"`
}

// Calibration is a derived threshold with its provenance.
type Calibration struct {
	Policy      CalibrationPolicy `json:"policy"`
	Source      string            `json:"source"` // which operating point the raw value came from
	Raw         float64           `json:"raw"`    // before clamping and rounding
	Threshold   float64           `json:"threshold"`
	Clamped     bool              `json:"clamped"`
	AtThreshold Point             `json:"at_threshold"`
	Accuracy    float64           `json:"accuracy"`
	Bands       []Band            `json:"bands"`
	Notes       []string          `json:"notes,omitempty"`
}

// Calibrate derives a threshold: the lowest threshold holding the target FMR
// on the impostor scores; when there are too few impostors for the target,
// the EER threshold instead (noted). The value is rounded up to the policy's
// step and clamped to [Lo, Hi], so a small or odd data set cannot push the
// default somewhere absurd.
func Calibrate(s Scores, p CalibrationPolicy) Calibration {
	c := Calibration{Policy: p}
	at := s.AtFMR(p.TargetFMR)
	if at.Attainable && !math.IsInf(at.Threshold, 1) {
		c.Source = fmt.Sprintf("lowest threshold with FMR <= %g on %d impostor pairs (FNMR there %.4f)", p.TargetFMR, at.Impostors, at.FNMR)
		c.Raw = at.Threshold
	} else {
		e := s.EER()
		c.Source = fmt.Sprintf("EER threshold (FMR %g not measurable: %s)", p.TargetFMR, at.Note)
		c.Raw = e.Threshold
	}
	t := c.Raw
	if p.Round > 0 {
		t = math.Ceil(t/p.Round-1e-9) * p.Round
		t = math.Round(t*1e6) / 1e6
	}
	if t < p.Lo {
		t, c.Clamped = p.Lo, true
		c.Notes = append(c.Notes, fmt.Sprintf("raw threshold %.4f is below the lower bound %.2f", c.Raw, p.Lo))
	}
	if t > p.Hi {
		t, c.Clamped = p.Hi, true
		c.Notes = append(c.Notes, fmt.Sprintf("raw threshold %.4f is above the upper bound %.2f", c.Raw, p.Hi))
	}
	c.Threshold = t
	c.AtThreshold = s.At(t)
	c.Accuracy = s.Accuracy(t)
	c.Bands = Bands(s, t, p.Low, p.Medium)
	return c
}

// Confidence names the band of a score: how far it lies from the threshold.
func Confidence(score, threshold, low, medium float64) string {
	d := math.Abs(score - threshold)
	switch {
	case d < low:
		return "low"
	case d < medium:
		return "medium"
	}
	return "high"
}

// Bands counts the comparisons falling in each confidence band and how many
// of them the threshold decides wrongly.
func Bands(s Scores, t, low, medium float64) []Band {
	bs := []Band{
		{Name: "low", MinDistance: 0, MaxDistance: low},
		{Name: "medium", MinDistance: low, MaxDistance: medium},
		{Name: "high", MinDistance: medium, MaxDistance: math.Inf(1)},
	}
	idx := map[string]int{"low": 0, "medium": 1, "high": 2}
	for _, g := range s.Genuine {
		b := &bs[idx[Confidence(g, t, low, medium)]]
		b.Genuine++
		if g < t {
			b.Wrong++
		}
	}
	for _, i := range s.Impostor {
		b := &bs[idx[Confidence(i, t, low, medium)]]
		b.Impostor++
		if i >= t {
			b.Wrong++
		}
	}
	for k := range bs {
		bs[k].ErrorRate = ratio(bs[k].Wrong, bs[k].Genuine+bs[k].Impostor)
	}
	return bs
}
