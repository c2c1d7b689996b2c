package e2e

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
)

// The compatibility gaps of issue 13, each as the document's client sees it.

// padJPEG grows a JPEG past n bytes with comment segments after SOI: the
// same photo, a file over CompreFace's 5 MB.
func padJPEG(t *testing.T, img []byte, n int) []byte {
	t.Helper()
	if len(img) < 2 || img[0] != 0xFF || img[1] != 0xD8 {
		t.Fatal("not a JPEG")
	}
	out := append([]byte(nil), img[:2]...)
	seg := make([]byte, 65533)
	for len(out)+len(img) < n {
		out = append(out, 0xFF, 0xFE, 0xFF, 0xFF)
		out = append(out, seg...)
	}
	return append(out, img[2:]...)
}

func TestMassHealthReferenceRules(t *testing.T) {
	r := mhPost(t, "/upload_verification_images", map[string]any{"userId": "gaps", "replace": true, "images": []string{b64(srv.Photo("eunseo2.jpg")), b64(srv.Photo("joy.jpg"))}})
	wantStatus(t, r, 200)
	// One of three provided images matches: the reference passes the user
	// (any match), the old "at least half" rule did not.
	r = mhPost(t, "/verify_user", map[string]any{"userId": "gaps",
		"images": []string{b64(srv.Photo("eunseo.jpg")), b64(srv.Photo("tzuyu.jpg")), b64(srv.Photo("seulgi.jpg"))}})
	wantStatus(t, r, 200)
	m := r.json(t)
	if m["verification_passed"] != true || num(t, m["images_matched"]) != 1 || num(t, m["match_percentage"]) != 33.33 {
		t.Fatalf("verify_user: %s", r.body)
	}
	dc := arr(t, m["detailed_comparisons"])
	c0, c1 := obj(t, dc[0]), obj(t, dc[1])
	ms := arr(t, c0["matches"])
	m0, m1 := obj(t, ms[0]), obj(t, ms[1])
	has(t, m0, "verification_image", "similarity_score", "is_match", "confidence")
	hasNot(t, m0, "match")
	if m0["is_match"] != true || m1["is_match"] != false || num(t, c0["best_score"]) != num(t, m0["similarity_score"]) {
		t.Fatalf("matches: %s", short(c0))
	}
	if c := m0["confidence"].(string); c != "High" && c != "Medium" && c != "Low" {
		t.Fatalf("matches[] confidence as the reference code writes it: %q", c)
	}
	// No stored image matches: best_score is 0, not the closest score.
	if c1["has_match"] != false || num(t, c1["best_score"]) != 0 {
		t.Fatalf("no match: %s", short(c1))
	}
	// An image over 5 MB is accepted: the document sets no limit.
	big := padJPEG(t, srv.Photo("eunseo.jpg"), 6<<20)
	r = mhPost(t, "/compare", map[string]any{"image1": b64(big), "image2": b64(srv.Photo("eunseo2.jpg"))})
	wantStatus(t, r, 200)
	if m := r.json(t); m["match"] != true {
		t.Fatalf("6 MB compare: %s", r.body)
	}
	_ = do(t, "DELETE", mh("/verification_images/gaps"), nil, nil, "")
}

func TestFacenet512Gaps(t *testing.T) {
	// 6 MB: no 5 MB limit the document does not have.
	big := padJPEG(t, srv.Photo("tzuyu.jpg"), 6<<20)
	r := fnUpload(t, "big.jpg", big)
	wantStatus(t, r, 200)
	k := r.json(t)["key"].(string)
	// The same photo: distance 0, never -0.
	r = fnCompare(t, k, "tzuyu.jpg", srv.Photo("tzuyu.jpg"))
	wantStatus(t, r, 200)
	if bytes.Contains(r.body, []byte(`"distance":-`)) || !bytes.Contains(r.body, []byte(`"verified":true`)) {
		t.Fatalf("compare: %s", r.body)
	}
	_ = do(t, "DELETE", fn("/delete_reference/"+k), nil, nil, "")
}

func TestCompreFaceGaps(t *testing.T) {
	k := "recognition2"
	// Subject names are trimmed on add, example add, rename, lookup and delete.
	r := do(t, "POST", cf("/api/v1/recognition/subjects"), key(k), jsonBody(t, map[string]string{"subject": "  Gap Subject "}), "application/json")
	wantStatus(t, r, 201)
	if r.json(t)["subject"] != "Gap Subject" {
		t.Fatalf("add: %s", r.body)
	}
	wantStatus(t, addExample(t, k, "%20Gap%20Subject%20", "joy.jpg", srv.Photo("joy.jpg"), ""), 201)
	r = do(t, "GET", cf("/api/v1/recognition/faces?subject=Gap%20Subject%20%20"), key(k), nil, "")
	if wantStatus(t, r, 200); num(t, r.json(t)["total_elements"]) != 1 {
		t.Fatalf("lookup: %s", r.body)
	}
	r = do(t, "PUT", cf("/api/v1/recognition/subjects/%20Gap%20Subject"), key(k), jsonBody(t, map[string]string{"subject": " Gap Renamed "}), "application/json")
	if wantStatus(t, r, 200); r.json(t)["updated"] != true {
		t.Fatalf("rename: %s", r.body)
	}
	r = do(t, "DELETE", cf("/api/v1/recognition/subjects/Gap%20Renamed%20"), key(k), nil, "")
	if wantStatus(t, r, 200); r.json(t)["subject"] != "Gap Renamed" {
		t.Fatalf("delete: %s", r.body)
	}
	// detect_faces=false: the whole image is the face.
	crop := cropFace(t, "jimin7.jpg")
	cfg, err := png.DecodeConfig(bytes.NewReader(crop))
	if err != nil {
		t.Fatal(err)
	}
	r = postFile(t, "detection", "/api/v1/detection/detect?detect_faces=false", "crop.png", crop)
	wantStatus(t, r, 200)
	box := obj(t, obj(t, arr(t, r.json(t)["result"])[0])["box"])
	if num(t, box["probability"]) != 1 || num(t, box["x_min"]) != 0 || num(t, box["y_min"]) != 0 ||
		int(num(t, box["x_max"])) != cfg.Width || int(num(t, box["y_max"])) != cfg.Height {
		t.Fatalf("box %s, image %dx%d", short(box), cfg.Width, cfg.Height)
	}
	// mask: refused, never silently dropped.
	r = postFile(t, "detection", "/api/v1/detection/detect?face_plugins=age,mask", "jimin7.jpg", srv.Photo("jimin7.jpg"))
	cfErr(t, r, 400, 36, "'mask'")
	// A wrong method answers as CompreFace's handler: 404, code 0.
	r = do(t, "PATCH", cf("/api/v1/recognition/subjects"), key(k), nil, "")
	cfErr(t, r, 404, 0, "Request method 'PATCH' not supported")
	// Over CompreFace's 5 MB: "too large", never "could not be decoded".
	r = postFile(t, "detection", "/api/v1/detection/detect", "big.jpg", padJPEG(t, srv.Photo("jimin7.jpg"), 6<<20))
	if r.status < 400 || r.status >= 500 || strings.Contains(strings.ToLower(string(r.body)), "decod") {
		t.Fatalf("over 5 MB: %d %s", r.status, r.body)
	}
}

// Every listener answers on [::1] too: a client whose "localhost" resolves
// to the IPv6 loopback reaches it.
func TestEveryListenerOnIPv6Loopback(t *testing.T) {
	for _, c := range []struct {
		base, path string
		hdr        map[string]string
	}{{srv.Main, "/health", nil}, {srv.CompreFace, "/api/v1/recognition/subjects", key("recognition")},
		{srv.Facenet, "/list_references", nil}, {srv.MassHealth, "/health", nil}} {
		if !strings.Contains(c.base, "127.0.0.1:") {
			t.Fatalf("listener %s is not on 127.0.0.1", c.base)
		}
		r := do(t, "GET", strings.Replace(c.base, "127.0.0.1", "[::1]", 1)+c.path, c.hdr, nil, "")
		wantStatus(t, r, 200)
	}
}
