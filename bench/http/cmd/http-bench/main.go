// Command http-bench measures the HTTP API end to end over loopback: verify
// and search latency (p50/p99) and throughput at several concurrencies,
// with ../shared/data/probe-640x480.jpg as the probe and a gallery of 10^5
// templates (synthetic unit vectors inserted through the gallery package,
// plus the probe's own template). It also measures the engine's own batched
// faces/s on the same machine, the reference for the throughput target, and
// compares server variants (micro-batching on/off). Writes a markdown
// section (-out) for BENCHMARKS.md "HTTP".
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"vizor/bench/loadgen"
	"vizor/bindings"
	"vizor/gallery"
	"vizor/internal/vizorproc"

	"vizor/internal/vec"

	"vizor/bench/host"
)

var (
	out      = flag.String("out", "bench/results/http.md", "markdown section to write")
	n        = flag.Int("n", 100000, "gallery size (templates in the benchmark partition)")
	dur      = flag.Duration("duration", 10*time.Second, "measured time per (endpoint, concurrency)")
	warm     = flag.Duration("warmup", 2*time.Second, "warm-up per (endpoint, concurrency)")
	concs    = flag.String("c", "1,4,16", "concurrencies")
	variants = flag.String("variants", "batch_max=8;batch_max=1", "server variants, ';'-separated, each 'setting=value[,setting=value]' passed as flags to vizor serve")
	engDur   = flag.Duration("engine-duration", 10*time.Second, "time for the engine's own batched throughput")
	bin      = flag.String("bin", "", "vizor binary (default: go build ./cmd/vizor into a temp dir)")
	shared   = flag.String("shared", "", "shared data dir (default $VIZOR_SHARED_DATA or ../shared/data)")
	models   = flag.String("models", "models", "models directory")
	keep     = flag.Bool("keep", false, "keep the temp dir")
	reuse    = flag.String("data", "", "gallery dir to reuse (seeded by an earlier run with the same -n and -specs; created and kept when missing)")
	specs    = flag.String("specs", "PQ64x4fs;rerank=1|Flat", "'|'-separated gallery index specs; one seeded partition each (search runs on each, verify on the first)")
)

const subject = "probe-subject"

func partName(i int) string { return "bench-" + strconv.Itoa(i) }

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "http-bench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "http-bench: "+format+"\n", args...)
}

type row struct {
	variant, endpoint string
	conc              int
	res               *loadgen.Result
}

func run() error {
	dataRoot := *shared
	if dataRoot == "" {
		dataRoot = os.Getenv("VIZOR_SHARED_DATA")
	}
	if dataRoot == "" {
		dataRoot = filepath.Join("..", "shared", "data")
	}
	probe, err := os.ReadFile(filepath.Join(dataRoot, "probe-640x480.jpg"))
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "vizor-http-bench-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(tmp)
	}

	// 1. The engine's own batched throughput, and the probe's template.
	eng, err := bindings.Open(bindings.Config{ModelsDir: *models})
	if err != nil {
		return err
	}
	info := eng.Info()
	r, err := eng.AnalyzeOne(context.Background(), probe, bindings.Options{})
	if err != nil || len(r.Faces) == 0 {
		eng.Close()
		return fmt.Errorf("probe: %v", err)
	}
	tmpl := r.Faces[0].Template
	engFPS := engineThroughput(eng, probe, info.Workers)
	eng.Close()
	logf("engine: %d workers, batched %.1f faces/s", info.Workers, engFPS)

	// 2. Seed the gallery.
	dataDir := filepath.Join(tmp, "data")
	if *reuse != "" {
		dataDir = *reuse
	}
	t0 := time.Now()
	specList := strings.Split(*specs, "|")
	reused := 0
	for i, sp := range specList {
		if seeded(dataDir, partName(i), info.RecognizerID, *n) {
			logf("gallery: reusing %s in %s", partName(i), dataDir)
			reused++
			continue
		}
		if err := seed(dataDir, partName(i), sp, info.RecognizerID, tmpl, *n); err != nil {
			return err
		}
	}
	seedTime := time.Since(t0)
	if reused == len(specList) {
		seedTime = -1 // seeded by an earlier run
	}
	logf("gallery: %d x %d templates seeded in %v", len(specList), *n, seedTime.Round(time.Second))

	// 3. The binary.
	vizor := *bin
	if vizor == "" {
		vizor = filepath.Join(tmp, "vizor")
		if err := vizorproc.Build(".", vizor); err != nil {
			return err
		}
	}

	img := base64.StdEncoding.EncodeToString(probe)
	type endpoint struct {
		name, label string
		body        []byte
	}
	vbody, _ := json.Marshal(map[string]any{"image": img, "subject_id": subject, "partition": partName(0)})
	eps := []endpoint{{"verify", "verify", vbody}}
	for i, sp := range specList {
		sb, _ := json.Marshal(map[string]any{"image": img, "partition": partName(i), "top_k": 5})
		eps = append(eps, endpoint{"search", "search (" + sp + ")", sb})
	}
	var cs []int
	for _, c := range strings.Split(*concs, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil {
			return err
		}
		cs = append(cs, v)
	}
	var rows []row
	var startTimes []string
	// Every variant's server runs for the whole benchmark and the variants
	// take turns at each point, so drift in the machine's load (it is
	// shared) hits them alike.
	type variant struct {
		name string
		srv  *server
	}
	var vs []variant
	defer func() {
		for _, v := range vs {
			v.srv.stop()
		}
	}()
	for i, v := range strings.Split(*variants, ";") {
		v = strings.TrimSpace(v)
		// The store is locked by its server: each variant gets its own copy.
		dir := dataDir
		if i > 0 {
			dir = filepath.Join(tmp, "data-"+strconv.Itoa(i))
			if out, err := exec.Command("cp", "-a", dataDir, dir).CombinedOutput(); err != nil {
				return fmt.Errorf("copy gallery: %v: %s", err, out)
			}
		}
		var extra []string
		for _, kv := range strings.Split(v, ",") {
			if k, val, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
				extra = append(extra, "-"+strings.ReplaceAll(k, "_", "-"), val)
			}
		}
		srv, startT, err := startServer(vizor, dir, extra)
		if err != nil {
			return err
		}
		vs = append(vs, variant{v, srv})
		startTimes = append(startTimes, fmt.Sprintf("%s: %v", v, startT.Round(100*time.Millisecond)))
	}
	for _, ep := range eps {
		for _, c := range cs {
			for _, v := range vs {
				url := v.srv.url + "/api/v1/" + ep.name
				cfg := loadgen.Config{URL: url, Bodies: [][]byte{ep.body}, ContentType: "application/json", Mode: loadgen.Closed, Concurrency: c}
				cfg.Duration = *warm
				if _, err := loadgen.Run(context.Background(), cfg); err != nil {
					return err
				}
				cfg.Duration = *dur
				res, err := loadgen.Run(context.Background(), cfg)
				if err != nil {
					return err
				}
				if res.Errors > 0 {
					logf("errors: %v %v", res.Status, res.ErrorKinds)
				}
				logf("%s %s c=%d: %s", v.name, ep.label, c, strings.ReplaceAll(res.Summary(), "\n", "; "))
				rows = append(rows, row{v.name, ep.label, c, res})
			}
		}
	}
	order := map[string]int{}
	for i, v := range vs {
		order[v.name] = i
	}
	sort.SliceStable(rows, func(i, j int) bool { return order[rows[i].variant] < order[rows[j].variant] })
	md := markdown(rows, engFPS, info, seedTime, startTimes)
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(*out, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	return nil
}

// engineThroughput runs batches of 8 probes from 2 goroutines (the engine's
// own best batched setup) and returns faces/s.
func engineThroughput(eng *bindings.Engine, probe []byte, workers int) float64 {
	batch := make([][]byte, 8)
	for i := range batch {
		batch[i] = probe
	}
	ctx, cancel := context.WithTimeout(context.Background(), *engDur)
	defer cancel()
	// warm up
	_, _ = eng.Analyze(context.Background(), batch, bindings.Options{})
	var faces atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for g := 0; g < max(2, workers); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				rs, err := eng.Analyze(context.Background(), batch, bindings.Options{})
				if err != nil {
					return
				}
				for _, r := range rs {
					faces.Add(int64(len(r.Faces)))
				}
			}
		}()
	}
	wg.Wait()
	return float64(faces.Load()) / time.Since(t0).Seconds()
}

// seeded reports whether dir already holds part with total templates.
// seeded reports whether dir already holds part with total templates of
// model (a gallery seeded under another recognizer id is seeded again).
func seeded(dir, part, model string, total int) bool {
	if _, err := os.Stat(dir); err != nil {
		return false
	}
	g, err := gallery.Open(gallery.Config{Dir: dir, NoSync: true})
	if err != nil {
		return false
	}
	defer g.Close()
	for _, p := range g.Stats().PerPartition {
		if p.Name == part {
			return p.Templates == total && p.Model == model
		}
	}
	return false
}

func seed(dir, part, spec, model string, probe []float32, total int) error {
	g, err := gallery.Open(gallery.Config{Dir: dir, NoSync: true, IndexSpecs: map[string]string{part: spec}})
	if err != nil {
		return err
	}
	// A partial or stale partition (another size, another recognizer id)
	// starts over.
	if err := g.DeletePartition(part); err != nil && !errors.Is(err, gallery.ErrPartitionNotFound) {
		g.Close()
		return err
	}
	if _, err := g.Enrol(part, subject, gallery.Template{Model: model, Vector: probe}, gallery.EnrolOptions{}); err != nil {
		g.Close()
		return err
	}
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			for {
				i := next.Add(1)
				if i >= int64(total) {
					return
				}
				if _, err := g.Enrol(part, "synthetic-"+strconv.FormatInt(i, 10), gallery.Template{Model: model, Vector: vec.RandomUnit(rng, len(probe))}, gallery.EnrolOptions{}); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		g.Close()
		return e.(error)
	}
	return g.Close()
}

type server struct {
	*vizorproc.Proc
	url string
}

func startServer(bin, dataDir string, extra []string) (*server, time.Duration, error) {
	addr, err := vizorproc.FreeAddr()
	if err != nil {
		return nil, 0, err
	}
	args := append([]string{"serve", "-addr", addr, "-data-dir", dataDir, "-models-dir", *models, "-log-level", "warn", "-max-in-flight", "512"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "VIZOR_API_KEYS=", "VIZOR_CONFIG=")
	url := "http://" + addr
	t0 := time.Now()
	p, err := vizorproc.Start(cmd, 5*time.Minute, vizorproc.Healthy(url+"/health"))
	if err != nil {
		return nil, 0, err
	}
	return &server{Proc: p, url: url}, time.Since(t0), nil
}

func (s *server) stop() { _ = s.Stop(60 * time.Second) }

func markdown(rows []row, engFPS float64, info bindings.Info, seedTime time.Duration, starts []string) string {
	var b strings.Builder
	seedNote := "in " + seedTime.Round(time.Second).String()
	if seedTime < 0 {
		seedNote = "by an earlier run (-data)"
	}
	fmt.Fprintf(&b, "Command: `go run ./bench/http/cmd/http-bench` (closed loop over loopback with the fasthttp load generator in bench/loadgen; %v per point after %v warm-up; probe `probe-640x480.jpg` as JSON base64; gallery partitions of %d templates each, one per index spec: synthetic unit vectors plus the probe's own template, seeded through the gallery package %s). Machine: %s, %d logical CPUs (shared with other work), engine %d workers, backend %s.\n\n",
		*dur, *warm, *n, seedNote, host.CPUModel(), runtime.NumCPU(), info.Workers, info.Backend)
	fmt.Fprintf(&b, "Engine reference, same machine and run: batches of 8 probes from 2 goroutines, **%.1f faces/s**.\n\n", engFPS)
	b.WriteString("| server variant | endpoint | concurrency | p50 ms | p99 ms | req/s | errors | req/s vs engine batched |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %d | %.1f | %.1f | %.1f | %d | %.0f%% |\n", r.variant, r.endpoint, r.conc,
			r.res.Latency.P50, r.res.Latency.P99, r.res.Throughput, r.res.Errors, 100*r.res.Throughput/engFPS)
	}
	b.WriteString("\nServer start (open the 10^5-template gallery, load models): " + strings.Join(starts, "; ") + ".\n\n")
	// Targets, for the first variant (the default configuration).
	if len(rows) > 0 {
		def := rows[0].variant
		get := func(ep string, c int) *loadgen.Result {
			for _, r := range rows {
				if r.variant == def && r.endpoint == ep && r.conc == c {
					return r.res
				}
			}
			return nil
		}
		b.WriteString("Against the targets (" + def + "):\n\n")
		if v := get("verify", 1); v != nil {
			fmt.Fprintf(&b, "- verify p50 at concurrency 1: %.1f ms (target <= 35 ms).\n", v.Latency.P50)
		}
		cmax := 0
		for _, r := range rows {
			cmax = max(cmax, r.conc)
		}
		for _, ep := range []string{"verify", "search (" + strings.Split(*specs, "|")[0] + ")"} {
			if v := get(ep, cmax); v != nil {
				fmt.Fprintf(&b, "- %s throughput at concurrency %d: %.1f req/s = %.0f%% of the engine's batched %.1f faces/s (target >= 90%%).\n", ep, cmax, v.Throughput, 100*v.Throughput/engFPS, engFPS)
			}
		}
		for _, sp := range strings.Split(*specs, "|") {
			if v, s := get("verify", 1), get("search ("+sp+")", 1); v != nil && s != nil {
				fmt.Fprintf(&b, "- search (%s) minus verify, p50 at concurrency 1: %+.1f ms (target <= 2 ms).\n", sp, s.Latency.P50-v.Latency.P50)
			}
		}
	}
	return b.String()
}
