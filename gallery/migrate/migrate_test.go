package migrate_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"vizor/gallery"
	"vizor/gallery/gallerytest"
	"vizor/gallery/migrate"
)

func open(t *testing.T) gallery.Embedded {
	t.Helper()
	g, err := gallery.Open(gallery.Config{Dir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return gallery.Embedded{Gallery: g}
}

// Fill enrols n subjects (two templates each, one with a kept image) in
// two partitions.
func fill(t *testing.T, g gallery.Backend, n int) {
	for _, p := range []string{"a", "b"} {
		for i := 0; i < n; i++ {
			s := fmt.Sprintf("s%03d", i)
			for j := 0; j < 2; j++ {
				opts := gallery.EnrolOptions{Meta: map[string]string{"filename": s + ".jpg"}}
				if j == 0 {
					opts.Image, opts.KeepImage = []byte("img-"+s), true
				}
				if _, err := g.Enrol(p, s, gallery.Template{Model: "m1", Vector: gallerytest.Unit(uint64(1000*len(p)+10*i+j), 32)}, opts); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// Check compares dst with src: same partitions, subjects, template counts,
// metadata and images, and every source template found at rank 1.
func Check(t *testing.T, src, dst gallery.Backend) {
	t.Helper()
	parts, err := src.ListPartitions()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		want, _ := src.Templates(p, "")
		got, err := dst.Templates(p, "")
		if err != nil || len(got) != len(want) {
			t.Fatalf("%s: %d templates, want %d (%v)", p, len(got), len(want), err)
		}
		images := 0
		for _, ti := range got {
			if ti.Meta["filename"] != ti.Subject+".jpg" {
				t.Fatalf("meta lost: %+v", ti)
			}
			if ti.HasImage {
				img, _, err := dst.ImageIn(p, ti.ID)
				if err != nil || string(img) != "img-"+ti.Subject {
					t.Fatalf("image of %+v: %q %v", ti, img, err)
				}
				images++
			}
		}
		if images != len(want)/2 {
			t.Fatalf("%s: %d images, want %d", p, images, len(want)/2)
		}
		for _, ti := range want {
			_, tt, _ := src.TemplateIn(p, ti.ID)
			res, err := dst.Search(p, tt, 1, -1)
			if err != nil || len(res) != 1 || res[0].Subject != ti.Subject || res[0].Score < 0.999 {
				t.Fatalf("%s/%s: %+v %v", p, ti.Subject, res, err)
			}
		}
	}
}

// TestMigrateResumes: a run stopped after its first batch, resumed from
// the checkpoint, leaves exactly the source's templates.
func TestMigrateResumes(t *testing.T) {
	src, dst := open(t), open(t)
	fill(t, src, 30)
	cp := filepath.Join(t.TempDir(), "migrate.checkpoint")
	batches := 0
	r, err := migrate.Run(src, dst, migrate.Options{Batch: 16, Checkpoint: cp, Stop: func() bool { batches++; return batches == 1 }})
	if err != nil || r.Copied != 16 {
		t.Fatalf("first run: %+v %v", r, err)
	}
	var last int
	r, err = migrate.Run(src, dst, migrate.Options{Batch: 16, Checkpoint: cp, Progress: func(done, total int) { last = total }})
	if err != nil || r.Skipped != 16 || r.Copied != 120-16 || last != 120 {
		t.Fatalf("resumed run: %+v %v (total %d)", r, err, last)
	}
	Check(t, src, dst)
	// Once more: everything is skipped, nothing doubles.
	r, err = migrate.Run(src, dst, migrate.Options{Batch: 16, Checkpoint: cp})
	if err != nil || r.Copied != 0 || r.Skipped != 120 {
		t.Fatalf("third run: %+v %v", r, err)
	}
	Check(t, src, dst)
}
