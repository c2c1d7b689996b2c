package compat

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"runtime"
	"strings"
	"testing"

	"vizor/server/compat/compattest"
	"vizor/server/service"
)

const testMaxPixels = 40_000_000

// allocated returns the bytes fn allocates on the Go heap.
func allocated(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// Every bomb the Go header check is responsible for is refused with the
// right kind before anything is decoded: the whole check allocates a few
// megabytes at most (the PNG zlib bomb's file itself is ~400 KB).
func TestCheckImageRefusesBombsBeforeDecoding(t *testing.T) {
	for _, b := range compattest.Bombs() {
		if b.Engine {
			continue
		}
		t.Run(b.Name, func(t *testing.T) {
			var nerr error
			alloc := allocated(func() { _, _, nerr = Normalize(b.Data, testMaxPixels) })
			want := service.ErrImageTooLarge
			if strings.Contains(b.Name, "repeated") {
				want = service.ErrBadImage
			}
			if !errors.Is(nerr, want) {
				t.Fatalf("Normalize: %v, want %v", nerr, want)
			}
			if alloc > 8<<20 {
				t.Fatalf("Normalize allocated %d MB before refusing", alloc>>20)
			}
			_, _, _, _, _, ferr := frame(b.Data)
			if !errors.Is(ferr, service.ErrImageTooLarge) && !errors.Is(ferr, service.ErrBadImage) {
				t.Fatalf("frame: %v", ferr)
			}
		})
	}
}

func TestCheckImageMessages(t *testing.T) {
	_, err := CheckImage(compattest.GIF(65535, 65535), testMaxPixels)
	if !errors.Is(err, service.ErrImageTooLarge) || !strings.Contains(err.Error(), "65535x65535") {
		t.Fatalf("gif: %v", err)
	}
	_, err = CheckImage(compattest.TIFF([]compattest.TIFFTag{{Tag: 256, Type: 4, Value: 100000}, {Tag: 256, Type: 3, Value: 64}, {Tag: 257, Type: 3, Value: 64}}), testMaxPixels)
	if !errors.Is(err, service.ErrBadImage) || !strings.Contains(err.Error(), "tag 256 appears twice") {
		t.Fatalf("tiff: %v", err)
	}
	// The same TIFF without the repeat, within the limit, passes.
	h, err := CheckImage(compattest.TIFF([]compattest.TIFFTag{{Tag: 256, Type: 3, Value: 64}, {Tag: 257, Type: 3, Value: 48}}), testMaxPixels)
	if err != nil || h.Width != 64 || h.Height != 48 || h.Format != "tiff" {
		t.Fatalf("plain tiff: %+v %v", h, err)
	}
	if _, err := CheckImage([]byte("hello world, not an image"), testMaxPixels); !errors.Is(err, service.ErrBadImage) {
		t.Fatalf("text: %v", err)
	}
	// An ICO whose directory says 16x16 is judged by the PNG it holds.
	_, err = CheckImage(compattest.ICO(16, 16, compattest.PNGHeader(9000, 9000)), testMaxPixels)
	if !errors.Is(err, service.ErrImageTooLarge) || !strings.Contains(err.Error(), "9000x9000") {
		t.Fatalf("ico: %v", err)
	}
	// Icons have their own bound, whatever max_pixels says.
	_, err = CheckImage(compattest.ICO(0, 0, compattest.PNGHeader(2000, 2000)), testMaxPixels)
	if !errors.Is(err, service.ErrImageTooLarge) || !strings.Contains(err.Error(), "for icons") {
		t.Fatalf("big icon: %v", err)
	}
	// The limit is the caller's: a cropped face over MaxCroppedPixels is
	// refused by frame before it decodes, with its own reason.
	_, _, _, _, _, err = frame(compattest.PNGZeros(2100, 2100))
	if !errors.Is(err, service.ErrImageTooLarge) || !strings.Contains(err.Error(), "detect_faces=false") {
		t.Fatalf("frame: %v", err)
	}
}

// Ordinary images keep working: a GIF becomes a PNG of the same size, and
// the limit is inclusive.
func TestCheckImageAcceptsOrdinaryImages(t *testing.T) {
	img := image.NewPaletted(image.Rect(0, 0, 200, 100), []color.Color{color.Black, color.White})
	var g bytes.Buffer
	if err := gif.Encode(&g, img, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckImage(g.Bytes(), 200*100); err != nil {
		t.Fatalf("gif at the limit: %v", err)
	}
	if _, err := CheckImage(g.Bytes(), 200*100-1); !errors.Is(err, service.ErrImageTooLarge) {
		t.Fatalf("gif over the limit: %v", err)
	}
	out, f, err := Normalize(g.Bytes(), testMaxPixels)
	if err != nil || f != "gif" {
		t.Fatalf("normalize: %v", err)
	}
	if c, err := png.DecodeConfig(bytes.NewReader(out)); err != nil || c.Width != 200 || c.Height != 100 {
		t.Fatalf("converted: %+v %v", c, err)
	}
	var p bytes.Buffer
	_ = png.Encode(&p, image.NewGray(image.Rect(0, 0, 300, 200)))
	framed, x, y, w, h, err := frame(p.Bytes())
	if err != nil || w != 300 || h != 200 || x != 90 || y != 60 || Sniff(framed) != "png" {
		t.Fatalf("frame: %v %d %d %d %d", err, x, y, w, h)
	}
}
