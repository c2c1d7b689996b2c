package e2e

import (
	"regexp"
	"strings"
	"testing"
)

func fn(path string) string { return srv.Facenet + path }

func fnDetail(t *testing.T, r resp, status int, detail string) {
	t.Helper()
	wantStatus(t, r, status)
	m := r.json(t)
	if d, _ := m["detail"].(string); d != detail {
		t.Fatalf("detail %q, want %q", m["detail"], detail)
	}
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func fnUpload(t *testing.T, name string, data []byte) resp {
	t.Helper()
	body, ct := multipartOf(t, nil, part{"image", name, data})
	return do(t, "POST", fn("/upload_reference"), nil, body, ct)
}

func fnCompare(t *testing.T, key, name string, data []byte) resp {
	t.Helper()
	body, ct := multipartOf(t, map[string]string{"reference_key": key}, part{"image", name, data})
	return do(t, "POST", fn("/compare_with_reference"), nil, body, ct)
}

func TestFacenet512(t *testing.T) {
	// 1. Upload Reference Image
	r := fnUpload(t, "jimin6.jpg", srv.Photo("jimin6.jpg"))
	wantStatus(t, r, 200)
	m := r.json(t)
	has(t, m, "success", "message", "key")
	k1 := m["key"].(string)
	if m["success"] != true || !hex32.MatchString(k1) || m["message"] != "Reference embedding saved with key: "+k1 {
		t.Fatalf("upload: %s", r.body)
	}
	r = fnUpload(t, "image2.png", mustPNG(t, "tzuyu.jpg"))
	wantStatus(t, r, 200)
	k2 := r.json(t)["key"].(string)
	fnDetail(t, fnUpload(t, "face.gif", srv.Photo("joy.jpg")), 400, "Invalid file extension")
	fnDetail(t, fnUpload(t, "blank.png", blankPNG()), 400, "No face detected in the image. Please upload an image with a clear face.")
	r = do(t, "POST", fn("/upload_reference"), nil, nil, "")
	wantStatus(t, r, 422)

	// 2. Compare with Reference
	r = fnCompare(t, k1, "jimin7.jpg", srv.Photo("jimin7.jpg"))
	wantStatus(t, r, 200)
	m = r.json(t)
	has(t, m, "reference_key", "result")
	res := obj(t, m["result"])
	has(t, res, "verified", "distance", "threshold")
	thr := num(t, res["threshold"])
	if m["reference_key"] != k1 || res["verified"] != true || num(t, res["distance"]) > thr || thr <= 0.4 || thr >= 0.7 {
		t.Fatalf("same person: %s", r.body)
	}
	r = fnCompare(t, k1, "seulgi.jpg", srv.Photo("seulgi.jpg"))
	res = obj(t, r.json(t)["result"])
	if res["verified"] != false || num(t, res["distance"]) <= thr {
		t.Fatalf("different person: %s", r.body)
	}
	r = fnCompare(t, k1, "jimin6.jpg", srv.Photo("jimin6.jpg"))
	if d := num(t, obj(t, r.json(t)["result"])["distance"]); d > 0.001 {
		t.Fatalf("same image distance %v", d)
	}
	fnDetail(t, fnCompare(t, "not-alnum!", "jimin7.jpg", srv.Photo("jimin7.jpg")), 400, "Reference key must be alphanumeric")
	fnDetail(t, fnCompare(t, "456e7890e12b34c5a678426614174001", "jimin7.jpg", srv.Photo("jimin7.jpg")), 404, "No reference image found with key: 456e7890e12b34c5a678426614174001")
	fnDetail(t, fnCompare(t, k1, "jimin7.bmp", srv.Photo("jimin7.jpg")), 400, "Invalid file extension")
	r = fnCompare(t, k1, "blank.png", blankPNG())
	wantStatus(t, r, 500)
	if d := r.json(t)["detail"].(string); !strings.HasPrefix(d, "Error processing image: ") {
		t.Fatalf("no face on compare: %s", r.body)
	}
	body, ct := multipartOf(t, nil, part{"image", "jimin7.jpg", srv.Photo("jimin7.jpg")})
	r = do(t, "POST", fn("/compare_with_reference"), nil, body, ct)
	wantStatus(t, r, 422)
	if d := arr(t, r.json(t)["detail"]); !strings.Contains(short(d), "reference_key") {
		t.Fatalf("422 detail: %s", r.body)
	}

	// 3. List References
	r = do(t, "GET", fn("/list_references"), nil, nil, "")
	wantStatus(t, r, 200)
	m = r.json(t)
	refs := arr(t, m["references"])
	if num(t, m["count"]) != 2 || len(refs) != 2 {
		t.Fatalf("list: %s", r.body)
	}
	got := map[string]string{}
	for _, x := range refs {
		o := obj(t, x)
		has(t, o, "key", "filename")
		got[o["key"].(string)] = o["filename"].(string)
	}
	if got[k1] != "jimin6.jpg" || got[k2] != "image2.png" {
		t.Fatalf("list: %s", r.body)
	}

	// 4. Delete Reference
	r = do(t, "DELETE", fn("/delete_reference/"+k2), nil, nil, "")
	wantStatus(t, r, 200)
	m = r.json(t)
	if m["success"] != true || m["message"] != "Reference embedding with key '"+k2+"' has been deleted" {
		t.Fatalf("delete: %s", r.body)
	}
	fnDetail(t, do(t, "DELETE", fn("/delete_reference/"+k2), nil, nil, ""), 404, "No reference embedding found with key: "+k2)
	fnDetail(t, do(t, "DELETE", fn("/delete_reference/bad-key"), nil, nil, ""), 400, "Invalid reference key")
	fnDetail(t, fnCompare(t, k2, "tzuyu2.jpg", srv.Photo("tzuyu2.jpg")), 404, "No reference image found with key: "+k2)
	r = do(t, "GET", fn("/list_references"), nil, nil, "")
	if num(t, r.json(t)["count"]) != 1 {
		t.Fatalf("after delete: %s", r.body)
	}
	fnDetail(t, do(t, "GET", fn("/nope"), nil, nil, ""), 404, "Not Found")
}
