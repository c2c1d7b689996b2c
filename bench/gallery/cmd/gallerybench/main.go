// Command gallerybench measures the gallery package: search latency and
// recall per index spec and gallery size, memory per template, durable
// enrolment throughput with concurrent writers, and start-up time.
//
//	go run ./bench/gallery/cmd/gallerybench                       # make bench: 10^3..10^5 + enrolment, ~5 min
//	go run ./bench/gallery/cmd/gallerybench -mode search -n 1000000 -queries 400 \
//	    -specs 'Flat|SQfp16;rerank=1|PQ64x4fs;rerank=1'                  # 10^6: ~10 min on 2 cores
//	    (add '|HNSW32,Flat;efSearch=128' for HNSW: its build takes ~45 min at 10^6)
//	go run ./bench/gallery/cmd/gallerybench -mode enrol -writers 16 -count 20000
//
// -out FILE also writes the results as a Markdown section (make bench copies
// it into BENCHMARKS.md).
//
// Templates are random 512-d unit vectors, one per subject. Genuine probes
// are stored templates perturbed to cosine -cos with the original; impostor
// probes are fresh random vectors. Recall is measured against the exact
// (Flat) index on the same gallery: recall@1 is the fraction of probes whose
// top subject matches exact search's, recall@10 the mean overlap of the top
// 10 subjects.
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"vizor/bench/gallery/synth"
	"vizor/internal/procstat"

	"vizor/gallery"

	"vizor/bench/host"
)

var (
	mode      = flag.String("mode", "all", "all | search | enrol")
	out       = flag.String("out", "", "also write a Markdown results section to this file")
	sizes     = flag.String("n", "1000,10000,100000", "gallery sizes (comma-separated)")
	specs     = flag.String("specs", "Flat|SQfp16;rerank=1|PQ64x4fs;rerank=1|HNSW32,Flat", "index specs to compare, '|'-separated; the first should be Flat (recall reference)")
	dim       = flag.Int("dim", 512, "template dimension")
	queries   = flag.Int("queries", 1000, "probes per measurement (half genuine, half impostor)")
	topK      = flag.Int("k", 5, "subjects per search")
	cos       = flag.Float64("cos", 0.7, "cosine of genuine probes to their template")
	dir       = flag.String("dir", "", "work directory (default: a temp dir, removed afterwards)")
	writers   = flag.Int("writers", 16, "concurrent writers (enrol mode; also used to load the gallery)")
	count     = flag.Int("count", 20000, "enrolments (enrol mode)")
	startup   = flag.Bool("startup", true, "measure Close+Open time after loading")
	reuse     = flag.Bool("reuse", false, "keep the stores in -dir and reuse one holding the right number of templates instead of loading again")
	startProf = flag.String("startup-profile", "", "write a CPU profile of the (last) start-up to this file")
	parallel  = flag.Int("parallel", 0, "also measure throughput with this many concurrent searchers (0: skip)")
)

func main() {
	flag.Parse()
	work := *dir
	if work == "" {
		d, err := os.MkdirTemp("", "gallerybench")
		check(err)
		defer os.RemoveAll(d)
		work = d
	}
	host, _ := os.Hostname()
	fmt.Printf("# gallerybench %s  host=%s cpus=%d go=%s dim=%d\n", *mode, host, runtime.NumCPU(), runtime.Version(), *dim)
	t0 := time.Now()
	switch *mode {
	case "all", "search", "enrol":
	default:
		check(fmt.Errorf("unknown mode %q", *mode))
	}
	if *mode != "enrol" {
		for _, s := range strings.Split(*sizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			check(err)
			searchBench(filepath.Join(work, fmt.Sprint("n", n)), n)
		}
	}
	if *mode != "search" {
		enrolBench(filepath.Join(work, "enrol"))
	}
	if *out != "" {
		check(os.WriteFile(*out, []byte(markdown(time.Since(t0))), 0o644))
	}
}

type searchRow struct {
	n                     int
	spec, active          string
	p50, p99, mean        time.Duration
	r1, r10, rank1, imp10 float64
	bytesPerTemplate      float64
	build, startup        time.Duration
	hasBuild              bool
}

var (
	rows      []searchRow
	enrolRate []float64
)

func markdown(total time.Duration) string {
	var b strings.Builder
	cpu := host.CPUModel()
	fmt.Fprintf(&b, "### Gallery\n\nCommand: `go run ./bench/gallery/cmd/gallerybench %s` on %s, %d CPUs, %s, %s; %s in all.\n",
		strings.Join(os.Args[1:], " "), cpu, runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format("2006-01-02"), total.Round(time.Second))
	if len(rows) > 0 {
		fmt.Fprintf(&b, "\nSearch: %d-d random unit templates, one per subject; %d probes, half genuine (a stored template moved to cosine %.2f), half impostors (fresh random); single query, top-%d, one searcher. Recall against exact search on the same gallery, genuine probes (impostor recall@10 in the last column but one). Memory: growth of the process's anonymous RSS per template (index + catalog).\n\n", *dim, *queries, *cos, *topK)
		b.WriteString("| templates | spec | p50 ms | p99 ms | recall@1 | recall@10 | rank-1 (true id) | impostor recall@10 | bytes/template | build s | start-up s |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, r := range rows {
			build := ""
			if r.hasBuild {
				build = fmt.Sprintf("%.1f", r.build.Seconds())
			}
			fmt.Fprintf(&b, "| %d | `%s` | %s | %s | %.4f | %.4f | %.4f | %.3f | %.0f | %s | %.2f |\n",
				r.n, r.active, ms(r.p50), ms(r.p99), r.r1, r.r10, r.rank1, r.imp10, r.bytesPerTemplate, build, r.startup.Seconds())
		}
	}
	if len(enrolRate) > 0 {
		s := slices.Clone(enrolRate)
		slices.Sort(s)
		fmt.Fprintf(&b, "\nDurable enrolment (fsync on every commit, group commit via bbolt Batch): %d concurrent writers, %d enrolments per run: median %.0f/s (runs: %s).\n",
			*writers, *count, s[len(s)/2], fmtRates(enrolRate))
	}
	return b.String()
}

func fmtRates(r []float64) string {
	var p []string
	for _, x := range r {
		p = append(p, fmt.Sprintf("%.0f", x))
	}
	return strings.Join(p, ", ")
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gallerybench:", err)
		os.Exit(1)
	}
}

// load enrols n templates (subject s<i>, vector synth.Unit(i)) with -writers
// concurrent writers.
func load(g *gallery.Gallery, part string, n int) (time.Duration, error) {
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for w := 0; w < *writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				_, err := g.Enrol(part, "s"+strconv.FormatInt(i, 10), gallery.Template{Model: "bench", Vector: synth.Unit(uint64(i), *dim)}, gallery.EnrolOptions{})
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return 0, e.(error)
	}
	return time.Since(start), nil
}

func enrolBench(work string) {
	os.RemoveAll(work)
	g, err := gallery.Open(gallery.Config{Dir: work})
	check(err)
	// Warm up: create the partition.
	_, err = g.Enrol("default", "warm", gallery.Template{Model: "bench", Vector: synth.Unit(1<<40, *dim)}, gallery.EnrolOptions{})
	check(err)
	var rates []float64
	for round := 0; round < 3; round++ {
		el, err := load(g, "default", *count)
		check(err)
		rates = append(rates, float64(*count)/el.Seconds())
		enrolRate = append(enrolRate, rates[round])
		fmt.Printf("enrol round %d: %d durable enrolments, %d writers: %.2fs = %.0f/s\n", round, *count, *writers, el.Seconds(), rates[round])
	}
	slices.Sort(rates)
	fmt.Printf("RESULT enrol writers=%d dim=%d median=%.0f/s (min %.0f, max %.0f)\n", *writers, *dim, rates[1], rates[0], rates[2])
	check(g.Close())
}

type probe struct {
	v       []float32
	genuine bool
	truth   string
}

func probes(n int) []probe {
	ps := make([]probe, *queries)
	for q := range ps {
		if q%2 == 0 {
			i := synth.Splitmix(uint64(q)) % uint64(n)
			ps[q] = probe{v: synth.Near(synth.Unit(i, *dim), uint64(q)+1<<50, *cos), genuine: true, truth: "s" + strconv.FormatUint(i, 10)}
		} else {
			ps[q] = probe{v: synth.Unit(uint64(q)+1<<52, *dim)}
		}
	}
	return ps
}

func pct(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f", float64(d.Microseconds())/1000) }

func searchBench(work string, n int) {
	if !*reuse {
		os.RemoveAll(work)
	}
	specList := strings.Split(*specs, "|")
	anon0 := rssKB("RssAnon")
	// Loading is not the durable-enrolment benchmark: skip fsync here.
	cfg := gallery.Config{Dir: work, NoSync: true, DefaultIndexSpec: specList[0]}
	g, err := gallery.Open(cfg)
	check(err)
	if st := g.Stats(); *reuse && st.Templates == n {
		fmt.Printf("n=%d reusing the store in %s\n", n, work)
	} else {
		check(g.Close())
		os.RemoveAll(work)
		g, err = gallery.Open(cfg)
		check(err)
		el, err := load(g, "default", n)
		check(err)
		fmt.Printf("n=%d loaded in %.1fs (%.0f/s, fsync off)\n", n, el.Seconds(), float64(n)/el.Seconds())
	}
	runtime.GC()
	fmt.Printf("n=%d RssAnon %+d MiB\n", n, (rssKB("RssAnon")-anon0)/1024)
	ps := probes(n)
	var ref [][]gallery.Candidate
	for si, spec := range specList {
		row := searchRow{n: n, spec: spec}
		if si > 0 || g.Stats().PerPartition[0].IndexSpec != spec {
			t0 := time.Now()
			check(g.SetIndexSpec("default", spec))
			row.build, row.hasBuild = time.Since(t0), true
			fmt.Printf("n=%d spec=%q built in %.1fs\n", n, spec, time.Since(t0).Seconds())
		}
		runtime.GC()
		debug.FreeOSMemory()
		anon := rssKB("RssAnon")
		res := make([][]gallery.Candidate, len(ps))
		lat := make([]time.Duration, len(ps))
		k := max(*topK, 10)
		// Warm-up.
		for i := 0; i < min(20, len(ps)); i++ {
			_, err := g.Search("default", gallery.Template{Model: "bench", Vector: ps[i].v}, *topK, -1)
			check(err)
		}
		for i, p := range ps {
			t0 := time.Now()
			r, err := g.Search("default", gallery.Template{Model: "bench", Vector: p.v}, *topK, -1)
			lat[i] = time.Since(t0)
			check(err)
			if k > *topK { // the top 10 for recall@10, outside the timing
				r, err = g.Search("default", gallery.Template{Model: "bench", Vector: p.v}, k, -1)
				check(err)
			}
			res[i] = r
		}
		var hit1, rank1 float64
		var r10g, r10i float64
		ng := 0
		if si == 0 {
			ref = res
		}
		for i, p := range ps {
			top1 := len(res[i]) > 0 && len(ref[i]) > 0 && res[i][0].Subject == ref[i][0].Subject
			ov := overlap(res[i], ref[i], 10)
			if p.genuine {
				ng++
				if top1 {
					hit1++
				}
				if len(res[i]) > 0 && res[i][0].Subject == p.truth {
					rank1++
				}
				r10g += ov
			} else {
				r10i += ov
			}
		}
		ni := len(ps) - ng
		st := g.Stats().PerPartition[0]
		fmt.Printf("RESULT n=%d spec=%q active=%q top%d p50=%sms p99=%sms mean=%sms recall@1=%.4f recall@10=%.4f (genuine) rank1=%.4f impostor-recall@10=%.3f RssAnon=%d MiB (%.0f B/template)\n",
			n, spec, st.ActiveIndex, *topK, ms(pct(lat, 0.5)), ms(pct(lat, 0.99)), ms(mean(lat)),
			hit1/float64(ng), r10g/float64(ng), rank1/float64(ng), r10i/float64(ni),
			anon/1024, float64(anon-anon0)*1024/float64(n))
		row.active, row.p50, row.p99, row.mean = st.ActiveIndex, pct(lat, 0.5), pct(lat, 0.99), mean(lat)
		row.r1, row.r10, row.rank1, row.imp10 = hit1/float64(ng), r10g/float64(ng), rank1/float64(ng), r10i/float64(ni)
		row.bytesPerTemplate = float64(anon-anon0) * 1024 / float64(n)
		if *parallel > 0 {
			var next atomic.Int64
			var wg sync.WaitGroup
			t0 := time.Now()
			for w := 0; w < *parallel; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(len(ps)) {
							return
						}
						_, err := g.Search("default", gallery.Template{Model: "bench", Vector: ps[i].v}, *topK, -1)
						check(err)
					}
				}()
			}
			wg.Wait()
			fmt.Printf("RESULT n=%d spec=%q parallel=%d throughput=%.0f searches/s\n", n, spec, *parallel, float64(len(ps))/time.Since(t0).Seconds())
		}
		if *startup {
			check(g.Close())
			if *startProf != "" {
				f, err := os.Create(*startProf)
				check(err)
				check(pprof.StartCPUProfile(f))
			}
			t0 := time.Now()
			g, err = gallery.Open(cfg)
			check(err)
			row.startup = time.Since(t0)
			if *startProf != "" {
				pprof.StopCPUProfile()
			}
			fmt.Printf("RESULT n=%d spec=%q startup=%.2fs (page cache warm) notes=%v\n", n, spec, time.Since(t0).Seconds(), g.Stats().Notes)
		}
		rows = append(rows, row)
	}
	check(g.Close())
	if !*reuse {
		os.RemoveAll(work)
	}
}

func mean(d []time.Duration) time.Duration {
	var s time.Duration
	for _, x := range d {
		s += x
	}
	return s / time.Duration(len(d))
}

func overlap(a, b []gallery.Candidate, k int) float64 {
	set := map[string]bool{}
	for i := 0; i < min(k, len(b)); i++ {
		set[b[i].Subject] = true
	}
	h := 0
	for i := 0; i < min(k, len(a)); i++ {
		if set[a[i].Subject] {
			h++
		}
	}
	return float64(h) / float64(min(k, max(1, len(b))))
}

// rssKB is a status field of this process, 0 when unreadable.
func rssKB(field string) int64 {
	v, _ := procstat.StatusKB(0, field)
	return v
}
