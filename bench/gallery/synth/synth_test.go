package synth

import (
	"math"
	"testing"

	"vizor/internal/vec"
)

func TestUnitAndNear(t *testing.T) {
	a, b := Unit(7, 512), Unit(7, 512)
	if vec.Cosine(a, b) < 0.99999 {
		t.Fatal("Unit is not a function of its seed")
	}
	if c := vec.Cosine(a, Unit(8, 512)); math.Abs(float64(c)) > 0.3 {
		t.Fatalf("two seeds give cosine %v", c)
	}
	for _, c := range []float64{0.2, 0.6, 0.95} {
		if got := vec.Cosine(a, Near(a, 99, c)); math.Abs(float64(got)-c) > 1e-4 {
			t.Errorf("Near at %v: cosine %v", c, got)
		}
	}
}
