package xmlapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"vizor/server"
	"vizor/server/config"
	"vizor/server/service"
	st "vizor/server/service/servicetest"
	"vizor/server/xmlapi"

	"vizor/server/xmlapi/xmltest"
)

type env struct {
	url string
	lw  *syncWriter
	srv *server.Server
}

func start(t *testing.T, mod func(*config.Config)) *env {
	t.Helper()
	cfg := config.Default()
	cfg.MaxBodyBytes = 64 << 10
	cfg.ReadTimeout = 2 * time.Second
	if mod != nil {
		mod(&cfg)
	}
	svc := service.New(service.Config{
		MatchThreshold: float32(cfg.MatchThreshold), QualityThreshold: float32(cfg.QualityThreshold),
		ProbeQualityThreshold: float32(cfg.ProbeQualityThreshold), PADThreshold: float32(cfg.PADThreshold),
		DefaultTopK: cfg.DefaultTopK, MaxTopK: cfg.MaxTopK,
	}, service.NewBatcher(&st.FakeEngine{}, 4, 2, 0), st.NewMemGallery())
	lw := &syncWriter{w: &bytes.Buffer{}}
	log := zerolog.New(lw)
	srv := server.New(cfg, log, server.NewMetrics(), xmlapi.New(svc, cfg.MaxBodyBytes))
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
	return &env{url: "http://" + ln.Addr().String(), lw: lw, srv: srv}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (e *env) logs() string {
	e.lw.mu.Lock()
	defer e.lw.mu.Unlock()
	return e.lw.w.String()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

type resp = xmltest.Resp

func do(t *testing.T, method, url, ctype string, body io.Reader, hdr ...string) resp {
	t.Helper()
	r, err := xmltest.Do(context.Background(), http.DefaultClient, method, url, ctype, body, hdr...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) post(t *testing.T, path string, v any, hdr ...string) resp {
	t.Helper()
	b, _ := json.Marshal(v)
	return do(t, "POST", e.url+path, "application/json", bytes.NewReader(b), hdr...)
}

var good = st.FakeFace{W: 100, H: 120, Quality: 0.9, Liveness: 0.9, Seed: 1}

func ff(seed int64, mod ...func(*st.FakeFace)) []byte {
	f := good
	f.Seed = seed
	for _, m := range mod {
		m(&f)
	}
	return st.Image(f)
}

func expectErr(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if r.Doc == nil || r.Doc.Root() == nil || r.Doc.Root().Tag != "ErrorResponse" {
		t.Fatalf("want XML ErrorResponse, got %q", r.Body)
	}
	if got := r.Text("ErrorResponse/status"); got != fmt.Sprint(status) {
		t.Fatalf("status element %q", got)
	}
	if code != "" && r.Text("ErrorResponse/code") != code {
		t.Fatalf("code %q, want %q: %s", r.Text("ErrorResponse/code"), code, r.Body)
	}
	if r.Text("ErrorResponse/message") == "" {
		t.Fatalf("no message: %s", r.Body)
	}
}

func TestEndpoints(t *testing.T) {
	e := start(t, nil)
	r := e.post(t, "/api/v1/enrol", map[string]any{"image": b64(ff(1)), "subject_id": "person-001"})
	if r.Status != 200 || r.Doc.Root().Tag != "EnrolResponse" || r.Text("EnrolResponse/status") != "OK" ||
		r.Text("EnrolResponse/subject_id") != "person-001" || r.Text("EnrolResponse/model_id") != "fake-model-8" ||
		r.Text("EnrolResponse/quality_score") != "0.9" {
		t.Fatalf("enrol: %d %s", r.Status, r.Body)
	}
	e.post(t, "/api/v1/enrol", map[string]any{"image": b64(ff(2)), "subject_id": "person-002", "partition": "default"})
	r = e.post(t, "/api/v1/search", map[string]any{"image": b64(ff(1)), "top_k": 5, "min_score": -1})
	if r.Status != 200 || r.Doc.Root().Tag != "SearchResponse" {
		t.Fatalf("search: %d %s", r.Status, r.Body)
	}
	cands := r.Doc.FindElements("SearchResponse/candidates/candidate")
	if len(cands) != 2 || cands[0].FindElement("subject_id").Text() != "person-001" || cands[0].FindElement("rank").Text() != "1" ||
		cands[0].FindElement("score").Text() != "1.0" || cands[1].FindElement("rank").Text() != "2" {
		t.Fatalf("candidates: %s", r.Body)
	}
	for _, el := range []string{"status", "quality_score", "model_id", "face/index", "face/faces_detected", "face/selection"} {
		if r.Text("SearchResponse/"+el) == "" {
			t.Fatalf("missing %s: %s", el, r.Body)
		}
	}
	r = e.post(t, "/api/v1/verify", map[string]any{"image": b64(ff(1)), "subject_id": "person-001"})
	if r.Status != 200 || r.Text("VerifyResponse/match") != "true" || r.Text("VerifyResponse/score") != "1.0" ||
		r.Text("VerifyResponse/subject_id") != "person-001" || r.Text("VerifyResponse/quality_score") == "" || r.Text("VerifyResponse/model_id") == "" {
		t.Fatalf("verify: %s", r.Body)
	}
	r = e.post(t, "/api/v1/verify", map[string]any{"image": b64(ff(1)), "subject_id": "person-002"})
	if r.Status != 200 || r.Text("VerifyResponse/match") != "false" {
		t.Fatalf("verify other: %s", r.Body)
	}
	r = do(t, "GET", e.url+"/partitions", "", nil)
	if r.Status != 200 || strings.TrimSpace(string(r.Body)) == "" || !strings.Contains(string(r.Body), `"default"`) {
		t.Fatalf("partitions: %s", r.Body)
	}
	var stats struct {
		Total      int            `json:"total_subjects"`
		Partitions map[string]int `json:"partitions"`
	}
	r = do(t, "GET", e.url+"/stats", "", nil)
	if json.Unmarshal(r.Body, &stats) != nil || stats.Total != 2 || stats.Partitions["default"] != 2 {
		t.Fatalf("stats: %s", r.Body)
	}
	r = e.post(t, "/api/v1/delete", map[string]any{"subject_id": "person-001"})
	if r.Status != 200 || r.Text("DeleteResponse/status") != "OK" || r.Text("DeleteResponse/subject_id") != "person-001" {
		t.Fatalf("delete: %s", r.Body)
	}
	var health struct {
		Status     string          `json:"status"`
		Components map[string]bool `json:"components"`
		MAD        struct {
			Enabled bool   `json:"enabled"`
			Note    string `json:"note"`
		} `json:"mad"`
	}
	r = do(t, "GET", e.url+"/health", "", nil)
	if r.Status != 200 || json.Unmarshal(r.Body, &health) != nil || health.Status != "healthy" || !health.Components["faiss_index"] ||
		!health.Components["onnx_pad"] || health.MAD.Enabled || !strings.Contains(health.MAD.Note, "no MAD") {
		t.Fatalf("health: %s", r.Body)
	}
	r = do(t, "GET", e.url+"/version", "", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"model_id": "fake-model-8"`) {
		t.Fatalf("version: %s", r.Body)
	}
	r = do(t, "GET", e.url+"/metrics", "", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `vizor_http_requests_total{code="200",route="search"} 1`) {
		t.Fatalf("metrics: %s", r.Body)
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Fatal("no X-Request-Id")
	}
}

func TestMultipart(t *testing.T) {
	e := start(t, nil)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("image", "probe.jpg")
	fw.Write(ff(3))
	mw.WriteField("subject_id", "mp")
	mw.WriteField("partition", "forms")
	mw.Close()
	r := do(t, "POST", e.url+"/api/v1/enrol", mw.FormDataContentType(), &buf)
	if r.Status != 200 || r.Text("EnrolResponse/subject_id") != "mp" || r.Text("EnrolResponse/partition") != "forms" {
		t.Fatalf("multipart enrol: %d %s", r.Status, r.Body)
	}
	buf.Reset()
	mw = multipart.NewWriter(&buf)
	fw, _ = mw.CreateFormFile("image", "probe.jpg")
	fw.Write(ff(3))
	mw.WriteField("partition", "forms")
	mw.WriteField("top_k", "3")
	mw.Close()
	r = do(t, "POST", e.url+"/api/v1/search", mw.FormDataContentType(), &buf)
	if r.Status != 200 || r.Text("SearchResponse/candidates/candidate/subject_id") != "mp" {
		t.Fatalf("multipart search: %d %s", r.Status, r.Body)
	}
	buf.Reset()
	mw = multipart.NewWriter(&buf)
	fw, _ = mw.CreateFormFile("image", "probe.jpg")
	fw.Write(ff(3))
	mw.WriteField("top_k", "three")
	mw.Close()
	expectErr(t, do(t, "POST", e.url+"/api/v1/search", mw.FormDataContentType(), &buf), 400, "invalid_field")
	buf.Reset()
	mw = multipart.NewWriter(&buf)
	mw.WriteField("colour", "blue")
	mw.Close()
	expectErr(t, do(t, "POST", e.url+"/api/v1/search", mw.FormDataContentType(), &buf), 400, "unknown_field")
	expectErr(t, do(t, "POST", e.url+"/api/v1/search", "multipart/form-data; boundary=xyz", strings.NewReader("garbage")), 400, "")
}

func TestErrorPaths(t *testing.T) {
	e := start(t, nil)
	e.post(t, "/api/v1/enrol", map[string]any{"image": b64(ff(1)), "subject_id": "known"})
	cases := []struct {
		name   string
		path   string
		ctype  string
		body   string
		status int
		code   string
	}{
		{"no face", "/api/v1/search", "", `{"image":"` + b64(st.Image()) + `"}`, 400, "no_face"},
		{"undecodable", "/api/v1/search", "", `{"image":"` + b64([]byte("GIF89a not really")) + `"}`, 400, "bad_image"},
		{"quality", "/api/v1/enrol", "", `{"subject_id":"q","image":"` + b64(ff(5, func(f *st.FakeFace) { f.Quality = 0.1 })) + `"}`, 422, "quality_rejected"},
		{"spoof", "/api/v1/verify", "", `{"subject_id":"known","image":"` + b64(ff(5, func(f *st.FakeFace) { f.Liveness = 0.001 })) + `"}`, 451, "spoof_detected"},
		{"unknown subject verify", "/api/v1/verify", "", `{"subject_id":"ghost","image":"` + b64(ff(1)) + `"}`, 404, "subject_not_found"},
		{"unknown subject delete", "/api/v1/delete", "", `{"subject_id":"ghost"}`, 404, "subject_not_found"},
		{"unknown partition", "/api/v1/search", "", `{"partition":"nowhere","image":"` + b64(ff(1)) + `"}`, 404, "partition_not_found"},
		{"bad JSON", "/api/v1/search", "", `{"image":`, 400, "invalid_json"},
		{"JSON array", "/api/v1/search", "", `[1,2]`, 400, "invalid_json"},
		{"trailing data", "/api/v1/search", "", `{"image":"AAAA"} {}`, 400, "invalid_json"},
		{"empty body", "/api/v1/search", "", ``, 400, "invalid_json"},
		{"wrong type", "/api/v1/search", "", `{"image":"AAAA","top_k":"five"}`, 400, "invalid_field"},
		{"quoted number", "/api/v1/search", "", `{"image":"AAAA","top_k":"5"}`, 400, "invalid_field"},
		{"fractional top_k", "/api/v1/search", "", `{"image":"AAAA","top_k":1.5}`, 400, "invalid_field"},
		{"image number", "/api/v1/search", "", `{"image":12}`, 400, "invalid_field"},
		{"unknown field", "/api/v1/search", "", `{"image":"AAAA","colour":"blue"}`, 400, "unknown_field"},
		{"field of another endpoint", "/api/v1/delete", "", `{"subject_id":"x","image":"AAAA"}`, 400, "unknown_field"},
		{"not base64", "/api/v1/search", "", `{"image":"@@@@"}`, 400, "invalid_image_encoding"},
		{"base64 of text", "/api/v1/search", "", `{"image":"` + b64([]byte("hello world, not an image")) + `"}`, 400, "bad_image"},
		{"missing image", "/api/v1/search", "", `{"partition":"default"}`, 400, "missing_field"},
		{"missing subject", "/api/v1/verify", "", `{"image":"AAAA"}`, 400, "missing_field"},
		{"negative face_index", "/api/v1/search", "", `{"image":"AAAA","face_index":-1}`, 400, "invalid_field"},
		{"face_index out of range", "/api/v1/search", "", `{"image":"` + b64(ff(1)) + `","face_index":3}`, 400, "invalid_request"},
		{"top_k zero", "/api/v1/search", "", `{"image":"` + b64(ff(1)) + `","top_k":0}`, 400, "invalid_field"},
		{"bad partition name", "/api/v1/delete", "", `{"subject_id":"x","partition":"a\u0001b"}`, 400, "invalid_request"},
		{"wrong content type", "/api/v1/search", "text/plain", `{"image":"AAAA"}`, 415, "unsupported_media_type"},
		{"form urlencoded", "/api/v1/search", "application/x-www-form-urlencoded", `image=AAAA`, 415, "unsupported_media_type"},
		{"unknown path", "/api/v1/nothing", "", `{}`, 404, "not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ct := c.ctype
			if ct == "" {
				ct = "application/json"
			}
			r := do(t, "POST", e.url+c.path, ct, strings.NewReader(c.body))
			expectErr(t, r, c.status, c.code)
		})
	}
	t.Run("missing content type", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.url+"/api/v1/search", strings.NewReader(`{}`))
		req.Header.Del("Content-Type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 415 {
			t.Fatalf("status %d", res.StatusCode)
		}
	})
	t.Run("method", func(t *testing.T) {
		r := do(t, "GET", e.url+"/api/v1/search", "", nil)
		expectErr(t, r, 405, "method_not_allowed")
		if r.Header.Get("Allow") != "POST" {
			t.Fatalf("Allow %q", r.Header.Get("Allow"))
		}
	})
	t.Run("body over limit", func(t *testing.T) {
		big := `{"image":"` + strings.Repeat("A", 100<<10) + `"}`
		expectErr(t, do(t, "POST", e.url+"/api/v1/search", "application/json", strings.NewReader(big)), 413, "body_too_large")
	})
	t.Run("server still up", func(t *testing.T) {
		if r := do(t, "GET", e.url+"/health", "", nil); r.Status != 200 {
			t.Fatal(r.Status)
		}
	})
}

func TestAPIKeys(t *testing.T) {
	e := start(t, func(c *config.Config) {
		keys, _ := config.ParseAPIKeys("admin;reader:default:search,verify,read;watch:watchlist:*")
		c.APIKeys = keys
	})
	img := b64(ff(1))
	expectErr(t, e.post(t, "/api/v1/search", map[string]any{"image": img}), 401, "unauthorized")
	expectErr(t, e.post(t, "/api/v1/search", map[string]any{"image": img}, "X-Api-Key", "wrong"), 401, "unauthorized")
	if r := e.post(t, "/api/v1/enrol", map[string]any{"image": img, "subject_id": "a"}, "x-api-key", "admin"); r.Status != 200 {
		t.Fatalf("admin enrol: %s", r.Body)
	}
	if r := e.post(t, "/api/v1/enrol", map[string]any{"image": img, "subject_id": "w", "partition": "watchlist"}, "x-api-key", "watch"); r.Status != 200 {
		t.Fatalf("watch enrol: %s", r.Body)
	}
	expectErr(t, e.post(t, "/api/v1/enrol", map[string]any{"image": img, "subject_id": "b"}, "x-api-key", "reader"), 403, "forbidden")
	expectErr(t, e.post(t, "/api/v1/search", map[string]any{"image": img, "partition": "watchlist"}, "x-api-key", "reader"), 403, "forbidden")
	if r := e.post(t, "/api/v1/search", map[string]any{"image": img}, "x-api-key", "reader"); r.Status != 200 {
		t.Fatalf("reader search: %s", r.Body)
	}
	r := do(t, "GET", e.url+"/partitions", "", nil, "x-api-key", "reader")
	if r.Status != 200 || strings.Contains(string(r.Body), "watchlist") {
		t.Fatalf("partitions filtered: %s", r.Body)
	}
	if r := do(t, "GET", e.url+"/health", "", nil); r.Status != 200 {
		t.Fatalf("health must stay open: %d", r.Status)
	}
	expectErr(t, do(t, "GET", e.url+"/stats", "", nil), 401, "unauthorized")
}

func TestBusy(t *testing.T) {
	// max_in_flight 1 with a slow engine: concurrent requests get 503 with Retry-After.
	cfg := config.Default()
	cfg.MaxInFlight = 1
	svc := service.New(service.Config{}, &st.FakeEngine{Delay: 2 * time.Second}, st.NewMemGallery())
	srv := server.New(cfg, zerolog.Nop(), server.NewMetrics(), xmlapi.New(svc, cfg.MaxBodyBytes))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	url := "http://" + ln.Addr().String() + "/api/v1/search"
	body := `{"image":"` + b64(ff(1)) + `"}`
	done := make(chan resp, 1)
	go func() { done <- do(t, "POST", url, "application/json", strings.NewReader(body)) }()
	// Wait until the first request holds the only slot (a loaded machine
	// may take a while to get it there).
	var r resp
	for i := 0; i < 40; i++ {
		time.Sleep(50 * time.Millisecond)
		if r = do(t, "POST", url, "application/json", strings.NewReader(body)); r.Status == 503 {
			break
		}
	}
	expectErr(t, r, 503, "busy")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	if first := <-done; first.Status != 404 && first.Status != 503 { // 404: empty gallery
		t.Fatalf("first: %d %s", first.Status, first.Body)
	}
}

func TestSlowBodyIsCut(t *testing.T) {
	e := start(t, func(c *config.Config) { c.ReadTimeout = 500 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"ima")
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for {
		// drip a byte every 200ms; the server must give up by its read timeout
		if _, err := conn.Write([]byte("g")); err != nil {
			break
		}
		conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := conn.Read(buf)
		if n > 0 || (err != nil && !isTimeout(err)) {
			break
		}
		if time.Since(start) > 8*time.Second {
			t.Fatal("slow body not cut after 8s")
		}
	}
	if time.Since(start) > 6*time.Second {
		t.Fatalf("took %v", time.Since(start))
	}
	if r := do(t, "GET", e.url+"/health", "", nil); r.Status != 200 {
		t.Fatal("server down after slowloris")
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestRequestLog(t *testing.T) {
	e := start(t, nil)
	img := b64(ff(1))
	e.post(t, "/api/v1/enrol", map[string]any{"image": img, "subject_id": "logged"}, "X-Request-Id", "req-42")
	time.Sleep(50 * time.Millisecond)
	logs := e.logs()
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["id"] == "req-42" {
			line = m
		}
	}
	if line == nil {
		t.Fatalf("no log line for req-42:\n%s", logs)
	}
	for _, k := range []string{"status", "latency_ms", "route", "method", "path", "op", "partition"} {
		if _, ok := line[k]; !ok {
			t.Errorf("log line lacks %q: %v", k, line)
		}
	}
	if strings.Contains(logs, img[:40]) {
		t.Fatal("image bytes in the log")
	}
}
