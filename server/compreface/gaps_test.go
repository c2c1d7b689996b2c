package compreface

import (
	"encoding/json"
	"testing"

	"github.com/valyala/fasthttp"

	"vizor/bindings"
	"vizor/server/compat"
)

func errorOf(t *testing.T, ctx *fasthttp.RequestCtx) cfError {
	t.Helper()
	var e cfError
	if err := json.Unmarshal(ctx.Response.Body(), &e); err != nil {
		t.Fatalf("body %q: %v", ctx.Response.Body(), err)
	}
	return e
}

// mask (documented, no model ships) and unknown slugs are refused, never
// silently dropped; known ones are read case- and space-insensitively.
func TestFacePluginsRefuseMask(t *testing.T) {
	var ctx fasthttp.RequestCtx
	p, ok := facePlugins(&ctx, " Age, landmarks,,CALCULATOR ")
	if !ok || len(p) != 3 || !p["age"] || !p["landmarks"] || !p["calculator"] {
		t.Fatalf("plugins %v ok %v", p, ok)
	}
	if p, ok := facePlugins(&ctx, ""); !ok || len(p) != 0 {
		t.Fatalf("empty: %v %v", p, ok)
	}
	for _, raw := range []string{"age,mask", "detector-x"} {
		var ctx fasthttp.RequestCtx
		if _, ok := facePlugins(&ctx, raw); ok {
			t.Fatalf("%q accepted", raw)
		}
		if e := errorOf(t, &ctx); ctx.Response.StatusCode() != 400 || e.Code != codeIncorrectArg {
			t.Fatalf("%q: %d %+v", raw, ctx.Response.StatusCode(), e)
		}
	}
}

func TestSubjectNameTrimmed(t *testing.T) {
	if subjectName("  Ann \t") != "Ann" || subjectParam(compat.Params{"subject": " Bo "}) != "Bo" {
		t.Fatal("subject names are trimmed")
	}
}

// detect_faces=false: the box is the whole image with probability 1,
// whatever the located face inside it.
func TestBoxWithoutDetection(t *testing.T) {
	f := bindings.Face{DetScore: 0.8, Box: bindings.Rect{X: 10, Y: 12, W: 50, H: 60}}
	an := compat.Analysis{Width: 120, Height: 140}
	if b := (opts{detectFaces: false}).box(f, an); b != (boxJSON{Probability: 1, XMax: 120, YMax: 140}) {
		t.Fatalf("box %+v", b)
	}
	if b := (opts{detectFaces: true}).box(f, an); b != (boxJSON{Probability: 0.8, XMin: 10, YMin: 12, XMax: 60, YMax: 72}) {
		t.Fatalf("box %+v", b)
	}
}

// A known path with a wrong method: 404, code 0 and Spring's message, as
// CompreFace's exception handler answers.
func TestWrongMethodAsCompreFace(t *testing.T) {
	var ctx fasthttp.RequestCtx
	(&API{}).WrongMethod(&ctx, "PATCH", []string{"GET", "POST"})
	e := errorOf(t, &ctx)
	if ctx.Response.StatusCode() != 404 || e.Code != 0 || e.Message != "Request method 'PATCH' not supported" {
		t.Fatalf("%d %+v", ctx.Response.StatusCode(), e)
	}
}
