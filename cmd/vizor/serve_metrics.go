package main

import (
	"context"

	"vizor/bindings"
	"vizor/gallery"
	"vizor/server"
	"vizor/server/metrics"
	"vizor/server/service"
)

// stageTimed is the engine with every image's stage times recorded in
// vizor_engine_stage_seconds, from the timings the engine measures itself
// (per image, also inside a batch), whichever listener asked.
type stageTimed struct {
	bindings.Analyzer
	m *server.Metrics
}

func observeStages(e bindings.Analyzer, m *server.Metrics) bindings.Analyzer { return stageTimed{e, m} }

func (s stageTimed) Analyze(ctx context.Context, images [][]byte, opts bindings.Options) ([]bindings.Result, error) {
	rs, err := s.Analyzer.Analyze(ctx, images, opts)
	for _, r := range rs {
		t := r.Timings
		for _, st := range []struct {
			name string
			ms   float64
		}{{"decode", t.Decode}, {"detect", t.Detect}, {"landmarks", t.Landmarks}, {"align", t.Align}, {"pad", t.Liveness},
			{"embed", t.Embed}, {"quality", t.Quality}, {"attributes", t.Attributes}, {"total", t.Total}} {
			s.m.ObserveStage(st.name, st.ms)
		}
	}
	return rs, err
}

// instrument registers the series read at scrape time: the gallery's sizes
// and the micro-batcher's queue.
func instrument(m *server.Metrics, stats func() (gallery.Stats, error), b *service.Batcher) {
	m.Reg.Prometheus().MustRegister(metrics.NewGalleryCollector(stats))
	m.Reg.NewGaugeFunc("vizor_batcher_queue_depth", "Single-image requests waiting for the micro-batcher to take them into a batch.", func() float64 {
		return float64(b.QueueDepth())
	})
}
