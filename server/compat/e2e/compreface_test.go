package e2e

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/draw"
	"golang.org/x/image/tiff"
)

func cf(path string) string { return srv.CompreFace + path }

func key(name string) map[string]string { return map[string]string{"x-api-key": srv.Keys[name]} }

// cfErr checks a CompreFace error body.
func cfErr(t *testing.T, r resp, status, code int, msgPart string) {
	t.Helper()
	wantStatus(t, r, status)
	m := r.json(t)
	has(t, m, "message", "code")
	if int(num(t, m["code"])) != code || !strings.Contains(m["message"].(string), msgPart) {
		t.Fatalf("error %s, want code %d and message containing %q", short(m), code, msgPart)
	}
}

func addExample(t *testing.T, k, subject, file string, data []byte, query string) resp {
	t.Helper()
	body, ct := multipartOf(t, nil, part{"file", file, data})
	return do(t, "POST", cf("/api/v1/recognition/faces?subject="+subject+query), key(k), body, ct)
}

func postFile(t *testing.T, k, path, file string, data []byte) resp {
	t.Helper()
	body, ct := multipartOf(t, nil, part{"file", file, data})
	return do(t, "POST", cf(path), key(k), body, ct)
}

func checkBox(t *testing.T, f map[string]any) {
	t.Helper()
	box := obj(t, f["box"])
	has(t, box, "probability", "x_max", "y_max", "x_min", "y_min")
	if p := num(t, box["probability"]); p <= 0 || p > 1 {
		t.Fatalf("box probability %v", p)
	}
	if num(t, box["x_max"]) <= num(t, box["x_min"]) || num(t, box["y_max"]) <= num(t, box["y_min"]) {
		t.Fatalf("bad box %s", short(box))
	}
}

func TestCompreFaceAuth(t *testing.T) {
	r := do(t, "GET", cf("/api/v1/recognition/subjects/"), nil, nil, "")
	cfErr(t, r, 400, 20, "Missing header: x-api-key")
	r = do(t, "GET", cf("/api/v1/recognition/subjects/"), map[string]string{"x-api-key": "not-a-uuid"}, nil, "")
	cfErr(t, r, 400, 26, "Service API key should be UUID")
	r = do(t, "GET", cf("/api/v1/recognition/subjects/"), map[string]string{"x-api-key": "00000000-0000-4000-8000-000000000000"}, nil, "")
	cfErr(t, r, 404, 10, "Recognition service with API Key 00000000-0000-4000-8000-000000000000 not found")
	// A detection key is not a recognition key, and the reverse.
	r = do(t, "GET", cf("/api/v1/recognition/subjects"), key("detection"), nil, "")
	cfErr(t, r, 404, 10, "Recognition service")
	r = postFile(t, "recognition", "/api/v1/detection/detect", "a.jpg", srv.Photo("joy.jpg"))
	cfErr(t, r, 404, 10, "Detection service")
	r = do(t, "GET", cf("/no/such/path"), key("recognition"), nil, "")
	wantStatus(t, r, 404)

	// A key created by the CLI while the server runs works at once.
	out, err := srv.CLI("compreface-keys", "create", "-type", "detection")
	if err != nil {
		t.Fatal(err)
	}
	k := strings.TrimSpace(out)
	body, ct := multipartOf(t, nil, part{"file", "joy.jpg", srv.Photo("joy.jpg")})
	r = do(t, "POST", cf("/api/v1/detection/detect"), map[string]string{"x-api-key": k}, body, ct)
	wantStatus(t, r, 200)
	list, err := srv.CLI("compreface-keys", "list")
	if err != nil || !strings.Contains(list, k) || !strings.Contains(list, srv.Keys["recognition"]) {
		t.Fatalf("list: %v\n%s", err, list)
	}
}

func TestCompreFaceRecognition(t *testing.T) {
	const k = "recognition"
	ids := map[string]string{}
	t.Run("subjects", func(t *testing.T) {
		r := do(t, "POST", cf("/api/v1/recognition/subjects"), key(k), []byte(`{"subject": "jimin"}`), "application/json")
		wantStatus(t, r, 201)
		if m := r.json(t); m["subject"] != "jimin" {
			t.Fatalf("add subject: %s", r.body)
		}
		r = do(t, "POST", cf("/api/v1/recognition/subjects"), key(k), []byte(`{"subject": "jimin"}`), "application/json")
		cfErr(t, r, 400, 43, "Subject already exists")
		r = do(t, "POST", cf("/api/v1/recognition/subjects"), key(k), []byte(`{"subject": ""}`), "application/json")
		cfErr(t, r, 400, 5, "Subject name is empty")
		for _, s := range []string{"temp", "tzuyu-old"} {
			wantStatus(t, do(t, "POST", cf("/api/v1/recognition/subjects"), key(k), jsonBody(t, map[string]string{"subject": s}), "application/json"), 201)
		}
		// Rename an empty subject, then delete it.
		r = do(t, "PUT", cf("/api/v1/recognition/subjects/temp"), key(k), []byte(`{"subject": "temp2"}`), "application/json")
		wantStatus(t, r, 200)
		if r.json(t)["updated"] != true {
			t.Fatalf("rename: %s", r.body)
		}
		r = do(t, "DELETE", cf("/api/v1/recognition/subjects/temp2"), key(k), nil, "application/json")
		wantStatus(t, r, 200)
		if r.json(t)["subject"] != "temp2" {
			t.Fatalf("delete: %s", r.body)
		}
		r = do(t, "DELETE", cf("/api/v1/recognition/subjects/temp2"), key(k), nil, "")
		cfErr(t, r, 404, 42, "Subject temp2 not found")
		r = do(t, "PUT", cf("/api/v1/recognition/subjects/nobody"), key(k), []byte(`{"subject": "x"}`), "application/json")
		cfErr(t, r, 404, 42, "Subject nobody not found")
	})
	t.Run("add examples", func(t *testing.T) {
		// multipart, with det_prob_threshold
		r := addExample(t, k, "jimin", "jimin6.jpg", srv.Photo("jimin6.jpg"), "&det_prob_threshold=0.8")
		wantStatus(t, r, 201)
		m := r.json(t)
		has(t, m, "image_id", "subject")
		if m["subject"] != "jimin" || len(m["image_id"].(string)) != 36 {
			t.Fatalf("add: %s", r.body)
		}
		ids["jimin6"] = m["image_id"].(string)
		// Base64 JSON
		r = do(t, "POST", cf("/api/v1/recognition/faces?subject=tzuyu-old"), key(k),
			jsonBody(t, map[string]string{"file": b64(srv.Photo("tzuyu.jpg"))}), "application/json")
		wantStatus(t, r, 201)
		ids["tzuyu"] = r.json(t)["image_id"].(string)
		r = addExample(t, k, "eunseo", "eunseo2.jpg", srv.Photo("eunseo2.jpg"), "")
		wantStatus(t, r, 201)
		ids["eunseo2"] = r.json(t)["image_id"].(string)
		r = addExample(t, k, "seulgi", "seulgi.jpg", srv.Photo("seulgi.jpg"), "")
		wantStatus(t, r, 201)
		ids["seulgi"] = r.json(t)["image_id"].(string)
		// Rename with merge: tzuyu-old -> tzuyu (new), then seulgi -> eunseo-tmp is
		// a plain rename; merging "tzuyu" into an existing subject is covered below.
		r = do(t, "PUT", cf("/api/v1/recognition/subjects/tzuyu-old"), key(k), []byte(`{"subject": "tzuyu"}`), "application/json")
		wantStatus(t, r, 200)
		// errors
		r = addExample(t, k, "x", "blank.png", blankPNG(), "")
		cfErr(t, r, 400, 28, "No face is found in the given image")
		r = addExample(t, k, "x", "notes.txt", srv.Photo("joy.jpg"), "")
		cfErr(t, r, 400, 21, "File [notes.txt] has an unavailable extension")
		r = addExample(t, k, "x", "joy.jpg", srv.Photo("joy.jpg"), "&det_prob_threshold=1.5")
		cfErr(t, r, 400, 36, "between 0.0 and 1.0")
		r = do(t, "POST", cf("/api/v1/recognition/faces"), key(k), jsonBody(t, map[string]string{"file": b64(srv.Photo("joy.jpg"))}), "application/json")
		cfErr(t, r, 400, 33, "'subject'")
		r = do(t, "POST", cf("/api/v1/recognition/faces?subject=x"), key(k), []byte(`{"file": "%%%not base64"}`), "application/json")
		cfErr(t, r, 400, 21, "Provided value is not Base64")
		big := append(append([]byte{}, srv.Photo("joy.jpg")...), make([]byte, 5<<20)...)
		r = addExample(t, k, "x", "big.jpg", big, "")
		cfErr(t, r, 400, 0, "Maximum upload size exceeded")
		r = do(t, "POST", cf("/api/v1/recognition/faces?subject=x"), key(k), nil, "")
		cfErr(t, r, 400, 34, "Required request part 'file'")
	})
	t.Run("list examples", func(t *testing.T) {
		r := do(t, "GET", cf("/api/v1/recognition/faces?page=0&size=2"), key(k), nil, "")
		wantStatus(t, r, 200)
		m := r.json(t)
		has(t, m, "faces", "page_number", "page_size", "total_pages", "total_elements")
		if num(t, m["total_elements"]) != 4 || num(t, m["total_pages"]) != 2 || num(t, m["page_size"]) != 2 || num(t, m["page_number"]) != 0 || len(arr(t, m["faces"])) != 2 {
			t.Fatalf("page 0: %s", r.body)
		}
		f := obj(t, arr(t, m["faces"])[0])
		has(t, f, "image_id", "subject")
		r = do(t, "GET", cf("/api/v1/recognition/faces?page=1&size=3"), key(k), nil, "")
		if m := r.json(t); len(arr(t, m["faces"])) != 1 {
			t.Fatalf("page 1: %s", r.body)
		}
		r = do(t, "GET", cf("/api/v1/recognition/faces?subject=tzuyu"), key(k), nil, "")
		m = r.json(t)
		faces := arr(t, m["faces"])
		if len(faces) != 1 || obj(t, faces[0])["image_id"] != ids["tzuyu"] || num(t, m["page_size"]) != 20 {
			t.Fatalf("subject filter: %s", r.body)
		}
		r = do(t, "GET", cf("/api/v1/recognition/subjects/"), key(k), nil, "")
		subs := fmt.Sprint(arr(t, r.json(t)["subjects"]))
		for _, s := range []string{"jimin", "tzuyu", "eunseo", "seulgi"} {
			if !strings.Contains(subs, s) {
				t.Fatalf("subjects %s lack %s", subs, s)
			}
		}
		if strings.Contains(subs, "tzuyu-old") {
			t.Fatalf("renamed subject still listed: %s", subs)
		}
		// Another recognition key has its own, empty collection and does
		// not see this one's images.
		r = do(t, "GET", cf("/api/v1/recognition/faces"), key("recognition2"), nil, "")
		if m := r.json(t); num(t, m["total_elements"]) != 0 {
			t.Fatalf("second collection: %s", r.body)
		}
		r = do(t, "GET", cf("/api/v1/recognition/faces/"+ids["jimin6"]+"/img"), key("recognition2"), nil, "")
		if r.status != 200 || len(r.body) != 0 {
			t.Fatalf("foreign image: %d %d bytes", r.status, len(r.body))
		}
	})
	t.Run("download", func(t *testing.T) {
		r := do(t, "GET", cf("/api/v1/static/"+srv.Keys[k]+"/images/"+ids["jimin6"]), nil, nil, "")
		wantStatus(t, r, 200)
		if !bytes.Equal(r.body, srv.Photo("jimin6.jpg")) || r.hdr.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("static download: %d bytes, %s", len(r.body), r.hdr.Get("Content-Type"))
		}
		r = do(t, "GET", cf("/api/v1/recognition/faces/"+ids["tzuyu"]+"/img"), key(k), nil, "")
		wantStatus(t, r, 200)
		if !bytes.Equal(r.body, srv.Photo("tzuyu.jpg")) {
			t.Fatalf("img download: %d bytes", len(r.body))
		}
		r = do(t, "GET", cf("/api/v1/recognition/faces/6b135f5b-a365-4522-b1f1-4c9ac2dd0728/img"), key(k), nil, "")
		if r.status != 200 || len(r.body) != 0 {
			t.Fatalf("unknown image: %d, %d bytes", r.status, len(r.body))
		}
	})
	t.Run("recognize", func(t *testing.T) {
		r := postFile(t, k, "/api/v1/recognition/recognize", "jimin7.jpg", srv.Photo("jimin7.jpg"))
		wantStatus(t, r, 200)
		m := r.json(t)
		hasNot(t, m, "plugins_versions")
		res := arr(t, m["result"])
		if len(res) != 1 {
			t.Fatalf("recognize: %s", r.body)
		}
		f := obj(t, res[0])
		checkBox(t, f)
		hasNot(t, f, "age", "gender", "pose", "mask", "embedding", "landmarks", "execution_time")
		subs := arr(t, f["subjects"])
		if len(subs) != 1 {
			t.Fatalf("prediction_count default 1: %s", short(f))
		}
		top := obj(t, subs[0])
		if top["subject"] != "jimin" || num(t, top["similarity"]) < 0.5 || num(t, top["similarity"]) > 1 {
			t.Fatalf("top subject %s", short(top))
		}
		// All parameters (mask is refused: gaps_test.go).
		r = postFile(t, k, "/api/v1/recognition/recognize?limit=0&prediction_count=3&det_prob_threshold=0.8&face_plugins=calculator,age,gender,landmarks,pose&status=true", "tzuyu2.jpg", srv.Photo("tzuyu2.jpg"))
		wantStatus(t, r, 200)
		m = r.json(t)
		pv := obj(t, m["plugins_versions"])
		has(t, pv, "detector", "calculator", "age", "gender", "landmarks", "pose")
		hasNot(t, pv, "mask")
		f = obj(t, arr(t, m["result"])[0])
		has(t, f, "age", "gender", "pose", "embedding", "landmarks", "box", "subjects", "execution_time")
		hasNot(t, f, "mask")
		age := obj(t, f["age"])
		has(t, age, "probability", "high", "low")
		if num(t, age["low"]) > num(t, age["high"]) {
			t.Fatalf("age %s", short(age))
		}
		g := obj(t, f["gender"])
		if v := g["value"]; v != "female" && v != "male" {
			t.Fatalf("gender %s", short(g))
		}
		has(t, obj(t, f["pose"]), "pitch", "roll", "yaw")
		if len(arr(t, f["embedding"])) != 512 || len(arr(t, f["landmarks"])) != 5 {
			t.Fatalf("embedding/landmarks sizes")
		}
		has(t, obj(t, f["execution_time"]), "detector", "calculator", "age", "gender")
		subs = arr(t, f["subjects"])
		if len(subs) != 3 || obj(t, subs[0])["subject"] != "tzuyu" {
			t.Fatalf("prediction_count=3: %s", short(subs))
		}
		for i := 1; i < len(subs); i++ {
			if num(t, obj(t, subs[i])["similarity"]) > num(t, obj(t, subs[i-1])["similarity"]) {
				t.Fatalf("subjects not by similarity: %s", short(subs))
			}
		}
		// limit on the group photo: the biggest faces first.
		r = postFile(t, k, "/api/v1/recognition/recognize?limit=2", "pristin.jpg", srv.Photo("pristin.jpg"))
		wantStatus(t, r, 200)
		if n := len(arr(t, r.json(t)["result"])); n != 2 {
			t.Fatalf("limit=2 gave %d faces", n)
		}
		// Base64
		r = do(t, "POST", cf("/api/v1/recognition/recognize"), key(k), jsonBody(t, map[string]string{"file": b64(srv.Photo("eunseo.jpg"))}), "application/json")
		wantStatus(t, r, 200)
		if s := obj(t, arr(t, obj(t, arr(t, r.json(t)["result"])[0])["subjects"])[0]); s["subject"] != "eunseo" {
			t.Fatalf("base64 recognize: %s", r.body)
		}
		// detect_faces=false: a tight crop of a face is taken as the face.
		r = postFile(t, k, "/api/v1/recognition/recognize?detect_faces=false", "crop.png", cropFace(t, "jimin7.jpg"))
		wantStatus(t, r, 200)
		if res := arr(t, r.json(t)["result"]); len(res) != 1 || obj(t, arr(t, obj(t, res[0])["subjects"])[0])["subject"] != "jimin" {
			t.Fatalf("detect_faces=false: %s", r.body)
		}
		r = postFile(t, k, "/api/v1/recognition/recognize", "blank.png", blankPNG())
		cfErr(t, r, 400, 28, "No face is found in the given image")
		r = postFile(t, k, "/api/v1/recognition/recognize?prediction_count=0", "joy.jpg", srv.Photo("joy.jpg"))
		cfErr(t, r, 400, 12, "prediction_count")
	})
	t.Run("verify by image id", func(t *testing.T) {
		r := postFile(t, k, "/api/v1/recognition/faces/"+ids["jimin6"]+"/verify?face_plugins=landmarks&status=true", "jimin7.jpg", srv.Photo("jimin7.jpg"))
		wantStatus(t, r, 200)
		m := r.json(t)
		has(t, m, "result", "plugins_versions")
		f := obj(t, arr(t, m["result"])[0])
		checkBox(t, f)
		has(t, f, "similarity", "landmarks", "execution_time")
		same := num(t, f["similarity"])
		r = postFile(t, k, "/api/v1/recognition/faces/"+ids["jimin6"]+"/verify", "seulgi.jpg", srv.Photo("seulgi.jpg"))
		diff := num(t, obj(t, arr(t, r.json(t)["result"])[0])["similarity"])
		if same < 0.5 || diff > 0.5 || same <= diff {
			t.Fatalf("same-person %.3f, different %.3f", same, diff)
		}
		r = do(t, "POST", cf("/api/v1/recognition/faces/"+ids["jimin6"]+"/verify"), key(k), jsonBody(t, map[string]string{"file": b64(srv.Photo("jimin7.jpg"))}), "application/json")
		wantStatus(t, r, 200)
		r = postFile(t, k, "/api/v1/recognition/faces/6b135f5b-a365-4522-b1f1-4c9ac2dd0728/verify", "jimin7.jpg", srv.Photo("jimin7.jpg"))
		cfErr(t, r, 404, 11, "not found")
	})
	t.Run("embeddings", func(t *testing.T) {
		r := postFile(t, "detection", "/api/v1/detection/detect?face_plugins=calculator", "jimin7.jpg", srv.Photo("jimin7.jpg"))
		wantStatus(t, r, 200)
		emb := arr(t, obj(t, arr(t, r.json(t)["result"])[0])["embedding"])
		r = do(t, "POST", cf("/api/v1/recognition/embeddings/recognize?prediction_count=2"), key(k), jsonBody(t, map[string]any{"embeddings": []any{emb}}), "application/json")
		wantStatus(t, r, 200)
		item := obj(t, arr(t, r.json(t)["result"])[0])
		has(t, item, "embedding", "similarities")
		sims := arr(t, item["similarities"])
		if len(sims) != 2 || obj(t, sims[0])["subject"] != "jimin" {
			t.Fatalf("embedding recognize: %s", short(item))
		}
		has(t, obj(t, sims[0]), "subject", "similarity")
		r = do(t, "POST", cf("/api/v1/recognition/embeddings/faces/"+ids["jimin6"]+"/verify"), key(k), jsonBody(t, map[string]any{"embeddings": []any{emb}}), "application/json")
		wantStatus(t, r, 200)
		item = obj(t, arr(t, r.json(t)["result"])[0])
		has(t, item, "embedding", "similarity")
		if num(t, item["similarity"]) < 0.5 {
			t.Fatalf("embedding verify: %s", short(item))
		}
		r = do(t, "POST", cf("/api/v1/verification/embeddings/verify"), key("verification"), jsonBody(t, map[string]any{"source": emb, "targets": []any{emb}}), "application/json")
		wantStatus(t, r, 200)
		if s := num(t, obj(t, arr(t, r.json(t)["result"])[0])["similarity"]); s < 0.99 {
			t.Fatalf("self similarity %v", s)
		}
		r = do(t, "POST", cf("/api/v1/recognition/embeddings/recognize"), key(k), []byte(`{"embeddings": [[0.1, 0.2]]}`), "application/json")
		cfErr(t, r, 400, 37, "512")
		r = do(t, "POST", cf("/api/v1/recognition/embeddings/faces/6b135f5b-a365-4522-b1f1-4c9ac2dd0728/verify"), key(k), jsonBody(t, map[string]any{"embeddings": []any{emb}}), "application/json")
		cfErr(t, r, 404, 44, "not found")
	})
	t.Run("delete", func(t *testing.T) {
		// Merge: seulgi's examples move into eunseo (which exists).
		r := do(t, "PUT", cf("/api/v1/recognition/subjects/seulgi"), key(k), []byte(`{"subject": "eunseo"}`), "application/json")
		wantStatus(t, r, 200)
		r = do(t, "GET", cf("/api/v1/recognition/faces?subject=eunseo"), key(k), nil, "")
		if n := num(t, r.json(t)["total_elements"]); n != 2 {
			t.Fatalf("merge: eunseo has %v faces", n)
		}
		r = do(t, "DELETE", cf("/api/v1/recognition/faces/"+ids["seulgi"]), key(k), nil, "")
		wantStatus(t, r, 200)
		m := r.json(t)
		if m["image_id"] != ids["seulgi"] || m["subject"] != "eunseo" {
			t.Fatalf("delete by id: %s", r.body)
		}
		r = do(t, "DELETE", cf("/api/v1/recognition/faces/"+ids["seulgi"]), key(k), nil, "")
		cfErr(t, r, 404, 11, "not found")
		r = do(t, "POST", cf("/api/v1/recognition/faces/delete"), key(k), jsonBody(t, []string{ids["eunseo2"], "6b135f5b-a365-4522-b1f1-4c9ac2dd0728"}), "application/json")
		wantStatus(t, r, 200)
		var del []map[string]any
		if err := jsonUnmarshal(r.body, &del); err != nil || len(del) != 1 || del[0]["image_id"] != ids["eunseo2"] || del[0]["subject"] != "eunseo" {
			t.Fatalf("delete multiple: %s", r.body)
		}
		r = addExample(t, k, "jimin", "jimin5.jpg", srv.Photo("jimin5.jpg"), "")
		wantStatus(t, r, 201)
		r = do(t, "DELETE", cf("/api/v1/recognition/faces?subject=jimin"), key(k), nil, "")
		wantStatus(t, r, 200)
		if num(t, r.json(t)["deleted"]) != 2 {
			t.Fatalf("delete subject examples: %s", r.body)
		}
		wantStatus(t, do(t, "POST", cf("/api/v1/recognition/subjects"), key(k), []byte(`{"subject": "empty"}`), "application/json"), 201)
		r = do(t, "DELETE", cf("/api/v1/recognition/subjects"), key(k), nil, "")
		wantStatus(t, r, 200)
		if num(t, r.json(t)["deleted"]) != 2 { // tzuyu, empty
			t.Fatalf("delete all subjects: %s", r.body)
		}
		r = do(t, "GET", cf("/api/v1/recognition/subjects"), key(k), nil, "")
		if len(arr(t, r.json(t)["subjects"])) != 0 {
			t.Fatalf("after delete all: %s", r.body)
		}
		// delete all examples (no subject)
		wantStatus(t, addExample(t, k, "joy", "joy.jpg", srv.Photo("joy.jpg"), ""), 201)
		r = do(t, "DELETE", cf("/api/v1/recognition/faces"), key(k), nil, "")
		if num(t, r.json(t)["deleted"]) != 1 {
			t.Fatalf("delete all faces: %s", r.body)
		}
		// recognize on an empty collection: faces, no subjects
		r = postFile(t, k, "/api/v1/recognition/recognize", "joy.jpg", srv.Photo("joy.jpg"))
		wantStatus(t, r, 200)
		if subs := arr(t, obj(t, arr(t, r.json(t)["result"])[0])["subjects"]); len(subs) != 0 {
			t.Fatalf("empty collection: %s", r.body)
		}
	})
}

func TestCompreFaceDetection(t *testing.T) {
	r := postFile(t, "detection", "/api/v1/detection/detect?face_plugins=age,gender,landmarks,pose&status=true", "pristin.jpg", srv.Photo("pristin.jpg"))
	wantStatus(t, r, 200)
	m := r.json(t)
	res := arr(t, m["result"])
	if len(res) < 8 {
		t.Fatalf("group photo: %d faces", len(res))
	}
	for _, x := range res {
		f := obj(t, x)
		checkBox(t, f)
		has(t, f, "age", "gender", "pose", "landmarks", "execution_time")
		hasNot(t, f, "embedding", "subjects", "similarity")
	}
	pv := obj(t, m["plugins_versions"])
	has(t, pv, "detector", "age", "gender", "landmarks", "pose")
	hasNot(t, pv, "calculator")
	r = do(t, "POST", cf("/api/v1/detection/detect?limit=1"), key("detection"), jsonBody(t, map[string]string{"file": b64(srv.Photo("pristin.jpg"))}), "application/json")
	wantStatus(t, r, 200)
	if n := len(arr(t, r.json(t)["result"])); n != 1 {
		t.Fatalf("limit=1: %d", n)
	}
	r = postFile(t, "detection", "/api/v1/detection/detect?det_prob_threshold=abc", "joy.jpg", srv.Photo("joy.jpg"))
	cfErr(t, r, 400, 36, "between 0.0 and 1.0")
}

func TestCompreFaceVerification(t *testing.T) {
	body, ct := multipartOf(t, nil, part{"source_image", "tzuyu.jpg", srv.Photo("tzuyu.jpg")}, part{"target_image", "tzuyu2.jpg", srv.Photo("tzuyu2.jpg")})
	r := do(t, "POST", cf("/api/v1/verification/verify?face_plugins=gender&status=true"), key("verification"), body, ct)
	wantStatus(t, r, 200)
	item := obj(t, arr(t, r.json(t)["result"])[0])
	has(t, item, "source_image_face", "face_matches", "plugins_versions")
	src := obj(t, item["source_image_face"])
	checkBox(t, src)
	has(t, src, "gender", "execution_time")
	match := obj(t, arr(t, item["face_matches"])[0])
	checkBox(t, match)
	has(t, match, "similarity", "gender")
	same := num(t, match["similarity"])
	r = do(t, "POST", cf("/api/v1/verification/verify"), key("verification"),
		jsonBody(t, map[string]string{"source_image": b64(srv.Photo("tzuyu.jpg")), "target_image": b64(srv.Photo("joy.jpg"))}), "application/json")
	wantStatus(t, r, 200)
	diff := num(t, obj(t, arr(t, obj(t, arr(t, r.json(t)["result"])[0])["face_matches"])[0])["similarity"])
	if same < 0.5 || diff > 0.5 {
		t.Fatalf("same %.3f different %.3f", same, diff)
	}
	// Every face of a group target, best first.
	body, ct = multipartOf(t, nil, part{"source_image", "joy.jpg", srv.Photo("joy.jpg")}, part{"target_image", "pristin.jpg", srv.Photo("pristin.jpg")})
	r = do(t, "POST", cf("/api/v1/verification/verify?limit=3"), key("verification"), body, ct)
	wantStatus(t, r, 200)
	ms := arr(t, obj(t, arr(t, r.json(t)["result"])[0])["face_matches"])
	if len(ms) != 3 || num(t, obj(t, ms[0])["similarity"]) < num(t, obj(t, ms[2])["similarity"]) {
		t.Fatalf("group target: %s", short(ms))
	}
	body, ct = multipartOf(t, nil, part{"source_image", "pristin.jpg", srv.Photo("pristin.jpg")}, part{"target_image", "joy.jpg", srv.Photo("joy.jpg")})
	r = do(t, "POST", cf("/api/v1/verification/verify"), key("verification"), body, ct)
	cfErr(t, r, 400, 31, "More than one face in the source image")
	body, ct = multipartOf(t, nil, part{"source_image", "joy.jpg", srv.Photo("joy.jpg")})
	r = do(t, "POST", cf("/api/v1/verification/verify"), key("verification"), body, ct)
	cfErr(t, r, 400, 34, "'target_image'")
}

// TestCompreFaceFormats sends one face in every listed format: the engine
// reads JPEG, PNG, BMP and TIFF; GIF and ICO are converted to PNG first.
func TestCompreFaceFormats(t *testing.T) {
	src, err := jpeg.Decode(bytes.NewReader(srv.Photo("joy.jpg")))
	if err != nil {
		t.Fatal(err)
	}
	small := scale(src, 480)
	enc := map[string][]byte{}
	var buf bytes.Buffer
	_ = png.Encode(&buf, small)
	enc["png"] = bytes.Clone(buf.Bytes())
	buf.Reset()
	_ = gif.Encode(&buf, small, nil)
	enc["gif"] = bytes.Clone(buf.Bytes())
	buf.Reset()
	_ = bmp.Encode(&buf, small)
	enc["bmp"] = bytes.Clone(buf.Bytes())
	buf.Reset()
	_ = tiff.Encode(&buf, small, nil)
	enc["tiff"] = bytes.Clone(buf.Bytes())
	enc["tif"] = enc["tiff"]
	enc["jpeg"] = srv.Photo("joy.jpg")
	enc["ico"] = icoOf(t, scale(src, 256), false)
	enc["ico-bmp"] = icoOf(t, scale(src, 256), true)
	for name, data := range enc {
		ext := strings.TrimSuffix(name, "-bmp")
		r := postFile(t, "detection", "/api/v1/detection/detect", "face."+ext, data)
		if r.status != 200 || len(arr(t, r.json(t)["result"])) != 1 {
			t.Errorf("%s: %d %.200s", name, r.status, r.body)
		}
	}
	// An unreadable file with a listed extension is a 400, never a 500: a
	// GIF declaring 16x16 whose data is cut short...
	r := postFile(t, "detection", "/api/v1/detection/detect", "broken.gif", []byte("GIF89a\x10\x00\x10\x00\x00\x00\x00 broken"))
	cfErr(t, r, 400, 0, "could not be decoded")
	// ...and one whose header declares 716 megapixels is too large, as
	// its header is all that is read.
	r = postFile(t, "detection", "/api/v1/detection/detect", "broken.gif", []byte("GIF89a broken"))
	cfErr(t, r, 400, 0, "Image too large: gif image declares 25120x28530 pixels")
	r = postFile(t, "detection", "/api/v1/detection/detect", "broken.webp", []byte("RIFF\x10\x00\x00\x00WEBPVP8 junk"))
	cfErr(t, r, 400, 0, "could not be decoded")
}

func blankPNG() []byte {
	img := image.NewGray(image.Rect(0, 0, 320, 240))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	return buf.Bytes()
}

func scale(src image.Image, w int) image.Image {
	b := src.Bounds()
	h := b.Dy() * w / b.Dx()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	return dst
}

// cropFace cuts the detected face (box grown by 10%) out of a photo.
func cropFace(t *testing.T, name string) []byte {
	t.Helper()
	r := postFile(t, "detection", "/api/v1/detection/detect?limit=1", name, srv.Photo(name))
	wantStatus(t, r, 200)
	box := obj(t, obj(t, arr(t, r.json(t)["result"])[0])["box"])
	src, err := jpeg.Decode(bytes.NewReader(srv.Photo(name)))
	if err != nil {
		t.Fatal(err)
	}
	x0, y0, x1, y1 := int(num(t, box["x_min"])), int(num(t, box["y_min"])), int(num(t, box["x_max"])), int(num(t, box["y_max"]))
	dx, dy := (x1-x0)/10, (y1-y0)/10
	rect := image.Rect(x0-dx, y0-dy, x1+dx, y1+dy).Intersect(src.Bounds())
	dst := image.NewRGBA(image.Rect(0, 0, rect.Dx(), rect.Dy()))
	draw.Copy(dst, image.Point{}, src, rect, draw.Src, nil)
	var buf bytes.Buffer
	_ = png.Encode(&buf, dst)
	return buf.Bytes()
}

// icoOf builds a one-image ICO: a PNG entry, or a 32-bit BMP (DIB) entry
// with its AND mask.
func icoOf(t *testing.T, img image.Image, dib bool) []byte {
	t.Helper()
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	var data []byte
	if !dib {
		var buf bytes.Buffer
		_ = png.Encode(&buf, img)
		data = buf.Bytes()
	} else {
		hdr := make([]byte, 40)
		binary.LittleEndian.PutUint32(hdr[0:], 40)
		binary.LittleEndian.PutUint32(hdr[4:], uint32(w))
		binary.LittleEndian.PutUint32(hdr[8:], uint32(2*h))
		binary.LittleEndian.PutUint16(hdr[12:], 1)
		binary.LittleEndian.PutUint16(hdr[14:], 32)
		data = hdr
		for y := h - 1; y >= 0; y-- {
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				data = append(data, c.B, c.G, c.R, 0) // alpha 0: the AND mask decides
			}
		}
		data = append(data, make([]byte, ((w+31)/32*4)*h)...)
	}
	out := []byte{0, 0, 1, 0, 1, 0}
	ent := make([]byte, 16)
	ent[0], ent[1] = byte(w%256), byte(h%256)
	binary.LittleEndian.PutUint16(ent[4:], 1)
	binary.LittleEndian.PutUint16(ent[6:], 32)
	binary.LittleEndian.PutUint32(ent[8:], uint32(len(data)))
	binary.LittleEndian.PutUint32(ent[12:], 22)
	out = append(out, ent...)
	return append(out, data...)
}

func mustPNG(t *testing.T, name string) []byte {
	t.Helper()
	src, err := jpeg.Decode(bytes.NewReader(srv.Photo(name)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, scale(src, 640))
	return buf.Bytes()
}
