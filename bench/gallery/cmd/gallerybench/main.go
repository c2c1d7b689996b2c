// Command gallerybench measures the gallery package: search latency and
// recall per index spec and gallery size, memory per template, durable
// enrolment throughput with concurrent writers, and start-up time.
//
//	go run ./bench/gallery/cmd/gallerybench -n 1000,10000,100000
//	go run ./bench/gallery/cmd/gallerybench -n 1000000 -specs 'Flat|HNSW32,Flat'   # minutes
//	go run ./bench/gallery/cmd/gallerybench -mode enrol -writers 16 -count 20000
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
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"vizor/gallery"
)

var (
	mode     = flag.String("mode", "search", "search | enrol")
	sizes    = flag.String("n", "1000,10000,100000", "gallery sizes (comma-separated)")
	specs    = flag.String("specs", "Flat|HNSW32,Flat", "index specs to compare, '|'-separated; the first should be Flat (recall reference)")
	dim      = flag.Int("dim", 512, "template dimension")
	queries  = flag.Int("queries", 1000, "probes per measurement (half genuine, half impostor)")
	topK     = flag.Int("k", 5, "subjects per search")
	cos      = flag.Float64("cos", 0.7, "cosine of genuine probes to their template")
	dir      = flag.String("dir", "", "work directory (default: a temp dir, removed afterwards)")
	writers  = flag.Int("writers", 16, "concurrent writers (enrol mode; also used to load the gallery)")
	count    = flag.Int("count", 20000, "enrolments (enrol mode)")
	startup  = flag.Bool("startup", true, "measure Close+Open time after loading")
	parallel = flag.Int("parallel", 0, "also measure throughput with this many concurrent searchers (0: skip)")
)

func main() {
	flag.Parse()
	debug.SetGCPercent(50)
	work := *dir
	if work == "" {
		d, err := os.MkdirTemp("", "gallerybench")
		check(err)
		defer os.RemoveAll(d)
		work = d
	}
	host, _ := os.Hostname()
	fmt.Printf("# gallerybench %s  host=%s cpus=%d go=%s dim=%d\n", *mode, host, runtime.NumCPU(), runtime.Version(), *dim)
	switch *mode {
	case "enrol":
		enrolBench(work)
	case "search":
		for _, s := range strings.Split(*sizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			check(err)
			searchBench(filepath.Join(work, fmt.Sprint("n", n)), n)
		}
	default:
		check(fmt.Errorf("unknown mode %q", *mode))
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gallerybench:", err)
		os.Exit(1)
	}
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func unit(seed uint64, d int) []float32 {
	r := rand.New(rand.NewPCG(splitmix(seed), splitmix(seed^0xabcdef)))
	v := make([]float32, d)
	var n float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		n += x * x
	}
	s := float32(1 / math.Sqrt(n))
	for i := range v {
		v[i] *= s
	}
	return v
}

func near(v []float32, seed uint64, c float64) []float32 {
	noise := unit(seed|1<<62, len(v))
	// Remove noise's component along v so the cosine is exactly c.
	var d float32
	for i := range v {
		d += v[i] * noise[i]
	}
	var n float64
	for i := range noise {
		noise[i] -= d * v[i]
		n += float64(noise[i]) * float64(noise[i])
	}
	a, b := float32(c), float32(math.Sqrt(1-c*c)/math.Sqrt(n))
	out := make([]float32, len(v))
	for i := range v {
		out[i] = a*v[i] + b*noise[i]
	}
	return out
}

func rssKB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field+":") {
			f := strings.Fields(l)
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return 0
}

// load enrols n templates (subject s<i>, vector unit(i)) with -writers
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
				_, err := g.Enrol(part, "s"+strconv.FormatInt(i, 10), gallery.Template{Model: "bench", Vector: unit(uint64(i), *dim)}, gallery.EnrolOptions{})
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
	_, err = g.Enrol("default", "warm", gallery.Template{Model: "bench", Vector: unit(1<<40, *dim)}, gallery.EnrolOptions{})
	check(err)
	var rates []float64
	for round := 0; round < 3; round++ {
		el, err := load(g, "default", *count)
		check(err)
		rates = append(rates, float64(*count)/el.Seconds())
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
			i := splitmix(uint64(q)) % uint64(n)
			ps[q] = probe{v: near(unit(i, *dim), uint64(q)+1<<50, *cos), genuine: true, truth: "s" + strconv.FormatUint(i, 10)}
		} else {
			ps[q] = probe{v: unit(uint64(q)+1<<52, *dim)}
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
	os.RemoveAll(work)
	specList := strings.Split(*specs, "|")
	anon0 := rssKB("RssAnon")
	// Loading is not the durable-enrolment benchmark: skip fsync here.
	cfg := gallery.Config{Dir: work, NoSync: true, DefaultIndexSpec: specList[0]}
	g, err := gallery.Open(cfg)
	check(err)
	el, err := load(g, "default", n)
	check(err)
	runtime.GC()
	fmt.Printf("n=%d loaded in %.1fs (%.0f/s, fsync off), RssAnon %+d MiB\n", n, el.Seconds(), float64(n)/el.Seconds(), (rssKB("RssAnon")-anon0)/1024)
	ps := probes(n)
	var ref [][]gallery.Candidate
	for si, spec := range specList {
		if si > 0 || g.Stats().PerPartition[0].IndexSpec != spec {
			t0 := time.Now()
			check(g.SetIndexSpec("default", spec))
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
			t0 := time.Now()
			g, err = gallery.Open(cfg)
			check(err)
			fmt.Printf("RESULT n=%d spec=%q startup=%.2fs (page cache warm) notes=%v\n", n, spec, time.Since(t0).Seconds(), g.Stats().Notes)
		}
	}
	check(g.Close())
	os.RemoveAll(work)
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
