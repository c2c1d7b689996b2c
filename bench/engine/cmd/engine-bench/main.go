// Command engine-bench measures the native engine (per-stage latency for the
// 640x480 probe and the 4000x2667 chaeyeon.jpg at 1 and 2 threads, batched
// throughput) and writes a Markdown section, by default to
// bench/results/engine.md, for BENCHMARKS.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"vizor/bench/engine"
	"vizor/bindings"
	"vizor/internal/faceset"
)

func main() {
	out := flag.String("out", "bench/results/engine.md", "Markdown output ('-' for stdout)")
	runs := flag.Int("runs", 40, "requests per latency measurement")
	repeats := flag.Int("repeats", 3, "repeat each measurement and report the median")
	dur := flag.Duration("duration", 8*time.Second, "duration of each throughput measurement")
	models := flag.String("models", "models", "models directory")
	flag.Parse()
	if err := run(*out, *models, *runs, *repeats, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "engine-bench:", err)
		os.Exit(1)
	}
}

func run(out, models string, runs, repeats int, dur time.Duration) error {
	dir, err := faceset.Dir()
	if err != nil {
		return err
	}
	probe, err := os.ReadFile(filepath.Join(dir, "probe-640x480.jpg"))
	if err != nil {
		return err
	}
	big, err := os.ReadFile(filepath.Join(dir, "faces", "chaeyeon.jpg"))
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### Engine\n\n")
	fmt.Fprintf(&b, "Command: `go run ./bench/engine/cmd/engine-bench` (%d requests per run, median of %d runs; stages are the engine's own per-stage medians, p50/p99 are Go wall time per request including the cgo crossing). GOMAXPROCS %d.\n\n", runs, repeats, runtime.GOMAXPROCS(0))
	fmt.Fprintf(&b, "| input, setup | decode | detect | landmarks | align | PAD | embed | quality | engine total | p50 | p99 |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|\n")
	setups := []engine.Setup{{Name: "1 thread", Workers: 1, ThreadsPerWorker: 1}, {Name: "2 threads", Workers: 1, ThreadsPerWorker: 2}}
	var probeP50 = map[string]float64{}
	var bigP50 = map[string]float64{}
	for _, s := range setups {
		e, err := bindings.Open(bindings.Config{ModelsDir: models, Workers: s.Workers, ThreadsPerWorker: s.ThreadsPerWorker})
		if err != nil {
			return err
		}
		for _, in := range []struct {
			name string
			img  []byte
			p50  map[string]float64
		}{{"probe 640x480", probe, probeP50}, {"chaeyeon.jpg 4000x2667", big, bigP50}} {
			var ls []engine.Latency
			for r := 0; r < repeats; r++ {
				fmt.Fprintf(os.Stderr, "\rengine-bench: %s, %s, run %d/%d   ", in.name, s.Name, r+1, repeats)
				l, err := engine.MeasureLatency(e, in.img, runs, bindings.Options{})
				if err != nil {
					e.Close()
					return err
				}
				ls = append(ls, l)
			}
			sort.Slice(ls, func(i, j int) bool { return ls[i].P50 < ls[j].P50 })
			m := ls[len(ls)/2]
			in.p50[s.Name] = m.P50
			fmt.Fprintln(&b, engine.StageRow(in.name+", "+s.Name, m))
		}
		e.Close()
	}
	fmt.Fprintf(&b, "\n| throughput setup | faces/s (median of %d) |\n|---|---|\n", repeats)
	var best float64
	for _, t := range []struct {
		name                    string
		workers, batch, clients int
	}{{"2 workers, batches of 8, 2 clients", 2, 8, 2}, {"2 workers, single images, 4 clients", 2, 1, 4}, {"1 worker x 2 threads, batches of 8", 1, 8, 1}} {
		tpw := 1
		if t.workers == 1 {
			tpw = 2
		}
		e, err := bindings.Open(bindings.Config{ModelsDir: models, Workers: t.workers, ThreadsPerWorker: tpw})
		if err != nil {
			return err
		}
		var fps []float64
		for r := 0; r < repeats; r++ {
			fmt.Fprintf(os.Stderr, "\rengine-bench: throughput %s, run %d/%d   ", t.name, r+1, repeats)
			tp, err := engine.MeasureThroughput(e, probe, t.batch, t.clients, dur, bindings.Options{})
			if err != nil {
				e.Close()
				return err
			}
			fps = append(fps, tp.FacesPerSec)
		}
		e.Close()
		m := engine.Percentile(fps, 50)
		best = max(best, m)
		fmt.Fprintf(&b, "| %s | %.1f |\n", t.name, m)
	}
	fmt.Fprintln(os.Stderr)
	p := min(probeP50["1 thread"], probeP50["2 threads"])
	c := min(bigP50["1 thread"], bigP50["2 threads"])
	fmt.Fprintf(&b, "\nAgainst the targets: probe p50 %.1f ms vs 25 ms (ratio %.2f); chaeyeon.jpg p50 %.1f ms vs 50 ms (ratio %.2f); batched %.1f faces/s vs 70 (ratio %.2f).\n",
		p, p/25, c, c/50, best, best/70)
	if out == "-" {
		fmt.Print(b.String())
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, []byte(b.String()), 0o644)
}
