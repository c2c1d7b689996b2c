package bindings_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"testing"

	"golang.org/x/image/draw"

	"vizor/bindings"
)

// reencode decodes a shared photo and writes it back as JPEG after f.
func reencode(t *testing.T, name string, f func(image.Image) image.Image) []byte {
	t.Helper()
	src, _, err := image.Decode(bytes.NewReader(read(t, photoPath(t, name))))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, f(src), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func toGray(src image.Image) image.Image {
	g := image.NewGray(src.Bounds())
	draw.Draw(g, g.Bounds(), src, src.Bounds().Min, draw.Src)
	return g
}

// grayAsRGB keeps three planes with no colour in them: a greyscale photo
// that went through a colour JPEG encoder (the common case on the web).
func grayAsRGB(src image.Image) image.Image {
	g := toGray(src)
	out := image.NewRGBA(g.Bounds())
	for y := g.Bounds().Min.Y; y < g.Bounds().Max.Y; y++ {
		for x := g.Bounds().Min.X; x < g.Bounds().Max.X; x++ {
			v := g.(*image.Gray).GrayAt(x, y).Y
			out.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	return out
}

func analyzeOne(t *testing.T, img []byte, o bindings.Options) bindings.Result {
	t.Helper()
	rs, err := engine(t).Analyze(context.Background(), [][]byte{img}, o)
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Err != nil {
		t.Fatal(rs[0].Err)
	}
	return rs[0]
}

// The liveness_status contract: a colour face is scored, a greyscale one
// (one-plane JPEG or three equal planes) and a face under the PAD minimum get
// no score and say why, and a call without the stage says not_computed.
func TestLivenessStatus(t *testing.T) {
	colour := read(t, photoPath(t, "luda.jpg"))
	f := analyzeOne(t, colour, bindings.Options{}).Faces[0]
	if f.LivenessStatus != bindings.LivenessScored || f.Liveness < 0 || f.Liveness > 1 {
		t.Errorf("colour photo: status %q liveness %v, want scored in [0,1]", f.LivenessStatus, f.Liveness)
	}
	for name, img := range map[string][]byte{
		"gray jpeg":        reencode(t, "luda.jpg", toGray),
		"gray in rgb jpeg": reencode(t, "luda.jpg", grayAsRGB),
		"gray tzuyu2":      reencode(t, "tzuyu2.jpg", toGray),
	} {
		r := analyzeOne(t, img, bindings.Options{})
		for i, f := range r.Faces {
			if f.LivenessStatus != bindings.LivenessGreyscale || f.Liveness >= 0 {
				t.Errorf("%s face %d: status %q liveness %v, want greyscale and < 0", name, i, f.LivenessStatus, f.Liveness)
			}
		}
	}
	// luda.jpg shrunk until its face is ~30 px: found (asked for 20 px
	// faces), but too small to judge.
	small := reencode(t, "luda.jpg", func(src image.Image) image.Image {
		b := src.Bounds()
		k := 30 / f.Box.H
		dst := image.NewRGBA(image.Rect(0, 0, int(float32(b.Dx())*k), int(float32(b.Dy())*k)))
		draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
		return dst
	})
	r := analyzeOne(t, small, bindings.Options{MinFacePx: 20})
	if s := r.Faces[0]; s.LivenessStatus != bindings.LivenessFaceTooSmall || s.Liveness >= 0 {
		t.Errorf("%.0f px face: status %q liveness %v, want face_too_small", s.Box.H, s.LivenessStatus, s.Liveness)
	}
	r = analyzeOne(t, colour, bindings.Options{Stages: bindings.StageDetect | bindings.StageTemplate})
	if s := r.Faces[0]; s.LivenessStatus != bindings.LivenessNotComputed || s.Liveness >= 0 {
		t.Errorf("no liveness stage: status %q liveness %v, want not_computed", s.LivenessStatus, s.Liveness)
	}
}
