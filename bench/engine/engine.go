// Package engine measures the native engine through the Go bindings:
// per-stage latency of single requests and batched throughput.
package engine

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"syscall"
	"time"

	"vizor/bindings"
)

// Setup is one engine configuration under test.
type Setup struct {
	Name             string
	Workers          int
	ThreadsPerWorker int
}

// Latency summarises single-request runs: end-to-end wall time measured in
// Go (cgo crossing included) and the engine's own per-stage medians.
type Latency struct {
	Runs                int
	P50, P90, P99, Mean float64 // ms, wall time per request
	Stages              bindings.Timings
	Faces               int
}

// MeasureLatency runs n sequential single-image requests after warm-up.
func MeasureLatency(e *bindings.Engine, img []byte, n int, opts bindings.Options) (Latency, error) {
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := e.AnalyzeOne(ctx, img, opts); err != nil {
			return Latency{}, err
		}
	}
	wall := make([]float64, 0, n)
	stages := make([]bindings.Timings, 0, n)
	faces := 0
	for i := 0; i < n; i++ {
		t0 := time.Now()
		r, err := e.AnalyzeOne(ctx, img, opts)
		if err != nil {
			return Latency{}, err
		}
		wall = append(wall, float64(time.Since(t0).Microseconds())/1000)
		stages = append(stages, r.Timings)
		faces = len(r.Faces)
	}
	l := Latency{Runs: n, P50: Percentile(wall, 50), P90: Percentile(wall, 90), P99: Percentile(wall, 99), Faces: faces}
	for _, w := range wall {
		l.Mean += w / float64(n)
	}
	med := func(f func(bindings.Timings) float64) float64 {
		v := make([]float64, len(stages))
		for i, s := range stages {
			v[i] = f(s)
		}
		return Percentile(v, 50)
	}
	l.Stages = bindings.Timings{
		Decode:     med(func(t bindings.Timings) float64 { return t.Decode }),
		Detect:     med(func(t bindings.Timings) float64 { return t.Detect }),
		Landmarks:  med(func(t bindings.Timings) float64 { return t.Landmarks }),
		Align:      med(func(t bindings.Timings) float64 { return t.Align }),
		Liveness:   med(func(t bindings.Timings) float64 { return t.Liveness }),
		Embed:      med(func(t bindings.Timings) float64 { return t.Embed }),
		Quality:    med(func(t bindings.Timings) float64 { return t.Quality }),
		Attributes: med(func(t bindings.Timings) float64 { return t.Attributes }),
		Total:      med(func(t bindings.Timings) float64 { return t.Total }),
	}
	return l, nil
}

// Throughput is faces analysed per second with batches in flight.
type Throughput struct {
	Batch, Clients int
	Faces          int
	Seconds        float64
	FacesPerSec    float64
	// CPUmsPerFace is the process's user+sys CPU time per face: what a face
	// costs in cores, which other load on the machine moves less than
	// wall-clock rates.
	CPUmsPerFace float64
}

// cpuSeconds is the process's user+sys CPU time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// MeasureThroughput keeps `clients` goroutines sending batches of `batch`
// copies of img for the given duration.
func MeasureThroughput(e *bindings.Engine, img []byte, batch, clients int, d time.Duration, opts bindings.Options) (Throughput, error) {
	imgs := make([][]byte, batch)
	for i := range imgs {
		imgs[i] = img
	}
	ctx := context.Background()
	if _, err := e.Analyze(ctx, imgs, opts); err != nil { // warm-up
		return Throughput{}, err
	}
	var mu sync.Mutex
	var firstErr error
	faces := 0
	deadline := time.Now().Add(d)
	start := time.Now()
	cpu0 := cpuSeconds()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				rs, err := e.Analyze(ctx, imgs, opts)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				for _, r := range rs {
					faces += len(r.Faces)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	tp := Throughput{Batch: batch, Clients: clients, Faces: faces, Seconds: secs, FacesPerSec: float64(faces) / secs}
	if faces > 0 {
		tp.CPUmsPerFace = (cpuSeconds() - cpu0) * 1000 / float64(faces)
	}
	return tp, firstErr
}

// Percentile returns the p-th percentile (nearest rank) of v.
func Percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	k := int(p/100*float64(len(s))+0.5) - 1
	if k < 0 {
		k = 0
	}
	if k >= len(s) {
		k = len(s) - 1
	}
	return s[k]
}

// StageRow renders per-stage medians as a Markdown table row.
func StageRow(label string, l Latency) string {
	s := l.Stages
	return fmt.Sprintf("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |",
		label, s.Decode, s.Detect, s.Landmarks, s.Align, s.Liveness, s.Embed, s.Quality, s.Total, l.P50, l.P99)
}
