package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"vizor/bench/engine"
	"vizor/bindings"
	"vizor/internal/faceset"
)

func open(b *testing.B, workers, threads int) *bindings.Engine {
	root, err := faceset.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	e, err := bindings.Open(bindings.Config{ModelsDir: filepath.Join(root, "models"), Workers: workers, ThreadsPerWorker: threads})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e
}

func image(b *testing.B, name string) []byte {
	d, err := faceset.Dir()
	if err != nil {
		b.Skip(err)
	}
	p := filepath.Join(d, name)
	data, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// benchSingle reports wall time per request plus the engine's stage means.
func benchSingle(b *testing.B, name string, workers, threads int) {
	e := open(b, workers, threads)
	img := image(b, name)
	ctx := context.Background()
	if _, err := e.AnalyzeOne(ctx, img, bindings.Options{}); err != nil {
		b.Fatal(err)
	}
	var sum bindings.Timings
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := e.AnalyzeOne(ctx, img, bindings.Options{})
		if err != nil {
			b.Fatal(err)
		}
		t := r.Timings
		sum.Decode += t.Decode
		sum.Detect += t.Detect
		sum.Landmarks += t.Landmarks
		sum.Align += t.Align
		sum.Liveness += t.Liveness
		sum.Embed += t.Embed
	}
	n := float64(b.N)
	b.ReportMetric(sum.Decode/n, "decode-ms")
	b.ReportMetric(sum.Detect/n, "detect-ms")
	b.ReportMetric(sum.Landmarks/n, "landmarks-ms")
	b.ReportMetric(sum.Align/n, "align-ms")
	b.ReportMetric(sum.Liveness/n, "pad-ms")
	b.ReportMetric(sum.Embed/n, "embed-ms")
}

func BenchmarkProbe640x480_1Thread(b *testing.B)  { benchSingle(b, "probe-640x480.jpg", 1, 1) }
func BenchmarkProbe640x480_2Threads(b *testing.B) { benchSingle(b, "probe-640x480.jpg", 1, 2) }
func BenchmarkChaeyeon_1Thread(b *testing.B)      { benchSingle(b, "faces/chaeyeon.jpg", 1, 1) }
func BenchmarkChaeyeon_2Threads(b *testing.B)     { benchSingle(b, "faces/chaeyeon.jpg", 1, 2) }

// BenchmarkBatched8x2 keeps two batches of eight probes in flight on a
// two-worker engine and reports faces per second.
func BenchmarkBatched8x2(b *testing.B) {
	e := open(b, 2, 1)
	img := image(b, "probe-640x480.jpg")
	b.ResetTimer()
	faces := 0
	b.RunParallel(func(pb *testing.PB) {
		imgs := [][]byte{img, img, img, img, img, img, img, img}
		for pb.Next() {
			rs, err := e.Analyze(context.Background(), imgs, bindings.Options{})
			if err != nil {
				b.Error(err)
				return
			}
			_ = rs
		}
	})
	faces = b.N * 8
	b.ReportMetric(float64(faces)/b.Elapsed().Seconds(), "faces/s")
}

func TestPercentile(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3}
	if engine.Percentile(v, 50) != 3 || engine.Percentile(v, 100) != 5 || engine.Percentile(v, 1) != 1 {
		t.Fatal("percentile")
	}
}
