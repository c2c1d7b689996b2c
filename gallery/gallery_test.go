package gallery

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

const dim = 64

func TestOperations(t *testing.T) {
	for _, spec := range []string{"Flat", "HNSW16,Flat", "SQfp16;rerank=1", "HNSW16,SQfp16;rerank=1"} {
		t.Run(strings.NewReplacer(",", "_", ";", "_", "=", "").Replace(spec), func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{Dir: dir, KeepImages: true, DefaultIndexSpec: spec}
			g := mustOpen(t, cfg)
			defer g.Close()

			// 20 subjects with 3 templates each; subject i's templates are
			// near its centre c_i.
			ids := map[string][]uint64{}
			for i := 0; i < 20; i++ {
				s := fmt.Sprintf("subj-%02d", i)
				c := unit(uint64(i), dim)
				for j := 0; j < 3; j++ {
					info, err := g.Enrol("default", s, tmpl("m1", near(c, uint64(100*i+j), 0.8)),
						EnrolOptions{Image: []byte(fmt.Sprintf("img-%d-%d", i, j)), Meta: map[string]string{"filename": s + ".jpg"}})
					if err != nil {
						t.Fatal(err)
					}
					if info.ID == 0 || info.Subject != s || info.Partition != "default" || info.Model != "m1" || info.Dim != dim {
						t.Fatalf("bad info %+v", info)
					}
					if n := len(ids[s]); n > 0 && info.ID <= ids[s][n-1] {
						t.Fatalf("ids not increasing")
					}
					ids[s] = append(ids[s], info.ID)
				}
			}
			check := func(g *Gallery) {
				t.Helper()
				// Search: distinct subjects, best first.
				probe := tmpl("m1", near(unit(7, dim), 999, 0.8))
				res, err := g.Search("default", probe, 5, -1)
				if err != nil {
					t.Fatal(err)
				}
				if len(res) != 5 || res[0].Subject != "subj-07" {
					t.Fatalf("search: %+v", res)
				}
				seen := map[string]bool{}
				for i, c := range res {
					if seen[c.Subject] {
						t.Fatalf("duplicate subject in %+v", res)
					}
					seen[c.Subject] = true
					if i > 0 && c.Score > res[i-1].Score {
						t.Fatalf("not sorted: %+v", res)
					}
					if !slices.Contains(ids[c.Subject], c.TemplateID) {
						t.Fatalf("template %d is not %s's", c.TemplateID, c.Subject)
					}
				}
				// min score cuts impostors.
				res, err = g.Search("default", probe, 5, 0.5)
				if err != nil || len(res) != 1 || res[0].Subject != "subj-07" {
					t.Fatalf("search with min score: %+v %v", res, err)
				}
				// Verify.
				v, err := g.Verify("default", "subj-07", probe)
				if err != nil || v.Score < 0.5 || !slices.Contains(ids["subj-07"], v.TemplateID) {
					t.Fatalf("verify: %+v %v", v, err)
				}
				v, err = g.Verify("default", "subj-08", probe)
				if err != nil || v.Score > 0.5 {
					t.Fatalf("verify impostor: %+v %v", v, err)
				}
			}
			check(g)

			// Templates, subjects, images.
			subs, err := g.Subjects("default")
			if err != nil || len(subs) != 20 || !slices.IsSorted(subs) {
				t.Fatalf("subjects %v %v", subs, err)
			}
			ts, err := g.Templates("default", "subj-03")
			if err != nil || len(ts) != 3 || ts[0].ID != ids["subj-03"][0] || ts[0].Meta["filename"] != "subj-03.jpg" || !ts[0].HasImage {
				t.Fatalf("templates %+v %v", ts, err)
			}
			all, err := g.Templates("default", "")
			if err != nil || len(all) != 60 {
				t.Fatalf("all templates: %d %v", len(all), err)
			}
			img, info, err := g.Image(ids["subj-03"][1])
			if err != nil || string(img) != "img-3-1" || info.Subject != "subj-03" {
				t.Fatalf("image %q %+v %v", img, info, err)
			}
			if _, _, err := g.Image(12345); !errors.Is(err, ErrTemplateNotFound) {
				t.Fatalf("image of missing template: %v", err)
			}

			// Mutations.
			if err := g.DeleteTemplate("default", ids["subj-00"][0]); err != nil {
				t.Fatal(err)
			}
			if err := g.DeleteTemplate("default", ids["subj-00"][0]); !errors.Is(err, ErrTemplateNotFound) {
				t.Fatalf("double delete: %v", err)
			}
			if n, err := g.DeleteSubject("default", "subj-01"); err != nil || n != 3 {
				t.Fatalf("delete subject: %d %v", n, err)
			}
			if _, err := g.DeleteSubject("default", "subj-01"); !errors.Is(err, ErrSubjectNotFound) {
				t.Fatalf("delete subject twice: %v", err)
			}
			if err := g.RenameSubject("default", "subj-02", "subj-03", false); !errors.Is(err, ErrSubjectExists) {
				t.Fatalf("rename onto existing: %v", err)
			}
			if err := g.RenameSubject("default", "subj-02", "subj-03", true); err != nil {
				t.Fatal(err)
			}
			if err := g.RenameSubject("default", "subj-04", "renamed", false); err != nil {
				t.Fatal(err)
			}
			if err := g.RenameSubject("default", "nobody", "x", false); !errors.Is(err, ErrSubjectNotFound) {
				t.Fatalf("rename missing: %v", err)
			}
			if _, err := g.Enrol("other", "a", tmpl("m1", unit(1, dim)), EnrolOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := g.Enrol("gone", "a", tmpl("m1", unit(1, dim)), EnrolOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := g.DeletePartition("gone"); err != nil {
				t.Fatal(err)
			}
			if err := g.DeletePartition("gone"); !errors.Is(err, ErrPartitionNotFound) {
				t.Fatalf("delete partition twice: %v", err)
			}
			after := func(g *Gallery) {
				t.Helper()
				check(g)
				if got := g.Partitions(); !slices.Equal(got, []string{"default", "other"}) {
					t.Fatalf("partitions %v", got)
				}
				st := g.Stats()
				if st.Partitions != 2 || st.Templates != 60-1-3+1 || st.Subjects != 20-2+1 {
					t.Fatalf("stats %+v", st)
				}
				ts, err := g.Templates("default", "subj-03")
				if err != nil || len(ts) != 6 {
					t.Fatalf("merged subject has %d templates: %v", len(ts), err)
				}
				if ok, _ := g.HasSubject("default", "subj-02"); ok {
					t.Fatal("subj-02 still exists after merge")
				}
				if ok, _ := g.HasSubject("default", "renamed"); !ok {
					t.Fatal("renamed missing")
				}
				res, err := g.Search("default", tmpl("m1", unit(4, dim)), 1, 0)
				if err != nil || len(res) != 1 || res[0].Subject != "renamed" {
					t.Fatalf("search after rename: %+v %v", res, err)
				}
				res, err = g.Search("default", tmpl("m1", unit(1, dim)), 3, 0.5)
				if err != nil || len(res) != 0 {
					t.Fatalf("deleted subject found: %+v %v", res, err)
				}
				if _, _, err := g.Template(ids["subj-00"][0]); !errors.Is(err, ErrTemplateNotFound) {
					t.Fatalf("deleted template: %v", err)
				}
				if _, err := g.Search("gone", tmpl("m1", unit(1, dim)), 1, 0); !errors.Is(err, ErrPartitionNotFound) {
					t.Fatalf("search deleted partition: %v", err)
				}
				if err := g.checkConsistency(); err != nil {
					t.Fatal(err)
				}
			}
			after(g)
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			if err := g.Close(); err != nil {
				t.Fatalf("second close: %v", err)
			}
			if _, err := g.Search("default", tmpl("m1", unit(1, dim)), 1, 0); !errors.Is(err, ErrClosed) {
				t.Fatalf("search after close: %v", err)
			}
			// Everything survives a restart (from a snapshot for HNSW) ...
			g = mustOpen(t, cfg)
			if len(g.Stats().Notes) != 0 {
				t.Fatalf("notes: %v", g.Stats().Notes)
			}
			after(g)
			// ... and a crash (no snapshot written at the end).
			if _, err := g.Enrol("default", "late", tmpl("m1", unit(77, dim)), EnrolOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := g.DeleteTemplate("default", ids["subj-05"][0]); err != nil {
				t.Fatal(err)
			}
			g.crash()
			g = mustOpen(t, cfg)
			defer g.Close()
			res, err := g.Search("default", tmpl("m1", unit(77, dim)), 1, 0.9)
			if err != nil || len(res) != 1 || res[0].Subject != "late" {
				t.Fatalf("late enrolment after crash: %+v %v", res, err)
			}
			if _, _, err := g.Template(ids["subj-05"][0]); !errors.Is(err, ErrTemplateNotFound) {
				t.Fatalf("deleted template after crash: %v", err)
			}
			if err := g.checkConsistency(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestValidation(t *testing.T) {
	g := mustOpen(t, Config{Dir: t.TempDir()})
	defer g.Close()
	v := unit(1, dim)
	if _, err := g.Enrol("default", "a", tmpl("m1", v), EnrolOptions{}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		part, subj string
		t          Template
		want       error
	}{
		{"default", "b", tmpl("m2", v), ErrModelMismatch},
		{"default", "b", tmpl("m1", unit(2, 32)), ErrDimMismatch},
		{"", "b", tmpl("m1", v), ErrInvalidName},
		{"bad/name", "b", tmpl("m1", v), ErrInvalidName},
		{strings.Repeat("x", 65), "b", tmpl("m1", v), ErrInvalidName},
		{"default", "", tmpl("m1", v), ErrInvalidName},
		{"default", "a\nb", tmpl("m1", v), ErrInvalidName},
		{"default", strings.Repeat("x", 257), tmpl("m1", v), ErrInvalidName},
		{"default", "\xff", tmpl("m1", v), ErrInvalidName},
		{"default", "b", tmpl("m1", make([]float32, dim)), ErrInvalidTemplate},
		{"default", "b", tmpl("", v), ErrInvalidTemplate},
	}
	for _, c := range cases {
		if _, err := g.Enrol(c.part, c.subj, c.t, EnrolOptions{}); !errors.Is(err, c.want) {
			t.Errorf("Enrol(%q, %q): %v, want %v", c.part, c.subj, err, c.want)
		}
	}
	if _, err := g.Search("default", tmpl("m2", v), 1, 0); !errors.Is(err, ErrModelMismatch) {
		t.Errorf("search with other model: %v", err)
	}
	if _, err := g.Verify("default", "a", tmpl("m1", unit(1, 128))); !errors.Is(err, ErrDimMismatch) {
		t.Errorf("verify with other dim: %v", err)
	}
	if _, err := g.Search("nope", tmpl("m1", v), 1, 0); !errors.Is(err, ErrPartitionNotFound) {
		t.Errorf("search missing partition: %v", err)
	}
	if _, err := g.Verify("default", "zz", tmpl("m1", v)); !errors.Is(err, ErrSubjectNotFound) {
		t.Errorf("verify missing subject: %v", err)
	}
	if _, err := g.Templates("default", "zz"); !errors.Is(err, ErrSubjectNotFound) {
		t.Errorf("templates of missing subject: %v", err)
	}
	if err := g.DeleteTemplate("nope", 1); !errors.Is(err, ErrPartitionNotFound) {
		t.Errorf("delete in missing partition: %v", err)
	}
	if err := g.SetIndexSpec("default", "Bogus17"); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("bad spec: %v", err)
	}
	if err := g.SetIndexSpec("default", "HNSW8,Flat;wat=3"); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("bad spec parameter: %v", err)
	}
	// Another partition may hold another model.
	if _, err := g.Enrol("other", "a", tmpl("m2", unit(3, 128)), EnrolOptions{}); err != nil {
		t.Fatal(err)
	}
	// Images are dropped unless KeepImages is set.
	info, err := g.Enrol("default", "c", tmpl("m1", unit(4, dim)), EnrolOptions{Image: []byte("jpeg")})
	if err != nil || info.HasImage {
		t.Fatalf("%+v %v", info, err)
	}
	if _, _, err := g.Image(info.ID); !errors.Is(err, ErrImageNotFound) {
		t.Errorf("image kept without KeepImages: %v", err)
	}
	// Ids are never reused, even after deleting everything.
	if err := g.DeletePartition("default"); err != nil {
		t.Fatal(err)
	}
	info2, err := g.Enrol("default", "c", tmpl("m1", unit(4, dim)), EnrolOptions{})
	if err != nil || info2.ID <= info.ID {
		t.Fatalf("id %d after %d: %v", info2.ID, info.ID, err)
	}
	if id, err := ParseID(info2.IDString()); err != nil || id != info2.ID {
		t.Fatalf("ParseID: %d %v", id, err)
	}
}

func TestSearchDedupWidens(t *testing.T) {
	// One subject owns 200 templates around the probe; the second-best
	// subject is only found after widening k well past topK*4.
	g := mustOpen(t, Config{Dir: t.TempDir(), NoSync: true})
	defer g.Close()
	c := unit(1, dim)
	for i := 0; i < 200; i++ {
		if _, err := g.Enrol("p", "crowd", tmpl("m", near(c, uint64(i+10), 0.9)), EnrolOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := g.Enrol("p", "other", tmpl("m", near(c, 5, 0.5)), EnrolOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := g.Search("p", tmpl("m", c), 2, 0)
	if err != nil || len(res) != 2 || res[0].Subject != "crowd" || res[1].Subject != "other" {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestSetIndexSpecAndTraining(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, NoSync: true, IndexSpecs: map[string]string{"big": "IVF8,SQ8;nprobe=8"}}
	g := mustOpen(t, cfg)
	for i := 0; i < 999; i++ {
		if _, err := g.Enrol("big", fmt.Sprint("s", i), tmpl("m", unit(uint64(i), dim)), EnrolOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	st := g.Stats().PerPartition[0]
	if st.IndexSpec != "IVF8,SQ8;nprobe=8" || st.ActiveIndex != "Flat" {
		t.Fatalf("before training: %+v", st)
	}
	// The 1000th template triggers training in the background.
	if _, err := g.Enrol("big", "s999", tmpl("m", unit(999, dim)), EnrolOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { st := g.Stats().PerPartition[0]; return st.ActiveIndex == st.IndexSpec && !st.Rebuilding })
	res, err := g.Search("big", tmpl("m", unit(500, dim)), 1, 0)
	if err != nil || len(res) != 1 || res[0].Subject != "s500" {
		t.Fatalf("%+v %v", res, err)
	}
	if err := g.SetIndexSpec("big", "HNSW8,Flat;efSearch=32"); err != nil {
		t.Fatal(err)
	}
	if st := g.Stats().PerPartition[0]; st.ActiveIndex != "HNSW8,Flat;efSearch=32" {
		t.Fatalf("%+v", st)
	}
	if err := g.checkConsistency(); err != nil {
		t.Fatal(err)
	}
	g.Close()
	g = mustOpen(t, cfg)
	defer g.Close()
	if st := g.Stats().PerPartition[0]; st.ActiveIndex != "HNSW8,Flat;efSearch=32" || st.Templates != 1000 {
		t.Fatalf("after restart: %+v", st)
	}
	res, err = g.Search("big", tmpl("m", unit(321, dim)), 1, 0)
	if err != nil || len(res) != 1 || res[0].Subject != "s321" {
		t.Fatalf("%+v %v", res, err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 3000; i++ {
		if cond() {
			return
		}
		sleepMs(10)
	}
	t.Fatal("timed out")
}

func TestImagesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	g := mustOpen(t, Config{Dir: dir, KeepImages: true})
	big := bytes.Repeat([]byte{1, 2, 3}, 100000)
	info, err := g.Enrol("p", "s", tmpl("m", unit(1, dim)), EnrolOptions{Image: big})
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	g = mustOpen(t, Config{Dir: dir, KeepImages: true})
	defer g.Close()
	img, _, err := g.Image(info.ID)
	if err != nil || !bytes.Equal(img, big) {
		t.Fatalf("image: %d bytes, %v", len(img), err)
	}
}
