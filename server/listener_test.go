package server

import (
	"errors"
	"os"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestLimiter(t *testing.T) {
	l := NewLimiter(1, NewMetrics())
	var a, b fasthttp.RequestCtx
	release, ok := l.Acquire(&a)
	if !ok {
		t.Fatal("first request refused")
	}
	if _, ok := l.Acquire(&b); ok || string(b.Response.Header.Peek("Retry-After")) != "1" {
		t.Fatalf("second request: ok %v, Retry-After %q", ok, b.Response.Header.Peek("Retry-After"))
	}
	if l.Busy() != "server busy: 1 requests in flight" {
		t.Fatalf("busy message %q", l.Busy())
	}
	release()
	release2, ok := l.Acquire(&b)
	if !ok {
		t.Fatal("slot not given back")
	}
	release2()
}

func TestReadError(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{fasthttp.ErrBodyTooLarge, 413, "body_too_large"},
		{os.ErrDeadlineExceeded, 408, "request_timeout"},
		{errors.New("cannot parse request line"), 400, "bad_request"},
	} {
		status, code, report := ReadError(c.err, 1024)
		if status != c.status || code != c.code || report == nil {
			t.Errorf("%v: %d %s %v", c.err, status, code, report)
		}
	}
	if _, _, r := ReadError(fasthttp.ErrBodyTooLarge, 1024); r.Error() != "request body over the 1024-byte limit" {
		t.Errorf("report %q", r)
	}
}
