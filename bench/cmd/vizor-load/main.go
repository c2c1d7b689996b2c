// Command vizor-load loads Vizor's HTTP API on the loopback interface and
// reports throughput and latency percentiles (HDR histogram).
//
//	go run ./bench/cmd/vizor-load -op verify -subject person-001 -c 8 -d 30s
//	go run ./bench/cmd/vizor-load -op search -mode open -rate 50 -n 2000
//	go run ./bench/cmd/vizor-load -url http://127.0.0.1:8080/health -method GET -c 32 -d 10s
//
// Targets other than loopback addresses are refused.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"vizor/bench/cmd/internal/progress"
	"vizor/bench/loadgen"
	"vizor/internal/faceset"
)

type headers map[string]string

func (h headers) String() string { return fmt.Sprint(map[string]string(h)) }
func (h headers) Set(s string) error {
	k, v, ok := strings.Cut(s, ":")
	if !ok {
		return fmt.Errorf("header %q: want Name: value", s)
	}
	h[strings.TrimSpace(k)] = strings.TrimSpace(v)
	return nil
}

func main() {
	hs := headers{}
	var (
		base     = flag.String("addr", "http://127.0.0.1:8080", "server base URL (loopback only)")
		rawURL   = flag.String("url", "", "full target URL (overrides -addr and -op)")
		op       = flag.String("op", "verify", "API operation: verify, search, enrol, delete (POST /api/v1/<op>)")
		method   = flag.String("method", "", "HTTP method (default POST with a body, GET otherwise)")
		image    = flag.String("image", "", "probe image for the request body (default ../shared/data/probe-640x480.jpg)")
		bodyFile = flag.String("body", "", "raw request body file instead of a generated one")
		subject  = flag.String("subject", "bench-subject", "subject_id in generated bodies")
		part     = flag.String("partition", "default", "partition in generated bodies")
		topK     = flag.Int("top-k", 5, "top_k in generated search bodies")
		mode     = flag.String("mode", "closed", "closed (fixed concurrency) or open (fixed arrival rate)")
		conc     = flag.Int("c", 4, "closed: concurrent workers; open: most requests in flight")
		rate     = flag.Float64("rate", 0, "open loop: requests per second")
		dur      = flag.Duration("d", 10*time.Second, "duration (0: until -n requests)")
		n        = flag.Int("n", 0, "stop after this many requests (0: until -d)")
		timeout  = flag.Duration("timeout", 30*time.Second, "per-request timeout")
		jsonOut  = flag.String("json", "", "write the result as JSON to this file")
	)
	flag.Var(hs, "H", "extra request header, 'Name: value' (repeatable), e.g. -H 'X-API-Key: ...'")
	flag.Parse()
	if err := run(*base, *rawURL, *op, *method, *image, *bodyFile, *subject, *part, *topK, *mode, *conc, *rate, *dur, *n, *timeout, *jsonOut, hs); err != nil {
		fmt.Fprintln(os.Stderr, "vizor-load:", err)
		os.Exit(1)
	}
}

func run(base, rawURL, op, method, image, bodyFile, subject, part string, topK int, mode string, conc int, rate float64,
	dur time.Duration, n int, timeout time.Duration, jsonOut string, hs headers) error {
	target := rawURL
	if target == "" {
		target = strings.TrimRight(base, "/") + "/api/v1/" + op
	}
	if _, err := loadgen.CheckLoopback(target); err != nil {
		return err
	}
	cfg := loadgen.Config{URL: target, Method: method, Mode: loadgen.Mode(mode), Concurrency: conc, Rate: rate,
		Duration: dur, Requests: n, Timeout: timeout, Headers: hs}
	if method == "" || method == "POST" || method == "PUT" {
		body, err := makeBody(rawURL, op, image, bodyFile, subject, part, topK)
		if err != nil {
			return err
		}
		if body != nil {
			cfg.Bodies, cfg.ContentType = [][]byte{body}, "application/json"
		}
	}
	line := progress.New()
	cfg.Progress = func(s loadgen.Snapshot) {
		total := ""
		if n > 0 {
			total = " " + progress.Bar(int(s.Done), n, s.Elapsed)
		} else if dur > 0 {
			total = fmt.Sprintf(" %s/%s", s.Elapsed.Round(time.Second), dur)
		}
		line.Printf("%s%s | %d done, %d errors, %d in flight, %.1f req/s", target, total, s.Done, s.Errors, s.InFlight, s.Rate)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	line.Done("%s: finished in %s", target, res.Elapsed.Round(time.Millisecond))
	fmt.Println(res.Summary())
	fmt.Println("latency distribution (ms):")
	for _, q := range res.Distribution() {
		fmt.Printf("  p%-6g %10.3f\n", q[0], q[1])
	}
	for k, v := range res.ErrorKinds {
		fmt.Printf("  transport error %q: %d\n", k, v)
	}
	if jsonOut != "" {
		raw, _ := json.MarshalIndent(res, "", "  ")
		return os.WriteFile(jsonOut, append(raw, '\n'), 0o644)
	}
	return nil
}

// makeBody builds the JSON body of the XML API's biometric operations.
func makeBody(rawURL, op, image, bodyFile, subject, part string, topK int) ([]byte, error) {
	if bodyFile != "" {
		return os.ReadFile(bodyFile)
	}
	if rawURL != "" && image == "" {
		return nil, nil // a custom URL without -image or -body: no body
	}
	m := map[string]any{"partition": part}
	switch op {
	case "verify", "enrol":
		m["subject_id"] = subject
	case "search":
		m["top_k"] = topK
	case "delete":
		m["subject_id"] = subject
		return json.Marshal(m)
	}
	if image == "" {
		p, err := faceset.ProbePath()
		if err != nil {
			return nil, err
		}
		image = p
	}
	img, err := os.ReadFile(image)
	if err != nil {
		return nil, err
	}
	m["image"] = base64.StdEncoding.EncodeToString(img)
	return json.Marshal(m)
}
