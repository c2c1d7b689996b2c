// Package metrics is a small hand-written Prometheus text-format (0.0.4)
// exposition: counters, gauges and histograms with labels.
//
// Why not client_golang: the server needs a dozen series; the official
// client pulls in protobuf, its own registry and several transitive modules
// for that, and its HTTP handler is net/http, not fasthttp. The text format is
// small, stable and documented, so ~200 lines here cover it, with a test that
// checks the output line by line.
package metrics

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Registry holds metric families and writes them in registration order.
type Registry struct {
	mu       sync.Mutex
	families []family
}

type family interface {
	write(w io.Writer)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

func (r *Registry) add(f family) {
	r.mu.Lock()
	r.families = append(r.families, f)
	r.mu.Unlock()
}

// Write writes the exposition.
func (r *Registry) Write(w io.Writer) {
	r.mu.Lock()
	fs := append([]family(nil), r.families...)
	r.mu.Unlock()
	for _, f := range fs {
		f.write(w)
	}
}

// ContentType is the exposition's media type.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

type meta struct {
	name, help, typ string
	labels          []string
}

func (m *meta) header(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", m.name, escapeHelp(m.help), m.name, m.typ)
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}

func labelString(names, values []string, extra ...string) string {
	if len(names) == 0 && len(extra) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	n := 0
	for i, k := range names {
		if n > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `%s="%s"`, k, escapeLabel(values[i]))
		n++
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if n > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `%s="%s"`, extra[i], escapeLabel(extra[i+1]))
		n++
	}
	b.WriteByte('}')
	return b.String()
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// labelled keeps one child per label-value tuple.
type labelled[T any] struct {
	meta
	mu       sync.Mutex
	children map[string]*T
	values   map[string][]string
	mk       func() *T
}

func (l *labelled[T]) with(values ...string) *T {
	if len(values) != len(l.labels) {
		panic(fmt.Sprintf("metrics: %s wants %d labels, got %d", l.name, len(l.labels), len(values)))
	}
	key := strings.Join(values, "\xff")
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.children[key]
	if !ok {
		c = l.mk()
		l.children[key] = c
		l.values[key] = append([]string(nil), values...)
	}
	return c
}

func (l *labelled[T]) sorted() ([]string, map[string]*T, map[string][]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([]string, 0, len(l.children))
	ch := make(map[string]*T, len(l.children))
	vals := make(map[string][]string, len(l.children))
	for k, c := range l.children {
		keys = append(keys, k)
		ch[k] = c
		vals[k] = l.values[k]
	}
	sort.Strings(keys)
	return keys, ch, vals
}

// Counter is a monotonically increasing value.
type Counter struct{ bits atomic.Uint64 }

// Add adds v (>= 0).
func (c *Counter) Add(v float64) {
	for {
		old := c.bits.Load()
		if c.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Inc adds one.
func (c *Counter) Inc() { c.Add(1) }

// Value returns the current value.
func (c *Counter) Value() float64 { return math.Float64frombits(c.bits.Load()) }

// CounterVec is a counter family.
type CounterVec struct{ l *labelled[Counter] }

// NewCounterVec registers a counter family.
func (r *Registry) NewCounterVec(name, help string, labels ...string) *CounterVec {
	v := &CounterVec{l: &labelled[Counter]{meta: meta{name, help, "counter", labels}, children: map[string]*Counter{}, values: map[string][]string{}, mk: func() *Counter { return &Counter{} }}}
	r.add(v)
	return v
}

// With returns the counter of one label tuple.
func (v *CounterVec) With(values ...string) *Counter { return v.l.with(values...) }

func (v *CounterVec) write(w io.Writer) {
	v.l.header(w)
	keys, ch, vals := v.l.sorted()
	for _, k := range keys {
		fmt.Fprintf(w, "%s%s %s\n", v.l.name, labelString(v.l.labels, vals[k]), formatFloat(ch[k].Value()))
	}
}

// Gauge is a value that goes up and down.
type Gauge struct{ Counter }

// Set sets the value.
func (g *Gauge) Set(v float64) { g.bits.Store(math.Float64bits(v)) }

// Dec subtracts one.
func (g *Gauge) Dec() { g.Add(-1) }

// GaugeVec is a gauge family.
type GaugeVec struct{ l *labelled[Gauge] }

// NewGaugeVec registers a gauge family.
func (r *Registry) NewGaugeVec(name, help string, labels ...string) *GaugeVec {
	v := &GaugeVec{l: &labelled[Gauge]{meta: meta{name, help, "gauge", labels}, children: map[string]*Gauge{}, values: map[string][]string{}, mk: func() *Gauge { return &Gauge{} }}}
	r.add(v)
	return v
}

// With returns the gauge of one label tuple.
func (v *GaugeVec) With(values ...string) *Gauge { return v.l.with(values...) }

func (v *GaugeVec) write(w io.Writer) {
	v.l.header(w)
	keys, ch, vals := v.l.sorted()
	for _, k := range keys {
		fmt.Fprintf(w, "%s%s %s\n", v.l.name, labelString(v.l.labels, vals[k]), formatFloat(ch[k].Value()))
	}
}

// GaugeFunc is a gauge read at scrape time.
type GaugeFunc struct {
	meta
	fn func() float64
}

// NewGaugeFunc registers a gauge computed by fn at each scrape.
func (r *Registry) NewGaugeFunc(name, help string, fn func() float64) {
	r.add(&GaugeFunc{meta: meta{name, help, "gauge", nil}, fn: fn})
}

func (g *GaugeFunc) write(w io.Writer) {
	g.header(w)
	fmt.Fprintf(w, "%s %s\n", g.name, formatFloat(g.fn()))
}

// Histogram counts observations into cumulative buckets.
type Histogram struct {
	mu     sync.Mutex
	bounds []float64
	counts []uint64 // per bucket (not cumulative); last is +Inf
	sum    float64
	count  uint64
}

// Observe records one value.
func (h *Histogram) Observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v) // first bound >= v
	h.mu.Lock()
	h.counts[i]++
	h.sum += v
	h.count++
	h.mu.Unlock()
}

// HistogramVec is a histogram family.
type HistogramVec struct {
	l      *labelled[Histogram]
	bounds []float64
}

// NewHistogramVec registers a histogram family with the given upper bounds.
func (r *Registry) NewHistogramVec(name, help string, bounds []float64, labels ...string) *HistogramVec {
	b := append([]float64(nil), bounds...)
	sort.Float64s(b)
	v := &HistogramVec{bounds: b}
	v.l = &labelled[Histogram]{meta: meta{name, help, "histogram", labels}, children: map[string]*Histogram{}, values: map[string][]string{},
		mk: func() *Histogram { return &Histogram{bounds: b, counts: make([]uint64, len(b)+1)} }}
	r.add(v)
	return v
}

// With returns the histogram of one label tuple.
func (v *HistogramVec) With(values ...string) *Histogram { return v.l.with(values...) }

func (v *HistogramVec) write(w io.Writer) {
	v.l.header(w)
	keys, ch, vals := v.l.sorted()
	for _, k := range keys {
		h := ch[k]
		h.mu.Lock()
		counts := append([]uint64(nil), h.counts...)
		sum, count := h.sum, h.count
		h.mu.Unlock()
		var cum uint64
		for i, b := range v.bounds {
			cum += counts[i]
			fmt.Fprintf(w, "%s_bucket%s %d\n", v.l.name, labelString(v.l.labels, vals[k], "le", formatFloat(b)), cum)
		}
		cum += counts[len(v.bounds)]
		fmt.Fprintf(w, "%s_bucket%s %d\n", v.l.name, labelString(v.l.labels, vals[k], "le", "+Inf"), cum)
		fmt.Fprintf(w, "%s_sum%s %s\n", v.l.name, labelString(v.l.labels, vals[k]), formatFloat(sum))
		fmt.Fprintf(w, "%s_count%s %d\n", v.l.name, labelString(v.l.labels, vals[k]), count)
	}
}

// LatencyBuckets are seconds from 1 ms to 30 s.
var LatencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
