package metrics

import (
	"errors"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"vizor/gallery"
)

func TestExpositionThroughClientGolang(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("x_total", "Things.\nSecond line.", "route", "code")
	c.With("search", "200").Add(2)
	c.With("a\"b", "500").Inc()
	h := r.NewHistogramVec("lat_seconds", "Latency.", []float64{0.1, 1}, "route")
	h.With("s").Observe(0.05)
	h.With("s").Observe(0.5)
	h.With("s").Observe(5)
	r.NewGaugeFunc("g", "A gauge.", func() float64 { return 3 })
	r.NewCounterVec("restarts_total", "No labels: present from the start.")
	got := r.Text()
	for _, want := range []string{
		"# HELP x_total Things.\\nSecond line.\n# TYPE x_total counter\n",
		`x_total{code="200",route="search"} 2`,
		`x_total{code="500",route="a\"b"} 1`,
		`lat_seconds_bucket{route="s",le="0.1"} 1`,
		`lat_seconds_bucket{route="s",le="1"} 2`,
		`lat_seconds_bucket{route="s",le="+Inf"} 3`,
		`lat_seconds_sum{route="s"} 5.55`,
		`lat_seconds_count{route="s"} 3`,
		"# TYPE g gauge\ng 3\n",
		"restarts_total 0\n",
		// The Go and process collectors come with every registry.
		"go_goroutines ", "go_memstats_heap_alloc_bytes ", "process_resident_memory_bytes ", "process_open_fds ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("exposition lacks %q:\n%s", want, got)
		}
	}
}

func TestServeNegotiates(t *testing.T) {
	r := NewRegistry()
	r.NewCounterVec("x_total", "Things.").With().Inc()
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/metrics")
	r.Serve(&ctx)
	if ctx.Response.StatusCode() != 200 || !strings.HasPrefix(string(ctx.Response.Header.ContentType()), "text/plain") ||
		!strings.Contains(string(ctx.Response.Body()), "x_total 1") {
		t.Fatalf("%d %s: %.300s", ctx.Response.StatusCode(), ctx.Response.Header.ContentType(), ctx.Response.Body())
	}
	var om fasthttp.RequestCtx
	om.Request.SetRequestURI("/metrics")
	om.Request.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	r.Serve(&om)
	if !strings.HasPrefix(string(om.Response.Header.ContentType()), "application/openmetrics-text") || !strings.HasSuffix(string(om.Response.Body()), "# EOF\n") {
		t.Fatalf("OpenMetrics: %s: %.300s", om.Response.Header.ContentType(), om.Response.Body())
	}
}

func TestGalleryCollector(t *testing.T) {
	r := NewRegistry()
	st := gallery.Stats{Partitions: 2, Templates: 7, PerPartition: []gallery.PartitionStats{{Name: "a", Subjects: 2, Templates: 5}, {Name: "b", Subjects: 1, Templates: 2}}}
	var fail error
	r.Prometheus().MustRegister(NewGalleryCollector(func() (gallery.Stats, error) { return st, fail }))
	got := r.Text()
	for _, want := range []string{"vizor_gallery_templates 7\n", "vizor_gallery_partitions 2\n",
		`vizor_gallery_partition_templates{partition="a"} 5`, `vizor_gallery_partition_subjects{partition="b"} 1`} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	// A partition deleted is gone from the next scrape.
	st = gallery.Stats{Partitions: 1, Templates: 2, PerPartition: st.PerPartition[1:]}
	if got := r.Text(); strings.Contains(got, `partition="a"`) || !strings.Contains(got, "vizor_gallery_templates 2\n") {
		t.Errorf("after delete:\n%s", got)
	}
	fail = errors.New("store down")
	if err := r.Write(&strings.Builder{}); err == nil || !strings.Contains(err.Error(), "store down") {
		t.Errorf("failing stats: %v", err)
	}
}
