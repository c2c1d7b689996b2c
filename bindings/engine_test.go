package bindings_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"vizor/bindings"
	"vizor/internal/faceset"
)

// One engine for the package: loading nine models costs about a second.
var (
	engOnce sync.Once
	eng     *bindings.Engine
	engErr  error
)

func engine(t testing.TB) *bindings.Engine {
	t.Helper()
	engOnce.Do(func() {
		eng, engErr = bindings.Open(bindings.Config{ModelsDir: modelsDir(), VerifyChecksums: true})
	})
	if engErr != nil {
		t.Fatalf("open engine: %v", engErr)
	}
	return eng
}

func modelsDir() string {
	if d := os.Getenv("VIZOR_MODELS_DIR"); d != "" {
		return d
	}
	root, err := faceset.RepoRoot()
	if err != nil {
		return "../models"
	}
	return filepath.Join(root, "models")
}

func photos(t testing.TB) []faceset.Photo {
	t.Helper()
	ps, err := faceset.Photos()
	if err != nil {
		faceset.Missing(t, "labelled photos", err)
	}
	return ps
}

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// analyzed caches the default analysis of every labelled photo: several
// tests look at the same results.
var (
	analyzedOnce sync.Once
	analyzedRes  map[string]bindings.Result
)

func analyzedPhotos(t *testing.T) map[string]bindings.Result {
	t.Helper()
	ps := photos(t)
	e := engine(t)
	analyzedOnce.Do(func() {
		analyzedRes = map[string]bindings.Result{}
		for _, p := range ps {
			r, err := e.Analyze(context.Background(), [][]byte{read(t, p.Path)}, bindings.Options{})
			if err != nil {
				t.Fatalf("%s: %v", p.File, err)
			}
			analyzedRes[p.File] = r[0]
		}
	})
	return analyzedRes
}

func TestInfo(t *testing.T) {
	info := engine(t).Info()
	if info.TemplateDim != 512 || info.RecognizerID == "" || info.Backend != "cpu" {
		t.Fatalf("unexpected info: %+v", info)
	}
	if info.ABIVersion != bindings.ABIVersion || bindings.ABIVersion != 3 || info.OpenCVVersion == "" || info.Workers <= 0 {
		t.Fatalf("unexpected info: %+v", info)
	}
	roles := map[string]bool{}
	for _, m := range info.Models {
		if !m.Loaded {
			t.Errorf("model %s not loaded", m.Name)
		}
		roles[m.Role] = true
	}
	for _, r := range []string{"detector", "landmarker", "recognizer", "liveness"} {
		if !roles[r] {
			t.Errorf("no %s model", r)
		}
	}
}

func TestFaceCountsMatchLabels(t *testing.T) {
	res := analyzedPhotos(t)
	for _, p := range photos(t) {
		r := res[p.File]
		if r.Err != nil {
			t.Errorf("%s: %v", p.File, r.Err)
			continue
		}
		if len(r.Faces) != p.Faces {
			var desc []string
			for _, f := range r.Faces {
				desc = append(desc, f.String())
			}
			t.Errorf("%s: %d faces, want %d (%s): %v", p.File, len(r.Faces), p.Faces, p.Note, desc)
		}
	}
}

func TestFacesCarryEverything(t *testing.T) {
	r := analyzedPhotos(t)["luda.jpg"]
	if r.Err != nil || len(r.Faces) == 0 {
		t.Fatalf("luda.jpg: %v", r.Err)
	}
	f := r.Faces[0]
	var norm float64
	for _, v := range f.Template {
		norm += float64(v) * float64(v)
	}
	if len(f.Template) != 512 || math.Abs(norm-1) > 1e-3 {
		t.Errorf("template: len %d, norm %.4f", len(f.Template), math.Sqrt(norm))
	}
	if f.Quality == nil || f.Quality.Score <= 0 || f.Quality.Score > 1 {
		t.Errorf("quality: %+v", f.Quality)
	}
	if f.Liveness < 0 || f.Liveness > 1 {
		t.Errorf("liveness %v", f.Liveness)
	}
	if len(f.Landmarks68) != 68 || len(f.Landmarks5) != 5 {
		t.Errorf("landmarks: %d/%d", len(f.Landmarks68), len(f.Landmarks5))
	}
	// Landmarks must sit inside (or very near) the box.
	for _, p := range f.Landmarks5 {
		if p.X < f.Box.X-0.1*f.Box.W || p.X > f.Box.X+1.1*f.Box.W || p.Y < f.Box.Y-0.1*f.Box.H || p.Y > f.Box.Y+1.1*f.Box.H {
			t.Errorf("landmark %v outside box %v", p, f.Box)
		}
	}
}

func TestAttributes(t *testing.T) {
	e := engine(t)
	rs, err := e.Analyze(context.Background(), [][]byte{read(t, photoPath(t, "luda.jpg"))},
		bindings.Options{Stages: bindings.StageAll, Attributes: bindings.AttrAll})
	if err != nil || rs[0].Err != nil {
		t.Fatal(err, rs[0].Err)
	}
	a := rs[0].Faces[0].Attributes
	if a == nil {
		t.Fatal("no attributes")
	}
	if a.Age < 5 || a.Age > 80 {
		t.Errorf("age %v", a.Age)
	}
	if a.Gender != "female" && a.Gender != "male" {
		t.Errorf("gender %q (%.2f)", a.Gender, a.GenderScore)
	}
	if a.Pose == nil || math.Abs(float64(a.Pose.Yaw)) > 45 {
		t.Errorf("pose %+v", a.Pose)
	}
	if a.Expression == "" || len(a.ExpressionScores) != 7 {
		t.Errorf("expression %q %v", a.Expression, a.ExpressionScores)
	}
	if a.LeftEyeOpen < 0 || a.RightEyeOpen < 0 {
		t.Errorf("eyes %v %v", a.LeftEyeOpen, a.RightEyeOpen)
	}
	// Attributes not asked for stay absent.
	rs, _ = e.Analyze(context.Background(), [][]byte{read(t, photoPath(t, "luda.jpg"))}, bindings.Options{})
	if rs[0].Faces[0].Attributes != nil {
		t.Errorf("attributes computed without being asked: %+v", rs[0].Faces[0].Attributes)
	}
}

// TestGenderOverTheSet checks the gender head over every face of the set:
// all 24 people in it are women. The SSR-Net head is weak on single faces
// (it calls luda.jpg male at 0.59), so the check is on the whole set.
func TestGenderOverTheSet(t *testing.T) {
	e := engine(t)
	female, n := 0, 0
	for _, p := range photos(t) {
		rs, err := e.Analyze(context.Background(), [][]byte{read(t, p.Path)},
			bindings.Options{Stages: bindings.StageDetect | bindings.StageAttributes, Attributes: bindings.AttrGender})
		if err != nil || rs[0].Err != nil {
			t.Fatalf("%s: %v %v", p.File, err, rs[0].Err)
		}
		for _, f := range rs[0].Faces {
			n++
			if f.Attributes != nil && f.Attributes.Gender == "female" {
				female++
			}
		}
	}
	t.Logf("%d of %d faces called female", female, n)
	if float64(female) < 0.8*float64(n) {
		t.Errorf("only %d of %d faces of women called female", female, n)
	}
}

func photoPath(t testing.TB, name string) string {
	t.Helper()
	d, err := faceset.Dir()
	if err != nil {
		faceset.Missing(t, "shared data", err)
	}
	return filepath.Join(d, "faces", name)
}

type labelled struct {
	file, id string
	tmpl     []float32
}

// recognitionSet is every single-identity photo except the full profile,
// with its largest face's template, in file-name order.
func recognitionSet(t *testing.T) []labelled {
	res := analyzedPhotos(t)
	var set []labelled
	for _, p := range photos(t) {
		if p.Group() || p.Profile() {
			continue
		}
		r := res[p.File]
		if r.Err != nil || len(r.Faces) == 0 || r.Faces[0].Template == nil {
			t.Fatalf("%s: no template (%v)", p.File, r.Err)
		}
		set = append(set, labelled{p.File, p.Identity, r.Faces[0].Template})
	}
	sort.Slice(set, func(i, j int) bool { return set[i].file < set[j].file })
	return set
}

func TestRecognitionAUC(t *testing.T) {
	set := recognitionSet(t)
	var genuine, impostor []float64
	for i := range set {
		for j := i + 1; j < len(set); j++ {
			s := float64(bindings.Cosine(set[i].tmpl, set[j].tmpl))
			if set[i].id == set[j].id {
				genuine = append(genuine, s)
			} else {
				impostor = append(impostor, s)
			}
		}
	}
	// AUC = P(genuine > impostor), ties counting one half.
	var wins float64
	for _, g := range genuine {
		for _, im := range impostor {
			switch {
			case g > im:
				wins++
			case g == im:
				wins += 0.5
			}
		}
	}
	auc := wins / float64(len(genuine)*len(impostor))
	t.Logf("pairs: %d genuine, %d impostor; AUC %.4f", len(genuine), len(impostor), auc)
	t.Logf("genuine  %s", summary(genuine))
	t.Logf("impostor %s", summary(impostor))
	if auc < 0.95 {
		t.Errorf("AUC %.4f < 0.95", auc)
	}
}

func TestRankOneIdentification(t *testing.T) {
	set := recognitionSet(t)
	gallery := map[string]labelled{} // first photo by file name per identity
	for _, s := range set {
		if _, ok := gallery[s.id]; !ok {
			gallery[s.id] = s
		}
	}
	probes, right := 0, 0
	for _, s := range set {
		if gallery[s.id].file == s.file {
			continue
		}
		probes++
		best, bestScore := "", float32(-2)
		for id, g := range gallery {
			if sc := bindings.Cosine(s.tmpl, g.tmpl); sc > bestScore {
				best, bestScore = id, sc
			}
		}
		if best == s.id {
			right++
		} else {
			own := bindings.Cosine(s.tmpl, gallery[s.id].tmpl)
			t.Logf("miss: %s (%s): best match %s at %.3f, own identity %.3f", s.file, s.id, best, bestScore, own)
		}
	}
	t.Logf("rank-1: %d of %d probes against %d enrolled", right, probes, len(gallery))
	// The goal is every probe right. The shipped fr_feature recognizer gets
	// 14 of 15 (bona4.jpg is missed by most of 96 naive pipeline variants
	// too, and three hits win by less than 0.012: docs/accuracy/naive-sweep.md),
	// so the floor allows one more near-tie to fall the other way and still
	// catches a real regression; a stronger ArcFace-style model dropped in
	// through the manifest is what closes the gap.
	if float64(right) < minRankOne*float64(probes) {
		t.Errorf("rank-1 %d of %d is below %.0f%%", right, probes, 100*minRankOne)
	}
}

// minRankOne is the rank-1 floor for the shipped models: 13 of 15 (14 today).
const minRankOne = 0.86

func TestSameImageTwice(t *testing.T) {
	e := engine(t)
	img := read(t, photoPath(t, "bona2.jpg"))
	rs, err := e.Analyze(context.Background(), [][]byte{img, img}, bindings.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := bindings.Cosine(rs[0].Faces[0].Template, rs[1].Faces[0].Template)
	if s <= 0.99 {
		t.Fatalf("same image scored %.4f", s)
	}
}

func TestProfileHasLowerQuality(t *testing.T) {
	res := analyzedPhotos(t)
	var profile float32 = -1
	var frontal []float32
	for _, p := range photos(t) {
		r := res[p.File]
		if p.Group() || r.Err != nil || len(r.Faces) == 0 || r.Faces[0].Quality == nil {
			continue
		}
		q := r.Faces[0].Quality.Score
		if p.Profile() {
			profile = q
		} else {
			frontal = append(frontal, q)
		}
	}
	if profile < 0 {
		t.Fatal("profile photo not analysed")
	}
	sort.Slice(frontal, func(i, j int) bool { return frontal[i] < frontal[j] })
	median := frontal[len(frontal)/2]
	t.Logf("profile quality %.3f; frontal min %.3f median %.3f", profile, frontal[0], median)
	if profile >= frontal[0] || profile > 0.7*median {
		t.Errorf("profile quality %.3f is not clearly below frontal (min %.3f, median %.3f)", profile, frontal[0], median)
	}
}

func TestBatchEqualsSingles(t *testing.T) {
	e := engine(t)
	names := []string{"tzuyu.jpg", "bona2.jpg", "chaeyeon3.jpg"}
	var imgs [][]byte
	for _, n := range names {
		imgs = append(imgs, read(t, photoPath(t, n)))
	}
	batch, err := e.Analyze(context.Background(), imgs, bindings.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, img := range imgs {
		single, err := e.AnalyzeOne(context.Background(), img, bindings.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if s := bindings.Cosine(single.Faces[0].Template, batch[i].Faces[0].Template); s < 0.999 {
			t.Errorf("%s: batch vs single %.5f", names[i], s)
		}
	}
}

func TestConcurrentCallsAgree(t *testing.T) {
	e := engine(t)
	img := read(t, photoPath(t, "tzuyu.jpg"))
	ref, err := e.AnalyzeOne(context.Background(), img, bindings.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 3; k++ {
				r, err := e.AnalyzeOne(context.Background(), img, bindings.Options{})
				if err != nil {
					errs <- err
					return
				}
				if s := bindings.Cosine(r.Faces[0].Template, ref.Faces[0].Template); s < 0.999 {
					errs <- fmt.Errorf("concurrent template differs: %.5f", s)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := engine(t).Analyze(ctx, [][]byte{{1}}, bindings.Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestCloseTwiceAndUseAfterClose(t *testing.T) {
	e, err := bindings.Open(bindings.Config{ModelsDir: modelsDir(), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Analyze(context.Background(), [][]byte{{1}}, bindings.Options{}); !errors.Is(err, bindings.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := bindings.Open(bindings.Config{}); !errors.Is(err, bindings.ErrInvalidArgument) {
		t.Errorf("empty config: %v", err)
	}
	if _, err := bindings.Open(bindings.Config{ModelsDir: t.TempDir()}); !errors.Is(err, bindings.ErrModel) {
		t.Errorf("empty models dir: %v", err)
	}
	_, err := bindings.Open(bindings.Config{ModelsDir: modelsDir(), Backend: "cuda"})
	if err == nil {
		t.Log("cuda backend available on this host")
	} else if !errors.Is(err, bindings.ErrBackend) {
		t.Errorf("cuda on a CPU build: %v", err)
	}
	if _, err := bindings.Open(bindings.Config{ModelsDir: modelsDir(), Backend: "tpu"}); !errors.Is(err, bindings.ErrInvalidArgument) && !errors.Is(err, bindings.ErrBackend) {
		t.Errorf("unknown backend: %v", err)
	}
}

func summary(v []float64) string {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	q := func(p float64) float64 { return s[int(p*float64(len(s)-1))] }
	return fmt.Sprintf("n=%d min %.3f p05 %.3f p50 %.3f p95 %.3f max %.3f", len(s), s[0], q(0.05), q(0.5), q(0.95), s[len(s)-1])
}
