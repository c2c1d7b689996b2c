package e2e

import (
	"bytes"
	"image"
	"image/draw"
	"image/jpeg"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The PAD policy on the XML API, end to end with the real binary and
// engine. The server runs with pad_threshold 1, so every real photo is
// below it: under the XML API's default (enforce) that is the 451 of the
// document, unchanged; a request's pad_policy report returns the outcome
// and score and refuses nothing; off neither refuses nor reports. A
// partition's stored policy applies to requests that name none and
// survives a restart.
func TestPADPolicyXML(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	p, err := startServer(dir, "-pad-threshold", "1")
	if err != nil {
		t.Fatal(err)
	}
	img := b64(photo(t, "joy.jpg"))
	r := post(t, p, "/api/v1/enrol", map[string]any{"image": img, "subject_id": "joy"})
	expectErr(t, r, 451, "spoof_detected")
	if r.Text("ErrorResponse/gate") != "pad" || r.Text("ErrorResponse/threshold") != "1.0" {
		t.Fatalf("451: %s", r.Body)
	}
	r = post(t, p, "/api/v1/enrol", map[string]any{"image": img, "subject_id": "joy", "pad_policy": "report"})
	if r.Status != 200 || r.Text("EnrolResponse/face/pad/policy") != "report" || r.Text("EnrolResponse/face/pad/outcome") != "spoof" ||
		r.Text("EnrolResponse/face/pad/threshold") != "1.0" {
		t.Fatalf("report: %d %s", r.Status, r.Body)
	}
	if s, err := strconv.ParseFloat(r.Text("EnrolResponse/face/pad/score"), 64); err != nil || s < 0 || s >= 1 {
		t.Fatalf("report score: %s", r.Body)
	}
	r = post(t, p, "/api/v1/search", map[string]any{"image": img, "pad_policy": "off"})
	if r.Status != 200 || r.Doc.FindElement("SearchResponse/face/pad") != nil || r.Text("SearchResponse/face/liveness_score") != "" ||
		r.Text("SearchResponse/candidates/candidate/subject_id") != "joy" {
		t.Fatalf("off: %d %s", r.Status, r.Body)
	}
	expectErr(t, post(t, p, "/api/v1/verify", map[string]any{"image": img, "subject_id": "joy"}), 451, "spoof_detected")
	expectErr(t, post(t, p, "/api/v1/verify", map[string]any{"image": img, "subject_id": "joy", "pad_policy": "sometimes"}), 400, "invalid_field")

	// A partition whose policy is report.
	r = post(t, p, "/api/v1/pad_policy", map[string]any{"partition": "kiosk", "pad_policy": "report"})
	if r.Status != 200 || r.Text("PadPolicyResponse/pad_policy") != "report" {
		t.Fatalf("set: %d %s", r.Status, r.Body)
	}
	r = post(t, p, "/api/v1/enrol", map[string]any{"image": img, "subject_id": "joy", "partition": "kiosk"})
	if r.Status != 200 || r.Text("EnrolResponse/face/pad/outcome") != "spoof" {
		t.Fatalf("kiosk enrol: %d %s", r.Status, r.Body)
	}
	// /metrics counts the outcomes: two spoofs reported (not refused) under
	// report, the refusals under enforce.
	m := do(t, "GET", p.url+"/metrics", "", nil)
	if !metricLine(string(m.Body), "vizor_pad_outcomes_total", `outcome="spoof"`, `policy="report"`, " 2") ||
		!metricLine(string(m.Body), "vizor_pad_outcomes_total", `outcome="spoof"`, `policy="enforce"`, " 2") {
		t.Fatalf("metrics: %s", m.Body)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	p, err = startServer(dir, "-pad-threshold", "1")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.stop(); err != nil {
			t.Error(err)
		}
	}()
	r = post(t, p, "/api/v1/verify", map[string]any{"image": img, "subject_id": "joy", "partition": "kiosk"})
	if r.Status != 200 || r.Text("VerifyResponse/match") != "true" || r.Text("VerifyResponse/face/pad/policy") != "report" {
		t.Fatalf("kiosk after a restart: %d %s", r.Status, r.Body)
	}
	// enforce asked for on the report partition: refused.
	expectErr(t, post(t, p, "/api/v1/verify", map[string]any{"image": img, "subject_id": "joy", "partition": "kiosk", "pad_policy": "enforce"}), 451, "spoof_detected")
}

// On the shared server (pad_threshold 0.01) a real photo is live under the
// default enforce policy, and the outcome is in the response.
func TestPADLiveReported(t *testing.T) {
	r := post(t, srv0, "/api/v1/search", map[string]any{"image": b64(photo(t, "joy.jpg")), "partition": "pad-live"})
	// An empty partition is not found; enrol first.
	if r.Status == 404 {
		r = post(t, srv0, "/api/v1/enrol", map[string]any{"image": b64(photo(t, "joy.jpg")), "subject_id": "joy", "partition": "pad-live"})
	}
	if r.Status != 200 || r.Text("*/face/pad/outcome") != "live" || r.Text("*/face/pad/policy") != "enforce" {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
}

// greyJPEG re-encodes a shared photo as a greyscale JPEG.
func greyJPEG(t *testing.T, name string) []byte {
	t.Helper()
	src, err := jpeg.Decode(bytes.NewReader(photo(t, name)))
	if err != nil {
		t.Fatal(err)
	}
	g := image.NewGray(src.Bounds())
	draw.Draw(g, g.Bounds(), src, src.Bounds().Min, draw.Src)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, g, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A greyscale photo has no colour cue for PAD: under the default enforce it
// passes with the outcome pad_unavailable (reason greyscale, no score), never
// a spoof answer; enforce_strict refuses it with the reason.
func TestPADGreyscaleXML(t *testing.T) {
	img := b64(greyJPEG(t, "joy.jpg"))
	r := post(t, srv0, "/api/v1/enrol", map[string]any{"image": img, "subject_id": "joy-grey", "partition": "pad-grey"})
	if r.Status != 200 || r.Text("EnrolResponse/face/pad/outcome") != "pad_unavailable" || r.Text("EnrolResponse/face/pad/reason") != "greyscale" ||
		r.Text("EnrolResponse/face/pad/score") != "" || r.Text("EnrolResponse/face/liveness_score") != "" {
		t.Fatalf("greyscale under enforce: %d %s", r.Status, r.Body)
	}
	r = post(t, srv0, "/api/v1/verify", map[string]any{"image": img, "subject_id": "joy-grey", "partition": "pad-grey", "pad_policy": "enforce_strict"})
	expectErr(t, r, 451, "spoof_detected")
	if !strings.Contains(r.Text("ErrorResponse/message"), "greyscale") || r.Text("ErrorResponse/gate") != "pad" {
		t.Fatalf("enforce_strict: %s", r.Body)
	}
}

// metricLine reports whether a line of a Prometheus exposition starts with
// name and holds every part (labels, " value" at the end).
func metricLine(body, name string, parts ...string) bool {
	for _, l := range strings.Split(body, "\n") {
		if !strings.HasPrefix(l, name+"{") {
			continue
		}
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok && strings.HasSuffix(l, parts[len(parts)-1]) {
			return true
		}
	}
	return false
}
