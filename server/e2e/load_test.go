package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loadDuration is VIZOR_LOAD_SECONDS (default 15 s in make test; the issue's
// full run is 30 s).
func loadDuration() time.Duration {
	if s := os.Getenv("VIZOR_LOAD_SECONDS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return 15 * time.Second
}

// TestLoad: 16 concurrent clients mix enrol, search, verify and delete on
// one partition for a bounded time. Each client owns its subjects and keeps
// a model of what it enrolled; there must be no 5xx, every status must be
// the one the model predicts, and afterwards the gallery must agree with
// the union of the models.
func TestLoad(t *testing.T) {
	p := srv0
	const clients = 16
	const part = "load"
	photos := []string{"probe", "bona2.jpg", "chaeyeon3.jpg", "jimin6.jpg", "tzuyu.jpg", "seulgi.jpg", "joy.jpg", "chaeyoung.jpg"}
	bodies := map[string]string{}
	for _, ph := range photos {
		bodies[ph] = b64(photo(t, ph))
	}
	dur := loadDuration()
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()

	var (
		total, fiveXX, unexpected atomic.Int64
		opCount                   [4]atomic.Int64
		mu                        sync.Mutex
		failures                  []string
		latMu                     sync.Mutex
		lats                      []time.Duration
	)
	models := make([]map[string]int, clients) // subject -> templates
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		models[c] = map[string]int{}
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(c)))
			model := models[c]
			for ctx.Err() == nil {
				subject := fmt.Sprintf("c%02d-s%d", c, rng.Intn(4))
				ph := photos[rng.Intn(len(photos))]
				op := rng.Intn(4)
				var path string
				var body map[string]any
				want := 200
				switch op {
				case 0:
					path, body = "/api/v1/enrol", map[string]any{"image": bodies[ph], "subject_id": subject, "partition": part}
				case 1:
					path, body = "/api/v1/search", map[string]any{"image": bodies[ph], "partition": part, "top_k": 5}
				case 2:
					path, body = "/api/v1/verify", map[string]any{"image": bodies[ph], "subject_id": subject, "partition": part}
					if model[subject] == 0 {
						want = 404
					}
				case 3:
					path, body = "/api/v1/delete", map[string]any{"subject_id": subject, "partition": part}
					if model[subject] == 0 {
						want = 404
					}
				}
				b, _ := json.Marshal(body)
				t0 := time.Now()
				// Requests are not tied to ctx: the last ones finish normally.
				r, err := doReq(context.Background(), "POST", p.url+path, "application/json", bytes.NewReader(b))
				el := time.Since(t0)
				total.Add(1)
				opCount[op].Add(1)
				latMu.Lock()
				lats = append(lats, el)
				latMu.Unlock()
				if err != nil {
					unexpected.Add(1)
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s: %v", path, err))
					mu.Unlock()
					continue
				}
				if r.Status >= 500 {
					fiveXX.Add(1)
				}
				// A search before this partition exists may 404.
				if r.Status != want && !(op == 1 && r.Status == 404) {
					unexpected.Add(1)
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s %s: %d want %d: %.200s", path, subject, r.Status, want, r.Body))
					mu.Unlock()
					continue
				}
				switch {
				case op == 0 && r.Status == 200:
					model[subject]++
				case op == 3 && r.Status == 200:
					if n, _ := strconv.Atoi(r.Text("DeleteResponse/templates_removed")); n != model[subject] {
						unexpected.Add(1)
						mu.Lock()
						failures = append(failures, fmt.Sprintf("delete %s removed %d, model has %d", subject, n, model[subject]))
						mu.Unlock()
					}
					delete(model, subject)
				}
			}
		}(c)
	}
	wg.Wait()
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	pct := func(q float64) time.Duration {
		if len(lats) == 0 {
			return 0
		}
		return lats[min(len(lats)-1, int(q*float64(len(lats))))]
	}
	t.Logf("load: %d requests in %v (%.1f req/s) by %d clients; enrol %d search %d verify %d delete %d; p50 %v p99 %v; 5xx %d; unexpected %d",
		total.Load(), dur, float64(total.Load())/dur.Seconds(), clients, opCount[0].Load(), opCount[1].Load(), opCount[2].Load(), opCount[3].Load(),
		pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), fiveXX.Load(), unexpected.Load())
	if fiveXX.Load() != 0 || unexpected.Load() != 0 {
		for i, f := range failures {
			if i == 20 {
				break
			}
			t.Error(f)
		}
		t.Fatalf("%d 5xx, %d unexpected", fiveXX.Load(), unexpected.Load())
	}
	if total.Load() < clients {
		t.Fatalf("only %d requests", total.Load())
	}
	// Consistency: the gallery holds exactly the models' subjects.
	wantSubjects := 0
	for c := range models {
		for subject, n := range models[c] {
			wantSubjects++
			r := post(t, p, "/api/v1/verify", map[string]any{"image": bodies["probe"], "subject_id": subject, "partition": part})
			if r.Status != 200 {
				t.Errorf("subject %s (%d templates in the model) not verifiable: %d %s", subject, n, r.Status, r.Body)
			}
		}
		for s := 0; s < 4; s++ {
			subject := fmt.Sprintf("c%02d-s%d", c, s)
			if models[c][subject] == 0 {
				r := post(t, p, "/api/v1/verify", map[string]any{"image": bodies["probe"], "subject_id": subject, "partition": part})
				if r.Status != 404 {
					t.Errorf("deleted subject %s still present: %d", subject, r.Status)
				}
			}
		}
	}
	var stats struct {
		Partitions map[string]int `json:"partitions"`
		Templates  map[string]int `json:"templates_by_partition"`
	}
	getJSON(t, p, "/stats", &stats)
	wantTemplates := 0
	for c := range models {
		for _, n := range models[c] {
			wantTemplates += n
		}
	}
	if stats.Partitions[part] != wantSubjects || stats.Templates[part] != wantTemplates {
		t.Fatalf("stats: %d subjects / %d templates, models say %d / %d", stats.Partitions[part], stats.Templates[part], wantSubjects, wantTemplates)
	}
	t.Logf("consistent: %d subjects, %d templates", wantSubjects, wantTemplates)
	healthy(t, p)
}

// TestGracefulShutdown: SIGTERM while requests are in flight; they finish
// with 200, the process exits 0, and the enrolments survive a restart.
func TestGracefulShutdown(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	p, err := startServer(dir)
	if err != nil {
		t.Fatal(err)
	}
	img := b64(photo(t, "probe"))
	if r := post(t, p, "/api/v1/enrol", map[string]any{"image": img, "subject_id": "survivor"}); r.Status != 200 {
		t.Fatalf("enrol: %s", r.Body)
	}
	const n = 8
	results := make(chan int, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			b, _ := json.Marshal(map[string]any{"image": img, "subject_id": fmt.Sprintf("late-%d", i)})
			r, err := doReq(context.Background(), "POST", p.url+"/api/v1/enrol", "application/json", bytes.NewReader(b))
			if err != nil {
				results <- -1
				return
			}
			results <- r.Status
		}(i)
	}
	time.Sleep(30 * time.Millisecond) // let them reach the server
	if err := p.stop(); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.Log.String())
	}
	ok := 0
	for i := 0; i < n; i++ {
		switch st := <-results; st {
		case 200:
			ok++
		case -1: // not yet connected when the listener closed: refused, fine
		default:
			t.Errorf("in-flight request got %d", st)
		}
	}
	p2, err := startServer(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.stop()
	var stats struct {
		Total int `json:"total_subjects"`
	}
	getJSON(t, p2, "/stats", &stats)
	if stats.Total != 1+ok {
		t.Fatalf("after restart: %d subjects, want %d (1 + %d finished in flight)", stats.Total, 1+ok, ok)
	}
	if r := post(t, p2, "/api/v1/verify", map[string]any{"image": img, "subject_id": "survivor"}); r.Status != 200 || r.Text("VerifyResponse/match") != "true" {
		t.Fatalf("verify after restart: %s", r.Body)
	}
	t.Logf("%d of %d in-flight enrolments finished during shutdown and survived the restart", ok, n)
}
