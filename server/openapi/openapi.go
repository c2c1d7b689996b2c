// Package openapi holds Vizor's OpenAPI 3.1 documents, one per API flavour
// (specs/*.json, written by hand and embedded at build time), and serves
// them: GET /openapi.json answers the listener's document and GET /docs a
// self-contained page that renders it. The e2e suites validate every
// request they send and every response they get against these same files
// (openapitest), so a handler that drifts from its document fails a test.
package openapi

import (
	"embed"
	"fmt"
	"html"
	"strings"

	"github.com/valyala/fasthttp"
)

// The documents, by listener.
const (
	XMLAPI     = "xmlapi"     // main listener: the XML biometric API and the JSON utilities
	CompreFace = "compreface" // CompreFace REST API
	Facenet512 = "facenet512" // Facenet512 reference API
	MassHealth = "masshealth" // MassHealth face verification API
)

// Names lists every document.
var Names = []string{XMLAPI, CompreFace, Facenet512, MassHealth}

//go:embed specs/*.json specs/*.xsd
var specs embed.FS

//go:embed docs.html
var page string

// Spec returns the document name (one of Names) as JSON. It panics on an
// unknown name: the names are constants of this package, so that is a
// programming error, caught by the package's tests.
func Spec(name string) []byte {
	b, err := specs.ReadFile("specs/" + name + ".json")
	if err != nil {
		panic(fmt.Sprintf("openapi: no document %q", name))
	}
	return b
}

// Document serves the document name as /openapi.json.
func Document(name string) fasthttp.RequestHandler {
	b := Spec(name)
	return func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		// The document is public and static for the binary's life.
		ctx.Response.Header.Set("Cache-Control", "no-cache")
		ctx.SetBody(b)
	}
}

// XSD is the XML Schema of the XML API's answers (specs/xmlapi.xsd), the
// same shapes as the XML schemas of its OpenAPI document, for XML tools.
func XSD() []byte {
	b, err := specs.ReadFile("specs/xmlapi.xsd")
	if err != nil {
		panic("openapi: xmlapi.xsd is not embedded")
	}
	return b
}

// XMLSchema serves XSD as /xmlapi.xsd.
func XMLSchema() fasthttp.RequestHandler {
	b := XSD()
	return func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/xml; charset=utf-8")
		ctx.Response.Header.Set("Cache-Control", "no-cache")
		ctx.SetBody(b)
	}
}

// csp lets the page run its own inline script and style and fetch the
// document from the same origin, and nothing else: no CDN, no frames, no
// third-party requests.
const csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Page serves the /docs page for the document name: the page fetches
// openapi.json from the same listener and renders it in the browser.
func Page(name string) fasthttp.RequestHandler {
	title := "API"
	_ = Spec(name) // an unknown name fails at start-up, not on the first visit
	switch name {
	case XMLAPI:
		title = "Vizor biometric XML API"
	case CompreFace:
		title = "Vizor: CompreFace API"
	case Facenet512:
		title = "Vizor: Facenet512 API"
	case MassHealth:
		title = "Vizor: MassHealth API"
	}
	b := []byte(strings.ReplaceAll(page, "{{TITLE}}", html.EscapeString(title)))
	return func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/html; charset=utf-8")
		ctx.Response.Header.Set("Content-Security-Policy", csp)
		ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
		ctx.SetBody(b)
	}
}
