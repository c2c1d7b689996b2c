package e2e

import (
	"strings"
	"testing"
)

func mh(path string) string { return srv.MassHealth + path }

func mhErr(t *testing.T, r resp, status int, part string) {
	t.Helper()
	wantStatus(t, r, status)
	if e, _ := r.json(t)["error"].(string); !strings.Contains(e, part) {
		t.Fatalf("error %s, want %q", r.body, part)
	}
}

func mhPost(t *testing.T, path string, v any) resp {
	t.Helper()
	return do(t, "POST", mh(path), nil, jsonBody(t, v), "application/json")
}

func TestMassHealthInfo(t *testing.T) {
	r := do(t, "GET", mh("/health"), nil, nil, "")
	wantStatus(t, r, 200)
	m := r.json(t)
	has(t, m, "status", "model_loaded", "model_path", "model_exists", "tensorflow_version", "working_directory", "port", "supabase_connected", "supabase_url")
	if m["status"] != "healthy" || m["model_loaded"] != true || m["model_exists"] != true || m["supabase_connected"] != true ||
		!strings.HasSuffix(m["model_path"].(string), ".onnx") || !strings.HasSuffix(srv.MassHealth, ":"+short(m["port"])) {
		t.Fatalf("health: %s", r.body)
	}
	r = do(t, "GET", mh("/model_info"), nil, nil, "")
	wantStatus(t, r, 200)
	m = r.json(t)
	has(t, m, "model_loaded", "total_parameters", "input_shape", "output_shape", "model_layers")
	if m["input_shape"] != "(None, 112, 112, 3)" || m["output_shape"] != "(None, 512)" || num(t, m["total_parameters"]) < 1e6 || num(t, m["model_layers"]) < 10 {
		t.Fatalf("model_info: %s", r.body)
	}
}

func TestMassHealthCompare(t *testing.T) {
	r := mhPost(t, "/compare", map[string]any{"image1": b64(srv.Photo("jimin6.jpg")), "image2": b64(srv.Photo("jimin7.jpg")), "threshold": 0.5})
	wantStatus(t, r, 200)
	m := r.json(t)
	has(t, m, "match", "similarity_score", "threshold", "confidence")
	s := num(t, m["similarity_score"])
	if m["match"] != true || s < 0.5 || s > 1 || num(t, m["threshold"]) != 0.5 || m["confidence"] != "high" {
		t.Fatalf("same: %s", r.body)
	}
	// Default threshold 0.5; a different person.
	r = mhPost(t, "/compare", map[string]any{"image1": b64(srv.Photo("jimin6.jpg")), "image2": b64(srv.Photo("seulgi.jpg"))})
	m = r.json(t)
	if m["match"] != false || num(t, m["similarity_score"]) >= 0.5 || num(t, m["threshold"]) != 0.5 {
		t.Fatalf("different: %s", r.body)
	}
	// Confidence bands around a threshold near the score (the reference
	// bands: more than 0.1 away medium, more than 0.3 high).
	r = mhPost(t, "/compare", map[string]any{"image1": b64(srv.Photo("jimin6.jpg")), "image2": b64(srv.Photo("jimin7.jpg")), "threshold": s - 0.05})
	if m := r.json(t); m["confidence"] != "low" || m["match"] != true {
		t.Fatalf("low band: %s", r.body)
	}
	r = mhPost(t, "/compare", map[string]any{"image1": b64(srv.Photo("jimin6.jpg")), "image2": b64(srv.Photo("jimin7.jpg")), "threshold": s - 0.2})
	if m := r.json(t); m["confidence"] != "medium" || m["match"] != true {
		t.Fatalf("medium band: %s", r.body)
	}
	mhErr(t, mhPost(t, "/compare", map[string]any{"image1": b64(srv.Photo("jimin6.jpg"))}), 400, "image2")
	mhErr(t, mhPost(t, "/compare", map[string]any{"image1": b64(srv.Photo("jimin6.jpg")), "image2": b64(blankPNG())}), 400, "image2: no face detected")
	mhErr(t, mhPost(t, "/compare", map[string]any{"image1": "!!!", "image2": b64(blankPNG())}), 400, "image1")
	mhErr(t, mhPost(t, "/compare", map[string]any{"image1": b64(srv.Photo("jimin6.jpg")), "image2": b64(srv.Photo("jimin7.jpg")), "threshold": 2}), 400, "threshold")
}

func TestMassHealthBatch(t *testing.T) {
	pairs := []map[string]string{
		{"image1": b64(srv.Photo("tzuyu.jpg")), "image2": b64(srv.Photo("tzuyu2.jpg"))},
		{"image1": b64(srv.Photo("tzuyu.jpg")), "image2": b64(srv.Photo("joy.jpg"))},
		{"image1": b64(srv.Photo("tzuyu.jpg")), "image2": b64(blankPNG())},
	}
	r := mhPost(t, "/batch_compare", map[string]any{"pairs": pairs, "threshold": 0.5})
	wantStatus(t, r, 200)
	m := r.json(t)
	has(t, m, "matches", "detailed_results", "threshold", "total_pairs", "successful_pairs")
	if short(m["matches"]) != "[true,false,false]" || num(t, m["total_pairs"]) != 3 || num(t, m["successful_pairs"]) != 2 || num(t, m["threshold"]) != 0.5 {
		t.Fatalf("batch: %s", short(m))
	}
	d := arr(t, m["detailed_results"])
	d0, d2 := obj(t, d[0]), obj(t, d[2])
	has(t, d0, "pair_index", "match", "similarity_score", "confidence")
	if num(t, d2["pair_index"]) != 2 || d2["match"] != false || d2["error"] != "Failed to process this pair" {
		t.Fatalf("failed pair: %s", short(d2))
	}
	eleven := make([]map[string]string, 11)
	for i := range eleven {
		eleven[i] = pairs[0]
	}
	mhErr(t, mhPost(t, "/batch_compare", map[string]any{"pairs": eleven}), 400, "10 pairs")
	mhErr(t, mhPost(t, "/batch_compare", map[string]any{}), 400, "pairs")
}

func TestMassHealthVerifyUser(t *testing.T) {
	mhErr(t, mhPost(t, "/verify_user", map[string]any{"userId": "user123", "images": []string{b64(srv.Photo("eunseo.jpg"))}}), 404, "No verification images found")
	r := mhPost(t, "/upload_verification_images", map[string]any{"userId": "user123", "images": []string{b64(srv.Photo("eunseo2.jpg")), b64(srv.Photo("eunseo3.jpg"))}})
	wantStatus(t, r, 200)
	if m := r.json(t); num(t, m["stored"]) != 2 || num(t, m["verification_images_found"]) != 2 {
		t.Fatalf("upload: %s", r.body)
	}
	r = mhPost(t, "/verify_user", map[string]any{"userId": "user123", "threshold": 0.5,
		"images": []string{b64(srv.Photo("eunseo.jpg")), b64(srv.Photo("joy.jpg")), b64(srv.Photo("eunseo.jpg"))}})
	wantStatus(t, r, 200)
	m := r.json(t)
	has(t, m, "user_id", "verification_passed", "images_matched", "total_images_provided", "match_percentage", "threshold", "verification_images_found", "detailed_comparisons")
	if m["user_id"] != "user123" || m["verification_passed"] != true || num(t, m["images_matched"]) != 2 || num(t, m["total_images_provided"]) != 3 ||
		num(t, m["match_percentage"]) != 66.67 || num(t, m["verification_images_found"]) != 2 || num(t, m["threshold"]) != 0.5 {
		t.Fatalf("verify_user: %s", short(m))
	}
	dc := arr(t, m["detailed_comparisons"])
	c0, c1 := obj(t, dc[0]), obj(t, dc[1])
	has(t, c0, "provided_image_index", "matches", "has_match", "best_score")
	if c0["has_match"] != true || c1["has_match"] != false || len(arr(t, c0["matches"])) != 2 || num(t, c1["provided_image_index"]) != 1 {
		t.Fatalf("detailed: %s", short(dc))
	}
	mhErr(t, mhPost(t, "/verify_user", map[string]any{"images": []string{b64(srv.Photo("eunseo.jpg"))}}), 400, "Missing userId or images")
	mhErr(t, mhPost(t, "/verify_user", map[string]any{"userId": "user123"}), 400, "Missing userId or images")
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = "x"
	}
	mhErr(t, mhPost(t, "/verify_user", map[string]any{"userId": "user123", "images": eleven}), 400, "10 images")
	r = do(t, "GET", mh("/verification_images/user123"), nil, nil, "")
	wantStatus(t, r, 200)
	if !strings.Contains(string(r.body), "verify2.jpg") {
		t.Fatalf("list: %s", r.body)
	}
	r = do(t, "DELETE", mh("/verification_images/user123"), nil, nil, "")
	wantStatus(t, r, 200)
	mhErr(t, mhPost(t, "/verify_user", map[string]any{"userId": "user123", "images": []string{b64(srv.Photo("eunseo.jpg"))}}), 404, "No verification images found")
}
