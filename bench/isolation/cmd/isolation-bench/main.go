// Command isolation-bench measures what engine_isolation=process costs
// against the engine in the server's process: single-probe latency (the
// verify path at concurrency 1), batched throughput (the path of a loaded
// server: batches of 8 from as many callers as workers), and CPU seconds per
// face of the whole process tree. The two setups run interleaved, round by
// round, in one run, and the report gives medians over rounds and their
// ratios, so a shared, noisy machine moves both alike. It needs the vizor
// binary for the workers (-bin, default: go build ./cmd/vizor).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"vizor/internal/procstat"

	"vizor/bench/host"
	"vizor/bindings"
	"vizor/engineproc"
	"vizor/internal/faceset"
	"vizor/internal/vizorproc"
)

func main() {
	out := flag.String("out", "bench/results/isolation.md", "Markdown output ('-' for stdout)")
	models := flag.String("models", "models", "models directory")
	bin := flag.String("bin", "", "vizor binary for the workers (default: built into a temp dir)")
	workers := flag.Int("workers", 2, "engine workers (in process) = worker processes (isolated)")
	rounds := flag.Int("rounds", 5, "interleaved rounds")
	calls := flag.Int("calls", 30, "single-probe calls per setup and round")
	dur := flag.Duration("duration", 4*time.Second, "throughput time per setup and round")
	flag.Parse()
	if err := run(*out, *models, *bin, *workers, *rounds, *calls, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "isolation-bench:", err)
		os.Exit(1)
	}
}

type setup struct {
	name string
	a    bindings.Analyzer
	// cpu is the CPU time (user+sys) of everything doing this setup's work.
	cpu func() time.Duration
}

type sample struct{ p50, fps, cpuPerFace float64 }

func run(out, models, bin string, workers, rounds, calls int, dur time.Duration) error {
	dir, err := faceset.Dir()
	if err != nil {
		return err
	}
	probe, err := os.ReadFile(filepath.Join(dir, "probe-640x480.jpg"))
	if err != nil {
		return err
	}
	if bin == "" {
		tmp, err := os.MkdirTemp("", "isolation-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		bin = filepath.Join(tmp, "vizor")
		root, err := faceset.RepoRoot()
		if err != nil {
			return err
		}
		if err := vizorproc.Build(root, bin); err != nil {
			return err
		}
	}
	inproc, err := bindings.Open(bindings.Config{ModelsDir: models, Workers: workers, ThreadsPerWorker: 1})
	if err != nil {
		return err
	}
	defer inproc.Close()
	pool, err := engineproc.Start(engineproc.Config{Command: []string{bin, "engine-worker"}, Procs: workers,
		Engine: bindings.Config{ModelsDir: models, Workers: 1, ThreadsPerWorker: 1}})
	if err != nil {
		return err
	}
	defer pool.Close()
	// The in-process engine's CPU is this process's minus what the pool's
	// client side spends (measured apart); the pool's is its workers' plus
	// this process's share while it runs. Both are read around each phase.
	setups := []setup{{"in process", inproc, func() time.Duration { return procstat.CPUTime(0) }}, {"worker processes", pool, treeCPU}}
	res := map[string][]sample{}
	for r := 0; r < rounds; r++ {
		for i := range setups {
			s := setups[(i+r)%len(setups)] // alternate which goes first
			smp, err := measure(s, probe, calls, workers, dur)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			res[s.name] = append(res[s.name], smp)
			fmt.Fprintf(os.Stderr, "round %d %-16s p50 %.1f ms, %.1f faces/s, %.1f ms CPU/face\n", r+1, s.name, smp.p50, smp.fps, smp.cpuPerFace)
		}
	}
	med := func(name string, f func(sample) float64) float64 {
		var v []float64
		for _, s := range res[name] {
			v = append(v, f(s))
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### Engine isolation (worker processes) vs in process\n\n")
	fmt.Fprintf(&b, "Command: `go run ./bench/isolation/cmd/isolation-bench -rounds %d -calls %d -duration %v`. %s, %d logical CPUs, %s. %d engine workers in process vs %d one-worker processes; probe `probe-640x480.jpg`; %d interleaved rounds, medians over rounds. Latency: single-probe calls one at a time (the verify path at concurrency 1). Throughput: batches of 8 probes from %d callers for %v. CPU: user+sys of the process tree per face during the throughput phase.\n\n",
		rounds, calls, dur, host.CPUModel(), runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"), workers, workers, rounds, workers, dur)
	fmt.Fprintf(&b, "| measure | in process | worker processes | ratio |\n|---|---:|---:|---:|\n")
	rows := []struct {
		name string
		f    func(sample) float64
		unit string
	}{{"probe p50", func(s sample) float64 { return s.p50 }, "ms"}, {"batched throughput", func(s sample) float64 { return s.fps }, "faces/s"}, {"CPU per face", func(s sample) float64 { return s.cpuPerFace }, "ms"}}
	for _, row := range rows {
		a, p := med("in process", row.f), med("worker processes", row.f)
		fmt.Fprintf(&b, "| %s | %.1f %s | %.1f %s | %.3f |\n", row.name, a, row.unit, p, row.unit, p/a)
	}
	fmt.Fprintf(&b, "\nTarget: within 5%% of in process (latency ratio <= 1.05, throughput ratio >= 0.95).\n")
	if out == "-" {
		fmt.Print(b.String())
		return nil
	}
	fmt.Print(b.String())
	return os.WriteFile(out, []byte(b.String()), 0o644)
}

func measure(s setup, probe []byte, calls, clients int, dur time.Duration) (sample, error) {
	ctx := context.Background()
	opts := bindings.Options{}
	// Warm-up, then single calls.
	for i := 0; i < 3; i++ {
		if _, err := s.a.Analyze(ctx, [][]byte{probe}, opts); err != nil {
			return sample{}, err
		}
	}
	lat := make([]float64, 0, calls)
	for i := 0; i < calls; i++ {
		t0 := time.Now()
		rs, err := s.a.Analyze(ctx, [][]byte{probe}, opts)
		if err != nil {
			return sample{}, err
		}
		if rs[0].Err != nil {
			return sample{}, rs[0].Err
		}
		lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
	}
	sort.Float64s(lat)
	batch := make([][]byte, 8)
	for i := range batch {
		batch[i] = probe
	}
	var faces atomic.Int64
	var firstErr atomic.Value
	cpu0 := s.cpu()
	t0 := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(t0) < dur {
				if _, err := s.a.Analyze(ctx, batch, opts); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				faces.Add(int64(len(batch)))
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	cpu := s.cpu() - cpu0
	if e, ok := firstErr.Load().(error); ok {
		return sample{}, e
	}
	n := float64(faces.Load())
	return sample{p50: lat[len(lat)/2], fps: n / el.Seconds(), cpuPerFace: float64(cpu.Microseconds()) / 1000 / n}, nil
}

// treeCPU is the user+sys time of this process and its live descendants
// (the engine workers).
func treeCPU() time.Duration {
	var total time.Duration
	for _, pid := range procstat.Tree(os.Getpid()) {
		total += procstat.CPUTime(pid)
	}
	return total
}
