// Package eval runs Vizor's engine over a labelled data set and measures its
// accuracy: templates (cached on disk), failure to enrol, 1:1 verification,
// 1:N identification and a calibrated default threshold. The metrics live in
// bench/eval/metrics and the report writers in bench/eval/report.
package eval

import (
	"context"
	"fmt"
	"math"
	"os"
	"sort"

	"vizor/bench/eval/dataset"
	"vizor/bench/eval/metrics"
	"vizor/bench/eval/report"
	"vizor/internal/vec"
)

// Template is what the engine made of one image: the largest face's
// template and scores, or why there is none.
type Template struct {
	SHA256   string    `json:"sha256"`
	ModelID  string    `json:"model_id"`
	Vector   []float32 `json:"vector,omitempty"`
	Faces    int       `json:"faces"`
	DetScore float64   `json:"det_score"`
	Quality  float64   `json:"quality"` // -1 when not computed
	Liveness float64   `json:"liveness"`
	Err      string    `json:"error,omitempty"`
}

// Extractor turns encoded images into templates, one per image, in order.
// Per-image failures go in Template.Err.
type Extractor interface {
	ModelID() string
	Extract(ctx context.Context, images [][]byte) ([]Template, error)
}

// Config configures an evaluation.
type Config struct {
	Extractor  Extractor
	Cache      *Cache  // nil: no caching
	BatchSize  int     // images per engine call; 0: 4
	MinQuality float64 // quality gate for enrolment; 0: none
	// Threshold is the configured threshold accuracy is reported at; 0 uses
	// the calibrated one.
	Threshold    float64
	FMRTargets   []float64 // nil: 1e-2, 1e-3, 1e-4
	RequestedFMR float64   // 0: 1e-3
	Policy       metrics.CalibrationPolicy
	// Progress, when set, is called after each batch of images.
	Progress func(done, total, cached int)
}

// Extract returns one template per image, from the cache when possible.
func Extract(ctx context.Context, cfg Config, images []dataset.Image) ([]Template, int, error) {
	out := make([]Template, len(images))
	bs := cfg.BatchSize
	if bs <= 0 {
		bs = 4
	}
	type job struct {
		i    int
		data []byte
	}
	var pending []job
	cached, done := 0, 0
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		batch := make([][]byte, len(pending))
		for k, j := range pending {
			batch[k] = j.data
		}
		ts, err := cfg.Extractor.Extract(ctx, batch)
		if err != nil {
			return err
		}
		for k, j := range pending {
			t := ts[k]
			t.SHA256, t.ModelID = Key(j.data), cfg.Extractor.ModelID()
			out[j.i] = t
			if err := cfg.Cache.Put(t); err != nil {
				return fmt.Errorf("template cache: %w", err)
			}
		}
		done += len(pending)
		pending = pending[:0]
		if cfg.Progress != nil {
			cfg.Progress(done, len(images), cached)
		}
		return nil
	}
	for i, img := range images {
		data, err := os.ReadFile(img.Path)
		if err != nil {
			out[i] = Template{ModelID: cfg.Extractor.ModelID(), Err: err.Error(), Quality: -1}
			done++
			continue
		}
		if t, ok := cfg.Cache.Get(Key(data)); ok {
			out[i] = t
			cached++
			done++
			continue
		}
		pending = append(pending, job{i, data})
		if len(pending) == bs {
			if err := flush(); err != nil {
				return nil, cached, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, cached, err
	}
	if cfg.Progress != nil {
		cfg.Progress(len(images), len(images), cached)
	}
	return out, cached, nil
}

// Cosine is the cosine similarity of two templates.
func Cosine(a, b []float32) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return math.NaN()
	}
	return float64(vec.Cosine(a, b))
}

// Evaluate extracts templates for set and computes every figure. The
// returned Result lacks the fields the caller knows (command, commit,
// engine details, plots).
func Evaluate(ctx context.Context, cfg Config, set *dataset.Set) (*report.Result, error) {
	if cfg.FMRTargets == nil {
		cfg.FMRTargets = []float64{1e-2, 1e-3, 1e-4}
	}
	if cfg.RequestedFMR == 0 {
		cfg.RequestedFMR = 1e-3
	}
	if cfg.Policy == (metrics.CalibrationPolicy{}) {
		cfg.Policy = metrics.DefaultPolicy
	}
	ts, _, err := Extract(ctx, cfg, set.Images)
	if err != nil {
		return nil, err
	}
	r := &report.Result{
		Dataset: report.DatasetInfo{Root: set.Root, Source: set.Source, Images: len(set.Images), Identities: len(set.Identities()), Skipped: set.Skipped},
		Engine:  report.EngineInfo{RecognizerID: cfg.Extractor.ModelID()},
	}

	// Enrolment.
	ok := make([]bool, len(ts))
	en := &r.Enrolment
	en.MinQuality = cfg.MinQuality
	for i, t := range ts {
		img := set.Images[i]
		s := report.Sample{File: img.File, Identity: img.Identity, Faces: t.Faces, DetScore: t.DetScore, Quality: t.Quality, Liveness: t.Liveness, Cached: false}
		en.Attempted++
		switch {
		case t.Err != "":
			en.Failures = append(en.Failures, report.Failure{File: img.File, Reason: t.Err})
		case len(t.Vector) == 0:
			en.Failures = append(en.Failures, report.Failure{File: img.File, Reason: "no template"})
		case cfg.MinQuality > 0 && t.Quality >= 0 && t.Quality < cfg.MinQuality:
			en.Failures = append(en.Failures, report.Failure{File: img.File, Reason: fmt.Sprintf("quality %.3f below the gate %.2f", t.Quality, cfg.MinQuality)})
		default:
			ok[i] = true
			s.Enrolled = true
			en.Enrolled++
			if r.Engine.TemplateDim == 0 {
				r.Engine.TemplateDim = len(t.Vector)
			}
		}
		en.Samples = append(en.Samples, s)
	}
	en.FTE = float64(en.Attempted-en.Enrolled) / math.Max(1, float64(en.Attempted))
	for _, g := range []float64{0.3, 0.45, 0.55} {
		gf := report.GateFTE{Gate: g}
		for i, t := range ts {
			if !ok[i] || (t.Quality >= 0 && t.Quality < g) {
				gf.Rejected = append(gf.Rejected, set.Images[i].File)
			}
		}
		gf.FTE = float64(len(gf.Rejected)) / math.Max(1, float64(en.Attempted))
		en.AtGates = append(en.AtGates, gf)
	}

	// Verification.
	var pairs []report.PairScore
	skipped := 0
	for _, p := range set.ComparisonPairs() {
		if !ok[p.A] || !ok[p.B] {
			skipped++
			continue
		}
		pairs = append(pairs, report.PairScore{
			A: set.Images[p.A].File, B: set.Images[p.B].File,
			Score:   round6(Cosine(ts[p.A].Vector, ts[p.B].Vector)),
			Genuine: p.Genuine,
		})
	}
	scores := report.Scores(pairs)
	r.Calibration = metrics.Calibrate(scores, cfg.Policy)
	thr := cfg.Threshold
	if thr == 0 {
		thr = r.Calibration.Threshold
	}
	r.Verification = report.NewVerification(pairs, report.VerificationOptions{
		Threshold: thr, FMRTargets: cfg.FMRTargets, RequestedFMR: cfg.RequestedFMR, Hardest: 8,
	})
	r.Verification.SkippedPairs = skipped

	// Identification needs identities on every enrolled image.
	if labelled(set, ok) {
		r.Identification = identify(set, ts, ok, thr)
	}
	r.Caveats = caveats(r)
	return r, nil
}

// round6 keeps scores readable in the JSON; 1e-6 is far below any
// threshold's precision.
func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

func labelled(set *dataset.Set, ok []bool) bool {
	n := 0
	for i, img := range set.Images {
		if !ok[i] {
			continue
		}
		if img.Identity == "" {
			return false
		}
		n++
	}
	return n > 1
}

// identify runs the two 1:N protocols.
//
// Closed set: each identity's first enrolled image (by file name) is its
// gallery entry; every other enrolled image is a mated probe.
//
// Watchlist: the identities with at least two enrolled images are on the
// watchlist (first image enrolled, the others are mated probes); every image
// of the remaining identities is a non-mated probe.
func identify(set *dataset.Set, ts []Template, ok []bool, thr float64) *report.Identification {
	byID := map[string][]int{}
	for i, img := range set.Images {
		if ok[i] {
			byID[img.Identity] = append(byID[img.Identity], i)
		}
	}
	ids := make([]string, 0, len(byID))
	for id, idx := range byID {
		sort.Slice(idx, func(a, b int) bool { return set.Images[idx[a]].File < set.Images[idx[b]].File })
		ids = append(ids, id)
	}
	sort.Strings(ids)
	search := func(probe int, gallery []string, mate string) metrics.Search {
		s := metrics.Search{Probe: set.Images[probe].File, Mate: mate, Scores: map[string]float64{}}
		for _, g := range gallery {
			s.Scores[g] = round6(Cosine(ts[probe].Vector, ts[byID[g][0]].Vector))
		}
		return s
	}
	var closed []metrics.Search
	for _, id := range ids {
		for _, p := range byID[id][1:] {
			closed = append(closed, search(p, ids, id))
		}
	}
	var watch, others []string
	for _, id := range ids {
		if len(byID[id]) >= 2 {
			watch = append(watch, id)
		} else {
			others = append(others, id)
		}
	}
	var open []metrics.Search
	for _, id := range watch {
		for _, p := range byID[id][1:] {
			open = append(open, search(p, watch, id))
		}
	}
	for _, id := range others {
		for _, p := range byID[id] {
			open = append(open, search(p, watch, ""))
		}
	}
	closedProto := fmt.Sprintf("Closed set: each of the %d identities enrols its first image by file name; the other %d enrolled images probe the whole gallery. "+
		"Rank counts ties against the mate.", len(ids), len(closed))
	wlProto := fmt.Sprintf("Watchlist: the %d identities with two or more enrolled images are on the watchlist (first image enrolled); "+
		"their other images are mated probes, and the images of the %d identities with a single image are non-mated probes.", len(watch), len(others))
	return report.NewIdentification(closedProto, len(ids), closed, wlProto, watch, open, thr)
}

func caveats(r *report.Result) []string {
	var cs []string
	v := &r.Verification
	if v.ImpostorPairs < 10000 || v.GenuinePairs < 1000 {
		cs = append(cs, fmt.Sprintf("This is a small set: %d images, %d genuine and %d impostor comparisons. "+
			"One comparison moves FNMR by %.1f points and FMR by %.2f points; rates are rough estimates, not guarantees.",
			r.Dataset.Images, v.GenuinePairs, v.ImpostorPairs, 100/math.Max(1, float64(v.GenuinePairs)), 100/math.Max(1, float64(v.ImpostorPairs))))
	}
	for _, a := range v.AtFMR {
		if !a.Attainable {
			cs = append(cs, fmt.Sprintf("FNMR at FMR %g is not reported: %s.", a.Target, a.Note))
		}
	}
	if v.Genuine.N > 0 && v.Impostor.N > 0 && v.Genuine.Min <= v.Impostor.Max {
		cs = append(cs, fmt.Sprintf("The distributions overlap: the lowest genuine score (%.3f) is below the highest impostor score (%.3f), so no threshold separates them; "+
			"the default trades the two errors as described under \"Default threshold\".", v.Genuine.Min, v.Impostor.Max))
	}
	return cs
}
