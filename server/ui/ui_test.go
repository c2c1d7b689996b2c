package ui

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"vizor/bindings"
	"vizor/server"
	"vizor/server/service"
)

// bare is a flavour with one route, to see that With keeps it.
type bare struct{}

func (bare) Routes() []server.Route {
	return []server.Route{{Method: "GET", Path: "/health", Name: "health", Handler: func(*fasthttp.RequestCtx) {}}}
}
func (bare) WriteError(*fasthttp.RequestCtx, int, string, string) {}

func route(t *testing.T, fl server.Flavour, method, path string) server.Route {
	t.Helper()
	for _, r := range fl.Routes() {
		if r.Method == method && r.Path == path {
			return r
		}
	}
	t.Fatalf("no route %s %s", method, path)
	return server.Route{}
}

func serve(r server.Route, body []byte) *fasthttp.RequestCtx {
	ctx := &fasthttp.RequestCtx{}
	ctx.Request.SetBody(body)
	r.Handler(ctx)
	return ctx
}

func TestRoutesKeepTheFlavourAndServeEveryAsset(t *testing.T) {
	fl := With(bare{}, nil)
	route(t, fl, "GET", "/health")
	for _, c := range []struct{ path, ctype, has string }{
		{"/ui/", "text/html", `<script src="/ui/app.js"`},
		{"/ui/index.html", "text/html", "Vizor console"},
		{"/ui/app.js", "javascript", "x-api-key"},
		{"/ui/app.css", "text/css", "#result"},
	} {
		r := route(t, fl, "GET", c.path)
		if r.Op != "" {
			t.Errorf("%s needs op %q: the page must load before a key is typed", c.path, r.Op)
		}
		ctx := serve(r, nil)
		if ctx.Response.StatusCode() != 200 || !strings.Contains(string(ctx.Response.Header.ContentType()), c.ctype) ||
			!strings.Contains(string(ctx.Response.Body()), c.has) {
			t.Errorf("%s: %d %s", c.path, ctx.Response.StatusCode(), ctx.Response.Header.ContentType())
		}
		csp := string(ctx.Response.Header.Peek("Content-Security-Policy"))
		if !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("%s: CSP %q", c.path, csp)
		}
	}
	ctx := serve(route(t, fl, "GET", "/ui"), nil)
	if ctx.Response.StatusCode() != 301 || string(ctx.Response.Header.Peek("Location")) != "/ui/" {
		t.Errorf("/ui: %d %q", ctx.Response.StatusCode(), ctx.Response.Header.Peek("Location"))
	}
	for _, r := range fl.Routes() {
		if r.Path == DetectPath {
			t.Error("detect route without a detector")
		}
	}
}

// No asset may load anything from another origin (the console works
// offline and leaks nothing to a CDN).
func TestAssetsAreSelfContained(t *testing.T) {
	for _, name := range []string{"index.html", "app.js", "app.css"} {
		b, err := assets.ReadFile("assets/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s contains %q", name, bad)
			}
		}
	}
}

func TestDetectShapesFacesAndMapsErrors(t *testing.T) {
	faces := []bindings.Face{
		{Box: bindings.Rect{X: 10, Y: 20, W: 100, H: 120}, DetScore: 0.99, Liveness: 0.8, Quality: &bindings.Quality{Score: 0.7},
			Landmarks5: []bindings.Point{{X: 40, Y: 60}, {X: 80, Y: 60}, {X: 60, Y: 80}, {X: 45, Y: 100}, {X: 75, Y: 100}},
			Template:   []float32{0.1, 0.2}},
		{Box: bindings.Rect{X: 200, Y: 20, W: 30, H: 30}, DetScore: 0.95, Liveness: -1},
	}
	var err error
	det := func(ctx context.Context, img []byte) (int, int, []bindings.Face, error) {
		return 640, 480, faces, err
	}
	r := route(t, With(bare{}, det), "POST", DetectPath)
	if r.Op != service.OpSearch || !r.Limited {
		t.Fatalf("detect route: op %q limited %v", r.Op, r.Limited)
	}
	ctx := serve(r, []byte("jpeg"))
	var out struct {
		Width, Height int
		Faces         []map[string]any
	}
	if ctx.Response.StatusCode() != 200 || json.Unmarshal(ctx.Response.Body(), &out) != nil {
		t.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	body := string(ctx.Response.Body())
	if out.Width != 640 || len(out.Faces) != 2 || strings.Contains(body, "template") {
		t.Fatalf("answer: %s", body)
	}
	if lm := out.Faces[0]["landmarks"].([]any); len(lm) != 5 || out.Faces[0]["liveness"] != 0.8 || out.Faces[0]["quality"] != 0.7 {
		t.Errorf("face 0: %v", out.Faces[0])
	}
	if _, ok := out.Faces[1]["liveness"]; ok {
		t.Errorf("liveness not computed must be absent: %v", out.Faces[1])
	}

	ctx = serve(r, nil)
	if ctx.Response.StatusCode() != 400 || !strings.Contains(string(ctx.Response.Body()), "missing_image") {
		t.Errorf("empty body: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{&service.Error{Kind: service.ErrBadImage, Msg: "image could not be decoded"}, 400, "bad_image"},
		{&service.Error{Kind: service.ErrImageTooLarge, Msg: "too large"}, 413, "image_too_large"},
		{&service.Error{Kind: service.ErrUnavailable, Msg: "engine closed"}, 503, "unavailable"},
		{errors.New("boom"), 500, "internal"},
	} {
		err = c.err
		ctx = serve(r, []byte("x"))
		if ctx.Response.StatusCode() != c.status || !strings.Contains(string(ctx.Response.Body()), `"code":"`+c.code+`"`) {
			t.Errorf("%v: %d %s", c.err, ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
}
