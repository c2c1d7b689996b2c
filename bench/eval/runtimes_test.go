package eval

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"vizor/bench/eval/dataset"
	"vizor/bench/eval/report"
	"vizor/bindings"
	"vizor/internal/faceset"
	"vizor/internal/runtimes"
)

// TestRuntimesAgree runs the whole shared photo set through the engine
// twice, every net on OpenCV DNN and then every net on ONNX Runtime, and
// holds the two to issue 14's equivalence: each image's template agrees to
// cosine >= 0.9999 and its PAD score to 0.01, and the accuracy report (AUC,
// FNMR at FMR 1%, rank-1) is the same.
func TestRuntimesAgree(t *testing.T) {
	dir, models := faceset.TestDirs(t)
	set, err := dataset.Load(filepath.Join(dir, "faces"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	results := map[string]*report.Result{}
	templates := map[string][]Template{}
	for _, rt := range runtimes.Names {
		manifest, err := runtimes.WriteManifest(filepath.Join(models, "manifest.json"), t.TempDir(), rt)
		if err != nil {
			t.Fatal(err)
		}
		eng, err := bindings.Open(bindings.Config{ModelsDir: models, ManifestPath: manifest, Workers: 1, ThreadsPerWorker: 2})
		if err != nil {
			t.Fatalf("%s: %v", rt, err)
		}
		cfg := Config{Extractor: EngineExtractor{Engine: eng}, Cache: &Cache{Dir: t.TempDir(), ModelID: eng.Info().RecognizerID}}
		ts, _, err := Extract(ctx, cfg, set.Images)
		if err != nil {
			eng.Close()
			t.Fatalf("%s: %v", rt, err)
		}
		templates[rt] = ts
		r, err := Evaluate(ctx, cfg, set)
		eng.Close()
		if err != nil {
			t.Fatalf("%s: %v", rt, err)
		}
		results[rt] = r
	}
	a, b := templates["opencv"], templates["ort"]
	minCos, maxLive := 1.0, 0.0
	for i := range a {
		if (a[i].Err == "") != (b[i].Err == "") || a[i].Faces != b[i].Faces {
			t.Errorf("%s: opencv %d faces %q, ort %d faces %q", set.Images[i].File, a[i].Faces, a[i].Err, b[i].Faces, b[i].Err)
			continue
		}
		if a[i].Err != "" {
			continue
		}
		c := Cosine(a[i].Vector, b[i].Vector)
		minCos = math.Min(minCos, c)
		if c < 0.9999 {
			t.Errorf("%s: template cosine %.6f between the runtimes, want >= 0.9999", set.Images[i].File, c)
		}
		if a[i].Liveness >= 0 || b[i].Liveness >= 0 {
			maxLive = math.Max(maxLive, math.Abs(a[i].Liveness-b[i].Liveness))
		}
	}
	if maxLive > 0.01 {
		t.Errorf("PAD scores differ by up to %.4f between the runtimes, want <= 0.01", maxLive)
	}
	ro, rr := results["opencv"], results["ort"]
	t.Logf("%d images: min template cosine %.6f, max PAD difference %.4f", len(a), minCos, maxLive)
	t.Logf("AUC %.4f / %.4f, rank-1 %.3f / %.3f (opencv / ort)", ro.Verification.AUC, rr.Verification.AUC,
		ro.Identification.Rank1, rr.Identification.Rank1)
	if math.Abs(ro.Verification.AUC-rr.Verification.AUC) > 1e-3 {
		t.Errorf("AUC %.4f on opencv, %.4f on ort", ro.Verification.AUC, rr.Verification.AUC)
	}
	for k := range ro.Verification.AtFMR {
		x, y := ro.Verification.AtFMR[k], rr.Verification.AtFMR[k]
		if x.Target == 1e-2 && x.FNMR != y.FNMR {
			t.Errorf("FNMR at FMR 1%%: %.4f on opencv, %.4f on ort", x.FNMR, y.FNMR)
		}
	}
	if ro.Identification.Rank1 != rr.Identification.Rank1 {
		t.Errorf("rank-1 %.4f on opencv, %.4f on ort", ro.Identification.Rank1, rr.Identification.Rank1)
	}
}
