package main

import (
	"context"
	"strings"
	"testing"

	"vizor/bindings"
	"vizor/gallery"
	"vizor/server"
	"vizor/server/service"
)

// fixedAnalyzer answers every image with the same timings (pure logic: the
// wrapper's bookkeeping is what is tested, not the engine).
type fixedAnalyzer struct{ t bindings.Timings }

func (f fixedAnalyzer) Analyze(_ context.Context, images [][]byte, _ bindings.Options) ([]bindings.Result, error) {
	rs := make([]bindings.Result, len(images))
	for i := range rs {
		rs[i].Timings = f.t
	}
	return rs, nil
}
func (fixedAnalyzer) Info() bindings.Info { return bindings.Info{} }
func (fixedAnalyzer) Close() error        { return nil }

type idleEngine struct{}

func (idleEngine) Analyze(context.Context, [][]byte) ([]service.ImageResult, error) { return nil, nil }
func (idleEngine) Status() service.EngineStatus                                     { return service.EngineStatus{} }

// Every image's stage times land in vizor_engine_stage_seconds (seconds,
// per image, stages that did not run left out); the gallery and batcher
// series are read at scrape time.
func TestServeMetricsWiring(t *testing.T) {
	m := server.NewMetrics()
	e := observeStages(fixedAnalyzer{bindings.Timings{Decode: 4, Detect: 20, Embed: 10, Total: 40}}, m)
	if _, err := e.Analyze(context.Background(), [][]byte{nil, nil}, bindings.Options{}); err != nil {
		t.Fatal(err)
	}
	b := service.NewBatcher(idleEngine{}, 8, 1, 0)
	defer b.Close()
	instrument(m, func() (gallery.Stats, error) {
		return gallery.Stats{Partitions: 1, Templates: 3, PerPartition: []gallery.PartitionStats{{Name: "p", Subjects: 2, Templates: 3}}}, nil
	}, b)
	got := m.Reg.Text()
	for _, want := range []string{
		`vizor_engine_stage_seconds_count{stage="decode"} 2`, `vizor_engine_stage_seconds_sum{stage="decode"} 0.008`,
		`vizor_engine_stage_seconds_count{stage="total"} 2`, `vizor_engine_stage_seconds_sum{stage="total"} 0.08`,
		"vizor_gallery_templates 3\n", `vizor_gallery_partition_subjects{partition="p"} 2`, "vizor_batcher_queue_depth 0\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q", want)
		}
	}
	if strings.Contains(got, `stage="pad"`) || strings.Contains(got, `stage="attributes"`) {
		t.Error("a stage that did not run was observed")
	}
}
