package openapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"vizor/server/openapi"
	"vizor/server/openapi/openapitest"
)

// Every document loads, is OpenAPI 3.1 and passes kin-openapi's document
// validation.
func TestDocumentsValid(t *testing.T) {
	for _, name := range openapi.Names {
		d, err := openapitest.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if d.T.Paths.Find("/openapi.json") == nil || d.T.Paths.Find("/docs") == nil {
			t.Errorf("%s: /openapi.json and /docs are not in the document", name)
		}
	}
}

func TestServeDocumentAndPage(t *testing.T) {
	for _, name := range openapi.Names {
		var ctx fasthttp.RequestCtx
		openapi.Document(name)(&ctx)
		var v map[string]any
		if err := json.Unmarshal(ctx.Response.Body(), &v); err != nil || v["openapi"] != "3.1.0" {
			t.Fatalf("%s: /openapi.json: %v %.100s", name, err, ctx.Response.Body())
		}
		if ct := string(ctx.Response.Header.ContentType()); ct != "application/json" {
			t.Errorf("%s: content type %q", name, ct)
		}
		var page fasthttp.RequestCtx
		openapi.Page(name)(&page)
		body := string(page.Response.Body())
		csp := string(page.Response.Header.Peek("Content-Security-Policy"))
		if !strings.Contains(body, `fetch("openapi.json")`) || strings.Contains(body, "{{TITLE}}") || !strings.Contains(csp, "default-src 'none'") {
			t.Fatalf("%s: /docs page or its CSP is wrong: %q", name, csp)
		}
		// No asset comes from anywhere but this page and this listener.
		for _, bad := range []string{"http://", "https://", "//cdn", "<script src", "<link "} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: /docs page refers to %q", name, bad)
			}
		}
	}
}

func TestUnknownDocumentPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for an unknown document")
		}
	}()
	openapi.Spec("nope")
}
