// Command vizor-compare measures, side by side in one run:
//
//  1. Vizor's per-face cost (detect, landmarks, align, embed, liveness and
//     quality on the 640x480 probe, one worker, one thread) against the
//     reference JS SDK's pipeline on the same ONNX models in Node.js with
//     onnxruntime-node (bench/reference/node/pipeline.js; npm packages are
//     installed into a cache directory, never committed);
//  2. fasthttp against net/http serving the same verify handler, loaded by
//     bench/loadgen: once with a stand-in for the engine (framework
//     overhead) and once with the real engine.
//
// It writes bench/results/comparisons.md (assembled into BENCHMARKS.md by
// vizor-bench) and comparisons.json.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"vizor/bench/cmd/internal/progress"
	"vizor/bindings"
	"vizor/internal/faceset"

	"vizor/bench/host"
)

type stageTimes map[string]float64

type engineRow struct {
	Runtime string     `json:"runtime"`
	Threads int        `json:"threads"`
	Runs    int        `json:"runs"`
	Faces   int        `json:"faces"`
	Median  stageTimes `json:"median_ms"`
	Wall    float64    `json:"wall_median_ms,omitempty"`
}

type output struct {
	Generated string     `json:"generated"`
	Machine   string     `json:"machine"`
	Probe     string     `json:"probe"`
	Vizor     *engineRow `json:"vizor,omitempty"`
	Node      *engineRow `json:"node,omitempty"`
	NodeError string     `json:"node_error,omitempty"`
	HTTP      []httpRow  `json:"http,omitempty"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vizor-compare:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		models   = flag.String("models", "models", "models directory")
		probe    = flag.String("probe", "", "probe image (default ../shared/data/probe-640x480.jpg)")
		runs     = flag.Int("runs", 20, "timed runs per pipeline (after 3 warm-up runs)")
		nodeDir  = flag.String("node-cache", defaultNodeCache(), "where the Node reference's npm packages are installed")
		skipNode = flag.Bool("skip-node", false, "skip the Node.js reference")
		skipHTTP = flag.Bool("skip-http", false, "skip fasthttp vs net/http")
		httpRuns = flag.Int("http-runs", 3, "alternating runs per HTTP server (the median is reported)")
		httpDur  = flag.Duration("http-d", 4*time.Second, "duration of each HTTP run")
		httpConc = flag.Int("http-c", 8, "HTTP client concurrency")
		out      = flag.String("out", "bench/results", "output directory")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *probe == "" {
		p, err := faceset.ProbePath()
		if err != nil {
			return err
		}
		*probe = p
	}
	img, err := os.ReadFile(*probe)
	if err != nil {
		return err
	}
	line := progress.New()
	say := func(f string, a ...any) { line.Printf(f, a...) }
	o := output{Generated: time.Now().UTC().Format(time.RFC3339), Machine: machine(), Probe: filepath.Base(*probe)}

	// 1. Vizor, single worker and thread, like the Node session.
	eng, err := bindings.Open(bindings.Config{ModelsDir: *models, Workers: 1, ThreadsPerWorker: 1})
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	defer eng.Close()
	o.Vizor, err = timeEngine(ctx, eng, img, *runs, say)
	if err != nil {
		return err
	}
	if !*skipNode {
		o.Node, err = timeNode(ctx, *nodeDir, *models, *probe, *runs, say)
		if err != nil {
			o.NodeError = err.Error()
			fmt.Fprintln(os.Stderr, "vizor-compare: node reference:", err)
		}
	}

	// 2. fasthttp vs net/http.
	if !*skipHTTP {
		body, _ := json.Marshal(map[string]string{"image": base64.StdEncoding.EncodeToString(img), "subject_id": "bench", "partition": "default"})
		rows, err := compareHTTP(ctx, "framework overhead (sha256 stands in for the engine)", verifyCore{work: hashWork}, body, *httpConc, *httpRuns, *httpDur, say)
		if err != nil {
			return err
		}
		o.HTTP = append(o.HTTP, rows...)
		heng, err := bindings.Open(bindings.Config{ModelsDir: *models})
		if err != nil {
			return err
		}
		defer heng.Close()
		ref, err := heng.AnalyzeOne(ctx, img, bindings.Options{})
		if err != nil || len(ref.Faces) == 0 {
			return fmt.Errorf("probe has no face: %v", err)
		}
		enrolled := ref.Faces[0].Template
		work := func(ctx context.Context, b []byte) (float64, error) {
			r, err := heng.AnalyzeOne(ctx, b, bindings.Options{MaxFaces: 1})
			if err != nil {
				return 0, err
			}
			return float64(bindings.Cosine(r.Faces[0].Template, enrolled)), nil
		}
		rows, err = compareHTTP(ctx, "verify with the real engine", verifyCore{work: work}, body, *httpConc, *httpRuns, *httpDur, say)
		if err != nil {
			return err
		}
		o.HTTP = append(o.HTTP, rows...)
	}
	line.Done("comparisons done in %s", line.Elapsed().Round(time.Second))

	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	raw, _ := json.MarshalIndent(o, "", "  ")
	if err := os.WriteFile(filepath.Join(*out, "comparisons.json"), append(raw, '\n'), 0o644); err != nil {
		return err
	}
	md := markdown(&o)
	fmt.Print(md)
	return os.WriteFile(filepath.Join(*out, "comparisons.md"), []byte(md), 0o644)
}

func timeEngine(ctx context.Context, eng *bindings.Engine, img []byte, runs int, say func(string, ...any)) (*engineRow, error) {
	opts := bindings.Options{Stages: bindings.StageDefault}
	for i := 0; i < 3; i++ {
		if _, err := eng.AnalyzeOne(ctx, img, opts); err != nil {
			return nil, err
		}
	}
	st := map[string][]float64{}
	var wall []float64
	faces := 0
	for i := 0; i < runs; i++ {
		say("vizor engine: run %d/%d", i+1, runs)
		t0 := time.Now()
		r, err := eng.AnalyzeOne(ctx, img, opts)
		if err != nil {
			return nil, err
		}
		wall = append(wall, float64(time.Since(t0).Microseconds())/1000)
		faces = len(r.Faces)
		t := r.Timings
		for k, v := range map[string]float64{"decode": t.Decode, "detect": t.Detect, "landmarks": t.Landmarks, "align": t.Align,
			"embed": t.Embed, "liveness": t.Liveness, "quality": t.Quality, "total": t.Total} {
			st[k] = append(st[k], v)
		}
	}
	row := &engineRow{Runtime: "Vizor " + eng.Info().EngineVersion + " (C++, OpenCV " + eng.Info().OpenCVVersion + ")", Threads: 1, Runs: runs, Faces: faces, Median: stageTimes{}, Wall: median(wall)}
	for k, v := range st {
		row.Median[k] = median(v)
	}
	return row, nil
}

func defaultNodeCache() string {
	if d := os.Getenv("VIZOR_CACHE"); d != "" {
		return filepath.Join(d, "node-ref")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "vizor", "node-ref")
	}
	return filepath.Join(os.TempDir(), "vizor-node-ref")
}

// ensureNode installs bench/reference/node/package.json's dependencies into
// dir (once; reinstalled when package.json changes).
func ensureNode(ctx context.Context, dir string) error {
	pkg, err := os.ReadFile("bench/reference/node/package.json")
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(filepath.Join(dir, "package.json")); err == nil && string(old) == string(pkg) {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "onnxruntime-node", "package.json")); err == nil {
			return nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), pkg, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "vizor-compare: npm install into %s (onnxruntime-node, jpeg-js)\n", dir)
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--no-package-lock")
	cmd.Dir = dir
	// The CPU binaries ship inside onnxruntime-node; skip its optional
	// download of GPU providers.
	cmd.Env = append(os.Environ(), "ONNXRUNTIME_NODE_INSTALL=skip")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

func timeNode(ctx context.Context, dir, models, probe string, runs int, say func(string, ...any)) (*engineRow, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return nil, fmt.Errorf("node not found: %w", err)
	}
	if err := ensureNode(ctx, dir); err != nil {
		return nil, err
	}
	say("node reference: %d runs", runs)
	cmd := exec.CommandContext(ctx, "node", "bench/reference/node/pipeline.js", "--models", models, "--image", probe,
		"--runs", fmt.Sprint(runs), "--threads", "1")
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	cmd.Stderr = os.Stderr
	raw, err := cmd.Output()
	if err != nil {
		return nil, err
	}
	var row engineRow
	if err := json.Unmarshal(raw, &row); err != nil {
		return nil, fmt.Errorf("node output: %w: %s", err, raw)
	}
	return &row, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func machine() string {
	cpu := host.CPUModel()
	return fmt.Sprintf("%s, %d logical CPUs, %s/%s, %s", cpu, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

func markdown(o *output) string {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	w("### Vizor vs the reference JS SDK pipeline in Node.js\n\n")
	w("Same ONNX models, same probe (`%s`), one face, one thread each, median of the timed runs after warm-up. ", o.Probe)
	w("The Node side is `bench/reference/node/pipeline.js`: the faceplugin SDK's detect, landmarks, align, embed and liveness steps re-implemented for onnxruntime-node with jpeg-js decoding (the SDK itself needs a browser canvas). Vizor also runs its quality stage, which the SDK has no equivalent of.\n\n")
	w("Machine: %s. Generated %s.\n\n", o.Machine, o.Generated)
	if o.Node == nil {
		w("Node reference not measured: %s\n\n", orNA(o.NodeError))
	}
	if v := o.Vizor; v != nil {
		n := o.Node
		w("| stage (ms) | Vizor | Node reference | Node / Vizor |\n|---|---:|---:|---:|\n")
		for _, k := range []string{"decode", "detect", "landmarks", "align", "embed", "liveness", "quality", "total"} {
			vv, ok := v.Median[k]
			var nv float64
			nok := false
			if n != nil {
				nv, nok = n.Median[k]
			}
			if !ok && !nok {
				continue
			}
			cell := func(x float64, ok bool) string {
				if !ok {
					return "—"
				}
				return fmt.Sprintf("%.2f", x)
			}
			ratio := "—"
			if ok && nok && vv > 0 {
				ratio = fmt.Sprintf("%.2f×", nv/vv)
			}
			if k == "align" && !nok {
				ratio = "(in Node's embed)"
			}
			w("| %s | %s | %s | %s |\n", k, cell(vv, ok), cell(nv, nok), ratio)
		}
		if n != nil && v.Faces > 0 && n.Faces > 0 {
			pv, pn := v.Median["total"]/float64(v.Faces), n.Median["total"]/float64(n.Faces)
			w("| **per face** | **%.2f** | **%.2f** | **%.2f×** |\n\n", pv, pn, pn/pv)
			w("Where Vizor stands: one face costs **%.2f ms** in Vizor against **%.2f ms** in the Node reference pipeline, **%.2f×** %s. ", pv, pn, ratioWord(pn/pv), fasterSlower(pn/pv))
			w("Vizor's wall time per call through the Go binding (median) is %.2f ms.\n\n", v.Wall)
		}
		w("Runtimes: %s; %s.\n\n", v.Runtime, nodeRuntime(n))
	}
	if len(o.HTTP) > 0 {
		w("### fasthttp vs net/http, same handler\n\n")
		w("One process serves the same verify handler (JSON body with a base64 640x480 JPEG in, XML out) on fasthttp and on net/http, each on its own loopback port, and `bench/loadgen` loads them alternately (closed loop). The load generator shares the machine's CPUs with the servers. Median of the runs.\n\n")
		w("| workload | server | concurrency | req/s | p50 ms | p99 ms | errors |\n|---|---|---:|---:|---:|---:|---:|\n")
		for _, r := range o.HTTP {
			w("| %s | %s | %d | %.1f | %.2f | %.2f | %d |\n", r.Workload, r.Server, r.Concurrency, r.Throughput, r.P50, r.P99, r.Errors)
		}
		w("\n")
		for i := 0; i+1 < len(o.HTTP); i += 2 {
			f, s := o.HTTP[i], o.HTTP[i+1]
			if s.Throughput > 0 && f.P99 > 0 {
				w("- %s: fasthttp serves **%.2f×** the throughput of net/http; p99 latency ratio (net/http / fasthttp) %.2f.\n", f.Workload, f.Throughput/s.Throughput, s.P99/f.P99)
			}
		}
		w("\n")
	}
	return b.String()
}

func ratioWord(r float64) float64 {
	if r < 1 && r > 0 {
		return 1 / r
	}
	return r
}

func fasterSlower(r float64) string {
	if r >= 1 {
		return "faster"
	}
	return "slower"
}

func nodeRuntime(n *engineRow) string {
	if n == nil {
		return "Node not measured"
	}
	return n.Runtime
}

func orNA(s string) string {
	if s == "" {
		return "skipped"
	}
	return s
}
