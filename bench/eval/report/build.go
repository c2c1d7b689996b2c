package report

import (
	"sort"

	"vizor/bench/eval/metrics"
)

// Scores splits scored pairs into genuine and impostor score lists.
func Scores(pairs []PairScore) metrics.Scores {
	var s metrics.Scores
	for _, p := range pairs {
		if p.Genuine {
			s.Genuine = append(s.Genuine, p.Score)
		} else {
			s.Impostor = append(s.Impostor, p.Score)
		}
	}
	return s
}

// VerificationOptions are the operating points a report asks about.
type VerificationOptions struct {
	Threshold    float64   // the configured threshold to report accuracy at
	FMRTargets   []float64 // FNMR is reported at each (e.g. 1e-2, 1e-3, 1e-4)
	RequestedFMR float64   // the FMR whose threshold is reported
	Hardest      int       // how many lowest-genuine / highest-impostor pairs to list
}

// NewVerification computes the 1:1 figures from scored pairs.
func NewVerification(pairs []PairScore, o VerificationOptions) Verification {
	s := Scores(pairs)
	v := Verification{
		GenuinePairs:  len(s.Genuine),
		ImpostorPairs: len(s.Impostor),
		Genuine:       metrics.Summarize(s.Genuine),
		Impostor:      metrics.Summarize(s.Impostor),
		AUC:           s.AUC(),
		EER:           s.EER(),
		Requested:     s.AtFMR(o.RequestedFMR),
		Threshold:     o.Threshold,
		AtThreshold:   s.At(o.Threshold),
		Accuracy:      s.Accuracy(o.Threshold),
		Curve:         s.Curve(),
		Pairs:         pairs,
	}
	for _, t := range o.FMRTargets {
		v.AtFMR = append(v.AtFMR, s.AtFMR(t))
	}
	var gen, imp []PairScore
	for _, p := range pairs {
		if p.Genuine {
			gen = append(gen, p)
		} else {
			imp = append(imp, p)
		}
	}
	sort.SliceStable(gen, func(i, j int) bool { return gen[i].Score < gen[j].Score })
	sort.SliceStable(imp, func(i, j int) bool { return imp[i].Score > imp[j].Score })
	v.LowestGenuine = gen[:min(o.Hardest, len(gen))]
	v.HighestImpostor = imp[:min(o.Hardest, len(imp))]
	return v
}

// NewIdentification computes the 1:N figures from closed-set searches (every
// probe's identity enrolled) and watchlist searches (some not).
func NewIdentification(protocol string, gallery int, closed []metrics.Search, wlProtocol string, enrolled []string, open []metrics.Search, threshold float64) *Identification {
	id := &Identification{
		Protocol:    protocol,
		GallerySize: gallery,
		Rank1:       metrics.IdentificationRate(closed, 1),
		Rank5:       metrics.IdentificationRate(closed, 5),
		Searches:    closed,
	}
	for _, s := range closed {
		if s.Mate == "" {
			continue
		}
		id.MatedProbes++
		if r := s.Rank(); r != 1 {
			top := s.Ranked()[0]
			if top.ID == s.Mate && len(s.Ranked()) > 1 {
				top = s.Ranked()[1] // a tie at the top: name the rival
			}
			id.Misses = append(id.Misses, Miss{Probe: s.Probe, Mate: s.Mate, Rank: r, Top: top.ID, Score: top.Score, Mated: s.Scores[s.Mate]})
		}
	}
	at := metrics.Watchlist(open, threshold)
	id.Watchlist = Watchlist{
		Protocol:    wlProtocol,
		Enrolled:    enrolled,
		Mated:       at.Mated,
		NonMated:    at.NonMated,
		AtThreshold: at,
		Curve:       metrics.WatchlistCurve(open),
	}
	return id
}
