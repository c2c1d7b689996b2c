package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"

	"vizor/bench/loadgen"
)

// verifyCore is the handler logic both servers share: the XML API's verify
// request (JSON in, XML out). work does the biometric part; the framework
// wrappers below only move bytes.
type verifyCore struct {
	work func(ctx context.Context, img []byte) (score float64, err error)
}

type verifyReq struct {
	Image     string `json:"image"`
	SubjectID string `json:"subject_id"`
	Partition string `json:"partition"`
}

type verifyResp struct {
	XMLName   xml.Name `xml:"VerifyResponse"`
	Status    string   `xml:"status"`
	Match     bool     `xml:"match"`
	Score     float64  `xml:"score"`
	SubjectID string   `xml:"subject_id"`
}

func (c verifyCore) serve(ctx context.Context, body []byte) (int, []byte) {
	var req verifyReq
	if err := json.Unmarshal(body, &req); err != nil || req.Image == "" {
		return 400, []byte("<ErrorResponse><status>400</status></ErrorResponse>")
	}
	img, err := base64.StdEncoding.DecodeString(req.Image)
	if err != nil {
		return 400, []byte("<ErrorResponse><status>400</status></ErrorResponse>")
	}
	score, err := c.work(ctx, img)
	if err != nil {
		return 500, []byte("<ErrorResponse><status>500</status></ErrorResponse>")
	}
	out, _ := xml.Marshal(verifyResp{Status: "OK", Match: score >= 0.5, Score: score, SubjectID: req.SubjectID})
	return 200, out
}

// hashWork stands in for the engine when measuring framework overhead: it
// touches every image byte once (sha256) and derives a score.
func hashWork(_ context.Context, img []byte) (float64, error) {
	h := sha256.Sum256(img)
	return float64(h[0]) / 255, nil
}

func serveFast(ln net.Listener, c verifyCore) *fasthttp.Server {
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		code, out := c.serve(ctx, ctx.PostBody())
		ctx.SetStatusCode(code)
		ctx.SetContentType("application/xml")
		ctx.SetBody(out)
	}, MaxRequestBodySize: 32 << 20}
	go s.Serve(ln)
	return s
}

func serveStd(ln net.Listener, c verifyCore) *http.Server {
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
		if err != nil {
			w.WriteHeader(400)
			return
		}
		code, out := c.serve(r.Context(), body)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(code)
		w.Write(out)
	})}
	go s.Serve(ln)
	return s
}

// httpRow is one framework measured under one workload.
type httpRow struct {
	Workload    string          `json:"workload"`
	Server      string          `json:"server"`
	Concurrency int             `json:"concurrency"`
	Runs        int             `json:"runs"`
	Throughput  float64         `json:"throughput_rps"` // median over runs
	P50         float64         `json:"p50_ms"`
	P99         float64         `json:"p99_ms"`
	Errors      int64           `json:"errors"`
	All         []loadgenResult `json:"all_runs"`
}

type loadgenResult struct {
	Throughput float64 `json:"throughput_rps"`
	P50        float64 `json:"p50_ms"`
	P99        float64 `json:"p99_ms"`
	Requests   int64   `json:"requests"`
}

// compareHTTP serves c on fasthttp and net/http (loopback, ephemeral ports)
// and loads each in turn, alternating, runs times.
func compareHTTP(ctx context.Context, name string, c verifyCore, body []byte, conc, runs int, dur time.Duration, say func(string, ...any)) ([]httpRow, error) {
	lnF, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	lnS, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	fs := serveFast(lnF, c)
	defer fs.Shutdown()
	ss := serveStd(lnS, c)
	defer ss.Close()
	rows := []httpRow{
		{Workload: name, Server: "fasthttp", Concurrency: conc, Runs: runs},
		{Workload: name, Server: "net/http", Concurrency: conc, Runs: runs},
	}
	urls := []string{"http://" + lnF.Addr().String() + "/api/v1/verify", "http://" + lnS.Addr().String() + "/api/v1/verify"}
	for run := 0; run < runs; run++ {
		for k := range rows {
			say("http %s: %s run %d/%d (%s, c=%d)", name, rows[k].Server, run+1, runs, dur, conc)
			res, err := loadgen.Run(ctx, loadgen.Config{URL: urls[k], Bodies: [][]byte{body}, ContentType: "application/json",
				Mode: loadgen.Closed, Concurrency: conc, Duration: dur})
			if err != nil {
				return nil, err
			}
			if res.Requests == 0 {
				return nil, fmt.Errorf("%s: no requests completed", urls[k])
			}
			rows[k].Errors += res.Errors
			rows[k].All = append(rows[k].All, loadgenResult{res.Throughput, res.Latency.P50, res.Latency.P99, res.Requests})
		}
	}
	for k := range rows {
		var t, p50, p99 []float64
		for _, r := range rows[k].All {
			t, p50, p99 = append(t, r.Throughput), append(p50, r.P50), append(p99, r.P99)
		}
		rows[k].Throughput, rows[k].P50, rows[k].P99 = median(t), median(p50), median(p99)
	}
	return rows, nil
}

func sha(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:8]) }
