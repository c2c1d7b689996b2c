package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"vizor/server/openapi"
	"vizor/server/openapi/openapitest"
)

// Every listener serves its own document and the /docs page, without a
// key (Facenet512's original FastAPI service has both at these paths).
func TestOpenAPIServed(t *testing.T) {
	for _, c := range []struct{ base, name string }{
		{srv.Main, openapi.XMLAPI}, {srv.CompreFace, openapi.CompreFace},
		{srv.Facenet, openapi.Facenet512}, {srv.MassHealth, openapi.MassHealth},
	} {
		r := do(t, "GET", c.base+"/openapi.json", nil, nil, "")
		if r.status != 200 || !bytes.Equal(r.body, openapi.Spec(c.name)) {
			t.Fatalf("%s/openapi.json: %d, not the %s document", c.base, r.status, c.name)
		}
		r = do(t, "GET", c.base+"/docs", nil, nil, "")
		if r.status != 200 || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/html") {
			t.Fatalf("%s/docs: %d %s", c.base, r.status, r.hdr.Get("Content-Type"))
		}
	}
}

// A deliberately wrong answer of each compat listener, made from a real
// one, fails validation; the untouched answer passes.
func TestWrongResponseFailsValidation(t *testing.T) {
	for _, c := range []struct {
		base, name, path string
		hdr              map[string]string
		from, to         string
	}{
		{srv.Facenet, openapi.Facenet512, "/list_references", nil, `"count":`, `"count":"x","n":`},
		{srv.MassHealth, openapi.MassHealth, "/model_info", nil, `"model_loaded":`, `"model_loaded":"yes","x":`},
		{srv.CompreFace, openapi.CompreFace, "/api/v1/recognition/subjects", key("recognition"), `"subjects":`, `"subject_names":`},
	} {
		for _, wrong := range []bool{false, true} {
			tr := &openapitest.Transport{Base: openapitest.Tamper{Edit: func(b []byte) []byte {
				if wrong {
					return bytes.Replace(b, []byte(c.from), []byte(c.to), 1)
				}
				return b
			}}}
			tr.Bind(c.base, c.name)
			req, _ := http.NewRequest("GET", c.base+c.path, nil)
			for k, v := range c.hdr {
				req.Header.Set(k, v)
			}
			res, err := (&http.Client{Transport: tr}).Do(req)
			if err == nil {
				res.Body.Close()
			}
			if wrong != openapitest.IsError(err) {
				t.Errorf("%s %s (tampered %v): %v", c.name, c.path, wrong, err)
			}
		}
	}
}
