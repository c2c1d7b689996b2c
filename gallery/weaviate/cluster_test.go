package weaviate_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"vizor/gallery"
	"vizor/gallery/gallerytest"
	"vizor/gallery/migrate"
)

func uniq(name string) string { return fmt.Sprintf("%s-%06d", name, rand.IntN(1_000_000)) }

// TestWriteOnAReadOnB: a template acknowledged through node 0 is verified
// and found through node 1 at once (QUORUM writes, QUORUM reads: W+R > RF),
// and a partition deleted through node 0 is gone through node 1.
func TestWriteOnAReadOnB(t *testing.T) {
	a, b := open(t, 0), open(t, 1)
	p := uniq("ab")
	for i := 0; i < 20; i++ {
		v := gallerytest.Unit(uint64(7000+i), gallerytest.Dim)
		s := fmt.Sprintf("s%02d", i)
		if _, err := a.Enrol(p, s, gallery.Template{Model: "m1", Vector: v}, gallery.EnrolOptions{}); err != nil {
			t.Fatal(err)
		}
		c, err := b.Verify(p, s, gallery.Template{Model: "m1", Vector: v})
		if err != nil || c.Score < 0.999 {
			t.Fatalf("verify on B right after enrol on A: %+v %v", c, err)
		}
		res, err := b.Search(p, gallery.Template{Model: "m1", Vector: v}, 1, -1)
		if err != nil || len(res) != 1 || res[0].Subject != s {
			t.Fatalf("search on B right after enrol on A: %+v %v", res, err)
		}
	}
	if err := a.DeletePartition(p); err != nil {
		t.Fatal(err)
	}
	v := gallerytest.Unit(7000, gallerytest.Dim)
	if _, err := b.Search(p, gallery.Template{Model: "m1", Vector: v}, 1, -1); !errors.Is(err, gallery.ErrPartitionNotFound) {
		t.Fatalf("search on B after delete on A: %v", err)
	}
	if _, err := b.Verify(p, "s00", gallery.Template{Model: "m1", Vector: v}); !errors.Is(err, gallery.ErrPartitionNotFound) {
		t.Fatalf("verify on B after delete on A: %v", err)
	}
	names, err := b.ListPartitions()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if n == p {
			t.Fatalf("B still lists %s", p)
		}
	}
}

// TestRetriedEnrolStoresOnce: the same key (a retried request) lands on
// the same object, through either node.
func TestRetriedEnrolStoresOnce(t *testing.T) {
	a, b := open(t, 0), open(t, 1)
	p := uniq("retry")
	v := gallerytest.Unit(1, gallerytest.Dim)
	opts := gallery.EnrolOptions{Key: "req-42/1"}
	i1, err := a.Enrol(p, "x", gallery.Template{Model: "m1", Vector: v}, opts)
	if err != nil {
		t.Fatal(err)
	}
	i2, err := b.Enrol(p, "x", gallery.Template{Model: "m1", Vector: v}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if i1.ID != i2.ID {
		t.Fatalf("retry got id %d, first %d", i2.ID, i1.ID)
	}
	ts, err := a.Templates(p, "x")
	if err != nil || len(ts) != 1 {
		t.Fatalf("templates after retry: %+v %v", ts, err)
	}
	// Another key is another template.
	if _, err := a.Enrol(p, "x", gallery.Template{Model: "m1", Vector: v}, gallery.EnrolOptions{Key: "req-42/2"}); err != nil {
		t.Fatal(err)
	}
	if ts, _ := a.Templates(p, "x"); len(ts) != 2 {
		t.Fatalf("second key: %d templates", len(ts))
	}
}

// TestSettingsAndState: partition settings and flavour state live in the
// cluster (any node reads what another wrote); settings outlive the
// partition.
func TestSettingsAndState(t *testing.T) {
	a, b := open(t, 0), open(t, 1)
	p := uniq("set")
	if err := a.SetPartitionSetting(p, "pad_policy", "enforce"); err != nil {
		t.Fatal(err)
	}
	if v, err := b.PartitionSetting(p, "pad_policy"); err != nil || v != "enforce" {
		t.Fatalf("setting on B: %q %v", v, err)
	}
	if err := b.SetPartitionSetting(p, "pad_policy", ""); err != nil {
		t.Fatal(err)
	}
	if v, err := a.PartitionSetting(p, "pad_policy"); err != nil || v != "" {
		t.Fatalf("deleted setting: %q %v", v, err)
	}
	if err := a.SetPartitionSetting("bad name", "k", "v"); !errors.Is(err, gallery.ErrInvalidName) {
		t.Fatalf("bad partition: %v", err)
	}
	if err := a.SetState("compreface", "keys", `{"k":1}`); err != nil {
		t.Fatal(err)
	}
	if v, err := b.State("compreface", "keys"); err != nil || v != `{"k":1}` {
		t.Fatalf("state on B: %q %v", v, err)
	}
}

// TestBatchEnrol: one acknowledged batch, every template searchable.
func TestBatchEnrol(t *testing.T) {
	a := open(t, 0)
	p := uniq("batch")
	items := make([]gallery.BatchItem, 200)
	for i := range items {
		items[i] = gallery.BatchItem{Subject: fmt.Sprintf("s%03d", i), Template: gallery.Template{Model: "m1", Vector: gallerytest.Unit(uint64(9000+i), gallerytest.Dim)}}
	}
	infos, err := a.EnrolBatch(p, items)
	if err != nil || len(infos) != len(items) {
		t.Fatalf("batch: %d %v", len(infos), err)
	}
	for i := 0; i < len(items); i += 37 {
		res, err := a.Search(p, items[i].Template, 1, -1)
		if err != nil || len(res) != 1 || res[0].Subject != items[i].Subject || res[0].TemplateID != infos[i].ID {
			t.Fatalf("search %d: %+v %v", i, res, err)
		}
	}
	st, err := a.Counts()
	if err != nil {
		t.Fatal(err)
	}
	for _, ps := range st.PerPartition {
		if ps.Name == p && (ps.Templates != 200 || ps.Subjects != 200) {
			t.Fatalf("counts %+v", ps)
		}
	}
}

// TestMigrateIntoCluster: an embedded gallery copied into the cluster; a
// run killed before it could record its progress is simply run again, and
// the copies keyed by source id do not double.
func TestMigrateIntoCluster(t *testing.T) {
	g, err := gallery.Open(gallery.Config{Dir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	src := gallery.Embedded{Gallery: g}
	p := uniq("mig")
	for i := 0; i < 40; i++ {
		opts := gallery.EnrolOptions{Meta: map[string]string{"n": fmt.Sprint(i)}}
		if i%4 == 0 {
			opts.Image, opts.KeepImage = []byte(fmt.Sprintf("img-%d", i)), true
		}
		if _, err := src.Enrol(p, fmt.Sprintf("s%02d", i/2), gallery.Template{Model: "m1", Vector: gallerytest.Unit(uint64(500+i), 48)}, opts); err != nil {
			t.Fatal(err)
		}
	}
	dst := open(t, 0)
	batches := 0
	if _, err := migrate.Run(src, dst, migrate.Options{Partitions: []string{p}, Batch: 16, Stop: func() bool { batches++; return true }}); err != nil {
		t.Fatal(err)
	}
	r, err := migrate.Run(src, dst, migrate.Options{Partitions: []string{p}, Batch: 16})
	if err != nil || r.Copied != 40 {
		t.Fatalf("second run: %+v %v", r, err)
	}
	ts, err := open(t, 1).Templates(p, "")
	if err != nil || len(ts) != 40 {
		t.Fatalf("cluster holds %d templates, want 40 (%v)", len(ts), err)
	}
	want, _ := src.Templates(p, "")
	for _, ti := range want {
		_, tt, _ := src.TemplateIn(p, ti.ID)
		res, err := dst.Search(p, tt, 1, -1)
		if err != nil || len(res) != 1 || res[0].Subject != ti.Subject {
			t.Fatalf("%s: %+v %v", ti.Subject, res, err)
		}
	}
	images := 0
	for _, ti := range ts {
		if ti.HasImage {
			images++
		}
	}
	if images != 10 {
		t.Fatalf("%d images kept, want 10", images)
	}
}
