package xmlapi_test

import (
	"bytes"
	"mime/multipart"
	"strconv"
	"strings"
	"testing"

	"vizor/server/config"
	st "vizor/server/service/servicetest"
)

func spoofImg() string { return b64(ff(3, func(f *st.FakeFace) { f.Liveness = 0.001 })) }

// The XML API enforces by default (451, unchanged); a request's pad_policy
// report returns the outcome and score without refusing; off neither
// refuses nor reports.
func TestPADPolicyField(t *testing.T) {
	e := start(t, nil)
	expectErr(t, e.post(t, "/api/v1/enrol", map[string]any{"image": spoofImg(), "subject_id": "s"}), 451, "spoof_detected")
	r := e.post(t, "/api/v1/enrol", map[string]any{"image": spoofImg(), "subject_id": "s", "pad_policy": "report"})
	if r.Status != 200 || r.Text("EnrolResponse/face/pad/policy") != "report" || r.Text("EnrolResponse/face/pad/outcome") != "spoof" ||
		r.Text("EnrolResponse/face/pad/score") != "0.001" || r.Text("EnrolResponse/face/pad/threshold") != strconv.FormatFloat(config.Default().PADThreshold, 'f', -1, 64) {
		t.Fatalf("report: %d %s", r.Status, r.Body)
	}
	r = e.post(t, "/api/v1/search", map[string]any{"image": spoofImg(), "pad_policy": "off"})
	if r.Status != 200 || r.Doc.FindElement("SearchResponse/face/pad") != nil || r.Text("SearchResponse/face/liveness_score") != "" {
		t.Fatalf("off: %d %s", r.Status, r.Body)
	}
	r = e.post(t, "/api/v1/verify", map[string]any{"image": b64(ff(3)), "subject_id": "s"})
	if r.Status != 200 || r.Text("VerifyResponse/face/pad/outcome") != "live" || r.Text("VerifyResponse/face/pad/policy") != "enforce" {
		t.Fatalf("enforce, live: %d %s", r.Status, r.Body)
	}
	grey := b64(ff(4, func(f *st.FakeFace) { f.Liveness = -1; f.LivenessStatus = "greyscale" }))
	r = e.post(t, "/api/v1/search", map[string]any{"image": grey})
	if r.Status != 200 || r.Text("SearchResponse/face/pad/outcome") != "pad_unavailable" || r.Text("SearchResponse/face/pad/reason") != "greyscale" ||
		r.Text("SearchResponse/face/pad/score") != "" {
		t.Fatalf("greyscale under enforce: %d %s", r.Status, r.Body)
	}
	r = e.post(t, "/api/v1/search", map[string]any{"image": grey, "pad_policy": "enforce_strict"})
	expectErr(t, r, 451, "spoof_detected")
	if !strings.Contains(r.Text("ErrorResponse/message"), "greyscale") || r.Text("ErrorResponse/gate_score") != "" {
		t.Fatalf("enforce_strict: %s", r.Body)
	}
	expectErr(t, e.post(t, "/api/v1/search", map[string]any{"image": spoofImg(), "pad_policy": "lenient"}), 400, "invalid_field")
	expectErr(t, e.post(t, "/api/v1/search", map[string]any{"image": spoofImg(), "pad_policy": 1}), 400, "invalid_field")
	// multipart/form-data carries the field too.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("image", spoofImg())
	_ = mw.WriteField("pad_policy", "report")
	_ = mw.Close()
	r = do(t, "POST", e.url+"/api/v1/search", mw.FormDataContentType(), &buf)
	if r.Status != 200 || r.Text("SearchResponse/face/pad/outcome") != "spoof" {
		t.Fatalf("multipart report: %d %s", r.Status, r.Body)
	}
}

// With API keys, only a key with the pad_policy operation may weaken the
// enforce default or set a partition's policy; a partition set to report
// reports for every key.
func TestPADPolicyKeys(t *testing.T) {
	e := start(t, func(c *config.Config) {
		keys, err := config.ParseAPIKeys("admin;clerk:*:search,verify,enrol,read;padadmin:*:search,pad_policy")
		if err != nil {
			t.Fatal(err)
		}
		c.APIKeys = keys
	})
	r := e.post(t, "/api/v1/search", map[string]any{"image": spoofImg(), "pad_policy": "report"}, "X-Api-Key", "clerk")
	expectErr(t, r, 400, "invalid_request")
	if !strings.Contains(r.Text("ErrorResponse/message"), "weaken") {
		t.Fatalf("weaken refusal: %s", r.Body)
	}
	// Strengthening needs no right.
	expectErr(t, e.post(t, "/api/v1/search", map[string]any{"image": spoofImg(), "pad_policy": "enforce_strict"}, "X-Api-Key", "clerk"), 451, "spoof_detected")
	r = e.post(t, "/api/v1/search", map[string]any{"image": spoofImg(), "pad_policy": "report"}, "X-Api-Key", "padadmin")
	if r.Status != 404 && r.Status != 200 { // the empty default partition: not found, but past the gate
		t.Fatalf("padadmin report: %d %s", r.Status, r.Body)
	}
	// Setting a partition's policy.
	expectErr(t, e.post(t, "/api/v1/pad_policy", map[string]any{"partition": "kiosk", "pad_policy": "report"}, "X-Api-Key", "clerk"), 403, "forbidden")
	r = e.post(t, "/api/v1/pad_policy", map[string]any{"partition": "kiosk", "pad_policy": "report"}, "X-Api-Key", "padadmin")
	if r.Status != 200 || r.Text("PadPolicyResponse/pad_policy") != "report" || r.Text("PadPolicyResponse/source") != "partition" {
		t.Fatalf("set: %d %s", r.Status, r.Body)
	}
	expectErr(t, e.post(t, "/api/v1/pad_policy", map[string]any{"partition": "kiosk"}, "X-Api-Key", "clerk"), 403, "forbidden")
	r = e.post(t, "/api/v1/pad_policy", map[string]any{"partition": "kiosk"}, "X-Api-Key", "padadmin")
	if r.Status != 200 || r.Text("PadPolicyResponse/pad_policy") != "report" {
		t.Fatalf("read: %d %s", r.Status, r.Body)
	}
	r = e.post(t, "/api/v1/enrol", map[string]any{"image": spoofImg(), "subject_id": "s", "partition": "kiosk"}, "X-Api-Key", "clerk")
	if r.Status != 200 || r.Text("EnrolResponse/face/pad/outcome") != "spoof" || r.Text("EnrolResponse/face/pad/policy") != "report" {
		t.Fatalf("kiosk enrol: %d %s", r.Status, r.Body)
	}
	// Cleared: the default (enforce) again.
	r = e.post(t, "/api/v1/pad_policy", map[string]any{"partition": "kiosk", "pad_policy": ""}, "X-Api-Key", "admin")
	if r.Status != 200 || r.Text("PadPolicyResponse/pad_policy") != "enforce" || r.Text("PadPolicyResponse/source") != "default" {
		t.Fatalf("clear: %d %s", r.Status, r.Body)
	}
	expectErr(t, e.post(t, "/api/v1/enrol", map[string]any{"image": spoofImg(), "subject_id": "s", "partition": "kiosk"}, "X-Api-Key", "clerk"), 451, "spoof_detected")
	expectErr(t, e.post(t, "/api/v1/pad_policy", map[string]any{"partition": "kiosk", "pad_policy": "lenient"}, "X-Api-Key", "admin"), 400, "invalid_request")
	expectErr(t, e.post(t, "/api/v1/pad_policy", map[string]any{"partition": "kiosk", "colour": "red"}, "X-Api-Key", "admin"), 400, "unknown_field")
}
