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

// NormalSource is what RandomUnit draws from: *rand.Rand of math/rand and
// of math/rand/v2 both qualify.
type NormalSource interface{ NormFloat64() float64 }

// RandomUnit is a random unit vector of dim floats, uniform on the sphere
// (normal draws, L2-normalised): the synthetic templates of tests and
// benchmarks. Deterministic for a seeded source.
func RandomUnit(r NormalSource, dim int) []float32 {
	raw := make([]float64, dim)
	var n float64
	for i := range raw {
		raw[i] = r.NormFloat64()
		n += raw[i] * raw[i]
	}
	inv := 1 / math.Sqrt(n)
	v := make([]float32, dim)
	for i, x := range raw {
		v[i] = float32(x * inv)
	}
	return v
}
