// Package ui is Vizor's web console: a page at /ui on the main (XML API)
// listener for trying the server with a photo. Its assets are plain
// HTML/CSS/JS embedded in the binary (no build step, nothing fetched from a
// CDN), and the page calls the listener's own endpoints (/api/v1/*,
// /partitions, /stats, /health) with the API key the user types in. The one
// thing the XML API does not give, every face with its box and landmarks,
// comes from the JSON endpoint POST /ui/api/detect added here.
//
// The console is a wrapper around a flavour: With adds its routes to the
// flavour's and leaves the error format to it.
package ui

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/valyala/fasthttp"

	"vizor/bindings"
	"vizor/server"
	"vizor/server/service"
)

//go:embed assets
var assets embed.FS

// Detector finds every face of an image (largest first) with its box,
// five landmarks, detection score, liveness (PAD) and quality. Errors wrap
// the service's sentinels (ErrBadImage, ErrImageTooLarge, ErrUnavailable,
// ...); an image without a face is not an error.
type Detector func(ctx context.Context, image []byte) (width, height int, faces []bindings.Face, err error)

// Prefix is where the console lives.
const Prefix = "/ui"

// DetectPath is the console's detection endpoint.
const DetectPath = Prefix + "/api/detect"

type console struct {
	server.Flavour
	detect Detector
}

// With returns fl with the console's routes added. detect may be nil: the
// page then shows photos without boxes.
func With(fl server.Flavour, detect Detector) server.Flavour {
	return &console{Flavour: fl, detect: detect}
}

// Routes implements server.Flavour: the flavour's routes, the page, its
// assets and the detection endpoint. The page and its assets are open (they
// hold no data; every call the page makes carries the user's key); the
// detection endpoint runs the engine, so it needs a key allowed to search.
func (c *console) Routes() []server.Route {
	rs := append([]server.Route(nil), c.Flavour.Routes()...)
	rs = append(rs,
		server.Route{Method: "GET", Path: Prefix, Name: "ui", Handler: redirect},
		server.Route{Method: "GET", Path: Prefix + "/", Name: "ui", Handler: asset("index.html")},
	)
	_ = fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := strings.TrimPrefix(p, "assets/")
		rs = append(rs, server.Route{Method: "GET", Path: Prefix + "/" + name, Name: "ui", Handler: asset(name)})
		return nil
	})
	if c.detect != nil {
		rs = append(rs, server.Route{Method: "POST", Path: DetectPath, Name: "ui_detect", Op: service.OpSearch, Limited: true, Handler: c.detectHandler})
	}
	return rs
}

func redirect(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("Location", Prefix+"/")
	ctx.SetStatusCode(fasthttp.StatusMovedPermanently)
}

// asset serves one embedded file. The page is small and changes with the
// binary, so it is never cached across versions: no-cache makes the browser
// revalidate, and there is no validator, so it fetches again.
func asset(name string) fasthttp.RequestHandler {
	body, err := assets.ReadFile("assets/" + name)
	if err != nil {
		panic("ui: missing embedded asset " + name) // a build mistake, caught by the tests
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	return func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType(ctype)
		h := &ctx.Response.Header
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		// The page loads only its own files and talks only to this origin;
		// camera frames become blob: and data: images on a canvas.
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; connect-src 'self'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		ctx.SetBody(body)
	}
}

// detectResponse is POST /ui/api/detect's answer.
type detectResponse struct {
	Width  int            `json:"width"`
	Height int            `json:"height"`
	Faces  []detectedFace `json:"faces"`
}

type detectedFace struct {
	Box       bindings.Rect    `json:"box"`
	DetScore  float32          `json:"det_score"`
	Landmarks []bindings.Point `json:"landmarks"`
	Liveness  *float32         `json:"liveness,omitempty"` // P(live); absent when not computed
	Quality   *float32         `json:"quality,omitempty"`  // overall score; absent when not computed
}

// maxFaces bounds the faces the page draws (a crowd photo stays readable).
const maxFaces = 32

// detectHandler takes the image as the raw body (any image Content-Type or
// application/octet-stream) and answers JSON. Templates never leave the
// server here: the page draws, it does not match.
func (c *console) detectHandler(ctx *fasthttp.RequestCtx) {
	img := ctx.PostBody()
	if len(img) == 0 {
		jsonError(ctx, fasthttp.StatusBadRequest, "missing_image", "send the image as the request body")
		return
	}
	w, h, faces, err := c.detect(server.From(ctx).Ctx, img)
	if err != nil {
		status, code := statusOf(err)
		req := server.From(ctx)
		req.ErrCode = code
		if status >= 500 {
			req.Detail = service.LogDetail(err)
		}
		jsonError(ctx, status, code, service.Message(err))
		return
	}
	out := detectResponse{Width: w, Height: h, Faces: []detectedFace{}}
	for i, f := range faces {
		if i == maxFaces {
			break
		}
		d := detectedFace{Box: f.Box, DetScore: f.DetScore, Landmarks: f.Landmarks5}
		if f.Liveness >= 0 {
			v := f.Liveness
			d.Liveness = &v
		}
		if f.Quality != nil {
			v := f.Quality.Score
			d.Quality = &v
		}
		out.Faces = append(out.Faces, d)
	}
	writeJSON(ctx, fasthttp.StatusOK, out)
}

func statusOf(err error) (int, string) {
	switch {
	case errors.Is(err, service.ErrImageTooLarge):
		return fasthttp.StatusRequestEntityTooLarge, "image_too_large"
	case errors.Is(err, service.ErrBadImage):
		return fasthttp.StatusBadRequest, "bad_image"
	case errors.Is(err, service.ErrInvalid):
		return fasthttp.StatusBadRequest, "invalid_request"
	case errors.Is(err, service.ErrUnavailable), errors.Is(err, service.ErrTimeout):
		return fasthttp.StatusServiceUnavailable, "unavailable"
	}
	return fasthttp.StatusInternalServerError, "internal"
}

func jsonError(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	writeJSON(ctx, status, map[string]string{"code": code, "message": msg, "request_id": server.From(ctx).ID})
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	_ = json.NewEncoder(ctx).Encode(v)
}
