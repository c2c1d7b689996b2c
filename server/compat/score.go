package compat

import "math"

// SimilaritySlope is the steepness k of the similarity mapping.
const SimilaritySlope = 5

// Similarity maps an engine cosine score c in [-1,1] to [0,1]:
//
//	s = (1 + tanh(k * (c - t))) / 2,  k = 5,  t = the match threshold
//
// so that the calibrated match threshold lands exactly on 0.5, the mapping is
// strictly increasing (rankings are unchanged) and it saturates towards 0
// and 1 away from the threshold. With t = 0.46: c = 0.18 (a typical
// different-person score) gives 0.06, c = 0.45 gives 0.49, c = 0.70 gives
// 0.92, c = 1 gives 0.99. The value is rounded to 5 decimals.
func Similarity(cos, threshold float32) float64 {
	s := (1 + math.Tanh(SimilaritySlope*(float64(cos)-float64(threshold)))) / 2
	return Round(s, 5)
}

// CosineFromSimilarity inverts Similarity (for thresholds given in
// similarity units).
func CosineFromSimilarity(s float64, threshold float32) float32 {
	s = math.Min(math.Max(s, 1e-12), 1-1e-12)
	return float32(math.Atanh(2*s-1)/SimilaritySlope) + threshold
}

// Round rounds x to n decimals.
func Round(x float64, n int) float64 {
	p := math.Pow(10, float64(n))
	return math.Round(x*p) / p
}

// Confidence bands a similarity score by its distance from the threshold
// (both in similarity units) with the MassHealth reference bands: more than
// 0.3 away "high", more than 0.1 "medium", else "low". The document's
// example (0.77 at threshold 0.5 is "medium") follows from them. The
// distance is rounded to 9 decimals first, so 0.6 at 0.5 is exactly 0.1
// away ("low"), not 0.09999999999999998.
func Confidence(score, threshold float64) string {
	d := Round(math.Abs(score-threshold), 9)
	switch {
	case d > 0.3:
		return "high"
	case d > 0.1:
		return "medium"
	}
	return "low"
}
