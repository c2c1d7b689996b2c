package server

import "vizor/server/metrics"

// Metrics are the core's series, on client_golang (server/metrics). Names
// are those of the hand-written exposition they replace, so dashboards keep
// working; vizor_http_request_duration_seconds gained the code label
// (README.md, "Metrics").
type Metrics struct {
	Reg       *metrics.Registry
	Requests  *metrics.CounterVec
	Latency   *metrics.HistogramVec
	InFlight  *metrics.GaugeVec
	Rejected  *metrics.CounterVec
	Gates     *metrics.CounterVec
	PAD       *metrics.CounterVec
	BatchSize *metrics.HistogramVec
	// Stages are the engine's per-image stage times (decode, detect, ...).
	Stages *metrics.HistogramVec
}

// NewMetrics registers the core series (and the Go and process collectors).
func NewMetrics() *Metrics {
	reg := metrics.NewRegistry()
	m := &Metrics{Reg: reg}
	reg.NewGaugeVec("vizor_build_info", "Build information.", "version").With(Version).Set(1)
	m.Requests = reg.NewCounterVec("vizor_http_requests_total", "HTTP requests by route and status code.", "route", "code")
	m.Latency = reg.NewHistogramVec("vizor_http_request_duration_seconds", "HTTP request latency by route and status code.", metrics.LatencyBuckets, "route", "code")
	m.InFlight = reg.NewGaugeVec("vizor_http_in_flight_requests", "Biometric requests being processed.")
	m.Rejected = reg.NewCounterVec("vizor_http_rejected_total", "Requests refused before their handler, by reason.", "reason")
	m.Gates = reg.NewCounterVec("vizor_gate_rejections_total", "Biometric gate rejections by operation and gate.", "op", "gate")
	m.PAD = reg.NewCounterVec("vizor_pad_outcomes_total", "PAD outcomes reported, by policy and outcome (live, spoof, pad_unavailable); under report, spoof counts what enforce would refuse.", "policy", "outcome")
	m.BatchSize = reg.NewHistogramVec("vizor_engine_batch_size", "Images per engine call made by the micro-batcher.", []float64{1, 2, 4, 8, 16, 32})
	m.Stages = reg.NewHistogramVec("vizor_engine_stage_seconds", "Engine time per image and stage, from the engine's own per-image timings (stages not run are not observed).", metrics.StageBuckets, "stage")
	return m
}

// ObserveStage records one image's time in an engine stage, given in
// milliseconds as the engine reports it; a stage that did not run (0) is
// not observed, so each histogram counts the images that went through it.
func (m *Metrics) ObserveStage(stage string, ms float64) {
	if ms > 0 {
		m.Stages.With(stage).Observe(ms / 1000)
	}
}
