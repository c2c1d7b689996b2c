// Package vec holds the template arithmetic shared by the engine bindings,
// the service layer and the evaluator, in pure Go (no cgo), so each uses
// the same definition of a score.
package vec

import "math"

// Cosine returns the cosine similarity of two vectors: 0 when either is
// empty or zero, or when their lengths differ. Templates from the engine are
// L2-normalised, so this is their inner product; it still normalises so that
// foreign vectors compare correctly. Sums run in float64.
func Cosine(a, b []float32) float32 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return float32(dot / math.Sqrt(na*nb))
}
