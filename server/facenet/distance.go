package facenet

import (
	"math"

	"vizor/server/compat"
)

// distance is the cosine distance 1 - score, rounded to 6 decimals, in
// [0, 2]. Two templates of one image score a hair above 1 in float32, which
// rounds to -0: JSON clients print that as "-0", and a distance is never
// negative, so it is clamped (math.Max(0, -0) is +0).
func distance(score float32) float64 {
	return math.Min(2, math.Max(0, compat.Round(1-float64(score), 6)))
}
