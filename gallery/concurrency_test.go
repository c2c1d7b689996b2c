package gallery

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrent runs searches in parallel with enrolments, deletes, subject
// operations and index rebuilds (run it with -race). Every enrolment must be
// found by an exact search as soon as Enrol returns.
func TestConcurrent(t *testing.T) {
	g := mustOpen(t, Config{Dir: t.TempDir(), IndexSpecs: map[string]string{"hnsw": "HNSW16,Flat"}})
	defer g.Close()
	for i := 0; i < 200; i++ {
		for _, p := range []string{"flat", "hnsw"} {
			if _, err := g.Enrol(p, fmt.Sprint("seed", i%50), tmpl("m", unit(uint64(i), dim)), EnrolOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	dur := 2 * time.Second
	if testing.Short() {
		dur = 300 * time.Millisecond
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var fail atomic.Value
	failf := func(format string, a ...any) {
		fail.CompareAndSwap(nil, fmt.Sprintf(format, a...))
	}
	var enrolled, searched atomic.Int64
	ids := make(chan [2]any, 4096)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for {
				select {
				case <-stop:
					return
				default:
				}
				p := []string{"flat", "hnsw"}[r.IntN(2)]
				v := unit(r.Uint64(), dim)
				info, err := g.Enrol(p, fmt.Sprint("w", w, "-", r.IntN(30)), tmpl("m", v), EnrolOptions{})
				if err != nil {
					failf("enrol: %v", err)
					return
				}
				enrolled.Add(1)
				if p == "flat" {
					res, err := g.Search(p, tmpl("m", v), 1, 0.99)
					if err != nil || len(res) != 1 || res[0].TemplateID != info.ID {
						failf("enrolment %d not searchable on return: %+v %v", info.ID, res, err)
						return
					}
				}
				select {
				case ids <- [2]any{p, info.ID}:
				default:
				}
			}
		}(w)
	}
	// Deleters: single templates and whole subjects, renames.
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(7, 7))
		for {
			select {
			case <-stop:
				return
			case x := <-ids:
				p, id := x[0].(string), x[1].(uint64)
				switch r.IntN(10) {
				case 0:
					if _, err := g.DeleteSubject(p, fmt.Sprint("w", r.IntN(4), "-", r.IntN(30))); err != nil && !errors.Is(err, ErrSubjectNotFound) {
						failf("delete subject: %v", err)
					}
				case 1:
					err := g.RenameSubject(p, fmt.Sprint("w", r.IntN(4), "-", r.IntN(30)), fmt.Sprint("w", r.IntN(4), "-", r.IntN(30)), true)
					if err != nil && !errors.Is(err, ErrSubjectNotFound) {
						failf("rename: %v", err)
					}
				default:
					if err := g.DeleteTemplate(p, id); err != nil && !errors.Is(err, ErrTemplateNotFound) {
						failf("delete: %v", err)
					}
				}
			}
		}
	}()
	// Rebuilder: swaps the HNSW partition's index back and forth.
	wg.Add(1)
	go func() {
		defer wg.Done()
		specs := []string{"HNSW8,Flat", "HNSW16,Flat;efSearch=40", "Flat"}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := g.SetIndexSpec("hnsw", specs[i%len(specs)]); err != nil {
				failf("rebuild: %v", err)
				return
			}
			_ = g.Stats()
		}
	}()
	for s := 0; s < 4; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(s), 99))
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := r.IntN(200)
				p := []string{"flat", "hnsw"}[r.IntN(2)]
				res, err := g.Search(p, tmpl("m", unit(uint64(i), dim)), 5, -1)
				if err != nil {
					failf("search: %v", err)
					return
				}
				seen := map[string]bool{}
				for _, c := range res {
					if seen[c.Subject] {
						failf("duplicate subject %q", c.Subject)
					}
					seen[c.Subject] = true
				}
				if p == "flat" && (len(res) == 0 || res[0].Subject != fmt.Sprint("seed", i%50) || res[0].Score < 0.99) {
					failf("flat search for seed %d: %+v", i, res)
				}
				if _, err := g.Verify(p, fmt.Sprint("seed", i%50), tmpl("m", unit(uint64(i), dim))); err != nil {
					failf("verify: %v", err)
				}
				searched.Add(1)
			}
		}(s)
	}
	time.Sleep(dur)
	close(stop)
	wg.Wait()
	if f := fail.Load(); f != nil {
		t.Fatal(f)
	}
	if err := g.checkConsistency(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d enrolments, %d searches", enrolled.Load(), searched.Load())
}
