package compat

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"vizor/server"
	"vizor/server/config"
)

// keyedAPI is a minimal keyed flavour for the core's tests: it admits only
// goodKey from the headers, quotes a bad key back in its message (as
// CompreFace does), and has a key-in-path link route.
type keyedAPI struct{ bodies *atomic.Int32 }

const goodKey = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

func (keyedAPI) Name() string { return "keyed" }

func (a keyedAPI) Routes() []Route {
	return []Route{
		{Method: "POST", Pattern: "/upload", Name: "upload", Limited: true, Handler: func(ctx *fasthttp.RequestCtx, _ Params) {
			a.bodies.Add(1)
			ctx.SetBodyString(strconv.Itoa(len(ctx.PostBody())))
		}},
		{Method: "GET", Pattern: "/static/{api_key}/images/{id}", Name: "link", Handler: func(ctx *fasthttp.RequestCtx, p Params) {
			From(ctx).Detail = "no image " + p["id"] + " for key " + p["api_key"]
			ctx.SetStatusCode(404)
		}},
	}
}

func (keyedAPI) WriteError(ctx *fasthttp.RequestCtx, status int, msg string) {
	WriteJSON(ctx, status, map[string]string{"message": msg})
}

func (keyedAPI) Admit(ctx *fasthttp.RequestCtx, r Route) bool {
	if r.Name != "upload" {
		return true
	}
	if k := string(ctx.Request.Header.Peek("x-api-key")); k != goodKey {
		From(ctx).Detail = "service with API Key " + k + " not found"
		WriteJSON(ctx, 404, map[string]string{"message": From(ctx).Detail})
		return false
	}
	return true
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startKeyed(t *testing.T, bodies *atomic.Int32) (string, *syncBuf) {
	t.Helper()
	logs := &syncBuf{}
	cfg := config.Default()
	s := NewServer(keyedAPI{bodies}, cfg, zerolog.New(logs), server.NewMetrics())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return ln.Addr().String(), logs
}

// No key in the log: not from the path, not from a message quoting it.
func TestKeysRedactedFromLogs(t *testing.T) {
	var bodies atomic.Int32
	addr, logs := startKeyed(t, &bodies)
	badKey := "11111111-2222-3333-4444-555555555555"
	for _, c := range []struct {
		method, path, key string
	}{
		{"GET", "/static/" + goodKey + "/images/img-1", ""},
		{"GET", "/static/" + badKey + "/images/x/extra", ""}, // no route: UUID segments hidden
		{"POST", "/upload", badKey},
	} {
		req, _ := http.NewRequest(c.method, "http://"+addr+c.path, strings.NewReader("x"))
		if c.key != "" {
			req.Header.Set("x-api-key", c.key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	log := logs.String()
	for _, k := range []string{goodKey, badKey, goodKey[:8], badKey[:8]} {
		if strings.Contains(log, k) {
			t.Fatalf("log holds key material %q:\n%s", k, log)
		}
	}
	for _, want := range []string{
		`"path":"/static/[key:` + server.KeyID(goodKey) + `]/images/img-1"`,
		`"key":"` + server.KeyID(goodKey) + `"`,
		`"path":"/static/[redacted]/images/x/extra"`,
		`"detail":"service with API Key [key:` + server.KeyID(badKey) + `] not found"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
}

// Admit runs from the headers: a refused upload's body is never read (the
// answer comes while most of it is unsent) and the handler never runs.
func TestAdmitBeforeBody(t *testing.T) {
	var bodies atomic.Int32
	addr, _ := startKeyed(t, &bodies)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: x\r\nx-api-key: nope\r\nContent-Length: 16777216\r\n\r\n")
	_, _ = c.Write(bytes.Repeat([]byte{'A'}, 8<<10))
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer from the headers: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 404 || !res.Close || bodies.Load() != 0 {
		t.Fatalf("status %d, close %v, handler runs %d", res.StatusCode, res.Close, bodies.Load())
	}
	// Asked with Expect: 100-continue, the refusal comes instead of 100.
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_, _ = io.WriteString(c2, "POST /upload HTTP/1.1\r\nHost: x\r\nx-api-key: nope\r\nExpect: 100-continue\r\nContent-Length: 16777216\r\n\r\n")
	_ = c2.SetReadDeadline(time.Now().Add(3 * time.Second))
	res, err = http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil {
		t.Fatalf("no answer to Expect: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 404 || bodies.Load() != 0 {
		t.Fatalf("Expect: status %d, handler runs %d", res.StatusCode, bodies.Load())
	}
	// The good key reaches the handler with the whole body.
	req, _ := http.NewRequest("POST", "http://"+addr+"/upload", bytes.NewReader(make([]byte, 100<<10)))
	req.Header.Set("x-api-key", goodKey)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != 200 || string(b) != strconv.Itoa(100<<10) {
		t.Fatalf("admitted: %d %s", r2.StatusCode, b)
	}
}
