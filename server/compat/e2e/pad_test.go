package e2e

import (
	"bytes"
	"image"
	"image/draw"
	"image/jpeg"
	"strings"
	"testing"

	"vizor/server/compat/compattest"
)

// The PAD policy on the compatibility APIs, end to end with the real binary
// and engine. This server runs with pad_threshold 1, so every real photo
// is below it ("spoof"): report must return that outcome and refuse nothing,
// off must neither refuse nor report, enforce (per request, or stored for
// the partition through the XML API) must refuse. The shared server (the
// default threshold 0.01) reports the same photo live.
func TestPADPolicyCompat(t *testing.T) {
	s, err := compattest.Start("-pad-threshold", "1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("pad server: %v", err)
		}
	})
	photo := s.Photo("joy.jpg")
	t.Run("facenet512", func(t *testing.T) { padFacenet(t, s, photo) })
	t.Run("masshealth", func(t *testing.T) { padMassHealth(t, s, photo) })
	t.Run("compreface", func(t *testing.T) { padCompreFace(t, s, photo) })
}

// wantPAD checks a "pad" object: the policy and outcome, a probability in
// [0,1) and the threshold 1 for a spoof.
func wantPAD(t *testing.T, v any, policy, outcome string) {
	t.Helper()
	p := obj(t, v)
	if p["policy"] != policy || p["outcome"] != outcome {
		t.Fatalf("pad %s, want policy %s outcome %s", short(p), policy, outcome)
	}
	if pr := num(t, p["probability"]); pr < 0 || pr > 1 || (outcome == "spoof" && (pr >= 1 || num(t, p["threshold"]) != 1)) {
		t.Fatalf("pad %s", short(p))
	}
}

func padFacenet(t *testing.T, s *compattest.Server, photo []byte) {
	upload := func(fields map[string]string) resp {
		body, ct := multipartOf(t, fields, part{"image", "joy.jpg", photo})
		return do(t, "POST", s.Facenet+"/upload_reference", nil, body, ct)
	}
	// The default (compat_pad_policy report): stored, with the outcome.
	r := upload(nil)
	wantStatus(t, r, 200)
	m := r.json(t)
	wantPAD(t, m["pad"], "report", "spoof")
	key := m["key"].(string)
	r = upload(map[string]string{"pad_policy": "off"})
	wantStatus(t, r, 200)
	hasNot(t, r.json(t), "pad")
	r = upload(map[string]string{"pad_policy": "enforce"})
	wantStatus(t, r, 400)
	if d, _ := r.json(t)["detail"].(string); !strings.Contains(d, "presentation attack") {
		t.Fatalf("enforce: %s", r.body)
	}
	compare := func(fields map[string]string) resp {
		fields["reference_key"] = key
		body, ct := multipartOf(t, fields, part{"image", "joy.jpg", photo})
		return do(t, "POST", s.Facenet+"/compare_with_reference", nil, body, ct)
	}
	r = compare(map[string]string{})
	wantStatus(t, r, 200)
	m = r.json(t)
	wantPAD(t, m["pad"], "report", "spoof")
	if v := obj(t, m["result"])["verified"]; v != true {
		t.Fatalf("same photo not verified: %s", r.body)
	}
	r = compare(map[string]string{"pad_policy": "off"})
	wantStatus(t, r, 200)
	hasNot(t, r.json(t), "pad")
	wantStatus(t, compare(map[string]string{"pad_policy": "lenient"}), 400)
	// The references' partition set to enforce (XML API, durable): the
	// default request is refused, and a request may not weaken it.
	setPartitionPAD(t, s, "facenet512", "enforce")
	wantStatus(t, compare(map[string]string{}), 400)
	r = compare(map[string]string{"pad_policy": "report"})
	wantStatus(t, r, 400)
	if d, _ := r.json(t)["detail"].(string); !strings.Contains(d, "weaken") {
		t.Fatalf("weaken: %s", r.body)
	}
	setPartitionPAD(t, s, "facenet512", "")
	wantStatus(t, compare(map[string]string{}), 200)
}

func setPartitionPAD(t *testing.T, s *compattest.Server, partition, policy string) {
	t.Helper()
	r := do(t, "POST", s.Main+"/api/v1/pad_policy", nil, jsonBody(t, map[string]string{"partition": partition, "pad_policy": policy}), "application/json")
	wantStatus(t, r, 200)
	if policy != "" && !strings.Contains(string(r.body), "<pad_policy>"+policy+"</pad_policy>") {
		t.Fatalf("set %s: %s", policy, r.body)
	}
}

func padMassHealth(t *testing.T, s *compattest.Server, photo []byte) {
	compare := func(extra map[string]any) resp {
		body := map[string]any{"image1": b64(photo), "image2": b64(photo)}
		for k, v := range extra {
			body[k] = v
		}
		return do(t, "POST", s.MassHealth+"/compare", nil, jsonBody(t, body), "application/json")
	}
	r := compare(nil)
	wantStatus(t, r, 200)
	m := r.json(t)
	if m["match"] != true {
		t.Fatalf("same photo: %s", r.body)
	}
	pad := obj(t, m["pad"])
	wantPAD(t, pad["image1"], "report", "spoof")
	wantPAD(t, pad["image2"], "report", "spoof")
	r = compare(map[string]any{"pad_policy": "off"})
	wantStatus(t, r, 200)
	hasNot(t, r.json(t), "pad")
	r = compare(map[string]any{"pad_policy": "enforce"})
	wantStatus(t, r, 400)
	if e, _ := r.json(t)["error"].(string); !strings.Contains(e, "image1") || !strings.Contains(e, "presentation attack") {
		t.Fatalf("enforce: %s", r.body)
	}
	wantStatus(t, compare(map[string]any{"pad_policy": 7}), 400)
	// Stored verification images report per image; verify_user per
	// provided image.
	r = do(t, "POST", s.MassHealth+"/upload_verification_images", nil,
		jsonBody(t, map[string]any{"userId": "pad-user", "images": []string{b64(photo)}}), "application/json")
	wantStatus(t, r, 200)
	wantPAD(t, arr(t, r.json(t)["pad"])[0], "report", "spoof")
	r = do(t, "POST", s.MassHealth+"/verify_user", nil,
		jsonBody(t, map[string]any{"userId": "pad-user", "images": []string{b64(photo)}}), "application/json")
	wantStatus(t, r, 200)
	d := obj(t, arr(t, r.json(t)["detailed_comparisons"])[0])
	wantPAD(t, d["pad"], "report", "spoof")
	r = do(t, "POST", s.MassHealth+"/verify_user", nil,
		jsonBody(t, map[string]any{"userId": "pad-user", "images": []string{b64(photo)}, "pad_policy": "off"}), "application/json")
	wantStatus(t, r, 200)
	hasNot(t, obj(t, arr(t, r.json(t)["detailed_comparisons"])[0]), "pad")
}

func padCompreFace(t *testing.T, s *compattest.Server, photo []byte) {
	k := map[string]string{"x-api-key": s.Keys["recognition"]}
	add := func(query string) resp {
		body, ct := multipartOf(t, nil, part{"file", "joy.jpg", photo})
		return do(t, "POST", s.CompreFace+"/api/v1/recognition/faces?subject=joy"+query, k, body, ct)
	}
	r := add("")
	wantStatus(t, r, 201)
	m := r.json(t)
	has(t, m, "image_id", "subject")
	wantPAD(t, m["pad"], "report", "spoof")
	r = add("&pad_policy=off")
	wantStatus(t, r, 201)
	hasNot(t, r.json(t), "pad")
	r = add("&pad_policy=enforce")
	wantStatus(t, r, 400)
	if msg, _ := r.json(t)["message"].(string); !strings.Contains(msg, "presentation attack") {
		t.Fatalf("enforce: %s", r.body)
	}
	recognize := func(query string) resp {
		body, ct := multipartOf(t, nil, part{"file", "joy.jpg", photo})
		return do(t, "POST", s.CompreFace+"/api/v1/recognition/recognize"+query, k, body, ct)
	}
	r = recognize("")
	wantStatus(t, r, 200)
	f := obj(t, arr(t, r.json(t)["result"])[0])
	wantPAD(t, f["pad"], "report", "spoof")
	if sub := obj(t, arr(t, f["subjects"])[0]); sub["subject"] != "joy" {
		t.Fatalf("recognize: %s", r.body)
	}
	r = recognize("?pad_policy=off")
	wantStatus(t, r, 200)
	hasNot(t, obj(t, arr(t, r.json(t)["result"])[0]), "pad")
	wantStatus(t, recognize("?pad_policy=enforce"), 400)
	r = recognize("?pad_policy=nope")
	wantStatus(t, r, 400)
	// Verification of two images reports both.
	body, ct := multipartOf(t, nil, part{"source_image", "joy.jpg", photo}, part{"target_image", "joy.jpg", photo})
	r = do(t, "POST", s.CompreFace+"/api/v1/verification/verify", map[string]string{"x-api-key": s.Keys["verification"]}, body, ct)
	wantStatus(t, r, 200)
	item := obj(t, arr(t, r.json(t)["result"])[0])
	wantPAD(t, obj(t, item["source_image_face"])["pad"], "report", "spoof")
}

// On the shared server (pad_threshold 0.01) the same photo is live under the
// default report policy, on every compatibility API.
func TestPADReportLive(t *testing.T) {
	photo := srv.Photo("joy.jpg")
	body, ct := multipartOf(t, nil, part{"image", "joy.jpg", photo})
	r := do(t, "POST", srv.Facenet+"/upload_reference", nil, body, ct)
	wantStatus(t, r, 200)
	wantPAD(t, r.json(t)["pad"], "report", "live")
	r = do(t, "POST", srv.MassHealth+"/compare", nil, jsonBody(t, map[string]any{"image1": b64(photo), "image2": b64(photo)}), "application/json")
	wantStatus(t, r, 200)
	wantPAD(t, obj(t, r.json(t)["pad"])["image1"], "report", "live")
	body, ct = multipartOf(t, nil, part{"file", "joy.jpg", photo})
	r = do(t, "POST", srv.CompreFace+"/api/v1/recognition/recognize", map[string]string{"x-api-key": srv.Keys["recognition2"]}, body, ct)
	wantStatus(t, r, 200)
	wantPAD(t, obj(t, arr(t, r.json(t)["result"])[0])["pad"], "report", "live")
}

// A greyscale photo gets pad_unavailable with the reason, never a made-up
// probability, on the compatibility APIs too.
func TestPADGreyscaleCompat(t *testing.T) {
	src, err := jpeg.Decode(bytes.NewReader(srv.Photo("joy.jpg")))
	if err != nil {
		t.Fatal(err)
	}
	g := image.NewGray(src.Bounds())
	draw.Draw(g, g.Bounds(), src, src.Bounds().Min, draw.Src)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, g, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	grey := buf.Bytes()
	body, ct := multipartOf(t, nil, part{"image", "joy-grey.jpg", grey})
	r := do(t, "POST", srv.Facenet+"/upload_reference", nil, body, ct)
	wantStatus(t, r, 200)
	p := obj(t, r.json(t)["pad"])
	if p["outcome"] != "pad_unavailable" || p["reason"] != "greyscale" || p["policy"] != "report" {
		t.Fatalf("facenet512: %s", short(p))
	}
	hasNot(t, p, "probability")
	r = do(t, "POST", srv.MassHealth+"/compare", nil, jsonBody(t, map[string]any{"image1": b64(grey), "image2": b64(srv.Photo("joy.jpg"))}), "application/json")
	wantStatus(t, r, 200)
	pads := obj(t, r.json(t)["pad"])
	if p := obj(t, pads["image1"]); p["outcome"] != "pad_unavailable" || p["reason"] != "greyscale" {
		t.Fatalf("masshealth image1: %s", short(pads))
	}
	wantPAD(t, pads["image2"], "report", "live")
}
