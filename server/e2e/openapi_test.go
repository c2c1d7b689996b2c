package e2e

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"vizor/internal/faceset"
	"vizor/server/openapi"
	"vizor/server/openapi/openapitest"
	"vizor/server/xmlapi/xmltest"
)

// The listener serves its document byte for byte, and the /docs page.
func TestOpenAPIServed(t *testing.T) {
	r := do(t, "GET", srv0.url+"/openapi.json", "", nil)
	if r.Status != 200 || !bytes.Equal(r.Body, openapi.Spec(openapi.XMLAPI)) {
		t.Fatalf("/openapi.json: %d, %d bytes", r.Status, len(r.Body))
	}
	r = do(t, "GET", srv0.url+"/docs", "", nil)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.Body), "openapi.json") {
		t.Fatalf("/docs: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	// /metrics in both of its documented formats.
	for accept, want := range map[string]string{"": "text/plain", "application/openmetrics-text; version=1.0.0": "application/openmetrics-text"} {
		r, err := xmltest.Do(context.Background(), client, "GET", srv0.url+"/metrics", "", nil, "Accept", accept)
		if err != nil || r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), want) {
			t.Fatalf("/metrics (Accept %q): %v %d %q", accept, err, r.Status, r.Header.Get("Content-Type"))
		}
	}
}

// The XML Schema of the answers is served, and the suite's XML answers
// are checked against it (where xmllint is installed: scripts/deps.sh).
func TestXMLSchema(t *testing.T) {
	r := do(t, "GET", srv0.url+"/xmlapi.xsd", "", nil)
	if r.Status != 200 || !bytes.Equal(r.Body, openapi.XSD()) {
		t.Fatalf("/xmlapi.xsd: %d, %d bytes", r.Status, len(r.Body))
	}
	before := openapitest.XSDChecked()
	expectErr(t, post(t, srv0, "/api/v1/verify", map[string]any{"image": b64(photo(t, "bona.jpg")), "subject_id": "nobody", "partition": "xsd"}), 404, "")
	if err := openapitest.ValidateXSD([]byte("<x/>")); errors.Is(err, openapitest.ErrNoXmllint) {
		faceset.Missing(t, "xmllint (libxml2-utils: scripts/deps.sh)", err)
	}
	if openapitest.XSDChecked() == before {
		t.Fatal("an XML answer went unchecked against xmlapi.xsd")
	}
}

// A deliberately wrong answer fails the validation the suite relies on:
// the real server's answer to a real search, with one element dropped, a
// score made a word, or an undocumented element added, is refused; the
// same answer untouched passes.
func TestWrongResponseFailsValidation(t *testing.T) {
	if r := post(t, srv0, "/api/v1/enrol", map[string]any{"image": b64(photo(t, "bona.jpg")), "subject_id": "bona", "partition": "openapi-neg"}); r.Status != 200 {
		t.Fatalf("enrol: %d %s", r.Status, r.Body)
	}
	body := `{"image":"` + b64(photo(t, "bona2.jpg")) + `","partition":"openapi-neg","top_k":1}`
	send := func(edit func([]byte) []byte) error {
		c := &http.Client{Timeout: 60 * time.Second, Transport: &openapitest.Transport{
			Base: openapitest.Tamper{Base: http.DefaultTransport, Edit: edit}, Default: openapi.XMLAPI}}
		res, err := c.Post(srv0.url+"/api/v1/search", "application/json", strings.NewReader(body))
		if err == nil {
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("search: %d", res.StatusCode)
			}
		}
		return err
	}
	if err := send(func(b []byte) []byte { return b }); err != nil {
		t.Fatalf("the untouched answer fails: %v", err)
	}
	for name, edit := range map[string]func([]byte) []byte{
		"model_id dropped": func(b []byte) []byte {
			i, j := bytes.Index(b, []byte("<model_id>")), bytes.Index(b, []byte("</model_id>"))
			return append(append([]byte{}, b[:i]...), b[j+len("</model_id>"):]...)
		},
		"score a word": func(b []byte) []byte {
			return bytes.Replace(b, []byte("<quality_score>"), []byte("<quality_score>high"), 1)
		},
		"undocumented tag": func(b []byte) []byte {
			return bytes.Replace(b, []byte("<status>OK</status>"), []byte("<status>OK</status><debug>x</debug>"), 1)
		},
		"renamed root": func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("SearchResponse>"), []byte("SearchResult>")) },
		"status not OK": func(b []byte) []byte {
			return bytes.Replace(b, []byte("<status>OK</status>"), []byte("<status>ok</status>"), 1)
		},
	} {
		if err := send(edit); !openapitest.IsError(err) {
			t.Errorf("%s: not refused by the validator (%v)", name, err)
		}
	}
}
