package metrics

import (
	"math"
	"sort"
)

// Search is one 1:N search of a probe against a gallery: the best score of
// the probe against each enrolled identity. Mate is the probe's identity
// when it is enrolled (a mated search), "" when it is not (non-mated).
type Search struct {
	Probe  string             `json:"probe"`
	Mate   string             `json:"mate,omitempty"`
	Scores map[string]float64 `json:"scores"`
}

// Candidate is one gallery identity with its score for a probe.
type Candidate struct {
	ID    string  `json:"id"`
	Score float64 `json:"score"`
}

// Ranked returns the candidates best first (ties by identity, for a stable
// order).
func (s Search) Ranked() []Candidate {
	c := make([]Candidate, 0, len(s.Scores))
	for id, v := range s.Scores {
		c = append(c, Candidate{id, v})
	}
	sort.Slice(c, func(i, j int) bool {
		if c[i].Score != c[j].Score {
			return c[i].Score > c[j].Score
		}
		return c[i].ID < c[j].ID
	})
	return c
}

// Rank is the mate's rank, counting ties against it: 1 + the number of other
// identities scoring at least as high. 0 for a non-mated search or a mate
// missing from Scores.
func (s Search) Rank() int {
	if s.Mate == "" {
		return 0
	}
	m, ok := s.Scores[s.Mate]
	if !ok {
		return 0
	}
	r := 1
	for id, v := range s.Scores {
		if id != s.Mate && v >= m {
			r++
		}
	}
	return r
}

// IdentificationRate is the fraction of mated searches whose mate is at rank
// k or better (the CMC at k). Non-mated searches are ignored.
func IdentificationRate(searches []Search, k int) float64 {
	n, hit := 0, 0
	for _, s := range searches {
		if s.Mate == "" {
			continue
		}
		n++
		if r := s.Rank(); r >= 1 && r <= k {
			hit++
		}
	}
	return ratio(hit, n)
}

// WatchlistPoint is the open-set (watchlist) operating point at Threshold,
// with a candidate list of one (rank 1):
//   - FNIR: mated searches whose mate is not returned at rank 1 with a score
//     >= Threshold, over mated searches;
//   - FPIR: non-mated searches whose best candidate scores >= Threshold, over
//     non-mated searches.
type WatchlistPoint struct {
	Threshold float64 `json:"threshold"`
	FPIR      float64 `json:"fpir"`
	FNIR      float64 `json:"fnir"`
	Mated     int     `json:"mated"`
	NonMated  int     `json:"non_mated"`
}

// Watchlist returns the watchlist operating point at threshold t.
func Watchlist(searches []Search, t float64) WatchlistPoint {
	p := WatchlistPoint{Threshold: t}
	miss, alarm := 0, 0
	for _, s := range searches {
		if s.Mate != "" {
			p.Mated++
			if s.Rank() != 1 || s.Scores[s.Mate] < t {
				miss++
			}
			continue
		}
		p.NonMated++
		if best, ok := top(s); ok && best >= t {
			alarm++
		}
	}
	p.FNIR = ratio(miss, p.Mated)
	p.FPIR = ratio(alarm, p.NonMated)
	return p
}

func top(s Search) (float64, bool) {
	best, ok := math.Inf(-1), false
	for _, v := range s.Scores {
		if v > best {
			best, ok = v, true
		}
	}
	return best, ok
}

// WatchlistCurve returns the watchlist operating points at every threshold
// where FPIR or FNIR can change (each search's top and mate scores), by
// ascending threshold, then +Inf.
func WatchlistCurve(searches []Search) []WatchlistPoint {
	var ts []float64
	for _, s := range searches {
		if b, ok := top(s); ok {
			ts = append(ts, b)
		}
		if m, ok := s.Scores[s.Mate]; ok && s.Mate != "" {
			ts = append(ts, m)
		}
	}
	sort.Float64s(ts)
	var out []WatchlistPoint
	for i, t := range ts {
		if i > 0 && ts[i-1] == t {
			continue
		}
		out = append(out, Watchlist(searches, t))
	}
	return append(out, Watchlist(searches, math.Inf(1)))
}
