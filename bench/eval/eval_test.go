package eval

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"vizor/bench/eval/dataset"
)

// fakeExtractor maps each image's bytes (a name) to a fixed template.
type fakeExtractor struct {
	vecs  map[string][]float32
	calls int
}

func (f *fakeExtractor) ModelID() string { return "fake-1" }

func (f *fakeExtractor) Extract(_ context.Context, images [][]byte) ([]Template, error) {
	f.calls++
	out := make([]Template, len(images))
	for i, b := range images {
		if v, ok := f.vecs[string(b)]; ok {
			out[i] = Template{Vector: v, Faces: 1, Quality: 0.9}
		} else {
			out[i] = Template{Err: "no face detected", Quality: -1}
		}
	}
	return out, nil
}

func TestEvaluateFake(t *testing.T) {
	d := t.TempDir()
	files := map[string]string{"a1.jpg": "a1", "a2.jpg": "a2", "b1.jpg": "b1", "b2.jpg": "b2", "c1.jpg": "c1", "x.jpg": "blank"}
	for f, content := range files {
		if err := os.WriteFile(filepath.Join(d, f), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	labels := "file\tidentity\na1.jpg\ta\na2.jpg\ta\nb1.jpg\tb\nb2.jpg\tb\nc1.jpg\tc\nx.jpg\tx\n"
	if err := os.WriteFile(filepath.Join(d, "LABELS.tsv"), []byte(labels), 0o644); err != nil {
		t.Fatal(err)
	}
	fx := &fakeExtractor{vecs: map[string][]float32{
		"a1": {1, 0, 0}, "a2": {0.9, 0.1, 0}, "b1": {0, 1, 0}, "b2": {0.1, 0.9, 0.1}, "c1": {0, 0, 1},
	}}
	set, err := dataset.Load(d)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Extractor: fx, Cache: &Cache{Dir: t.TempDir(), ModelID: "fake-1"}, BatchSize: 2}
	r, err := Evaluate(context.Background(), cfg, set)
	if err != nil {
		t.Fatal(err)
	}
	if r.Enrolment.Attempted != 6 || r.Enrolment.Enrolled != 5 || len(r.Enrolment.Failures) != 1 {
		t.Errorf("enrolment %+v", r.Enrolment)
	}
	v := r.Verification
	if v.GenuinePairs != 2 || v.ImpostorPairs != 8 || v.SkippedPairs != 5 || v.AUC != 1 {
		t.Errorf("verification: %d genuine %d impostor %d skipped AUC %v", v.GenuinePairs, v.ImpostorPairs, v.SkippedPairs, v.AUC)
	}
	id := r.Identification
	if id == nil || id.Rank1 != 1 || id.MatedProbes != 2 || id.GallerySize != 3 {
		t.Fatalf("identification %+v", id)
	}
	if wl := id.Watchlist; len(wl.Enrolled) != 2 || wl.Mated != 2 || wl.NonMated != 1 {
		t.Errorf("watchlist %+v", wl)
	}
	// A second run is served from the cache.
	calls := fx.calls
	if _, cached, err := Extract(context.Background(), cfg, set.Images); err != nil || cached != 6 || fx.calls != calls {
		t.Errorf("second extract: cached %d, calls %d->%d, err %v", cached, calls, fx.calls, err)
	}
}
