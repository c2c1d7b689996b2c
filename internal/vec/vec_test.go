package vec

import (
	"math"
	"math/rand"
	"testing"
)

func TestCosine(t *testing.T) {
	cases := []struct {
		a, b []float32
		want float64
	}{
		{[]float32{1, 0}, []float32{1, 0}, 1},
		{[]float32{1, 0}, []float32{0, 2}, 0},
		{[]float32{1, 1}, []float32{-3, -3}, -1},
		{[]float32{3, 4}, []float32{4, 3}, 24.0 / 25},
		{[]float32{1}, []float32{1, 2}, 0},
		{nil, nil, 0},
		{[]float32{0, 0}, []float32{1, 0}, 0},
	}
	for _, c := range cases {
		if got := Cosine(c.a, c.b); math.Abs(float64(got)-c.want) > 1e-6 {
			t.Errorf("Cosine(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestRandomUnitIsUnitAndDeterministic(t *testing.T) {
	a := RandomUnit(rand.New(rand.NewSource(7)), 512)
	b := RandomUnit(rand.New(rand.NewSource(7)), 512)
	c := RandomUnit(rand.New(rand.NewSource(8)), 512)
	var n float64
	for _, x := range a {
		n += float64(x) * float64(x)
	}
	if len(a) != 512 || math.Abs(n-1) > 1e-5 {
		t.Fatalf("len %d, norm² %v", len(a), n)
	}
	if Cosine(a, b) < 0.99999 || Cosine(a, c) > 0.3 {
		t.Fatalf("same seed %v, other seed %v", Cosine(a, b), Cosine(a, c))
	}
}
