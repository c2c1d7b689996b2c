// Package synth makes the gallery benchmarks' synthetic templates: unit
// vectors that are a pure function of a seed (so a template can be made
// again from its index, without storing it) and probes at an exact cosine
// to a stored one.
package synth

import (
	"math"
	"math/rand/v2"

	"vizor/internal/vec"
)

// Splitmix is the SplitMix64 finaliser: a well-mixed 64-bit hash of x.
func Splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Unit is the random unit vector of dimension d for seed.
func Unit(seed uint64, d int) []float32 {
	return vec.RandomUnit(rand.New(rand.NewPCG(Splitmix(seed), Splitmix(seed^0xabcdef))), d)
}

// Near is v (a unit vector) moved to cosine c with it exactly, along a
// random direction drawn from seed.
func Near(v []float32, seed uint64, c float64) []float32 {
	noise := Unit(seed|1<<62, len(v))
	// Remove noise's component along v so the cosine is exactly c.
	var d float32
	for i := range v {
		d += v[i] * noise[i]
	}
	var n float64
	for i := range noise {
		noise[i] -= d * v[i]
		n += float64(noise[i]) * float64(noise[i])
	}
	a, b := float32(c), float32(math.Sqrt(1-c*c)/math.Sqrt(n))
	out := make([]float32, len(v))
	for i := range v {
		out[i] = a*v[i] + b*noise[i]
	}
	return out
}
