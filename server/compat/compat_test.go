package compat

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"net/url"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestSimilarity(t *testing.T) {
	const thr = 0.46
	if s := Similarity(thr, thr); s != 0.5 {
		t.Fatalf("threshold maps to %v", s)
	}
	prev := -1.0
	for c := float32(-1); c <= 1; c += 0.05 {
		s := Similarity(c, thr)
		if s < 0 || s > 1 || s < prev {
			t.Fatalf("not monotone in [0,1] at %v: %v", c, s)
		}
		prev = s
		if back := CosineFromSimilarity(Similarity(c, thr), thr); s > 0.001 && s < 0.999 && math.Abs(float64(back-c)) > 1e-3 {
			t.Fatalf("inverse at %v: %v", c, back)
		}
	}
	for _, c := range []struct {
		s, t float64
		want string
	}{{0.52, 0.5, "low"}, {0.6, 0.5, "low"}, {0.61, 0.5, "medium"}, {0.77, 0.5, "medium"}, {0.8, 0.5, "medium"},
		{0.81, 0.5, "high"}, {0.83, 0.5, "high"}, {0.36, 0.5, "medium"}, {0.19, 0.5, "high"}, {0.45, 0.4, "low"}} {
		if got := Confidence(c.s, c.t); got != c.want {
			t.Errorf("Confidence(%v, %v) = %s, want %s", c.s, c.t, got, c.want)
		}
	}
}

func TestQueryStrayQuestionMark(t *testing.T) {
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/api/v1/recognition/faces?subject=Marie%20Curie?det_prob_threshold=0.8&x=a?b")
	q := Query(&ctx, "subject", "det_prob_threshold")
	want := url.Values{"subject": {"Marie Curie"}, "det_prob_threshold": {"0.8"}, "x": {"a?b"}}
	for k, v := range want {
		if q.Get(k) != v[0] {
			t.Errorf("%s = %q, want %q (%v)", k, q.Get(k), v[0], q)
		}
	}
}

func TestNormalizeGIFAndICO(t *testing.T) {
	img := image.NewPaletted(image.Rect(0, 0, 40, 30), []color.Color{color.Black, color.White})
	var g bytes.Buffer
	if err := gif.Encode(&g, img, nil); err != nil {
		t.Fatal(err)
	}
	out, f, err := Normalize(g.Bytes(), 0)
	if err != nil || f != "gif" || Sniff(out) != "png" {
		t.Fatalf("gif: %v %s %s", err, f, Sniff(out))
	}
	if c, err := png.DecodeConfig(bytes.NewReader(out)); err != nil || c.Width != 40 || c.Height != 30 {
		t.Fatalf("gif frame: %v %+v", err, c)
	}
	// ICO with a PNG entry.
	var p bytes.Buffer
	_ = png.Encode(&p, image.NewRGBA(image.Rect(0, 0, 16, 16)))
	ico := []byte{0, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0}
	ico = append(ico, byte(p.Len()), byte(p.Len()>>8), 0, 0, 22, 0, 0, 0)
	ico = append(ico, p.Bytes()...)
	out, f, err = Normalize(ico, 0)
	if err != nil || f != "ico" || !bytes.Equal(out, p.Bytes()) {
		t.Fatalf("ico: %v %s", err, f)
	}
	if _, _, err := Normalize([]byte("GIF89a garbage"), 0); err == nil {
		t.Fatal("broken gif accepted")
	}
	if _, _, err := Normalize([]byte{0, 0, 1, 0, 5, 0, 1}, 0); err == nil {
		t.Fatal("truncated ico accepted")
	}
	var j bytes.Buffer
	_ = jpeg.Encode(&j, image.NewGray(image.Rect(0, 0, 64, 48)), nil)
	if b, f, err := Normalize(j.Bytes(), 0); err != nil || f != "jpeg" || !bytes.Equal(b, j.Bytes()) {
		t.Fatalf("jpeg not passed through: %v", err)
	}
	if _, _, err := Normalize([]byte("\xff\xd8\xff\xe0jpeg"), 0); err == nil {
		t.Fatal("a JPEG without a frame header accepted")
	}
}

func TestDecodeBase64(t *testing.T) {
	for _, s := range []string{"aGVsbG8=", "aGVsbG8", "data:image/jpeg;base64,aGVsbG8=", "aGVs\nbG8="} {
		if b, err := DecodeBase64(s); err != nil || string(b) != "hello" {
			t.Errorf("%q: %q %v", s, b, err)
		}
	}
	if _, err := DecodeBase64("%%%"); err == nil {
		t.Error("garbage accepted")
	}
}
