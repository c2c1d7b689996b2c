// Package e2e replays the requests of the CompreFace, Facenet512 and
// MassHealth API documents against the real vizor binary (one server for
// the whole package, all three listeners on), with the shared photos, and
// drives CompreFace's official JavaScript SDK with Node.js.
package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"vizor/internal/faceset"
	"vizor/server/compat/compattest"
	"vizor/server/openapi"
	"vizor/server/openapi/openapitest"
)

var srv *compattest.Server

func TestMain(m *testing.M) {
	if _, err := faceset.Dir(); err != nil {
		fmt.Fprintln(os.Stderr, "compat e2e:", err)
		os.Exit(1)
	}
	var err error
	srv, err = compattest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat e2e:", err)
		os.Exit(1)
	}
	validating.Bind(srv.Main, openapi.XMLAPI)
	validating.Bind(srv.CompreFace, openapi.CompreFace)
	validating.Bind(srv.Facenet, openapi.Facenet512)
	validating.Bind(srv.MassHealth, openapi.MassHealth)
	code := m.Run()
	for _, name := range openapi.Names {
		if d, err := openapitest.Load(name); err == nil {
			n, refused := d.Counts()
			fmt.Printf("openapi: %d exchanges matched %s (%d of them requests it refuses, refused by the server)\n", n, name, refused)
		}
	}
	if err := srv.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "compat e2e:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// validating checks every request the tests send and every answer they
// get against the OpenAPI document of the listener it goes to (bound in
// TestMain): a disagreement fails the round trip, hence the test.
var validating = &openapitest.Transport{}

var client = &http.Client{Timeout: 120 * time.Second, Transport: validating}

type resp struct {
	status int
	body   []byte
	hdr    http.Header
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body not a JSON object: %v: %.300s", r.status, err, r.body)
	}
	return m
}

func do(t *testing.T, method, url string, hdr map[string]string, body []byte, ct string) resp {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, body: b, hdr: res.Header}
}

type part struct {
	field, filename string
	data            []byte
}

func multipartOf(t *testing.T, fields map[string]string, files ...part) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range files {
		fw, err := w.CreateFormFile(f.field, f.filename)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(f.data)
	}
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	_ = w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

func jsonBody(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func wantStatus(t *testing.T, r resp, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d: %.400s", r.status, want, r.body)
	}
}

func num(t *testing.T, v any) float64 {
	t.Helper()
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("not a number: %#v", v)
	}
	return f
}

func obj(t *testing.T, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("not an object: %#v", v)
	}
	return m
}

func arr(t *testing.T, v any) []any {
	t.Helper()
	a, ok := v.([]any)
	if !ok {
		t.Fatalf("not an array: %.200v", v)
	}
	return a
}

func has(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Fatalf("field %q missing in %s", k, short(m))
		}
	}
}

func hasNot(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; ok {
			t.Fatalf("field %q present in %s", k, short(m))
		}
	}
}

func short(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return strings.ReplaceAll(s, "\n", " ")
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
