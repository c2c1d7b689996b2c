package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckLoopback(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080/x", "http://localhost:1/", "http://[::1]:8080/", "http://127.1.2.3/"} {
		if _, err := CheckLoopback(ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://10.0.0.1:8080/", "http://example.com/", "https://127.0.0.1/", "http://0.0.0.0:8080/", "http://192.168.1.1/"} {
		if _, err := CheckLoopback(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func server(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if strings.Contains(r.URL.Path, "fail") {
			w.WriteHeader(500)
			return
		}
		w.Write([]byte("<ok/>"))
	}))
	t.Cleanup(s.Close)
	return s, &n
}

func TestClosedCount(t *testing.T) {
	s, n := server(t)
	res, err := Run(context.Background(), Config{URL: s.URL + "/v", Bodies: [][]byte{[]byte("{}")}, Mode: Closed, Concurrency: 4, Requests: 200})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 200 || n.Load() != 200 || res.Errors != 0 || res.Status[200] != 200 || res.Hist.TotalCount() != 200 {
		t.Errorf("%s", res.Summary())
	}
	if res.Latency.P50 <= 0 || res.Latency.P99 < res.Latency.P50 {
		t.Errorf("latency %+v", res.Latency)
	}
}

func TestOpenRate(t *testing.T) {
	s, _ := server(t)
	res, err := Run(context.Background(), Config{URL: s.URL + "/fail", Mode: Open, Rate: 200, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// 200/s for 0.5s is about 100 requests, every one a 500.
	if res.Requests < 60 || res.Requests > 110 || res.Errors != res.Requests || res.Status[500] != res.Requests {
		t.Errorf("%s", res.Summary())
	}
}

func TestRefusesRemote(t *testing.T) {
	if _, err := Run(context.Background(), Config{URL: "http://8.8.8.8/", Requests: 1}); err == nil {
		t.Error("remote target accepted")
	}
}
