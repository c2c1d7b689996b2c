package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vizor/bindings"
	"vizor/internal/vizorproc"
)

// crashJPEG is a valid JPEG whose comment carries bindings.DebugCrashMarker:
// every header check passes it, and a vizor_crashtest build's engine worker
// crashes (SIGSEGV in native code) when it receives it.
func crashJPEG(jpeg []byte) []byte {
	com := []byte(bindings.DebugCrashMarker)
	out := []byte{0xFF, 0xD8, 0xFF, 0xFE, byte((len(com) + 2) >> 8), byte(len(com) + 2)}
	out = append(out, com...)
	return append(out, jpeg[2:]...)
}

// TestWorkerCrashUnderLoad: 8 clients verify and search through a server
// whose engine runs in worker processes while another client sends images
// that crash a worker in native code. Only the crashing requests may fail
// (500); every other request succeeds, the workers are restarted, and the
// server stays up.
func TestWorkerCrashUnderLoad(t *testing.T) {
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "vizor-crashtest")
	if err := vizorproc.BuildTags(repoRoot, bin, "vizor_crashtest"); err != nil {
		t.Fatal(err)
	}
	var p *proc
	err := vizorproc.RetryPortClash(func() error {
		addr, err := vizorproc.FreeAddr()
		if err != nil {
			return err
		}
		cmd := exec.Command(bin, "serve", "-addr", addr, "-data-dir", filepath.Join(tmp, "data"),
			"-models-dir", filepath.Join(repoRoot, "models"), "-log-level", "warn", "-engine-isolation", "process")
		cmd.Env = append(os.Environ(), "VIZOR_API_KEYS=", "VIZOR_CONFIG=")
		vp, err := vizorproc.Start(cmd, 60*time.Second, vizorproc.Healthy("http://"+addr+"/health"))
		if err != nil {
			return err
		}
		p = &proc{Proc: vp, url: "http://" + addr, addr: addr}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.stop(); err != nil {
			t.Errorf("server exit: %v", err)
		}
	}()

	const part = "crash"
	people := []string{"bona2.jpg", "chaeyeon3.jpg", "jimin6.jpg", "tzuyu.jpg"}
	for _, ph := range people {
		if r := post(t, p, "/api/v1/enrol", map[string]any{"image": b64(photo(t, ph)), "subject_id": ph, "partition": part}); r.Status != 200 {
			t.Fatalf("enrol %s: %d %s", ph, r.Status, r.Body)
		}
	}
	bad := b64(crashJPEG(photo(t, "probe")))

	// The load runs until 3 crashing requests have been answered and the
	// clients have had 20 answers (on a loaded machine a crash and its two
	// worker restarts take seconds), at most 90 s.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var (
		ok, failed, crashes, crashAnswers atomic.Int64
		mu                                sync.Mutex
		failures                          []string
	)
	send := func(path string, body map[string]any) (int, []byte, error) {
		b, _ := json.Marshal(body)
		r, err := doReq(context.Background(), "POST", p.url+path, "application/json", bytes.NewReader(b))
		return r.Status, r.Body, err
	}
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				ph := people[(c+i)%len(people)]
				path, body := "/api/v1/verify", map[string]any{"image": b64(photo(t, ph)), "subject_id": ph, "partition": part}
				if i%2 == 1 {
					path, body = "/api/v1/search", map[string]any{"image": b64(photo(t, ph)), "partition": part, "top_k": 3}
				}
				st, rb, err := send(path, body)
				if err == nil && st == 200 {
					ok.Add(1)
					continue
				}
				failed.Add(1)
				mu.Lock()
				failures = append(failures, fmt.Sprintf("%s %s: %d %v %.200s", path, ph, st, err, rb))
				mu.Unlock()
			}
		}(c)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel()
		for ctx.Err() == nil && (crashes.Load() < 3 || ok.Load() < 20) {
			time.Sleep(time.Second)
			if ctx.Err() != nil {
				return
			}
			crashes.Add(1)
			st, rb, err := send("/api/v1/search", map[string]any{"image": bad, "partition": part})
			if err == nil && st == 500 {
				crashAnswers.Add(1)
			} else {
				t.Errorf("crashing request: %d %v %.200s (want 500)", st, err, rb)
			}
		}
	}()
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d of %d normal requests failed while workers crashed; first: %v", failed.Load(), ok.Load()+failed.Load(), failures[0])
	}
	if ok.Load() < 20 || crashes.Load() < 3 {
		t.Fatalf("too little load to prove anything: %d ok, %d crashes", ok.Load(), crashes.Load())
	}
	healthy(t, p)
	// Each crashing image kills a worker twice: in its batch and alone.
	if n := restarts(t, p); n < 2*crashes.Load() {
		t.Errorf("worker restarts %d, want >= %d for %d crashing requests", n, 2*crashes.Load(), crashes.Load())
	}
	t.Logf("%d normal requests ok, 0 failed; %d crashing requests answered 500", ok.Load(), crashAnswers.Load())
}

var restartsLine = regexp.MustCompile(`(?m)^vizor_engine_worker_restarts_total(?:\{\})? (\d+)`)

func restarts(t *testing.T, p *proc) int64 {
	t.Helper()
	resp, err := http.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	m := restartsLine.FindSubmatch(buf.Bytes())
	if m == nil {
		t.Fatalf("no vizor_engine_worker_restarts_total in /metrics:\n%s", buf.String())
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return n
}
