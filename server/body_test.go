package server

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"vizor/server/config"
)

// echoFlavour is a minimal flavour for the core's tests: /echo answers the
// number of body bytes its handler saw.
type echoFlavour struct{}

func (echoFlavour) Routes() []Route {
	return []Route{{Method: "POST", Path: "/echo", Name: "echo", Op: "search", Limited: true,
		Handler: func(ctx *fasthttp.RequestCtx) { fmt.Fprintf(ctx, "%d", len(ctx.PostBody())) }}}
}

func (echoFlavour) WriteError(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetBodyString(code + ": " + msg)
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const testKey = "secret-key-0123"

func startCore(t *testing.T, mod func(*config.Config)) (addr string, logs *lockedBuf) {
	t.Helper()
	cfg := config.Default()
	cfg.APIKeys = []config.APIKey{{Key: testKey}, {Key: "scoped-key-4567", Partitions: []string{"p1"}}}
	cfg.ReadTimeout = 5 * time.Second
	if mod != nil {
		mod(&cfg)
	}
	logs = &lockedBuf{}
	srv := New(cfg, zerolog.New(logs), NewMetrics(), echoFlavour{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return ln.Addr().String(), logs
}

// rawRequest sends the headers of a request announcing contentLength body
// bytes, then sends bodyBytes of it, and reads the answer without sending
// the rest.
func rawRequest(t *testing.T, addr, key string, contentLength, bodyBytes int) (status int, closed bool, took time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hdr := "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: " + strconv.Itoa(contentLength) + "\r\n"
	if key != "" {
		hdr += "X-Api-Key: " + key + "\r\n"
	}
	start := time.Now()
	if _, err := io.WriteString(c, hdr+"\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(bytes.Repeat([]byte{'A'}, bodyBytes)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, res.Close, time.Since(start)
}

// A request without a valid key is refused from its headers: the 401
// arrives although only 8 KiB of the announced 16 MiB were sent, and the
// connection is closed rather than drained.
func TestAuthBeforeBody(t *testing.T) {
	addr, logs := startCore(t, nil)
	for _, key := range []string{"", "wrong-key"} {
		status, closed, took := rawRequest(t, addr, key, 16<<20, 8<<10)
		if status != 401 || !closed || took > 2*time.Second {
			t.Fatalf("key %q: status %d, closed %v, took %v", key, status, closed, took)
		}
	}
	if !strings.Contains(logs.String(), `"bytes_in":16777216`) {
		t.Fatalf("bytes_in should be the announced length: %s", logs)
	}

	// Authenticated: the body is read and the handler sees all of it.
	body := bytes.Repeat([]byte{'B'}, 1<<20)
	req, _ := http.NewRequest("POST", "http://"+addr+"/echo", bytes.NewReader(body))
	req.Header.Set("X-Api-Key", testKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(got) != strconv.Itoa(len(body)) {
		t.Fatalf("authenticated: %d %s", res.StatusCode, got)
	}
}

// The body limit holds for streamed bodies: announced (Content-Length) or
// counted (chunked).
func TestStreamedBodyLimit(t *testing.T) {
	addr, _ := startCore(t, func(c *config.Config) { c.MaxBodyBytes = 64 << 10 })
	status, closed, _ := rawRequest(t, addr, testKey, 1<<20, 8<<10)
	if status != 413 || !closed {
		t.Fatalf("Content-Length over the limit: %d closed %v", status, closed)
	}
	// Chunked: the length is unknown until read.
	pr, pw := io.Pipe()
	go func() {
		chunk := bytes.Repeat([]byte{'C'}, 16<<10)
		for i := 0; i < 8; i++ {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", "http://"+addr+"/echo", pr)
	req.Header.Set("X-Api-Key", testKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 413 {
		t.Fatalf("chunked over the limit: %d", res.StatusCode)
	}
	// Chunked under the limit is read whole.
	req, _ = http.NewRequest("POST", "http://"+addr+"/echo", io.MultiReader(strings.NewReader("abc"), strings.NewReader("def")))
	req.Header.Set("X-Api-Key", testKey)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(got) != "6" {
		t.Fatalf("chunked under the limit: %d %s", res.StatusCode, got)
	}
}

// Many keyless connections pushing large bodies cost the server little:
// each is refused after its headers and at most 8 KiB of body. (Before,
// fasthttp buffered every body whole: 200 x 16 MiB held 3.6 GB.)
func TestKeylessBodiesBoundedMemory(t *testing.T) {
	addr, _ := startCore(t, nil)
	push := bytes.Repeat([]byte{'D'}, 1<<20) // shared by the clients: not server memory
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 100
	var wg sync.WaitGroup
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		wg.Add(1)
		go func(c net.Conn) {
			defer wg.Done()
			_, _ = io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 16777216\r\n\r\n")
			// Push up to 1 MiB; the server stops reading long before.
			_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
			_, _ = c.Write(push)
		}(c)
	}
	wg.Wait()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		if res.StatusCode != 401 {
			t.Fatalf("status %d", res.StatusCode)
		}
		c.Close()
	}
	growth := int64(ms.HeapInuse) - int64(before.HeapInuse)
	t.Logf("%d keyless connections with 1 MiB sent each: heap growth %.1f MiB", n, float64(growth)/(1<<20))
	if growth > 32<<20 {
		t.Fatalf("heap grew %d bytes", growth)
	}
}

// /metrics counts every partition: a key limited to some gets 403.
func TestMetricsNeedAllPartitions(t *testing.T) {
	addr, _ := startCore(t, nil)
	for key, want := range map[string]int{testKey: 200, "scoped-key-4567": 403, "": 401} {
		req, _ := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
		if key != "" {
			req.Header.Set("X-Api-Key", key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("key %q: %d, want %d: %s", key, res.StatusCode, want, b)
		}
		if want == 200 && !bytes.Contains(b, []byte("vizor_build_info")) { // a vec without series yet is not exposed
			t.Errorf("no series: %s", b)
		}
	}
}

// Expect: 100-continue is answered from the same header checks: a refused
// client gets its final status instead of an invitation to send the body;
// an admitted one gets 100 Continue and then its answer.
func TestExpectContinue(t *testing.T) {
	addr, logs := startCore(t, nil)
	ask := func(key string, length int) (*bufio.Reader, net.Conn) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		hdr := "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " + strconv.Itoa(length) + "\r\n"
		if key != "" {
			hdr += "X-Api-Key: " + key + "\r\n"
		}
		_, _ = io.WriteString(c, hdr+"\r\n")
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		return bufio.NewReader(c), c
	}
	br, c := ask("", 16<<20)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	c.Close()
	if res.StatusCode != 401 || !res.Close {
		t.Fatalf("keyless Expect: %d close %v", res.StatusCode, res.Close)
	}

	br, c = ask(testKey, 5)
	defer c.Close()
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 Continue") {
		t.Fatalf("admitted Expect: %q %v", line, err)
	}
	if _, err := br.ReadString('\n'); err != nil { // the blank line after 100
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "hello")
	res, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != "5" {
		t.Fatalf("after 100 Continue: %d %s", res.StatusCode, b)
	}
	// One log line per request: the refused one and the served one.
	if n := strings.Count(logs.String(), `"route":"echo"`); n != 2 {
		t.Fatalf("%d log lines for 2 requests:\n%s", n, logs)
	}
}

// A refused request with a small body (an ordinary upload with a wrong key)
// is answered intact and its connection stays usable: the body is drained,
// not left for the kernel to answer with a reset.
func TestRefusedSmallBodyKeepsConnection(t *testing.T) {
	addr, _ := startCore(t, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	send := func(key string, n int) *http.Response {
		t.Helper()
		req := "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(n) + "\r\n"
		if key != "" {
			req += "X-Api-Key: " + key + "\r\n"
		}
		if _, err := io.WriteString(c, req+"\r\n"+strings.Repeat("C", n)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	if res := send("wrong-key", 150<<10); res.StatusCode != 401 || res.Close {
		t.Fatalf("refused 150 KiB upload: status %d, close %v (want 401 on a kept connection)", res.StatusCode, res.Close)
	}
	if res := send(testKey, 1000); res.StatusCode != 200 {
		t.Fatalf("next request on the same connection: %d", res.StatusCode)
	}
}
