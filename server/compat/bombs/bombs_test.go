// Package bombs sends a generated corpus of decompression bombs and
// contradictory image headers (compattest.Bombs) to every image-taking
// endpoint of every listener of the real vizor binary (the XML API,
// CompreFace, Facenet512, MassHealth) and checks that each is refused with
// a 4xx and a reason, that the server's peak resident memory grows by less
// than 256 MB for any one request, and that the server is healthy after.
package bombs

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"vizor/internal/faceset"
	"vizor/internal/procstat"
	"vizor/server/compat/compattest"
)

// budget is the bound on the peak RSS growth of one request.
const budget = 256 << 20

type req struct {
	method, url, ctype string
	hdr                map[string]string
	body               []byte
}

// endpoint builds the request that carries bomb b where the endpoint takes
// its image, and judges the answer.
type endpoint struct {
	name  string
	build func(b compattest.Bomb) req
	// check returns "" when the answer is a proper refusal, else why not.
	check func(status int, body []byte) string
}

// refused: a 4xx whose body names a reason.
func refused(status int, body []byte) string {
	if status < 400 || status >= 500 {
		return fmt.Sprintf("status %d, want 4xx", status)
	}
	if !hasReason(body) {
		return "no reason in the body"
	}
	return ""
}

var reasons = []string{"too large", "larger than", "over the limit", "contradictory", "decode", "header",
	"aspect", "tile", "unsupported", "not supported", "invalid image", "Error processing image"}

func hasReason(body []byte) bool {
	s := strings.ToLower(string(body))
	for _, r := range reasons {
		if strings.Contains(s, strings.ToLower(r)) {
			return true
		}
	}
	return false
}

// inResult: a 200 that reports the image's failure inside (MassHealth's
// batch and per-user endpoints answer per image).
func inResult(field string) func(int, []byte) string {
	return func(status int, body []byte) string {
		if status != 200 {
			return fmt.Sprintf("status %d, want 200 with a per-image error", status)
		}
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			return "body not JSON"
		}
		items, _ := m[field].([]any)
		if len(items) == 0 {
			return "no " + field
		}
		it, _ := items[0].(map[string]any)
		e, _ := it["reason"].(string)
		if e == "" {
			e, _ = it["error"].(string)
		}
		if e == "" || !hasReason([]byte(e)) {
			return fmt.Sprintf("item 0 carries no reason: %.200s", body)
		}
		return ""
	}
}

func multipartBody(t *testing.T, fields map[string]string, files map[string][2]any) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for field, f := range files {
		fw, err := w.CreateFormFile(field, f[0].(string))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(f[1].([]byte))
	}
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	_ = w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

func jsonOf(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

var client = &http.Client{Timeout: 90 * time.Second}

func send(r req) (int, []byte, error) {
	hr, err := http.NewRequest(r.method, r.url, bytes.NewReader(r.body))
	if err != nil {
		return 0, nil, err
	}
	if r.ctype != "" {
		hr.Header.Set("Content-Type", r.ctype)
	}
	for k, v := range r.hdr {
		hr.Header.Set(k, v)
	}
	res, err := client.Do(hr)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// mustOK sends r and wants a 2xx.
func mustOK(t *testing.T, what string, r req) []byte {
	t.Helper()
	st, b, err := send(r)
	if err != nil || st/100 != 2 {
		t.Fatalf("%s: %d %v %.300s", what, st, err, b)
	}
	return b
}

func TestBombsOverEveryListener(t *testing.T) {
	faceset.TestDirs(t)
	srv, err := compattest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	}()
	pid := srv.Pid()
	photo := srv.Photo("jimin6.jpg")
	b64 := base64.StdEncoding.EncodeToString
	rec, ver, det := srv.Keys["recognition"], srv.Keys["verification"], srv.Keys["detection"]
	key := func(k string) map[string]string { return map[string]string{"x-api-key": k} }

	// What the endpoints that need a stored face compare against.
	body, ct := multipartBody(t, nil, map[string][2]any{"file": {"jimin6.jpg", photo}})
	var added struct {
		ImageID string `json:"image_id"`
	}
	_ = json.Unmarshal(mustOK(t, "compreface add", req{"POST", srv.CompreFace + "/api/v1/recognition/faces?subject=ref", ct, key(rec), body}), &added)
	body, ct = multipartBody(t, nil, map[string][2]any{"image": {"jimin6.jpg", photo}})
	var fnRef struct {
		Key string `json:"key"`
	}
	_ = json.Unmarshal(mustOK(t, "facenet upload", req{"POST", srv.Facenet + "/upload_reference", ct, nil, body}), &fnRef)
	mustOK(t, "masshealth upload", req{"POST", srv.MassHealth + "/upload_verification_images", "application/json", nil,
		jsonOf(map[string]any{"userId": "ref", "images": []string{b64(photo)}})})
	mustOK(t, "xml enrol", req{"POST", srv.Main + "/api/v1/enrol", "application/json", nil,
		jsonOf(map[string]any{"subject_id": "ref", "image": b64(photo)})})

	file := func(url string, k map[string]string, field string, extra map[string]string) func(compattest.Bomb) req {
		return func(b compattest.Bomb) req {
			files := map[string][2]any{field: {"bomb." + b.Ext, b.Data}}
			if field == "source_image" {
				files["target_image"] = [2]any{"jimin6.jpg", photo}
			}
			body, ct := multipartBody(t, extra, files)
			return req{"POST", url, ct, k, body}
		}
	}
	// Facenet512 accepts only .jpg/.jpeg/.png names: an attacker renames.
	fnFile := func(url string, extra map[string]string) func(compattest.Bomb) req {
		return func(b compattest.Bomb) req {
			body, ct := multipartBody(t, extra, map[string][2]any{"image": {"bomb.png", b.Data}})
			return req{"POST", url, ct, nil, body}
		}
	}
	js := func(url string, v func(b64 string) any) func(compattest.Bomb) req {
		return func(b compattest.Bomb) req {
			return req{"POST", url, "application/json", nil, jsonOf(v(b64(b.Data)))}
		}
	}
	cf := srv.CompreFace + "/api/v1"
	endpoints := []endpoint{
		{"xml/search", js(srv.Main+"/api/v1/search", func(s string) any { return map[string]any{"image": s} }), refused},
		{"xml/verify", js(srv.Main+"/api/v1/verify", func(s string) any { return map[string]any{"image": s, "subject_id": "ref"} }), refused},
		{"xml/enrol", js(srv.Main+"/api/v1/enrol", func(s string) any { return map[string]any{"image": s, "subject_id": "bomb"} }), refused},
		{"compreface/faces", file(cf+"/recognition/faces?subject=bomb", key(rec), "file", nil), refused},
		{"compreface/recognize", file(cf+"/recognition/recognize", key(rec), "file", nil), refused},
		{"compreface/face-verify", file(cf+"/recognition/faces/"+added.ImageID+"/verify", key(rec), "file", nil), refused},
		{"compreface/detect", file(cf+"/detection/detect", key(det), "file", nil), refused},
		{"compreface/detect-cropped", file(cf+"/detection/detect?detect_faces=false", key(det), "file", nil), refused},
		{"compreface/verification", file(cf+"/verification/verify", key(ver), "source_image", nil), refused},
		{"compreface/faces-base64", func(b compattest.Bomb) req {
			return req{"POST", cf + "/recognition/faces?subject=bomb", "application/json", key(rec), jsonOf(map[string]string{"file": b64(b.Data)})}
		}, refused},
		{"facenet/upload_reference", fnFile(srv.Facenet+"/upload_reference", nil), refused},
		{"facenet/compare_with_reference", fnFile(srv.Facenet+"/compare_with_reference", map[string]string{"reference_key": fnRef.Key}), refused},
		{"masshealth/compare", js(srv.MassHealth+"/compare", func(s string) any { return map[string]any{"image1": s, "image2": b64(photo)} }), refused},
		{"masshealth/upload", js(srv.MassHealth+"/upload_verification_images", func(s string) any { return map[string]any{"userId": "bomb", "images": []string{s}} }), refused},
		{"masshealth/batch_compare", js(srv.MassHealth+"/batch_compare", func(s string) any {
			return map[string]any{"pairs": []map[string]string{{"image1": s, "image2": b64(photo)}}}
		}), inResult("detailed_results")},
		{"masshealth/verify_user", js(srv.MassHealth+"/verify_user", func(s string) any { return map[string]any{"userId": "ref", "images": []string{s}} }), inResult("detailed_comparisons")},
	}

	resetWorks := procstat.ResetPeakRSS(pid) == nil
	t.Logf("measuring processes %v (server and engine workers)", procstat.Tree(pid))
	if !resetWorks {
		t.Log("clear_refs not writable: sampling VmRSS every 2 ms instead of reading VmHWM")
	}
	var worst int64
	var worstName string
	for _, b := range compattest.Bombs() {
		engineFailed := false
		for _, ep := range endpoints {
			name := b.Name + "@" + ep.name
			if engineFailed {
				t.Errorf("%s: skipped, the engine did not refuse this bomb on an earlier endpoint", name)
				continue
			}
			r := ep.build(b)
			growth, st, body, took, err := measure(pid, resetWorks, func() (int, []byte, error) { return send(r) })
			if err != nil {
				t.Fatalf("%s: %v (server alive: %v)\n%s", name, err, procstat.Running(pid), tail(srv.Log()))
			}
			if growth > worst {
				worst, worstName = growth, name
			}
			if b.Engine {
				t.Logf("%s: %d in %v: %.160s", name, st, took.Round(time.Millisecond), body)
			}
			why := ep.check(st, body)
			if growth > budget {
				why = strings.TrimPrefix(why+"; ", "; ") + fmt.Sprintf("peak RSS grew by %d MB (budget %d MB)", growth>>20, budget>>20)
			}
			if why != "" {
				t.Errorf("%s: %s (%v): %.300s", name, why, took.Round(time.Millisecond), body)
				if b.Engine {
					engineFailed = true
				}
			}
		}
	}
	t.Logf("largest peak RSS growth of one request: %d MB (%s)", worst>>20, worstName)
	if !procstat.Running(pid) {
		t.Fatalf("server died\n%s", tail(srv.Log()))
	}
	mustOK(t, "health after the corpus", req{"GET", srv.Main + "/health", "", nil, nil})
	mustOK(t, "masshealth health after the corpus", req{"GET", srv.MassHealth + "/health", "", nil, nil})
	// And it still does its job.
	growth, st, b, _, err := measure(pid, resetWorks, func() (int, []byte, error) {
		return send(req{"POST", srv.Main + "/api/v1/search", "application/json", nil,
			jsonOf(map[string]any{"image": b64(srv.Photo("jimin7.jpg"))})})
	})
	if err != nil || st != 200 {
		t.Fatalf("search after the corpus: %d %v %.300s", st, err, b)
	}
	t.Logf("a real search after the corpus: peak RSS growth %d MB", growth>>20)
}

// measure runs fn and returns how far the resident memory of the server
// and its engine workers peaked above where it stood before: each
// process's peak (VmHWM, reset first) less its RSS before, summed, which
// bounds the growth of the total from above. Without clear_refs it samples
// VmRSS every 2 ms instead.
func measure(pid int, useHWM bool, fn func() (int, []byte, error)) (int64, int, []byte, time.Duration, error) {
	pids := procstat.Tree(pid)
	before := map[int]int64{}
	for _, p := range pids {
		v, err := procstat.StatusKB(p, "VmRSS")
		if err != nil && p == pid {
			return 0, 0, nil, 0, err
		}
		before[p] = v
	}
	sample := func(field string) (growth int64) {
		for _, p := range procstat.Tree(pid) {
			if v, err := procstat.StatusKB(p, field); err == nil {
				growth += v - before[p] // a process born meanwhile counts whole
			}
		}
		return growth
	}
	var peak atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	if useHWM {
		for _, p := range pids {
			_ = procstat.ResetPeakRSS(p)
		}
		close(done)
	} else {
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
				if g := sample("VmRSS"); g > peak.Load() {
					peak.Store(g)
				}
			}
		}()
	}
	t0 := time.Now()
	st, body, err := fn()
	took := time.Since(t0)
	close(stop)
	<-done
	if useHWM {
		peak.Store(sample("VmHWM"))
	}
	return peak.Load() << 10, st, body, took, err
}

func tail(s string) string {
	if len(s) > 3000 {
		return "..." + s[len(s)-3000:]
	}
	return s
}
