package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
	"vizor/internal/procstat"
)

// TestKillNineWithWorkers: clients enrol through a server whose engine runs
// in worker processes; the server is killed with SIGKILL mid-load. Its
// engine workers must not outlive it, and a server restarted on the same
// data dir must hold every enrolment it acknowledged.
func TestKillNineWithWorkers(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	p, err := startServer(data, "-engine-isolation", "process")
	if err != nil {
		t.Fatal(err)
	}
	workers := procstat.Tree(p.Cmd.Process.Pid)[1:]
	if len(workers) == 0 {
		t.Fatal("no engine worker processes under the server")
	}
	people := []string{"bona2.jpg", "chaeyeon3.jpg", "jimin6.jpg", "tzuyu.jpg", "seulgi.jpg", "joy.jpg"}
	bodies := map[string]string{}
	for _, ph := range people {
		bodies[ph] = b64(photo(t, ph))
	}
	var (
		mu    sync.Mutex
		acked = map[string]string{} // subject -> photo
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				subject := fmt.Sprintf("c%d-%d", c, i)
				ph := people[(c+i)%len(people)]
				b, _ := json.Marshal(map[string]any{"image": bodies[ph], "subject_id": subject, "partition": "k9"})
				r, err := doReq(ctx, "POST", p.url+"/api/v1/enrol", "application/json", bytes.NewReader(b))
				if err == nil && r.Status == 200 {
					mu.Lock()
					acked[subject] = ph
					mu.Unlock()
				}
			}
		}(c)
	}
	time.Sleep(4 * time.Second)
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	cancel()
	wg.Wait()
	_ = p.Stop(10 * time.Second) // reaps it (it is already dead)

	deadline := time.Now().Add(10 * time.Second)
	for _, w := range workers {
		for procstat.Running(w) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if procstat.Running(w) {
			t.Errorf("engine worker %d outlived the killed server", w)
		}
	}
	if len(acked) < 4 {
		t.Fatalf("only %d enrolments acknowledged before the kill: too few to prove anything", len(acked))
	}
	p2, err := startServer(data, "-engine-isolation", "process")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p2.stop() }()
	lost := 0
	for s, ph := range acked {
		r := post(t, p2, "/api/v1/verify", map[string]any{"image": bodies[ph], "subject_id": s, "partition": "k9"})
		if r.Status != 200 {
			lost++
			t.Errorf("acknowledged enrolment %s: verify after kill -9 answers %d: %.200s", s, r.Status, r.Body)
		}
	}
	t.Logf("%d enrolments acknowledged before kill -9, %d lost; %d workers gone with the server", len(acked), lost, len(workers))
}
