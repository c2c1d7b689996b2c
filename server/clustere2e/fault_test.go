// Package clustere2e drives two real `vizor serve` nodes on a throwaway
// 3-node Weaviate cluster (scripts/cluster.sh) with the shared photos: the
// cluster backend's fault test (issue 12).
package clustere2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vizor/gallery/weaviate"
	"vizor/gallery/weaviate/weaviatetest"
	"vizor/internal/vizorproc"
	"vizor/server/xmlapi/xmltest"
)

var client = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}

type node struct {
	*vizorproc.Proc
	url string
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func startVizor(t *testing.T, bin, galleryURL string) *node {
	t.Helper()
	var n *node
	err := vizorproc.RetryPortClash(func() error {
		addr, err := vizorproc.FreeAddr()
		if err != nil {
			return err
		}
		cmd := exec.Command(bin, "serve", "-addr", addr, "-data-dir", t.TempDir(), "-gallery", galleryURL,
			"-models-dir", filepath.Join(repoRoot(), "models"), "-log-level", "warn")
		cmd.Env = append(os.Environ(), "VIZOR_API_KEYS=", "VIZOR_CONFIG=")
		url := "http://" + addr
		p, err := vizorproc.Start(cmd, 90*time.Second, vizorproc.Healthy(url+"/health"))
		if err != nil {
			return err
		}
		n = &node{Proc: p, url: url}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop(30 * time.Second) })
	return n
}

func post(ctx context.Context, n *node, path, reqID string, v any) (xmltest.Resp, error) {
	b, _ := json.Marshal(v)
	return xmltest.Do(ctx, client, "POST", n.url+path, "application/json", bytes.NewReader(b), "X-Request-Id", reqID)
}

func photos(t *testing.T) map[string]string {
	t.Helper()
	shared := os.Getenv("VIZOR_SHARED_DATA")
	if shared == "" {
		shared = filepath.Join(repoRoot(), "..", "shared", "data")
	}
	dir := filepath.Join(shared, "faces")
	ents, err := os.ReadDir(dir)
	if err != nil {
		if os.Getenv("VIZOR_REQUIRE_DATA") == "1" {
			t.Fatal(err)
		}
		t.Skip("shared photos not found:", err)
	}
	out := map[string]string{}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".jpg") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = base64.StdEncoding.EncodeToString(b)
		}
	}
	return out
}

type ack struct{ partition, subject, photo string }

// TestClusterKillNine: 3 Weaviate nodes, 2 Vizor nodes (A on Weaviate
// node 0, B on node 1), 8 clients enrolling through both; Weaviate node 2
// is killed with SIGKILL mid-load and restarted while the load goes on.
// Then every acknowledged subject verifies from both Vizor nodes and
// search finds it at rank 1, each exactly once (retries reuse the request
// id); a partition deleted through A is gone on B; with two Weaviate nodes
// down an enrolment is refused with 503 unavailable and Retry-After, and
// /health names the gallery as the dependency that is down.
// VIZOR_CLUSTER_FAULT_ROUNDS repeats the kill round (default 1).
func TestClusterKillNine(t *testing.T) {
	wbin := weaviatetest.Skip(t)
	pics := photos(t)
	names := make([]string, 0, len(pics))
	for n := range pics {
		names = append(names, n)
	}
	sort.Strings(names)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "vizor")
	if err := vizorproc.Build(repoRoot(), bin); err != nil {
		t.Fatal(err)
	}
	cl, err := weaviatetest.Start(wbin, weaviatetest.Dir(18580), 18580)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(cl.Dir)
	defer cl.Stop()
	a := startVizor(t, bin, cl.URL(0, "timeout=3s"))
	b := startVizor(t, bin, cl.URL(1, "timeout=3s"))
	nodes := []*node{a, b}

	rounds := 1
	if v, err := strconv.Atoi(os.Getenv("VIZOR_CLUSTER_FAULT_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	var all []ack
	for r := 0; r < rounds; r++ {
		acks, retried := killRound(t, cl, nodes, pics, names, r)
		t.Logf("round %d: %d enrolments acknowledged (%d after a retry) across the kill of Weaviate node 2", r, len(acks), retried)
		all = append(all, acks...)
	}
	checkAll(t, nodes, pics, all)
	checkOnce(t, cl, all)
	deleteThroughA(t, cl, b, pics, all[0])
	belowQuorum(t, cl, a, pics)
}

// killRound runs 8 clients × 8 enrolments, killing node 2 after the first
// quarter is acknowledged and restarting it after half.
func killRound(t *testing.T, cl *weaviatetest.Cluster, nodes []*node, pics map[string]string, names []string, round int) ([]ack, int) {
	const clients, each = 8, 8
	var (
		mu      sync.Mutex
		acks    []ack
		retried atomic.Int64
		count   atomic.Int64
		wg      sync.WaitGroup
	)
	killed, restarted := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(restarted)
		for count.Load() < clients*each/4 {
			time.Sleep(50 * time.Millisecond)
		}
		if err := cl.Kill(2); err != nil {
			t.Error(err)
		}
		close(killed)
		// One node of three down: the cluster still takes QUORUM writes,
		// so /health stays 200 with the gallery ok.
		for _, n := range nodes {
			if st, g := health(t, n); st != 200 || !g.OK {
				t.Errorf("/health with one Weaviate node down: %d %+v", st, g)
			}
		}
		for count.Load() < clients*each/2 {
			time.Sleep(50 * time.Millisecond)
		}
		if err := cl.StartNode(2); err != nil {
			t.Error(err)
		}
	}()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			part := fmt.Sprintf("r%d-c%d", round, c)
			for i := 0; i < each; i++ {
				ph := names[(c*5+i)%len(names)]
				subject := strings.TrimSuffix(ph, ".jpg")
				body := map[string]any{"image": pics[ph], "subject_id": subject, "partition": part}
				id := fmt.Sprintf("fault-%d-%d-%d", round, c, i)
				// A refused or failed request is retried with the same
				// request id (through the other node too): it must not
				// store twice.
				for try := 0; try < 8; try++ {
					r, err := post(context.Background(), nodes[(i+try)%2], "/api/v1/enrol", id, body)
					if err == nil && r.Status == 200 {
						mu.Lock()
						acks = append(acks, ack{part, subject, ph})
						mu.Unlock()
						if try > 0 {
							retried.Add(1)
						}
						break
					}
					if err == nil && r.Status/100 == 4 {
						break // the photo is refused by a gate: not an acknowledgement
					}
					time.Sleep(time.Duration(200*(try+1)) * time.Millisecond)
				}
				count.Add(1)
			}
		}(c)
	}
	wg.Wait()
	<-restarted
	select {
	case <-killed:
	default:
		t.Fatal("the load finished before node 2 was killed")
	}
	if len(acks) < clients*each/2 {
		t.Fatalf("only %d of %d enrolments acknowledged", len(acks), clients*each)
	}
	return acks, int(retried.Load())
}

// checkAll: every acknowledged subject verifies from both Vizor nodes and
// is the top search candidate (alternating nodes).
func checkAll(t *testing.T, nodes []*node, pics map[string]string, acks []ack) {
	for i, k := range acks {
		for _, n := range nodes {
			r, err := post(context.Background(), n, "/api/v1/verify", fmt.Sprintf("v-%d-%s", i, n.url),
				map[string]any{"image": pics[k.photo], "subject_id": k.subject, "partition": k.partition})
			if err != nil || r.Status != 200 || r.Text("VerifyResponse/match") != "true" {
				t.Fatalf("verify %s/%s on %s: %v %d %s", k.partition, k.subject, n.url, err, r.Status, r.Body)
			}
		}
		n := nodes[i%2]
		r, err := post(context.Background(), n, "/api/v1/search", fmt.Sprintf("s-%d", i),
			map[string]any{"image": pics[k.photo], "partition": k.partition, "top_k": 1})
		if err != nil || r.Status != 200 {
			t.Fatalf("search %s/%s on %s: %v %d %s", k.partition, k.subject, n.url, err, r.Status, r.Body)
		}
		if !strings.Contains(string(r.Body), "<subject_id>"+k.subject+"</subject_id>") {
			t.Fatalf("search %s/%s on %s: not at rank 1: %s", k.partition, k.subject, n.url, r.Body)
		}
	}
}

func backend(t *testing.T, cl *weaviatetest.Cluster, i int) *weaviate.Backend {
	t.Helper()
	cfg, err := weaviate.ParseURL(cl.URL(i, ""))
	if err != nil {
		t.Fatal(err)
	}
	w, err := weaviate.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// checkOnce: each acknowledged subject holds exactly one template (the
// retried enrolments did not store twice).
func checkOnce(t *testing.T, cl *weaviatetest.Cluster, acks []ack) {
	w := backend(t, cl, 0)
	defer w.Close()
	for _, k := range acks {
		ts, err := w.Templates(k.partition, k.subject)
		if err != nil || len(ts) != 1 {
			t.Fatalf("%s/%s: %d templates, want 1 (%v)", k.partition, k.subject, len(ts), err)
		}
	}
}

// deleteThroughA drops a partition through Weaviate node 0 (Vizor A's)
// and expects Vizor B to answer 404 partition_not_found at once.
func deleteThroughA(t *testing.T, cl *weaviatetest.Cluster, b *node, pics map[string]string, k ack) {
	w := backend(t, cl, 0)
	defer w.Close()
	if err := w.DeletePartition(k.partition); err != nil {
		t.Fatal(err)
	}
	r, err := post(context.Background(), b, "/api/v1/search", "after-delete", map[string]any{"image": pics[k.photo], "partition": k.partition})
	if err != nil || r.Status != 404 || r.Text("ErrorResponse/code") != "partition_not_found" {
		t.Fatalf("search on B after the partition was deleted through A: %v %d %s", err, r.Status, r.Body)
	}
}

// belowQuorum: with nodes 1 and 2 down, node 0 alone cannot acknowledge at
// QUORUM: Vizor A answers 503 unavailable with Retry-After and /health
// says the gallery is the dependency that is down.
func belowQuorum(t *testing.T, cl *weaviatetest.Cluster, a *node, pics map[string]string) {
	for _, i := range []int{1, 2} {
		if err := cl.Kill(i); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		r, err := post(context.Background(), a, "/api/v1/enrol", "below-quorum", map[string]any{"image": pics["bona2.jpg"], "subject_id": "q", "partition": "quorum"})
		if err == nil && r.Status == 503 {
			if r.Text("ErrorResponse/code") != "unavailable" || r.Header.Get("Retry-After") == "" {
				t.Fatalf("below quorum: %d %v %s", r.Status, r.Header, r.Body)
			}
			break
		}
		if err == nil && r.Status == 200 {
			t.Fatalf("enrolment acknowledged with 2 of 3 nodes down: %s", r.Body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("below quorum: still %v %d %s", err, r.Status, r.Body)
		}
		time.Sleep(time.Second)
	}
	for {
		st, g := health(t, a)
		if st == 503 && g.Backend == "weaviate" && !g.OK && strings.Contains(g.Cause, "weaviate") {
			t.Logf("/health below quorum: gallery %+v", g)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health does not name the gallery: %d %+v", st, g)
		}
		time.Sleep(time.Second)
	}
}

type galleryHealth struct {
	Backend string `json:"backend"`
	OK      bool   `json:"ok"`
	Cause   string `json:"cause"`
}

func health(t *testing.T, n *node) (int, galleryHealth) {
	r, err := xmltest.Do(context.Background(), client, "GET", n.url+"/health", "", nil)
	if err != nil {
		t.Error(err)
		return 0, galleryHealth{}
	}
	var h struct {
		Gallery galleryHealth `json:"gallery"`
	}
	_ = json.Unmarshal(r.Body, &h)
	return r.Status, h.Gallery
}
