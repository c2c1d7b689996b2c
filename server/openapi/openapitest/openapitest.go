// Package openapitest checks HTTP traffic against Vizor's OpenAPI
// documents (server/openapi) with kin-openapi, for the e2e suites: a
// Transport wraps a client's transport and validates every request it
// sends and every response it gets, so the documents cannot drift from
// the handlers unnoticed.
package openapitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"vizor/server/openapi"
)

func init() {
	openapi3filter.RegisterBodyDecoder("application/xml", xmlDecoder)
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/openmetrics-text", openapi3filter.PlainBodyDecoder)
	// Image bodies (CompreFace's image download, the console's detection
	// call) are opaque bytes to the document.
	for _, t := range []string{"jpeg", "png", "gif", "webp", "bmp", "tiff", "x-icon", "vnd.microsoft.icon"} {
		openapi3filter.RegisterBodyDecoder("image/"+t, openapi3filter.FileBodyDecoder)
	}
}

// Doc is one loaded and validated document with its router.
type Doc struct {
	Name    string
	T       *openapi3.T
	router  routers.Router
	checked int64
	refused int64
}

var (
	docsMu sync.Mutex
	docs   = map[string]*Doc{}
)

// Load parses the embedded document name, checks it against the OpenAPI
// 3.1 rules (kin-openapi's Validate) and builds its router.
func Load(name string) (*Doc, error) {
	docsMu.Lock()
	defer docsMu.Unlock()
	if d := docs[name]; d != nil {
		return d, nil
	}
	l := openapi3.NewLoader()
	t, err := l.LoadFromData(openapi.Spec(name))
	if err != nil {
		return nil, fmt.Errorf("openapi %s: %w", name, err)
	}
	if !t.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("openapi %s: version %q, want 3.1", name, t.OpenAPI)
	}
	if err := t.Validate(l.Context); err != nil {
		return nil, fmt.Errorf("openapi %s: invalid document: %w", name, err)
	}
	// The documents name no servers (they are served by the listener they
	// describe); the router matches paths on any host.
	r, err := legacy.NewRouter(t)
	if err != nil {
		return nil, fmt.Errorf("openapi %s: router: %w", name, err)
	}
	d := &Doc{Name: name, T: t, router: r}
	docs[name] = d
	return d, nil
}

// MustLoad is Load that panics (for package-level test variables).
func MustLoad(name string) *Doc {
	d, err := Load(name)
	if err != nil {
		panic(err)
	}
	return d
}

// Has reports whether the document has an operation for method on path
// (a concrete path, or a route pattern whose {name} segments are filled in).
func (d *Doc) Has(method, path string) bool {
	path = paramSeg.ReplaceAllString(path, "x")
	req, err := http.NewRequest(method, "http://127.0.0.1"+path, nil)
	if err != nil {
		return false
	}
	_, _, err = d.router.FindRoute(req)
	return err == nil
}

var paramSeg = regexp.MustCompile(`\{[^/}]+\}`)

// Error is a validation failure: the request or the response disagrees
// with the document.
type Error struct {
	Doc, Method, Path string
	Status            int // 0 for a request failure
	Err               error
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("openapi %s: request %s %s: %v", e.Doc, e.Method, e.Path, e.Err)
	}
	return fmt.Sprintf("openapi %s: response %d to %s %s: %v", e.Doc, e.Status, e.Method, e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

func options() *openapi3filter.Options {
	return &openapi3filter.Options{
		// Keys are the server's business: the document says where they go.
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		// Every status a handler answers must be listed (or a default).
		IncludeResponseStatus: true,
		MultiError:            false,
	}
}

// Exchange validates one request and its response against d.
//
// A request the document rejects (the tests send malformed ones on
// purpose) must be refused with a 4xx, whose body is then validated like
// any other; a request to a path or method the document does not have must
// be answered 404 or 405. Everything else must match the document.
func (d *Doc) Exchange(req *http.Request, reqBody []byte, status int, hdr http.Header, body []byte) error {
	fail := func(st int, err error) error {
		return &Error{Doc: d.Name, Method: req.Method, Path: req.URL.Path, Status: st, Err: err}
	}
	if req.Method == http.MethodHead || req.Method == http.MethodOptions {
		return nil
	}
	route, params, err := d.router.FindRoute(req)
	if err != nil {
		if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
			return nil
		}
		return fail(status, fmt.Errorf("not in the document (%v), yet answered %d", err, status))
	}
	r2 := req.Clone(context.Background())
	r2.Body = io.NopCloser(bytes.NewReader(reqBody))
	in := &openapi3filter.RequestValidationInput{Request: r2, PathParams: params, Route: route, Options: options()}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	if reqErr != nil && (status < 400 || status >= 500) {
		return fail(0, fmt.Errorf("the document refuses this request (%w), yet it was answered %d", reqErr, status))
	}
	if reqErr != nil {
		atomic.AddInt64(&d.refused, 1)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: hdr,
		Body: io.NopCloser(bytes.NewReader(body)), Options: options()}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fail(status, fmt.Errorf("%w; body: %.300s", err, body))
	}
	// The XML API's answers also match its XML Schema (element order,
	// XSD types), where xmllint is installed.
	if d.Name == openapi.XMLAPI && route.Path != "/xmlapi.xsd" && strings.HasPrefix(hdr.Get("Content-Type"), "application/xml") {
		switch err := ValidateXSD(body); {
		case err == nil:
			atomic.AddInt64(&xsdChecked, 1)
		case !errors.Is(err, ErrNoXmllint):
			return fail(status, fmt.Errorf("%w; body: %.300s", err, body))
		}
	}
	atomic.AddInt64(&d.checked, 1)
	return nil
}

// Transport validates the traffic of an http.Client against the documents
// of the listeners it talks to (Bind), failing the round trip with an
// *Error when either side disagrees with its document.
type Transport struct {
	Base http.RoundTripper // nil: http.DefaultTransport
	// Default is the document of hosts not bound ("" leaves them unchecked).
	Default string

	mu    sync.Mutex
	ports map[string]string // port -> document
}

// Bind says that the listener at addr (a base URL such as
// "http://127.0.0.1:8080" or a "host:port") serves document name. The
// port alone identifies the listener, so that the same listener reached
// as 127.0.0.1, [::1] or localhost is checked against the same document.
func (t *Transport) Bind(addr, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ports == nil {
		t.ports = map[string]string{}
	}
	t.ports[portOf(addr)] = name
}

func portOf(addr string) string {
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		addr = u.Host
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return port
}

func (t *Transport) doc(u *url.URL) (*Doc, error) {
	t.mu.Lock()
	name, ok := t.ports[u.Port()]
	t.mu.Unlock()
	if !ok {
		name = t.Default
	}
	if name == "" {
		return nil, nil
	}
	return Load(name)
}

// maxBuffered bounds the request bodies the transport copies to validate;
// a larger body (the flood and limit tests send some on purpose) goes out
// unvalidated, its answer still checked against the document's errors.
const maxBuffered = 64 << 20

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	d, err := t.doc(req.URL)
	if err != nil || d == nil {
		if err != nil {
			return nil, err
		}
		return base.RoundTrip(req)
	}
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		if req.ContentLength < 0 || req.ContentLength > maxBuffered {
			return base.RoundTrip(req) // streamed or huge: not buffered
		}
		reqBody, err = io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(reqBody)), nil }
	}
	res, err := base.RoundTrip(req)
	if err != nil {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	if err := d.Exchange(req, reqBody, res.StatusCode, res.Header, body); err != nil {
		return nil, err
	}
	return res, nil
}

var xsdChecked int64

// XSDChecked is how many XML answers passed xmlapi.xsd in this process (0
// where xmllint is missing).
func XSDChecked() int64 { return atomic.LoadInt64(&xsdChecked) }

// IsError reports whether err is (or wraps) a validation failure.
func IsError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// Counts are how many exchanges passed validation and how many of them
// were requests the document refuses (answered with a documented 4xx).
func (d *Doc) Counts() (checked, refused int64) {
	return atomic.LoadInt64(&d.checked), atomic.LoadInt64(&d.refused)
}
