// Command clusterhttp measures what the cluster backend costs an HTTP
// request: two `vizor serve` nodes on this machine, one on the embedded
// gallery and one on a 3-node loopback Weaviate cluster, answer the same
// verify and search requests (a shared photo against a subject enrolled
// from it), interleaved one by one so both see the same machine load.
//
//	go run ./bench/gallery/cmd/clusterhttp -requests 300 -out /tmp/http.md
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"vizor/bench/host"
	"vizor/gallery/weaviate/weaviatetest"
	"vizor/internal/vizorproc"
	"vizor/server/xmlapi/xmltest"
)

var (
	requests = flag.Int("requests", 300, "verify (and search) requests per node")
	photo    = flag.String("photo", "", "the photo (default: ../shared/data/faces/bona2.jpg)")
	port     = flag.Int("port", 18980, "first HTTP port of the cluster the command starts")
	out      = flag.String("out", "", "also write the Markdown section here")
)

var client = &http.Client{Timeout: 60 * time.Second}

type node struct {
	name string
	p    *vizorproc.Proc
	url  string
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "clusterhttp:", err)
		cleanup()
		os.Exit(1)
	}
}

var cleanup = func() {}

func main() {
	flag.Parse()
	root, err := weaviatetest.Root()
	check(err)
	if *photo == "" {
		*photo = filepath.Join(root, "..", "shared", "data", "faces", "bona2.jpg")
	}
	img, err := os.ReadFile(*photo)
	check(err)
	work, err := os.MkdirTemp("", "clusterhttp")
	check(err)
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "vizor")
	check(vizorproc.Build(root, bin))
	wbin := weaviatetest.Binary()
	if wbin == "" {
		check(fmt.Errorf("weaviate-server not built: bash third_party/weaviate.sh"))
	}
	cl, err := weaviatetest.Start(wbin, filepath.Join(work, "cluster"), *port)
	check(err)
	cleanup = cl.Stop
	defer cl.Stop()
	emb := start(bin, root, "embedded", filepath.Join(work, "data-e"), "embedded")
	defer emb.p.Stop(30 * time.Second)
	clu := start(bin, root, "weaviate", filepath.Join(work, "data-w"), cl.URL(0, "prefix=HTTPBench"))
	defer clu.p.Stop(30 * time.Second)
	// The same cluster with the partition record cached for 2 s: what the
	// per-request record read costs.
	cached := start(bin, root, "cached", filepath.Join(work, "data-c"), cl.URL(1, "prefix=HTTPBench&partition_cache=2s"))
	defer cached.p.Stop(30 * time.Second)
	b64 := base64.StdEncoding.EncodeToString(img)
	nodes := []*node{emb, clu, cached}
	for _, n := range nodes {
		r := post(n, "/api/v1/enrol", map[string]any{"image": b64, "subject_id": "bench", "partition": "bench"})
		if r.Status != 200 {
			check(fmt.Errorf("%s enrol: %d %s", n.name, r.Status, r.Body))
		}
	}
	lat := map[string]map[string][]time.Duration{}
	for _, n := range nodes {
		lat[n.name] = map[string][]time.Duration{}
	}
	for i := 0; i < *requests+10; i++ {
		for _, n := range nodes {
			for _, op := range []string{"verify", "search"} {
				body := map[string]any{"image": b64, "partition": "bench"}
				if op == "verify" {
					body["subject_id"] = "bench"
				}
				t := time.Now()
				r := post(n, "/api/v1/"+op, body)
				d := time.Since(t)
				if r.Status != 200 {
					check(fmt.Errorf("%s %s: %d %s", n.name, op, r.Status, r.Body))
				}
				if i >= 10 { // the first ten warm up
					lat[n.name][op] = append(lat[n.name][op], d)
				}
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### HTTP verify and search: embedded vs cluster gallery\n\nCommand: `go run ./bench/gallery/cmd/clusterhttp %s` on %s, %d CPUs, %s, %s. Two `vizor serve` nodes, one on the embedded gallery and one on a 3-node loopback Weaviate cluster (defaults: flat + BQ, ALL-then-QUORUM writes, partition record read per request), and a third on the same cluster with partition_cache=2s, %d requests each, one at a time, interleaved; the same photo (%s) against one enrolled subject, the engine included.\n\n",
		strings.Join(os.Args[1:], " "), host.CPUModel(), runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format("2006-01-02"), *requests, filepath.Base(*photo))
	b.WriteString("| request | embedded p50 ms | cluster p50 ms | difference ms | cluster, partition_cache=2s, p50 ms | difference ms | embedded p99 ms | cluster p99 ms | cached p99 ms |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, op := range []string{"verify", "search"} {
		e, c, k := lat["embedded"][op], lat["weaviate"][op], lat["cached"][op]
		fmt.Fprintf(&b, "| %s | %.2f | %.2f | %+.2f | %.2f | %+.2f | %.2f | %.2f | %.2f |\n", op, ms(pct(e, 0.5)), ms(pct(c, 0.5)), ms(pct(c, 0.5))-ms(pct(e, 0.5)),
			ms(pct(k, 0.5)), ms(pct(k, 0.5))-ms(pct(e, 0.5)), ms(pct(e, 0.99)), ms(pct(c, 0.99)), ms(pct(k, 0.99)))
	}
	fmt.Print(b.String())
	if *out != "" {
		check(os.WriteFile(*out, []byte(b.String()), 0o644))
	}
}

func start(bin, root, name, data, gal string) *node {
	var n *node
	check(vizorproc.RetryPortClash(func() error {
		addr, err := vizorproc.FreeAddr()
		if err != nil {
			return err
		}
		cmd := exec.Command(bin, "serve", "-addr", addr, "-data-dir", data, "-gallery", gal,
			"-models-dir", filepath.Join(root, "models"), "-log-level", "warn")
		cmd.Env = append(os.Environ(), "VIZOR_API_KEYS=", "VIZOR_CONFIG=")
		p, err := vizorproc.Start(cmd, 90*time.Second, vizorproc.Healthy("http://"+addr+"/health"))
		if err != nil {
			return err
		}
		n = &node{name: name, p: p, url: "http://" + addr}
		return nil
	}))
	return n
}

func post(n *node, path string, v any) xmltest.Resp {
	b, _ := json.Marshal(v)
	r, err := xmltest.Do(context.Background(), client, "POST", n.url+path, "application/json", bytes.NewReader(b))
	check(err)
	return r
}

func pct(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
