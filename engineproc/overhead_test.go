package engineproc_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"vizor/bindings"
	"vizor/engineproc"
	"vizor/internal/faceset"
)

// fakeModels makes the test worker serve fakeEngine: what the pipe costs,
// without the engine's work.
const fakeModels = "<fake engine>"

// fakeEngine answers every image with one face as the real engine fills it
// (box, 5 landmarks, 512-d template, liveness, quality).
type fakeEngine struct{}

func (fakeEngine) Analyze(_ context.Context, images [][]byte, _ bindings.Options) ([]bindings.Result, error) {
	out := make([]bindings.Result, len(images))
	for i := range images {
		out[i] = bindings.Result{Width: 640, Height: 480, Faces: []bindings.Face{{
			Box: bindings.Rect{X: 1, Y: 2, W: 3, H: 4}, DetScore: 0.99, Landmarks5: make([]bindings.Point, 5),
			Liveness: 0.9, Quality: &bindings.Quality{Score: 0.8}, Template: make([]float32, 512),
		}}}
	}
	return out, nil
}
func (fakeEngine) Info() bindings.Info { return bindings.Info{Workers: 1} }
func (fakeEngine) Close() error        { return nil }

// BenchmarkPipeRoundTrip is the per-call cost of a worker process: a batch
// of 8 probe-sized images out, 8 faces back, through the real protocol.
// `go test ./engineproc -run '^$' -bench PipeRoundTrip`
func BenchmarkPipeRoundTrip(b *testing.B) {
	p := fakePool(b)
	img := make([]byte, 100<<10)
	if d, err := faceset.Dir(); err == nil {
		if jpg, err := os.ReadFile(filepath.Join(d, "probe-640x480.jpg")); err == nil {
			img = jpg
		}
	}
	batch := [][]byte{img, img, img, img, img, img, img, img}
	b.SetBytes(int64(len(img) * len(batch)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Analyze(context.Background(), batch, bindings.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPipeRoundTripOne is the per-call cost for one probe-sized image,
// the verify path at concurrency 1.
func BenchmarkPipeRoundTripOne(b *testing.B) {
	p := fakePool(b)
	img := make([]byte, 67<<10)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Analyze(context.Background(), [][]byte{img}, bindings.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// fakePool is a one-worker pool whose worker serves fakeEngine.
func fakePool(b *testing.B) *engineproc.Pool {
	b.Helper()
	exe, _ := os.Executable()
	b.Setenv(workerEnv, "1")
	p, err := engineproc.Start(engineproc.Config{Command: []string{exe}, Engine: bindings.Config{ModelsDir: fakeModels}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	return p
}
