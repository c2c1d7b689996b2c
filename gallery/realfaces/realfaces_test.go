package realfaces

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"vizor/bindings"
	"vizor/gallery"
	"vizor/internal/faceset"
)

func modelsDir() string {
	if d := os.Getenv("VIZOR_MODELS_DIR"); d != "" {
		return d
	}
	if root, err := faceset.RepoRoot(); err == nil {
		return filepath.Join(root, "models")
	}
	return "../../models"
}

// TestRealTemplates enrols one photo per person (the first by file name)
// and searches with every other photo of the labelled set: each must find
// its own identity first. The full-profile photo is not used as a probe and
// the group photo is skipped.
func TestRealTemplates(t *testing.T) {
	photos, err := faceset.Photos()
	if errors.Is(err, faceset.ErrMissing) {
		faceset.Missing(t, "labelled photos", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	eng, err := bindings.Open(bindings.Config{ModelsDir: modelsDir()})
	if err != nil {
		t.Fatalf("open engine: %v", err)
	}
	defer eng.Close()
	info := eng.Info()

	var use []faceset.Photo
	var imgs [][]byte
	for _, p := range photos {
		if p.Group() {
			continue
		}
		b, err := os.ReadFile(p.Path)
		if err != nil {
			t.Fatal(err)
		}
		use = append(use, p)
		imgs = append(imgs, b)
	}
	res, err := eng.Analyze(context.Background(), imgs, bindings.Options{Stages: bindings.StageDetect | bindings.StageTemplate, MaxFaces: 1})
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	cfg := gallery.Config{Dir: dir, KeepImages: true}
	g, err := gallery.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	enrolled := map[string]uint64{}
	type probe struct {
		file, id string
		t        gallery.Template
	}
	var probes []probe
	for i, p := range use {
		r := res[i]
		if r.Err != nil || len(r.Faces) == 0 || r.Faces[0].Template == nil {
			t.Fatalf("%s: no template (%v)", p.File, r.Err)
		}
		tm := gallery.Template{Model: info.RecognizerID, Vector: r.Faces[0].Template}
		if _, ok := enrolled[p.Identity]; !ok && !p.Profile() {
			ti, err := g.Enrol("default", p.Identity, tm, gallery.EnrolOptions{Image: imgs[i], Meta: map[string]string{"filename": p.File}})
			if err != nil {
				t.Fatalf("enrol %s: %v", p.File, err)
			}
			enrolled[p.Identity] = ti.ID
			continue
		}
		if !p.Profile() {
			probes = append(probes, probe{p.File, p.Identity, tm})
		}
	}
	if len(probes) == 0 {
		t.Fatal("no probes")
	}
	// Brute force over the enrolled templates is the reference: the gallery
	// must agree with it exactly (scores to float rounding). How often the
	// top subject is the true identity measures the engine, not the gallery:
	// it is logged, and only required of the top 5.
	type ref struct {
		id    string
		score float32
	}
	enrolledT := map[string][]float32{}
	for id, tid := range enrolled {
		_, tm, err := g.Template(tid)
		if err != nil {
			t.Fatal(err)
		}
		enrolledT[id] = tm.Vector
	}
	best := func(v []float32) ref {
		b := ref{score: -2}
		for id, e := range enrolledT {
			if s := bindings.Cosine(v, e); s > b.score {
				b = ref{id, s}
			}
		}
		return b
	}
	check := func(g *gallery.Gallery) {
		t.Helper()
		right := 0
		for _, p := range probes {
			c, err := g.Search("default", p.t, 5, -1)
			if err != nil {
				t.Fatal(err)
			}
			want := best(p.t.Vector)
			if len(c) != 5 || c[0].Subject != want.id || abs(c[0].Score-want.score) > 1e-5 {
				t.Errorf("%s: search gave %+v, brute force %+v", p.file, c, want)
				continue
			}
			in5 := false
			for _, x := range c {
				in5 = in5 || x.Subject == p.id
			}
			if !in5 {
				t.Errorf("%s (%s): true identity not in the top 5: %+v", p.file, p.id, c)
			}
			if c[0].Subject == p.id {
				right++
			} else {
				t.Logf("%s (%s): engine ranks %s first (%.3f)", p.file, p.id, c[0].Subject, c[0].Score)
			}
			v, err := g.Verify("default", p.id, p.t)
			if err != nil || v.TemplateID != enrolled[p.id] {
				t.Errorf("%s: verify %+v %v", p.file, v, err)
			}
		}
		t.Logf("rank-1: %d of %d probes against %d enrolled identities (model %s, %d-d)", right, len(probes), len(enrolled), info.RecognizerID, info.TemplateDim)
	}
	check(g)
	// Model mismatch with a real template.
	if _, err := g.Search("default", gallery.Template{Model: "other-model", Vector: probes[0].t.Vector}, 1, 0); !errors.Is(err, gallery.ErrModelMismatch) {
		t.Errorf("other model: %v", err)
	}
	// The enrolled image comes back by template id, across a restart.
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	g, err = gallery.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	check(g)
	for id, tid := range enrolled {
		img, ti, err := g.Image(tid)
		if err != nil || len(img) == 0 || ti.Subject != id {
			t.Errorf("image of %s: %d bytes, %+v, %v", id, len(img), ti, err)
		}
	}
}

func abs(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
