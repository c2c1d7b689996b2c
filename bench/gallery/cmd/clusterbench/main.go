// Command clusterbench compares the two gallery backends side by side in
// one run: the embedded store (FAISS Flat + bbolt, exact) and the Weaviate
// backend on a 3-node loopback cluster (replication factor 3), through the
// gallery.Backend interface with synthetic templates.
//
//	go run ./bench/gallery/cmd/clusterbench -n 100000 -out bench/results/cluster.md
//	go run ./bench/gallery/cmd/clusterbench -n 10000 -params 'index=flat'
//
// It measures bulk enrolment (batches through EnrolBatch, acknowledged:
// fsync for the embedded store, ALL-then-QUORUM for the cluster), search
// p50/p99 at concurrency 1 and 16, recall@1 and recall@10 of the cluster
// against the embedded store's exact search, resident memory per template
// (the bench process for embedded; each Weaviate node's RSS), and start-up
// time (embedded: Close + Open; cluster: every node stopped and started
// again until a search answers). The cluster is started by the command
// (scripts/cluster.sh, ports from -port) unless -url names one.
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"vizor/bench/gallery/synth"
	"vizor/internal/procstat"

	"vizor/bench/host"
	"vizor/gallery"
	"vizor/gallery/weaviate"
	"vizor/gallery/weaviate/weaviatetest"
)

var (
	n        = flag.Int("n", 100000, "templates (one per subject)")
	dim      = flag.Int("dim", 512, "template dimension")
	queries  = flag.Int("queries", 400, "genuine probes per measurement")
	topK     = flag.Int("k", 10, "subjects per search")
	cos      = flag.Float64("cos", 0.7, "cosine of a probe to its template")
	batch    = flag.Int("batch", 500, "templates per EnrolBatch")
	batchers = flag.Int("batchers", 4, "concurrent EnrolBatch callers")
	url      = flag.String("url", "", "an existing cluster's gallery URL (default: start one)")
	port     = flag.Int("port", 18780, "first HTTP port of the cluster the command starts")
	params   = flag.String("params", "", "extra gallery URL parameters, e.g. index=flat or ef=128")
	out      = flag.String("out", "", "also write the Markdown section here")
	mapping  = flag.Int("mapping", 0, "also time creating and dropping this many partitions as tenants and as collections (0: skip)")
)

var mappingNote string

type result struct {
	name                 string
	enrolRate            float64
	p50c1, p99c1         time.Duration
	p50c16, p99c16       time.Duration
	qps16                float64
	r1, r10              float64
	bytesPerTemplateNode float64
	startup              time.Duration
}

func main() {
	flag.Parse()
	t0 := time.Now()
	work, err := os.MkdirTemp("", "clusterbench")
	check(err)
	defer os.RemoveAll(work)
	ps := probes()

	emb, truth := embedded(filepath.Join(work, "embedded"), ps)
	cl := cluster(filepath.Join(work, "cluster"), ps, truth)
	md := markdown([]result{emb, cl}, time.Since(t0))
	fmt.Print(md)
	if *out != "" {
		check(os.WriteFile(*out, []byte(md), 0o644))
	}
}

// cleanup stops the cluster the command started, also on a failure.
var cleanup = func() {}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "clusterbench:", err)
		cleanup()
		os.Exit(1)
	}
}

func probes() []gallery.Template {
	ps := make([]gallery.Template, *queries)
	for q := range ps {
		i := synth.Splitmix(uint64(q)) % uint64(*n)
		ps[q] = gallery.Template{Model: "bench", Vector: synth.Near(synth.Unit(i, *dim), uint64(q)+1<<50, *cos)}
	}
	return ps
}

// load enrols n templates (subject s<i>, vector synth.Unit(i)) in batches.
func load(b gallery.Backend) float64 {
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	var done atomic.Int64
	for w := 0; w < *batchers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(int64(*batch))) - *batch
				if lo >= *n {
					return
				}
				hi := min(lo+*batch, *n)
				items := make([]gallery.BatchItem, 0, hi-lo)
				for i := lo; i < hi; i++ {
					items = append(items, gallery.BatchItem{Subject: "s" + strconv.Itoa(i),
						Template: gallery.Template{Model: "bench", Vector: synth.Unit(uint64(i), *dim)},
						Options:  gallery.EnrolOptions{Key: "bench/" + strconv.Itoa(i)}})
				}
				if _, err := b.EnrolBatch("bench", items); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				if d := done.Add(int64(len(items))); d%20000 < int64(len(items)) {
					fmt.Fprintf(os.Stderr, "  %s: %d/%d enrolled (%.0f/s)\n", b.Kind(), d, *n, float64(d)/time.Since(start).Seconds())
				}
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		check(e.(error))
	}
	return float64(*n) / time.Since(start).Seconds()
}

func pct(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1)]
}

// search runs every probe with conc concurrent searchers; it returns the
// latencies, the throughput and the results.
func search(b gallery.Backend, ps []gallery.Template, conc int) ([]time.Duration, float64, [][]gallery.Candidate) {
	lat := make([]time.Duration, len(ps))
	res := make([][]gallery.Candidate, len(ps))
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				q := int(next.Add(1)) - 1
				if q >= len(ps) {
					return
				}
				t := time.Now()
				r, err := b.Search("bench", ps[q], *topK, -1)
				lat[q] = time.Since(t)
				check(err)
				res[q] = r
			}
		}()
	}
	wg.Wait()
	return lat, float64(len(ps)) / time.Since(start).Seconds(), res
}

func measure(r *result, b gallery.Backend, ps []gallery.Template) [][]gallery.Candidate {
	search(b, ps[:min(50, len(ps))], 1) // warm
	lat, _, res := search(b, ps, 1)
	r.p50c1, r.p99c1 = pct(lat, 0.5), pct(lat, 0.99)
	lat, qps, _ := search(b, ps, 16)
	r.p50c16, r.p99c16, r.qps16 = pct(lat, 0.5), pct(lat, 0.99), qps
	return res
}

func embedded(dir string, ps []gallery.Template) (result, [][]gallery.Candidate) {
	r := result{name: "embedded (FAISS Flat + bbolt, fsync)"}
	runtime.GC()
	anon0 := rssKB(0, "RssAnon")
	g, err := gallery.Open(gallery.Config{Dir: dir})
	check(err)
	e := gallery.Embedded{Gallery: g}
	r.enrolRate = load(e)
	fmt.Fprintf(os.Stderr, "embedded: %.0f templates/s\n", r.enrolRate)
	runtime.GC()
	r.bytesPerTemplateNode = float64(rssKB(0, "RssAnon")-anon0) * 1024 / float64(*n)
	check(g.Close())
	t := time.Now()
	g, err = gallery.Open(gallery.Config{Dir: dir})
	check(err)
	e = gallery.Embedded{Gallery: g}
	_, err = e.Search("bench", ps[0], 1, -1)
	check(err)
	r.startup = time.Since(t)
	truth := measure(&r, e, ps)
	r.r1, r.r10 = 1, 1
	check(g.Close())
	return r, truth
}

func cluster(dir string, ps []gallery.Template, truth [][]gallery.Candidate) result {
	r := result{name: "Weaviate, 3 nodes on loopback, RF 3"}
	u := *url
	var cl *weaviatetest.Cluster
	if u == "" {
		bin := weaviatetest.Binary()
		if bin == "" {
			check(fmt.Errorf("weaviate-server not built: bash third_party/weaviate.sh"))
		}
		var err error
		cl, err = weaviatetest.Start(bin, dir, *port)
		check(err)
		cleanup = cl.Stop
		defer func() { cleanup() }()
		u = cl.URL(0, "prefix=Bench")
	}
	if *params != "" {
		u += "&" + *params
	}
	r.name += " (" + strings.TrimPrefix(u[strings.Index(u, "?"):], "?") + ")"
	cfg, err := weaviate.ParseURL(u)
	check(err)
	b, err := weaviate.Open(cfg)
	check(err)
	var rss0 []int64
	if cl != nil {
		for i := 0; i < 3; i++ {
			rss0 = append(rss0, rssKB(cl.Pid(i), "VmRSS"))
		}
	}
	r.enrolRate = load(b)
	fmt.Fprintf(os.Stderr, "cluster: %.0f templates/s\n", r.enrolRate)
	if cl != nil {
		var grow int64
		for i := 0; i < 3; i++ {
			grow = max(grow, rssKB(cl.Pid(i), "VmRSS")-rss0[i])
		}
		r.bytesPerTemplateNode = float64(grow) * 1024 / float64(*n)
	}
	res := measure(&r, b, ps)
	if *mapping > 0 {
		mappingNote = mappingBench(u, *mapping)
	}
	var h1, h10 float64
	for q := range res {
		if len(res[q]) > 0 && len(truth[q]) > 0 && res[q][0].Subject == truth[q][0].Subject {
			h1++
		}
		want := map[string]bool{}
		for _, c := range truth[q] {
			want[c.Subject] = true
		}
		for _, c := range res[q] {
			if want[c.Subject] {
				h10++
			}
		}
	}
	r.r1, r.r10 = h1/float64(len(res)), h10/float64(len(res)*len(truth[0]))
	if cl != nil {
		cl.Stop()
		t := time.Now()
		c2, err := weaviatetest.Start(cl.Bin, dir, *port)
		check(err)
		cleanup = c2.Stop
		for {
			if _, err := b.Search("bench", ps[0], 1, -1); err == nil {
				break
			}
			if time.Since(t) > 10*time.Minute {
				check(fmt.Errorf("cluster did not answer after restart"))
			}
			time.Sleep(100 * time.Millisecond)
		}
		r.startup = time.Since(t)
	}
	return r
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }

func markdown(rs []result, total time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Gallery backends: embedded vs Weaviate cluster\n\nCommand: `go run ./bench/gallery/cmd/clusterbench %s` on %s, %d CPUs, %s, %s; %s in all. %d random %d-d unit templates (one per subject), enrolled in batches of %d by %d concurrent callers; %d genuine probes (a template moved to cosine %.2f), top-%d. Recall against the embedded store's exact search. Memory: growth of the resident set per template (bench process for embedded; the largest growth among the 3 nodes, each of which holds every template at RF 3).\n\n",
		strings.Join(os.Args[1:], " "), host.CPUModel(), runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format("2006-01-02"), total.Round(time.Second),
		*n, *dim, *batch, *batchers, *queries, *cos, *topK)
	b.WriteString("| backend | enrol templates/s | search p50 ms (c=1) | p99 ms (c=1) | p50 ms (c=16) | p99 ms (c=16) | searches/s (c=16) | recall@1 | recall@10 | bytes/template/node | start-up s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %s | %s | %.0f | %.4f | %.4f | %.0f | %.1f |\n", r.name, r.enrolRate,
			ms(r.p50c1), ms(r.p99c1), ms(r.p50c16), ms(r.p99c16), r.qps16, r.r1, r.r10, r.bytesPerTemplateNode, r.startup.Seconds())
	}
	if len(rs) == 2 && rs[0].enrolRate > 0 && rs[0].p50c1 > 0 {
		fmt.Fprintf(&b, "\nRatios (cluster / embedded): enrol %.2f×, search p50 c=1 %.2f×, p99 c=1 %.2f×, searches/s c=16 %.2f×.\n",
			rs[1].enrolRate/rs[0].enrolRate, float64(rs[1].p50c1)/float64(rs[0].p50c1), float64(rs[1].p99c1)/float64(rs[0].p99c1), rs[1].qps16/rs[0].qps16)
	}
	b.WriteString(mappingNote)
	return b.String()
}

// rssKB is a status field of pid (0: this process), 0 when unreadable.
func rssKB(pid int, field string) int64 {
	v, _ := procstat.StatusKB(pid, field)
	return v
}
