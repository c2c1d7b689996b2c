package eval

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"vizor/bench/eval/dataset"
	"vizor/bindings"
	"vizor/internal/faceset"
)

// TestFacesAccuracy runs the real engine over the shared labelled faces
// (../shared/data/faces, or $VIZOR_SHARED_DATA/faces), leaving out the full
// profile jimin3.jpg and the group photo, and checks the floor the engine
// must hold: AUC >= 0.95 over all same/different pairs, and a rank-1 floor
// of 13/15 with each person's first photo (by file name) enrolled and every
// other photo probing (the goal, 100%, is out of reach of the shipped
// recognizer: docs/accuracy/naive-sweep.md).
func TestFacesAccuracy(t *testing.T) {
	dir, models := faceset.TestDirs(t)
	eng, err := bindings.Open(bindings.Config{ModelsDir: models})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()

	set, err := dataset.Load(filepath.Join(dir, "faces"))
	if err != nil {
		t.Fatal(err)
	}
	set.Exclude([]string{"jimin3.jpg"}, "full profile, left out of the floor test")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := Evaluate(ctx, Config{
		Extractor: EngineExtractor{Engine: eng},
		Cache:     &Cache{Dir: t.TempDir(), ModelID: eng.Info().RecognizerID},
	}, set)
	if err != nil {
		t.Fatal(err)
	}
	v := r.Verification
	t.Logf("%d images, FTE %.3f; %d genuine / %d impostor pairs; AUC %.4f, EER %.4f at %.3f; genuine min %.3f, impostor max %.3f",
		r.Enrolment.Attempted, r.Enrolment.FTE, v.GenuinePairs, v.ImpostorPairs, v.AUC, v.EER.FMR, v.EER.Threshold, v.Genuine.Min, v.Impostor.Max)
	if r.Enrolment.Enrolled != r.Enrolment.Attempted {
		t.Errorf("failures to enrol: %+v", r.Enrolment.Failures)
	}
	if v.GenuinePairs == 0 || v.ImpostorPairs == 0 {
		t.Fatalf("no pairs: %+v", v)
	}
	if v.AUC < 0.95 {
		t.Errorf("AUC = %.4f, want >= 0.95", v.AUC)
	}
	id := r.Identification
	if id == nil {
		t.Fatal("no identification results")
	}
	t.Logf("rank-1 %.3f over %d mated probes, gallery %d", id.Rank1, id.MatedProbes, id.GallerySize)
	// The goal is 1 (every probe right); the shipped recognizer reaches 14 of
	// 15, with near-ties deciding several probes (docs/accuracy/naive-sweep.md),
	// so this floor (13 of 15) catches regressions until a stronger model is
	// dropped in.
	t.Logf("misses: %+v", id.Misses)
	if id.Rank1 < 0.86 {
		t.Errorf("rank-1 = %.4f, want >= 0.86", id.Rank1)
	}
}
