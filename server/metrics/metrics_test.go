package metrics

import (
	"bytes"
	"strings"
	"testing"
)

func TestExposition(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("x_total", "Things.\nSecond line.", "route", "code")
	c.With("search", "200").Add(2)
	c.With("a\"b", "500").Inc()
	h := r.NewHistogramVec("lat_seconds", "Latency.", []float64{0.1, 1}, "route")
	h.With("s").Observe(0.05)
	h.With("s").Observe(0.5)
	h.With("s").Observe(5)
	r.NewGaugeFunc("g", "A gauge.", func() float64 { return 3 })
	var b bytes.Buffer
	r.Write(&b)
	want := `# HELP x_total Things.\nSecond line.
# TYPE x_total counter
x_total{route="a\"b",code="500"} 1
x_total{route="search",code="200"} 2
# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{route="s",le="0.1"} 1
lat_seconds_bucket{route="s",le="1"} 2
lat_seconds_bucket{route="s",le="+Inf"} 3
lat_seconds_sum{route="s"} 5.55
lat_seconds_count{route="s"} 3
# HELP g A gauge.
# TYPE g gauge
g 3
`
	if got := b.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if strings.Count(want, "\n") != 14 {
		t.Fatal("sanity")
	}
}
