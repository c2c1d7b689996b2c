package e2e

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"mime/multipart"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Endpoints with real photos, in the partition "e2e".
func TestEndpointsRealPhotos(t *testing.T) {
	p := srv0
	enrol := map[string]string{"bona": "bona.jpg", "chaeyeon": "chaeyeon2.jpg", "jimin": "jimin.jpg", "tzuyu": "tzuyu.jpg", "eunseo": "eunseo2.jpg"}
	for subject, file := range enrol {
		r := post(t, p, "/api/v1/enrol", map[string]any{"image": b64(photo(t, file)), "subject_id": subject, "partition": "e2e"})
		if r.Status != 200 || r.Doc.Root().Tag != "EnrolResponse" || r.Text("EnrolResponse/status") != "OK" ||
			r.Text("EnrolResponse/subject_id") != subject || r.Text("EnrolResponse/model_id") == "" || r.Text("EnrolResponse/quality_score") == "" {
			t.Fatalf("enrol %s: %d %s", file, r.Status, r.Body)
		}
	}
	// 1:N: another photo of each enrolled identity ranks that identity first.
	for want, file := range map[string]string{"bona": "bona2.jpg", "chaeyeon": "chaeyeon3.jpg", "jimin": "jimin5.jpg", "tzuyu": "tzuyu2.jpg"} {
		r := post(t, p, "/api/v1/search", map[string]any{"image": b64(photo(t, file)), "partition": "e2e", "top_k": 3})
		if r.Status != 200 || r.Doc.Root().Tag != "SearchResponse" || r.Text("SearchResponse/status") != "OK" {
			t.Fatalf("search %s: %d %s", file, r.Status, r.Body)
		}
		cands := r.Doc.FindElements("SearchResponse/candidates/candidate")
		if len(cands) != 3 {
			t.Fatalf("search %s: %d candidates: %s", file, len(cands), r.Body)
		}
		for i, c := range cands {
			if c.FindElement("rank").Text() != strconv.Itoa(i+1) || c.FindElement("score") == nil || c.FindElement("subject_id") == nil {
				t.Fatalf("candidate %d: %s", i, r.Body)
			}
		}
		if got := cands[0].FindElement("subject_id").Text(); got != want {
			t.Errorf("search %s: top candidate %s, want %s: %s", file, got, want, r.Body)
		}
		if r.Text("SearchResponse/quality_score") == "" || r.Text("SearchResponse/model_id") == "" {
			t.Fatalf("search: missing quality_score/model_id: %s", r.Body)
		}
	}
	// min_score filters.
	r := post(t, p, "/api/v1/search", map[string]any{"image": b64(photo(t, "bona2.jpg")), "partition": "e2e", "min_score": 0.99})
	if r.Status != 200 || len(r.Doc.FindElements("SearchResponse/candidates/candidate")) != 0 {
		t.Fatalf("min_score 0.99: %s", r.Body)
	}
	// 1:1. jimin2 vs jimin scores 0.64, well above the 0.45 default (jimin5
	// and jimin7 score 0.44-0.45 and sit on the threshold, so they would
	// test nothing); joy vs jimin scores 0.31.
	r = post(t, p, "/api/v1/verify", map[string]any{"image": b64(photo(t, "jimin2.jpg")), "subject_id": "jimin", "partition": "e2e"})
	if r.Status != 200 || r.Doc.Root().Tag != "VerifyResponse" || r.Text("VerifyResponse/match") != "true" || r.Text("VerifyResponse/subject_id") != "jimin" {
		t.Fatalf("verify jimin2 as jimin: %s", r.Body)
	}
	r = post(t, p, "/api/v1/verify", map[string]any{"image": b64(photo(t, "joy.jpg")), "subject_id": "jimin", "partition": "e2e"})
	if r.Status != 200 || r.Text("VerifyResponse/match") != "false" {
		t.Fatalf("verify joy as jimin: %s", r.Body)
	}
	// Multi-face probe: the largest face is used, and the response says so.
	r = post(t, p, "/api/v1/search", map[string]any{"image": b64(photo(t, "jimin4.jpg")), "partition": "e2e", "top_k": 1})
	if r.Status != 200 || r.Text("SearchResponse/face/faces_detected") != "2" || r.Text("SearchResponse/face/index") != "0" ||
		r.Text("SearchResponse/face/selection") != "largest" || r.Text("SearchResponse/candidates/candidate/subject_id") != "jimin" {
		t.Fatalf("jimin4 search: %s", r.Body)
	}
	r = post(t, p, "/api/v1/search", map[string]any{"image": b64(photo(t, "pristin.jpg")), "partition": "e2e", "top_k": 1})
	if r.Status != 200 || r.Text("SearchResponse/face/faces_detected") != "10" {
		t.Fatalf("pristin search: %s", r.Body)
	}
	// The half face of jimin4 (index 1) fails the quality gate.
	r = post(t, p, "/api/v1/search", map[string]any{"image": b64(photo(t, "jimin4.jpg")), "partition": "e2e", "face_index": 1})
	expectErr(t, r, 422, "quality_rejected")
	// multipart/form-data, as the newer API version accepts.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("image", "seulgi.jpg")
	fw.Write(photo(t, "seulgi.jpg"))
	mw.WriteField("subject_id", "seulgi")
	mw.WriteField("partition", "e2e")
	mw.Close()
	r = do(t, "POST", p.url+"/api/v1/enrol", mw.FormDataContentType(), &buf)
	if r.Status != 200 || r.Text("EnrolResponse/subject_id") != "seulgi" {
		t.Fatalf("multipart enrol: %d %s", r.Status, r.Body)
	}
	buf.Reset()
	mw = multipart.NewWriter(&buf)
	fw, _ = mw.CreateFormFile("image", "probe.jpg")
	fw.Write(photo(t, "seulgi.jpg"))
	mw.WriteField("subject_id", "seulgi")
	mw.WriteField("partition", "e2e")
	mw.Close()
	r = do(t, "POST", p.url+"/api/v1/verify", mw.FormDataContentType(), &buf)
	if r.Status != 200 || r.Text("VerifyResponse/match") != "true" {
		t.Fatalf("multipart verify: %d %s", r.Status, r.Body)
	}
	// Utility endpoints.
	var parts struct{ Partitions []string }
	if getJSON(t, p, "/partitions", &parts) != 200 || !contains(parts.Partitions, "e2e") {
		t.Fatalf("partitions: %v", parts)
	}
	var stats struct {
		Total      int            `json:"total_subjects"`
		Partitions map[string]int `json:"partitions"`
	}
	if getJSON(t, p, "/stats", &stats) != 200 || stats.Partitions["e2e"] != 6 || stats.Total < 6 {
		t.Fatalf("stats: %+v", stats)
	}
	var health struct {
		Status     string
		Components map[string]bool
		MAD        struct {
			Enabled bool
			Note    string
		}
	}
	if getJSON(t, p, "/health", &health) != 200 || health.Status != "healthy" || len(health.Components) < 5 || health.MAD.Enabled || health.MAD.Note == "" {
		t.Fatalf("health: %+v", health)
	}
	for _, c := range []string{"faiss_index", "onnx_detection", "onnx_recognition", "onnx_quality", "onnx_pad"} {
		if !health.Components[c] {
			t.Fatalf("health component %s: %+v", c, health.Components)
		}
	}
	var ver map[string]any
	if getJSON(t, p, "/version", &ver) != 200 || ver["model_id"] == "" || ver["version"] == "" {
		t.Fatalf("version: %v", ver)
	}
	m := do(t, "GET", p.url+"/metrics", "", nil)
	if m.Status != 200 || !strings.HasPrefix(m.Header.Get("Content-Type"), "text/plain") ||
		!strings.Contains(string(m.Body), `vizor_http_requests_total{code="200",route="enrol"}`) ||
		!strings.Contains(string(m.Body), `vizor_gate_rejections_total{gate="quality",op="search"}`) {
		t.Fatalf("metrics: %s", m.Body)
	}
	// Delete, then the subject is gone.
	r = post(t, p, "/api/v1/delete", map[string]any{"subject_id": "tzuyu", "partition": "e2e"})
	if r.Status != 200 || r.Doc.Root().Tag != "DeleteResponse" || r.Text("DeleteResponse/status") != "OK" || r.Text("DeleteResponse/subject_id") != "tzuyu" {
		t.Fatalf("delete: %s", r.Body)
	}
	expectErr(t, post(t, p, "/api/v1/verify", map[string]any{"image": b64(photo(t, "tzuyu2.jpg")), "subject_id": "tzuyu", "partition": "e2e"}), 404, "subject_not_found")
	expectErr(t, post(t, p, "/api/v1/delete", map[string]any{"subject_id": "tzuyu", "partition": "e2e"}), 404, "subject_not_found")
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func grayJPEG(t testing.TB) []byte {
	img := image.NewGray(image.Rect(0, 0, 320, 240))
	for i := range img.Pix {
		img.Pix[i] = uint8(100 + i%7)
	}
	img.Set(10, 10, color.Gray{Y: 255})
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Every documented error status, with the real engine.
func TestErrorStatuses(t *testing.T) {
	p := srv0
	post(t, p, "/api/v1/enrol", map[string]any{"image": b64(photo(t, "joy.jpg")), "subject_id": "joy", "partition": "errs"})
	jpg := photo(t, "probe")
	cases := []struct {
		name   string
		path   string
		body   map[string]any
		status int
		code   string
	}{
		{"no face", "/api/v1/search", map[string]any{"image": b64(grayJPEG(t)), "partition": "errs"}, 400, "no_face"},
		{"undecodable", "/api/v1/search", map[string]any{"image": b64([]byte("definitely not an image")), "partition": "errs"}, 400, "bad_image"},
		{"truncated JPEG", "/api/v1/verify", map[string]any{"image": b64(jpg[:200]), "subject_id": "joy", "partition": "errs"}, 400, "bad_image"},
		{"profile rejected for enrolment", "/api/v1/enrol", map[string]any{"image": b64(photo(t, "jimin3.jpg")), "subject_id": "jimin-profile", "partition": "errs"}, 422, "quality_rejected"},
		{"unknown subject", "/api/v1/verify", map[string]any{"image": b64(jpg), "subject_id": "ghost", "partition": "errs"}, 404, "subject_not_found"},
		{"unknown partition search", "/api/v1/search", map[string]any{"image": b64(jpg), "partition": "no-such-partition"}, 404, "partition_not_found"},
		{"unknown partition delete", "/api/v1/delete", map[string]any{"subject_id": "joy", "partition": "no-such-partition"}, 404, "partition_not_found"},
		{"unknown field", "/api/v1/search", map[string]any{"image": b64(jpg), "partition": "errs", "colour": "blue"}, 400, "unknown_field"},
		{"wrong type", "/api/v1/search", map[string]any{"image": b64(jpg), "partition": "errs", "top_k": "5"}, 400, "invalid_field"},
		{"missing image", "/api/v1/enrol", map[string]any{"subject_id": "x", "partition": "errs"}, 400, "missing_field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expectErr(t, post(t, p, c.path, c.body), c.status, c.code) })
	}
	t.Run("bad JSON", func(t *testing.T) {
		expectErr(t, do(t, "POST", p.url+"/api/v1/search", "application/json", strings.NewReader(`{"image": "abc`)), 400, "invalid_json")
	})
	t.Run("wrong content type", func(t *testing.T) {
		expectErr(t, do(t, "POST", p.url+"/api/v1/search", "text/plain", strings.NewReader(`{}`)), 415, "unsupported_media_type")
	})
	t.Run("body over limit", func(t *testing.T) {
		big := bytes.Repeat([]byte("A"), 17<<20) // default max_body_bytes is 16 MiB
		body := append(append([]byte(`{"image":"`), big...), '"', '}')
		r, err := doReq(t.Context(), "POST", p.url+"/api/v1/search", "application/json", bytes.NewReader(body))
		if err != nil {
			// The server may close the connection once it has answered 413
			// while the client is still sending.
			t.Logf("client error (server closed early): %v", err)
		} else {
			expectErr(t, r, 413, "body_too_large")
		}
	})
	t.Run("spoof", func(t *testing.T) {
		// bona4.jpg is a real photo that the liveness model scores about
		// 0.07 (the lowest of the shared photos); a server with
		// pad_threshold 0.5 treats it as a spoof and still lets bona.jpg
		// (0.98) in.
		strict, err := startServer(filepath.Join(t.TempDir(), "data"), "-pad-threshold", "0.5")
		if err != nil {
			t.Fatal(err)
		}
		defer strict.stop()
		expectErr(t, post(t, strict, "/api/v1/enrol", map[string]any{"image": b64(photo(t, "bona4.jpg")), "subject_id": "bona"}), 451, "spoof_detected")
		r := post(t, strict, "/api/v1/enrol", map[string]any{"image": b64(photo(t, "bona.jpg")), "subject_id": "bona"})
		if r.Status != 200 {
			t.Fatalf("bona.jpg (liveness 0.98) rejected: %s", r.Body)
		}
		expectErr(t, post(t, strict, "/api/v1/verify", map[string]any{"image": b64(photo(t, "bona4.jpg")), "subject_id": "bona"}), 451, "spoof_detected")
	})
	healthy(t, p)
}

// The default thresholds: every frontal photo passes quality and PAD for
// enrolment; only the full profile is rejected.
func TestDefaultThresholdsOnAllPhotos(t *testing.T) {
	p := srv0
	files, _ := filepath.Glob(filepath.Join(faceDir, "*.jpg"))
	for _, f := range files {
		name := filepath.Base(f)
		r := post(t, p, "/api/v1/enrol", map[string]any{"image": b64(photo(t, name)), "subject_id": name, "partition": "thresholds"})
		switch name {
		case "jimin3.jpg":
			expectErr(t, r, 422, "quality_rejected")
		default:
			if r.Status != 200 {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}
	}
}
