// Package gallerytest holds the gallery contract: one suite of tests that
// every gallery.Backend must pass unchanged (the embedded FAISS + bbolt store
// and the Weaviate cluster backend run the same functions). Each test works
// in partitions of its own, named from a per-run prefix, so a shared cluster
// needs no cleaning between tests.
package gallerytest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"vizor/gallery"
	"vizor/internal/vec"
)

// Dim is the template dimension the contract uses (small keeps a cluster
// round trip cheap; the backends do not care).
const Dim = 64

// Opener returns the backend under test. The suite closes nothing: the
// opener's owner does (t.Cleanup).
type Opener func(t *testing.T) gallery.Backend

// Unit is a deterministic random unit vector.
func Unit(seed uint64, dim int) []float32 {
	return vec.RandomUnit(rand.New(rand.NewPCG(seed*0x9E3779B97F4A7C15+1, seed^0xDEADBEEF)), dim)
}

// Near is a unit vector at about cosine cos from v.
func Near(v []float32, seed uint64, cos float64) []float32 {
	noise := Unit(seed+1<<40, len(v))
	a, b := float32(cos), float32(math.Sqrt(1-cos*cos))
	out := make([]float32, len(v))
	var n float64
	for i := range v {
		out[i] = a*v[i] + b*noise[i]
		n += float64(out[i]) * float64(out[i])
	}
	s := float32(1 / math.Sqrt(n))
	for i := range out {
		out[i] *= s
	}
	return out
}

var (
	runMu  sync.Mutex
	runTag string
)

// part names a partition unique to this process and test.
func part(t *testing.T, name string) string {
	runMu.Lock()
	if runTag == "" {
		runTag = fmt.Sprintf("c%06d", rand.IntN(1_000_000))
	}
	tag := runTag
	runMu.Unlock()
	return safe(fmt.Sprintf("%s-%s-%s", tag, t.Name(), name))
}

// safe keeps a partition name within [A-Za-z0-9._-]{1,64}.
func safe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) > 64 {
		b = b[len(b)-64:]
	}
	return string(b)
}

// Run runs the whole contract against the backend open returns.
func Run(t *testing.T, open Opener) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, gallery.Backend)
	}{
		{"EnrolSearchVerify", enrolSearchVerify},
		{"Mismatch", mismatch},
		{"NotFound", notFound},
		{"Validation", validation},
		{"Listings", listings},
		{"Deletes", deletes},
		{"Rename", rename},
		{"Partitions", partitions},
		{"ImagesAndMeta", imagesAndMeta},
		{"Counts", counts},
		{"ConcurrentEnrol", concurrentEnrol},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

func tm(v []float32) gallery.Template { return gallery.Template{Model: "m1", Vector: v} }

// populate enrols n subjects "s-NN" with per templates each, near centre
// Unit(seed+i); it returns subject -> template ids.
func populate(t *testing.T, g gallery.Backend, p string, n, per int, seed uint64) map[string][]uint64 {
	t.Helper()
	ids := map[string][]uint64{}
	for i := 0; i < n; i++ {
		s := fmt.Sprintf("s-%02d", i)
		c := Unit(seed+uint64(i), Dim)
		for j := 0; j < per; j++ {
			info, err := g.Enrol(p, s, tm(Near(c, seed*1000+uint64(100*i+j), 0.8)), gallery.EnrolOptions{})
			if err != nil {
				t.Fatalf("enrol %s/%s: %v", p, s, err)
			}
			if info.ID == 0 || info.Subject != s || info.Partition != p || info.Model != "m1" || info.Dim != Dim {
				t.Fatalf("enrol returned %+v", info)
			}
			if slices.Contains(ids[s], info.ID) {
				t.Fatalf("id %d returned twice", info.ID)
			}
			ids[s] = append(ids[s], info.ID)
		}
	}
	return ids
}

func enrolSearchVerify(t *testing.T, g gallery.Backend) {
	p := part(t, "a")
	ids := populate(t, g, p, 12, 3, 1)
	probe := tm(Near(Unit(1+7, Dim), 999, 0.8))
	res, err := g.Search(p, probe, 5, -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 5 || res[0].Subject != "s-07" {
		t.Fatalf("search: %+v", res)
	}
	seen := map[string]bool{}
	for i, c := range res {
		if seen[c.Subject] {
			t.Fatalf("subject twice in %+v", res)
		}
		seen[c.Subject] = true
		if i > 0 && c.Score > res[i-1].Score {
			t.Fatalf("not best first: %+v", res)
		}
		if !slices.Contains(ids[c.Subject], c.TemplateID) {
			t.Fatalf("template %d is not %s's", c.TemplateID, c.Subject)
		}
	}
	// The score is the cosine of the best template.
	best := float32(-2)
	for _, id := range ids["s-07"] {
		_, tt, err := g.TemplateIn(p, id)
		if err != nil {
			t.Fatal(err)
		}
		best = max(best, vec.Cosine(tt.Vector, probe.Vector))
	}
	if d := math.Abs(float64(best - res[0].Score)); d > 1e-4 {
		t.Fatalf("score %v, best cosine %v", res[0].Score, best)
	}
	res, err = g.Search(p, probe, 5, 0.5)
	if err != nil || len(res) != 1 || res[0].Subject != "s-07" {
		t.Fatalf("search with min score: %+v %v", res, err)
	}
	res, err = g.Search(p, probe, 100, -1)
	if err != nil || len(res) != 12 {
		t.Fatalf("topK past the subjects: %d %v", len(res), err)
	}
	v, err := g.Verify(p, "s-07", probe)
	if err != nil || math.Abs(float64(v.Score-best)) > 1e-4 || v.Subject != "s-07" || !slices.Contains(ids["s-07"], v.TemplateID) {
		t.Fatalf("verify: %+v %v (best %v)", v, err, best)
	}
	v, err = g.Verify(p, "s-08", probe)
	if err != nil || v.Score > 0.5 {
		t.Fatalf("verify impostor: %+v %v", v, err)
	}
}

func mismatch(t *testing.T, g gallery.Backend) {
	p := part(t, "a")
	populate(t, g, p, 1, 1, 2)
	if _, err := g.Enrol(p, "x", gallery.Template{Model: "m2", Vector: Unit(3, Dim)}, gallery.EnrolOptions{}); !errors.Is(err, gallery.ErrModelMismatch) {
		t.Fatalf("other model: %v", err)
	}
	if _, err := g.Enrol(p, "x", tm(Unit(3, Dim/2)), gallery.EnrolOptions{}); !errors.Is(err, gallery.ErrDimMismatch) {
		t.Fatalf("other dimension: %v", err)
	}
	if _, err := g.Search(p, gallery.Template{Model: "m2", Vector: Unit(3, Dim)}, 1, -1); !errors.Is(err, gallery.ErrModelMismatch) {
		t.Fatalf("search with other model: %v", err)
	}
	if _, err := g.Verify(p, "s-00", tm(Unit(3, Dim/2))); !errors.Is(err, gallery.ErrDimMismatch) {
		t.Fatalf("verify with other dimension: %v", err)
	}
	// Another partition takes another model.
	if _, err := g.Enrol(part(t, "b"), "x", gallery.Template{Model: "m2", Vector: Unit(3, Dim/2)}, gallery.EnrolOptions{}); err != nil {
		t.Fatal(err)
	}
}

func notFound(t *testing.T, g gallery.Backend) {
	p, missing := part(t, "a"), part(t, "missing")
	ids := populate(t, g, p, 2, 1, 3)
	probe := tm(Unit(4, Dim))
	if _, err := g.Search(missing, probe, 1, -1); !errors.Is(err, gallery.ErrPartitionNotFound) {
		t.Fatalf("search missing partition: %v", err)
	}
	if _, err := g.Verify(missing, "s-00", probe); !errors.Is(err, gallery.ErrPartitionNotFound) {
		t.Fatalf("verify missing partition: %v", err)
	}
	if _, err := g.Verify(p, "nobody", probe); !errors.Is(err, gallery.ErrSubjectNotFound) {
		t.Fatalf("verify missing subject: %v", err)
	}
	if _, err := g.DeleteSubject(p, "nobody"); !errors.Is(err, gallery.ErrSubjectNotFound) {
		t.Fatalf("delete missing subject: %v", err)
	}
	if err := g.DeletePartition(missing); !errors.Is(err, gallery.ErrPartitionNotFound) {
		t.Fatalf("delete missing partition: %v", err)
	}
	if _, err := g.Templates(missing, ""); !errors.Is(err, gallery.ErrPartitionNotFound) {
		t.Fatalf("templates of missing partition: %v", err)
	}
	if _, err := g.Templates(p, "nobody"); !errors.Is(err, gallery.ErrSubjectNotFound) {
		t.Fatalf("templates of missing subject: %v", err)
	}
	if has, err := g.HasSubject(p, "nobody"); has || err != nil {
		t.Fatalf("has missing subject: %v %v", has, err)
	}
	if _, err := g.HasSubject(missing, "s-00"); !errors.Is(err, gallery.ErrPartitionNotFound) {
		t.Fatalf("has subject in missing partition: %v", err)
	}
	if _, _, err := g.TemplateIn(p, 12345); !errors.Is(err, gallery.ErrTemplateNotFound) {
		t.Fatalf("missing template: %v", err)
	}
	if _, _, err := g.TemplateIn(missing, ids["s-00"][0]); !errors.Is(err, gallery.ErrTemplateNotFound) && !errors.Is(err, gallery.ErrPartitionNotFound) {
		t.Fatalf("template asked in another partition: %v", err)
	}
	if err := g.DeleteTemplate(p, 12345); !errors.Is(err, gallery.ErrTemplateNotFound) {
		t.Fatalf("delete missing template: %v", err)
	}
}

func validation(t *testing.T, g gallery.Backend) {
	p := part(t, "a")
	for _, bad := range []string{"", "has space", "slash/", string(make([]byte, 65))} {
		if _, err := g.Enrol(bad, "x", tm(Unit(1, Dim)), gallery.EnrolOptions{}); !errors.Is(err, gallery.ErrInvalidName) {
			t.Fatalf("partition %q: %v", bad, err)
		}
	}
	for _, bad := range []string{"", "tab\there", string(make([]byte, 257))} {
		if _, err := g.Enrol(p, bad, tm(Unit(1, Dim)), gallery.EnrolOptions{}); !errors.Is(err, gallery.ErrInvalidName) {
			t.Fatalf("subject %q: %v", bad, err)
		}
	}
	for _, bad := range []gallery.Template{
		{Model: "", Vector: Unit(1, Dim)},
		{Model: "m1", Vector: nil},
		{Model: "m1", Vector: make([]float32, Dim)},
		{Model: "m1", Vector: append([]float32{float32(math.NaN())}, Unit(1, Dim)[1:]...)},
	} {
		if _, err := g.Enrol(p, "x", bad, gallery.EnrolOptions{}); !errors.Is(err, gallery.ErrInvalidTemplate) {
			t.Fatalf("template %+v: %v", bad.Model, err)
		}
	}
	if _, err := g.Search(p, tm(Unit(1, Dim)), 1, -1); !errors.Is(err, gallery.ErrPartitionNotFound) {
		t.Fatalf("refused enrolments created the partition: %v", err)
	}
}

func listings(t *testing.T, g gallery.Backend) {
	p := part(t, "a")
	ids := populate(t, g, p, 5, 2, 5)
	subs, err := g.Subjects(p)
	if err != nil || !slices.Equal(subs, []string{"s-00", "s-01", "s-02", "s-03", "s-04"}) {
		t.Fatalf("subjects %v %v", subs, err)
	}
	if has, err := g.HasSubject(p, "s-03"); !has || err != nil {
		t.Fatalf("has subject: %v %v", has, err)
	}
	ts, err := g.Templates(p, "s-03")
	if err != nil || len(ts) != 2 {
		t.Fatalf("templates %+v %v", ts, err)
	}
	// Listings are in enrolment order (MassHealth keeps "oldest first").
	if got := []uint64{ts[0].ID, ts[1].ID}; !slices.Equal(got, ids["s-03"]) {
		t.Fatalf("templates %v, want %v (enrolment order)", got, ids["s-03"])
	}
	for _, ti := range ts {
		if ti.Subject != "s-03" || ti.Partition != p || ti.Model != "m1" || ti.Dim != Dim || ti.Created.IsZero() {
			t.Fatalf("template info %+v", ti)
		}
	}
	all, err := g.Templates(p, "")
	if err != nil || len(all) != 10 {
		t.Fatalf("all templates: %d %v", len(all), err)
	}
	for i := range all {
		if all[i].ID != ids[fmt.Sprintf("s-%02d", i/2)][i%2] {
			t.Fatalf("whole partition not in enrolment order at %d: %+v", i, all[i])
		}
	}
	info, tt, err := g.TemplateIn(p, ids["s-02"][1])
	if err != nil || info.Subject != "s-02" || len(tt.Vector) != Dim || tt.Model != "m1" {
		t.Fatalf("template: %+v %v", info, err)
	}
}

func deletes(t *testing.T, g gallery.Backend) {
	p := part(t, "a")
	ids := populate(t, g, p, 3, 2, 6)
	if err := g.DeleteTemplate(p, ids["s-00"][0]); err != nil {
		t.Fatal(err)
	}
	if err := g.DeleteTemplate(p, ids["s-00"][0]); !errors.Is(err, gallery.ErrTemplateNotFound) {
		t.Fatalf("double delete: %v", err)
	}
	ts, err := g.Templates(p, "s-00")
	if err != nil || len(ts) != 1 || ts[0].ID != ids["s-00"][1] {
		t.Fatalf("after template delete: %+v %v", ts, err)
	}
	if n, err := g.DeleteSubject(p, "s-01"); err != nil || n != 2 {
		t.Fatalf("delete subject: %d %v", n, err)
	}
	if _, err := g.Verify(p, "s-01", tm(Unit(6+1, Dim))); !errors.Is(err, gallery.ErrSubjectNotFound) {
		t.Fatalf("verify deleted subject: %v", err)
	}
	res, err := g.Search(p, tm(Unit(6+1, Dim)), 10, -1)
	if err != nil || len(res) != 2 || slices.ContainsFunc(res, func(c gallery.Candidate) bool { return c.Subject == "s-01" }) {
		t.Fatalf("search after delete: %+v %v", res, err)
	}
	// The last template of a subject gone: the subject is gone.
	if err := g.DeleteTemplate(p, ids["s-00"][1]); err != nil {
		t.Fatal(err)
	}
	if has, _ := g.HasSubject(p, "s-00"); has {
		t.Fatal("subject without templates still listed")
	}
}

func rename(t *testing.T, g gallery.Backend) {
	p := part(t, "a")
	populate(t, g, p, 3, 2, 7)
	probe := tm(Unit(7+0, Dim))
	if err := g.RenameSubject(p, "s-00", "s-01", false); !errors.Is(err, gallery.ErrSubjectExists) {
		t.Fatalf("rename onto existing: %v", err)
	}
	if err := g.RenameSubject(p, "nobody", "x", false); !errors.Is(err, gallery.ErrSubjectNotFound) {
		t.Fatalf("rename missing: %v", err)
	}
	if err := g.RenameSubject(p, "s-00", "new", false); err != nil {
		t.Fatal(err)
	}
	if v, err := g.Verify(p, "new", probe); err != nil || v.Score < 0.6 {
		t.Fatalf("verify renamed: %+v %v", v, err)
	}
	if has, _ := g.HasSubject(p, "s-00"); has {
		t.Fatal("old name still there")
	}
	if err := g.RenameSubject(p, "new", "s-01", true); err != nil {
		t.Fatal(err)
	}
	ts, err := g.Templates(p, "s-01")
	if err != nil || len(ts) != 4 {
		t.Fatalf("merged: %d %v", len(ts), err)
	}
	res, err := g.Search(p, probe, 1, -1)
	if err != nil || len(res) != 1 || res[0].Subject != "s-01" {
		t.Fatalf("search after merge: %+v %v", res, err)
	}
}

func partitions(t *testing.T, g gallery.Backend) {
	a, b := part(t, "a"), part(t, "b")
	populate(t, g, a, 2, 1, 8)
	populate(t, g, b, 2, 1, 9)
	names, err := g.ListPartitions()
	if err != nil || !slices.Contains(names, a) || !slices.Contains(names, b) || !slices.IsSorted(names) {
		t.Fatalf("partitions %v %v", names, err)
	}
	if err := g.DeletePartition(a); err != nil {
		t.Fatal(err)
	}
	names, _ = g.ListPartitions()
	if slices.Contains(names, a) || !slices.Contains(names, b) {
		t.Fatalf("after delete: %v", names)
	}
	if _, err := g.Search(a, tm(Unit(8, Dim)), 1, -1); !errors.Is(err, gallery.ErrPartitionNotFound) {
		t.Fatalf("search deleted partition: %v", err)
	}
	// Re-created with another model: the old one's model is forgotten.
	if _, err := g.Enrol(a, "x", gallery.Template{Model: "m9", Vector: Unit(1, 16)}, gallery.EnrolOptions{}); err != nil {
		t.Fatalf("re-create: %v", err)
	}
	res, err := g.Search(a, gallery.Template{Model: "m9", Vector: Unit(1, 16)}, 5, -1)
	if err != nil || len(res) != 1 || res[0].Subject != "x" {
		t.Fatalf("re-created partition: %+v %v", res, err)
	}
}

func imagesAndMeta(t *testing.T, g gallery.Backend) {
	p := part(t, "a")
	kept, err := g.Enrol(p, "x", tm(Unit(1, Dim)), gallery.EnrolOptions{Image: []byte("jpeg-bytes"), KeepImage: true, Meta: map[string]string{"filename": "x.jpg"}})
	if err != nil {
		t.Fatal(err)
	}
	if !kept.HasImage || kept.Meta["filename"] != "x.jpg" {
		t.Fatalf("enrol info %+v", kept)
	}
	dropped, err := g.Enrol(p, "x", tm(Unit(2, Dim)), gallery.EnrolOptions{Image: []byte("not kept")})
	if err != nil {
		t.Fatal(err)
	}
	img, info, err := g.ImageIn(p, kept.ID)
	if err != nil || string(img) != "jpeg-bytes" || info.Subject != "x" || info.Meta["filename"] != "x.jpg" {
		t.Fatalf("image %q %+v %v", img, info, err)
	}
	if _, _, err := g.ImageIn(p, dropped.ID); !errors.Is(err, gallery.ErrImageNotFound) {
		t.Fatalf("image not kept: %v", err)
	}
	if _, _, err := g.ImageIn(part(t, "other"), kept.ID); !errors.Is(err, gallery.ErrTemplateNotFound) && !errors.Is(err, gallery.ErrPartitionNotFound) {
		t.Fatalf("image asked in another partition: %v", err)
	}
	ts, err := g.Templates(p, "x")
	if err != nil || len(ts) != 2 {
		t.Fatalf("templates %+v %v", ts, err)
	}
	for _, ti := range ts {
		if ti.ID == kept.ID && (!ti.HasImage || ti.Meta["filename"] != "x.jpg") || ti.ID == dropped.ID && ti.HasImage {
			t.Fatalf("listed %+v", ti)
		}
	}
}

func counts(t *testing.T, g gallery.Backend) {
	p := part(t, "a")
	populate(t, g, p, 4, 3, 10)
	st, err := g.Counts()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(st.PerPartition, func(ps gallery.PartitionStats) bool { return ps.Name == p })
	if i < 0 {
		t.Fatalf("partition missing from %+v", st)
	}
	ps := st.PerPartition[i]
	if ps.Subjects != 4 || ps.Templates != 12 || ps.Model != "m1" || ps.Dim != Dim {
		t.Fatalf("partition stats %+v", ps)
	}
	if st.Templates < 12 || st.Subjects < 4 || st.Partitions < 1 {
		t.Fatalf("totals %+v", st)
	}
	if err := g.Check(); err != nil {
		t.Fatalf("check: %v", err)
	}
}

// concurrentEnrol: 8 writers into one new partition (the first enrolment
// creates it, racing), then every template is found.
func concurrentEnrol(t *testing.T, g gallery.Backend) {
	p := part(t, "a")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				s := fmt.Sprintf("w%d-%d", w, i)
				if _, err := g.Enrol(p, s, tm(Unit(uint64(1000+10*w+i), Dim)), gallery.EnrolOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := 0; w < 8; w++ {
		for i := 0; i < 5; i++ {
			s := fmt.Sprintf("w%d-%d", w, i)
			res, err := g.Search(p, tm(Unit(uint64(1000+10*w+i), Dim)), 1, -1)
			if err != nil || len(res) != 1 || res[0].Subject != s {
				t.Fatalf("search %s: %+v %v", s, res, err)
			}
		}
	}
}
