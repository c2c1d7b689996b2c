package xmlapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"vizor/server"
	"vizor/server/config"
	"vizor/server/service"
	st "vizor/server/service/servicetest"
	"vizor/server/xmlapi"
)

func form(t *testing.T, image []byte, fields ...string) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if image != nil {
		fw, _ := mw.CreateFormFile("image", "probe.jpg")
		_, _ = fw.Write(image)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		_ = mw.WriteField(fields[i], fields[i+1])
	}
	_ = mw.Close()
	return &buf, mw.FormDataContentType()
}

// strconv.ParseFloat reads "NaN" and "Inf": neither is a threshold.
func TestNonNumericThresholdsAre400(t *testing.T) {
	e := start(t, nil)
	if r := e.post(t, "/api/v1/enrol", map[string]any{"image": b64(ff(1)), "subject_id": "alice"}); r.Status != 200 {
		t.Fatalf("enrol: %d %s", r.Status, r.Body)
	}
	for _, v := range []string{"NaN", "nan", "+Inf", "-Inf", "Infinity"} {
		body, ct := form(t, ff(1), "subject_id", "alice", "threshold", v)
		r := do(t, "POST", e.url+"/api/v1/verify", ct, body)
		expectErr(t, r, 400, "invalid_request")
		if !strings.Contains(r.Text("ErrorResponse/message"), "threshold") {
			t.Fatalf("threshold=%s: %s", v, r.Body)
		}
		body, ct = form(t, ff(1), "min_score", v)
		expectErr(t, do(t, "POST", e.url+"/api/v1/search", ct, body), 400, "invalid_request")
	}
	body, ct := form(t, ff(1), "subject_id", "alice", "threshold", "0.3")
	if r := do(t, "POST", e.url+"/api/v1/verify", ct, body); r.Status != 200 {
		t.Fatalf("a plain threshold: %d %s", r.Status, r.Body)
	}
}

// Two ids that differ only in characters XML cannot carry would print the
// same in every response: enrolment refuses them, with the reason.
func TestEnrolRefusesIDsXMLCannotCarry(t *testing.T) {
	e := start(t, nil)
	for _, id := range []string{"bob\uFFFE", "bob\uFFFF", "bob\u0085", "bob\uFDD0"} {
		r := e.post(t, "/api/v1/enrol", map[string]any{"image": b64(ff(2)), "subject_id": id})
		expectErr(t, r, 400, "invalid_request")
		if msg := r.Text("ErrorResponse/message"); !strings.Contains(msg, "XML cannot carry") {
			t.Fatalf("%q: %s", id, msg)
		}
		r = e.post(t, "/api/v1/enrol", map[string]any{"image": b64(ff(2)), "subject_id": "bob", "partition": id + "x"}) // inside: trailing spaces are trimmed
		expectErr(t, r, 400, "invalid_request")
	}
	// Raw bytes that are not UTF-8 (a multipart field carries them as
	// they are; JSON would have turned them into U+FFFD already).
	for _, id := range []string{"bob\xff", "bob\xed\xa0\x80"} { // a stray byte, a lone surrogate
		body, ct := form(t, ff(2), "subject_id", id)
		expectErr(t, do(t, "POST", e.url+"/api/v1/enrol", ct, body), 400, "invalid_request")
	}
	if r := e.post(t, "/api/v1/enrol", map[string]any{"image": b64(ff(2)), "subject_id": "Zoë 李"}); r.Status != 200 || r.Text("EnrolResponse/subject_id") != "Zoë 李" {
		t.Fatalf("an ordinary id: %d %s", r.Status, r.Body)
	}
}

func TestFaceIndexBound(t *testing.T) {
	e := start(t, nil)
	r := e.post(t, "/api/v1/search", map[string]any{"image": b64(ff(1)), "face_index": service.ProbeFaces})
	expectErr(t, r, 400, "invalid_request")
	if !strings.Contains(r.Text("ErrorResponse/message"), "face_index") {
		t.Fatalf("%s", r.Body)
	}
}

// A data directory that cannot take writes makes /health say "degraded"
// with the cause (searches still work: 200, not 503).
func TestHealthShowsStorageFailure(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/dev/full", filepath.Join(dir, ".vizor-write-probe")); err != nil {
		t.Fatal(err)
	}
	svc := service.New(service.Config{MatchThreshold: 0.45, DataDir: dir, MinFreeBytes: 1}, &st.FakeEngine{}, st.NewMemGallery())
	cfg := config.Default()
	srv := server.New(cfg, zerolog.Nop(), server.NewMetrics(), xmlapi.New(svc, cfg.MaxBodyBytes))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	r := do(t, "GET", "http://"+ln.Addr().String()+"/health", "", nil)
	var h struct {
		Status  string `json:"status"`
		Storage struct {
			Writable bool   `json:"writable"`
			Cause    string `json:"cause"`
		} `json:"storage"`
	}
	if err := json.Unmarshal(r.Body, &h); err != nil || r.Status != 200 || h.Status != "degraded" || h.Storage.Writable ||
		!strings.Contains(h.Storage.Cause, "no space left on device") {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
}
