// Package loadgen drives an HTTP endpoint on the loopback interface with a
// fasthttp client and measures throughput and latency (HDR histograms).
//
// Closed loop: Concurrency workers each send a request, wait for the answer,
// and send the next; throughput is what the server sustains at that
// concurrency. Open loop: requests are scheduled at a fixed Rate whatever
// the server does; each latency is measured from the request's scheduled
// time, so a server that falls behind shows its queueing delay instead of
// hiding it (no coordinated omission).
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"
)

// Mode is closed or open loop.
type Mode string

const (
	Closed Mode = "closed"
	Open   Mode = "open"
)

// Config describes a run. It stops at Duration or after Requests requests,
// whichever comes first (either may be 0, not both).
type Config struct {
	URL         string // http://127.0.0.1:8080/api/v1/verify; loopback only
	Method      string // default POST when there are bodies, else GET
	Bodies      [][]byte
	ContentType string
	Headers     map[string]string
	Mode        Mode
	Concurrency int     // closed: workers; open: most requests in flight (default 64)
	Rate        float64 // open: requests per second
	Duration    time.Duration
	Requests    int
	Timeout     time.Duration // per request; default 30s
	// OK decides success from the status code; default 2xx.
	OK func(status int) bool
	// Progress is called about once a second while the run lasts.
	Progress func(Snapshot)
}

// Snapshot is the run's state so far.
type Snapshot struct {
	Elapsed  time.Duration
	Done     int64
	Errors   int64
	InFlight int64
	Rate     float64 // completed requests per second over the last interval
}

// Result is a finished run.
type Result struct {
	Mode        Mode                    `json:"mode"`
	URL         string                  `json:"url"`
	Concurrency int                     `json:"concurrency"`
	TargetRate  float64                 `json:"target_rate,omitempty"`
	Requests    int64                   `json:"requests"`
	Errors      int64                   `json:"errors"`
	Status      map[int]int64           `json:"status"`
	ErrorKinds  map[string]int          `json:"error_kinds,omitempty"`
	Elapsed     time.Duration           `json:"elapsed_ns"`
	Throughput  float64                 `json:"throughput_rps"` // successful responses per second
	Latency     Latency                 `json:"latency"`
	Hist        *hdrhistogram.Histogram `json:"-"`
}

// Latency summarises the histogram, in milliseconds.
type Latency struct {
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
}

// newHist records microseconds from 1µs to 5 minutes, 3 significant digits.
func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(5*time.Minute/time.Microsecond), 3)
}

// CheckLoopback refuses any target that is not on the loopback interface:
// the generator is for benchmarking a local server, never for loading
// someone else's.
func CheckLoopback(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("%s: only http:// targets are supported", raw)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("%s: no host", raw)
	}
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		if !strings.EqualFold(host, "localhost") {
			return nil, fmt.Errorf("refusing %q: the load generator only targets loopback addresses (127.0.0.0/8, ::1, localhost)", host)
		}
		addrs, err := net.LookupIP(host)
		if err != nil {
			return nil, err
		}
		ips = addrs
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return nil, fmt.Errorf("refusing %q (%s): the load generator only targets loopback addresses", host, ip)
		}
	}
	return u, nil
}

// Run executes the load described by cfg.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	u, err := CheckLoopback(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Duration <= 0 && cfg.Requests <= 0 {
		return nil, errors.New("set a duration, a request count, or both")
	}
	if cfg.Mode == "" {
		cfg.Mode = Closed
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
		if cfg.Mode == Closed {
			cfg.Concurrency = 1
		}
	}
	if cfg.Mode == Open && cfg.Rate <= 0 {
		return nil, errors.New("open loop needs a rate")
	}
	if cfg.Mode != Open && cfg.Mode != Closed {
		return nil, fmt.Errorf("mode %q: want open or closed", cfg.Mode)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Method == "" {
		cfg.Method = "GET"
		if len(cfg.Bodies) > 0 {
			cfg.Method = "POST"
		}
	}
	if cfg.OK == nil {
		cfg.OK = func(s int) bool { return s >= 200 && s < 300 }
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	client := &fasthttp.HostClient{
		Addr:                addr,
		MaxConns:            cfg.Concurrency,
		MaxIdleConnDuration: time.Minute,
		ReadTimeout:         cfg.Timeout,
		WriteTimeout:        cfg.Timeout,
		MaxConnWaitTimeout:  cfg.Timeout,
	}
	defer client.CloseIdleConnections()

	r := &run{cfg: cfg, client: client, uri: u.String(), start: time.Now()}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	stopProgress := r.progress(ctx)
	if cfg.Mode == Closed {
		r.closed(ctx)
	} else {
		r.open(ctx)
	}
	elapsed := time.Since(r.start)
	stopProgress()
	return r.result(elapsed), nil
}

type worker struct {
	hist   *hdrhistogram.Histogram
	status map[int]int64
	errs   map[string]int
}

type run struct {
	cfg      Config
	client   *fasthttp.HostClient
	uri      string
	start    time.Time
	issued   atomic.Int64 // requests started (to honour cfg.Requests)
	done     atomic.Int64
	errors   atomic.Int64
	inFlight atomic.Int64
	mu       sync.Mutex
	workers  []*worker
}

func (r *run) newWorker() *worker {
	w := &worker{hist: newHist(), status: map[int]int64{}, errs: map[string]int{}}
	r.mu.Lock()
	r.workers = append(r.workers, w)
	r.mu.Unlock()
	return w
}

// take reserves the next request number; false once cfg.Requests are out.
func (r *run) take() (int64, bool) {
	n := r.issued.Add(1) - 1
	return n, r.cfg.Requests <= 0 || n < int64(r.cfg.Requests)
}

// do sends request n and records its latency from since.
func (r *run) do(w *worker, n int64, since time.Time) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(r.uri)
	req.Header.SetMethod(r.cfg.Method)
	if len(r.cfg.Bodies) > 0 {
		req.SetBodyRaw(r.cfg.Bodies[n%int64(len(r.cfg.Bodies))])
		if r.cfg.ContentType != "" {
			req.Header.SetContentType(r.cfg.ContentType)
		}
	}
	for k, v := range r.cfg.Headers {
		req.Header.Set(k, v)
	}
	r.inFlight.Add(1)
	err := r.client.DoTimeout(req, resp, r.cfg.Timeout)
	lat := time.Since(since)
	r.inFlight.Add(-1)
	r.done.Add(1)
	if err != nil {
		r.errors.Add(1)
		w.errs[errKind(err)]++
		return
	}
	code := resp.StatusCode()
	w.status[code]++
	if !r.cfg.OK(code) {
		r.errors.Add(1)
	}
	_ = w.hist.RecordValue(max(1, lat.Microseconds()))
}

func errKind(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout):
		return "timeout"
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return "no free connections"
	}
	s := err.Error()
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

func (r *run) closed(ctx context.Context) {
	var wg sync.WaitGroup
	for i := 0; i < r.cfg.Concurrency; i++ {
		w := r.newWorker()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n, ok := r.take()
				if !ok {
					return
				}
				r.do(w, n, time.Now())
			}
		}()
	}
	wg.Wait()
}

func (r *run) open(ctx context.Context) {
	type shot struct {
		n  int64
		at time.Time
	}
	queue := make(chan shot, max(1024, int(r.cfg.Rate)))
	var wg sync.WaitGroup
	for i := 0; i < r.cfg.Concurrency; i++ {
		w := r.newWorker()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range queue {
				if ctx.Err() != nil {
					continue // drain: the run is over
				}
				r.do(w, s.n, s.at)
			}
		}()
	}
	interval := time.Duration(float64(time.Second) / r.cfg.Rate)
	start := time.Now()
	for i := int64(0); ctx.Err() == nil; i++ {
		n, ok := r.take()
		if !ok {
			break
		}
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
			if ctx.Err() != nil {
				break
			}
		}
		select {
		case queue <- shot{n, at}:
		case <-ctx.Done():
		}
	}
	close(queue)
	wg.Wait()
}

func (r *run) progress(ctx context.Context) func() {
	if r.cfg.Progress == nil {
		return func() {}
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last, lastT := int64(0), time.Now()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case now := <-t.C:
				d := r.done.Load()
				r.cfg.Progress(Snapshot{Elapsed: time.Since(r.start), Done: d, Errors: r.errors.Load(),
					InFlight: r.inFlight.Load(), Rate: float64(d-last) / now.Sub(lastT).Seconds()})
				last, lastT = d, now
			}
		}
	}()
	return func() { close(stop); <-finished }
}

func (r *run) result(elapsed time.Duration) *Result {
	res := &Result{Mode: r.cfg.Mode, URL: r.uri, Concurrency: r.cfg.Concurrency, Status: map[int]int64{},
		ErrorKinds: map[string]int{}, Elapsed: elapsed, Hist: newHist()}
	if r.cfg.Mode == Open {
		res.TargetRate = r.cfg.Rate
	}
	for _, w := range r.workers {
		res.Hist.Merge(w.hist)
		for k, v := range w.status {
			res.Status[k] += v
		}
		for k, v := range w.errs {
			res.ErrorKinds[k] += v
		}
	}
	res.Requests = r.done.Load()
	res.Errors = r.errors.Load()
	ok := res.Requests - res.Errors
	res.Throughput = float64(ok) / elapsed.Seconds()
	h := res.Hist
	ms := func(us int64) float64 { return float64(us) / 1000 }
	if h.TotalCount() > 0 {
		res.Latency = Latency{Mean: h.Mean() / 1000, P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
			P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max())}
	}
	return res
}

// Summary is a one-line human summary.
func (res *Result) Summary() string {
	codes := make([]int, 0, len(res.Status))
	for c := range res.Status {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var cs []string
	for _, c := range codes {
		cs = append(cs, fmt.Sprintf("%d:%d", c, res.Status[c]))
	}
	l := res.Latency
	return fmt.Sprintf("%s loop c=%d: %d requests in %s, %d errors, %.1f req/s | latency ms mean %.2f p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f max %.2f | status %s",
		res.Mode, res.Concurrency, res.Requests, res.Elapsed.Round(time.Millisecond), res.Errors, res.Throughput,
		l.Mean, l.P50, l.P90, l.P99, l.P999, l.Max, strings.Join(cs, " "))
}

// Distribution returns the latency percentile distribution (ms at each
// percentile), HdrHistogram style, for printing.
func (res *Result) Distribution() [][2]float64 {
	var out [][2]float64
	for _, q := range []float64{0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100} {
		out = append(out, [2]float64{q, float64(res.Hist.ValueAtQuantile(q)) / 1000})
	}
	return out
}
