// Package metrics is Vizor's Prometheus instrumentation on the official
// client, github.com/prometheus/client_golang: one registry per process
// with the Go runtime and process collectors, served in every exposition
// format the client negotiates (text, OpenMetrics, gzip) through promhttp.
//
// Why the library (README.md, "Metrics"): it brings the Go and process
// collectors (heap, GC, goroutines, CPU, open files, RSS) that a hand-made
// exposition would have to reimplement, the exposition formats and their
// escaping rules kept right by the Prometheus authors, and the names
// dashboards expect (go_*, process_*). The small adapter below keeps the
// server's call sites (With(...).Inc(), Observe) as they were.
package metrics

import (
	"bytes"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// Registry holds the process's metric families.
type Registry struct {
	reg     *prometheus.Registry
	handler fasthttp.RequestHandler
}

// NewRegistry returns a registry holding the Go runtime and process
// collectors.
func NewRegistry() *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, EnableOpenMetrics: true})
	return &Registry{reg: reg, handler: fasthttpadaptor.NewFastHTTPHandler(h)}
}

// Prometheus is the underlying registry (to register other collectors).
func (r *Registry) Prometheus() *prometheus.Registry { return r.reg }

// Serve answers a scrape (the caller has checked who may read it).
func (r *Registry) Serve(ctx *fasthttp.RequestCtx) { r.handler(ctx) }

// Write writes the text exposition (tests, debugging).
func (r *Registry) Write(w io.Writer) error {
	mfs, err := r.reg.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}

// Text is Write into a string.
func (r *Registry) Text() string {
	var b bytes.Buffer
	_ = r.Write(&b)
	return b.String()
}

// ContentType is the text exposition's media type.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// CounterVec is a counter family.
type CounterVec struct{ v *prometheus.CounterVec }

// NewCounterVec registers a counter family. Without labels its one series
// exists from the start (0), so a scrape shows it before the first event.
func (r *Registry) NewCounterVec(name, help string, labels ...string) *CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	r.reg.MustRegister(v)
	if len(labels) == 0 {
		v.WithLabelValues()
	}
	return &CounterVec{v}
}

// With returns the counter of one label tuple.
func (v *CounterVec) With(values ...string) prometheus.Counter { return v.v.WithLabelValues(values...) }

// GaugeVec is a gauge family.
type GaugeVec struct{ v *prometheus.GaugeVec }

// NewGaugeVec registers a gauge family.
func (r *Registry) NewGaugeVec(name, help string, labels ...string) *GaugeVec {
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	r.reg.MustRegister(v)
	if len(labels) == 0 {
		v.WithLabelValues()
	}
	return &GaugeVec{v}
}

// With returns the gauge of one label tuple.
func (v *GaugeVec) With(values ...string) prometheus.Gauge { return v.v.WithLabelValues(values...) }

// NewGaugeFunc registers a gauge computed by fn at each scrape.
func (r *Registry) NewGaugeFunc(name, help string, fn func() float64) {
	r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

// HistogramVec is a histogram family.
type HistogramVec struct{ v *prometheus.HistogramVec }

// NewHistogramVec registers a histogram family with the given upper bounds.
func (r *Registry) NewHistogramVec(name, help string, bounds []float64, labels ...string) *HistogramVec {
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: bounds}, labels)
	r.reg.MustRegister(v)
	if len(labels) == 0 {
		v.WithLabelValues()
	}
	return &HistogramVec{v}
}

// With returns the histogram of one label tuple.
func (v *HistogramVec) With(values ...string) prometheus.Observer {
	return v.v.WithLabelValues(values...)
}

// LatencyBuckets are seconds from 1 ms to 30 s.
var LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// StageBuckets are seconds from 0.1 ms to 5 s, for engine stages.
var StageBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 5}
