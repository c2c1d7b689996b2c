package bindings_test

// Hostile inputs (issue 11) as Go sees them: contradictory headers refused
// by Probe and Analyze, cheap images that would cost expensive work, a stage
// failing on one image of a batch, and a context that ends mid-batch.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
	"time"

	"vizor/bindings"
)

// greyTIFF is a little-endian uncompressed 8-bit grey TIFF of w x h whose
// first IFD holds `extra` entries (tag, type, value) before its own.
func greyTIFF(w, h uint32, extra ...[3]uint32) []byte {
	tags := append(extra, [3]uint32{256, 3, w}, [3]uint32{257, 3, h}, [3]uint32{258, 3, 8}, [3]uint32{259, 3, 1},
		[3]uint32{262, 3, 1}, [3]uint32{277, 3, 1}, [3]uint32{278, 3, h}, [3]uint32{279, 4, w * h})
	n := uint32(len(tags) + 1)
	tags = append(tags, [3]uint32{273, 4, 8 + 2 + n*12 + 4}) // StripOffsets: right after the IFD
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("II*\x00")
	_ = binary.Write(&b, le, uint32(8))
	_ = binary.Write(&b, le, uint16(n))
	for _, t := range tags {
		_ = binary.Write(&b, le, uint16(t[0]))
		_ = binary.Write(&b, le, uint16(t[1]))
		_ = binary.Write(&b, le, uint32(1))
		if t[1] == 3 {
			_ = binary.Write(&b, le, uint16(t[2]))
			_ = binary.Write(&b, le, uint16(0))
		} else {
			_ = binary.Write(&b, le, t[2])
		}
	}
	_ = binary.Write(&b, le, uint32(0))
	b.Write(bytes.Repeat([]byte{128}, int(w*h)))
	return b.Bytes()
}

func TestContradictoryHeadersRefused(t *testing.T) {
	good := greyTIFF(64, 48)
	if f, w, h, err := bindings.Probe(good); err != nil || f != "tiff" || w != 64 || h != 48 {
		t.Fatalf("plain TIFF: %s %dx%d %v", f, w, h, err)
	}
	// Issue 11's bomb: ImageWidth/ImageLength repeated, a large LONG first
	// (what libtiff decodes) and the small SHORT after.
	bomb := greyTIFF(64, 48, [3]uint32{256, 4, 60000}, [3]uint32{257, 4, 60000})
	if _, _, _, err := bindings.Probe(bomb); !errors.Is(err, bindings.ErrDecode) || !strings.Contains(err.Error(), "twice") {
		t.Errorf("repeated size tags: Probe gave %v, want a decode error naming the repeat", err)
	}
	// PNG with a second IHDR.
	p := encodePNG(t, 20, 20)
	twoIHDR := append(append(append([]byte{}, p[:33]...), p[8:33]...), p[33:]...)
	if _, _, _, err := bindings.Probe(twoIHDR); !errors.Is(err, bindings.ErrDecode) {
		t.Errorf("two IHDR: Probe gave %v", err)
	}
	rs, err := engine(t).Analyze(context.Background(), [][]byte{good, bomb, twoIHDR}, bindings.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(rs[0].Err, bindings.ErrNoFace) {
		t.Errorf("plain TIFF: %v, want no face", rs[0].Err)
	}
	for i, r := range rs[1:] {
		if !errors.Is(r.Err, bindings.ErrDecode) {
			t.Errorf("image %d: %v, want a decode error", i+1, r.Err)
		}
	}
}

func TestCheapImageExpensiveWorkRefused(t *testing.T) {
	// A 16 x 1,000,000 grey PNG (16 KB) tiled the detector ~4,000 times.
	strip := encodePNG(t, 16, 1000000)
	t0 := time.Now()
	_, err := engine(t).AnalyzeOne(context.Background(), strip, bindings.Options{})
	if !errors.Is(err, bindings.ErrTooLarge) || !strings.Contains(err.Error(), "aspect ratio") {
		t.Fatalf("16x1000000 strip: %v, want too large (aspect ratio)", err)
	}
	t.Logf("%d-byte strip refused in %v: %v", len(strip), time.Since(t0), err)
	// An explicit face size whose search is over the tile budget.
	big := encodeJPEG(t, 6000, 4000)
	_, err = engine(t).AnalyzeOne(context.Background(), big, bindings.Options{MinFacePx: 20})
	if !errors.Is(err, bindings.ErrTooLarge) || !strings.Contains(err.Error(), "tiles") {
		t.Errorf("6000x4000 at 20 px faces: %v, want too large (tiles)", err)
	}
}

func TestEngineFaceCap(t *testing.T) {
	e, err := bindings.Open(bindings.Config{ModelsDir: modelsDir(), Workers: 1, MaxFaces: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	group := read(t, photoPath(t, "pristin.jpg")) // 10 faces
	for _, asked := range []int{0, 5, 2} {
		r, err := e.AnalyzeOne(context.Background(), group, bindings.Options{MaxFaces: asked})
		if err != nil {
			t.Fatal(err)
		}
		want := 3
		if asked == 2 {
			want = 2
		}
		if len(r.Faces) != want {
			t.Errorf("engine cap 3, asked %d: %d faces, want %d", asked, len(r.Faces), want)
		}
		for k := 1; k < len(r.Faces); k++ {
			if r.Faces[k].Box.Area() > r.Faces[k-1].Box.Area() {
				t.Errorf("faces not largest first")
			}
		}
	}
}

// padded re-encodes a photo as PNG with a grey border, so that it has a
// size no other test image has.
func padded(t *testing.T, jpg []byte, dx, dy int) ([]byte, int, int) {
	t.Helper()
	src, err := jpeg.Decode(bytes.NewReader(jpg))
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx()+2*dx, b.Dy()+2*dy))
	draw.Draw(dst, dst.Bounds(), &image.Uniform{color.RGBA{128, 128, 128, 255}}, image.Point{}, draw.Src)
	draw.Draw(dst, b.Add(image.Pt(dx, dy)).Sub(b.Min), src, b.Min, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, dst); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), dst.Bounds().Dx(), dst.Bounds().Dy()
}

func TestOneImageFailsOnlyItself(t *testing.T) {
	good := read(t, photoPath(t, "jimin.jpg"))
	poison, w, h := padded(t, good, 30, 10)
	want, err := engine(t).AnalyzeOne(context.Background(), good, bindings.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The engine's test hook makes one stage throw on images of the poison's
	// size: the batched pass fails, and the engine re-runs it per image.
	for _, stage := range []string{"detect", "landmarks", "embed", "quality"} {
		t.Run(stage, func(t *testing.T) {
			t.Setenv("VIZOR_DEBUG_FAIL_STAGE", fmt.Sprintf("%s:%dx%d", stage, w, h))
			e, err := bindings.Open(bindings.Config{ModelsDir: modelsDir(), Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			rs, err := e.Analyze(context.Background(), [][]byte{good, poison, good}, bindings.Options{})
			if err != nil {
				t.Fatalf("the whole batch failed: %v", err)
			}
			for _, i := range []int{0, 2} {
				if rs[i].Err != nil || len(rs[i].Faces) == 0 || rs[i].Faces[0].Template == nil {
					t.Fatalf("good image %d: %v", i, rs[i].Err)
				}
				if c := cos(rs[i].Faces[0].Template, want.Faces[0].Template); c < 0.999 {
					t.Errorf("good image %d: template cos %.4f with its single analysis", i, c)
				}
			}
			if !errors.Is(rs[1].Err, bindings.ErrInternal) || !strings.Contains(rs[1].Err.Error(), stage) ||
				len(rs[1].Faces) != 0 {
				t.Errorf("poison: %v with %d faces, want an internal error naming %s", rs[1].Err, len(rs[1].Faces), stage)
			}
		})
	}
}

func cos(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestContextStopsNativeWork(t *testing.T) {
	group := read(t, photoPath(t, "pristin.jpg"))
	batch := make([][]byte, 12)
	for i := range batch {
		batch[i] = group
	}
	e := engine(t)
	t0 := time.Now()
	if _, err := e.Analyze(context.Background(), batch, bindings.Options{}); err != nil {
		t.Fatal(err)
	}
	full := time.Since(t0)
	ctx, cancel := context.WithTimeout(context.Background(), full/10)
	defer cancel()
	t0 = time.Now()
	rs, err := e.Analyze(ctx, batch, bindings.Options{})
	took := time.Since(t0)
	t.Logf("12 x pristin: %v uncancelled; with a %v deadline the call returned after %v (%v)", full, full/10, took, err)
	if !errors.Is(err, context.DeadlineExceeded) || rs != nil {
		t.Errorf("got %d results and %v, want context.DeadlineExceeded", len(rs), err)
	}
	if took > full/2 {
		t.Errorf("cancelled call took %v, uncancelled %v: the native work did not stop", took, full)
	}
}
