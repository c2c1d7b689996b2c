package bindings_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand"
	"os"
	"runtime"
	"testing"
	"vizor/internal/procstat"

	"vizor/bindings"
)

func encodeJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x + y), 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// hugeJPEG patches a small JPEG's SOF0 frame header to declare w x h.
func hugeJPEG(t testing.TB, w, h uint16) []byte {
	b := encodeJPEG(t, 16, 16)
	for i := 2; i+9 < len(b); {
		if b[i] != 0xFF {
			t.Fatal("lost JPEG marker sync")
		}
		marker := b[i+1]
		seg := int(binary.BigEndian.Uint16(b[i+2:]))
		if marker == 0xC0 {
			binary.BigEndian.PutUint16(b[i+5:], h)
			binary.BigEndian.PutUint16(b[i+7:], w)
			return b
		}
		i += 2 + seg
	}
	t.Fatal("no SOF0")
	return nil
}

// hugePNG patches a small PNG's IHDR to declare w x h, with a valid CRC.
func hugePNG(t testing.TB, w, h uint32) []byte {
	b := encodePNG(t, 8, 8)
	// signature(8) length(4) "IHDR"(4) width(4) height(4) ... crc after 13 data bytes
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func animatedGIF(t testing.TB, frames int) []byte {
	t.Helper()
	g := &gif.GIF{}
	for i := 0; i < frames; i++ {
		img := image.NewPaletted(image.Rect(0, 0, 64, 64), palette.Plan9)
		img.SetColorIndex(i%64, i%64, uint8(i))
		g.Image = append(g.Image, img)
		g.Delay = append(g.Delay, 2)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestBadInputsGiveTypedErrors(t *testing.T) {
	e := engine(t)
	probe := read(t, photoPath(t, "tzuyu.jpg"))
	random := make([]byte, 4096)
	rand.New(rand.NewSource(1)).Read(random)
	cases := []struct {
		name string
		data []byte
		want []error // any of
	}{
		{"empty", nil, []error{bindings.ErrDecode}},
		{"one byte", []byte{0xFF}, []error{bindings.ErrDecode}},
		{"random bytes", random, []error{bindings.ErrDecode, bindings.ErrUnsupported}},
		{"truncated JPEG", probe[:len(probe)/2], []error{bindings.ErrDecode}},
		{"JPEG header only", probe[:600], []error{bindings.ErrDecode}},
		{"1x1 PNG", encodePNG(t, 1, 1), []error{bindings.ErrTooSmall}},
		{"30000x30000 JPEG header", hugeJPEG(t, 30000, 30000), []error{bindings.ErrTooLarge}},
		{"30000x30000 PNG header", hugePNG(t, 30000, 30000), []error{bindings.ErrTooLarge}},
		{"100-frame GIF", animatedGIF(t, 100), []error{bindings.ErrUnsupported}},
		{"blank image", encodeJPEG(t, 320, 240), []error{bindings.ErrNoFace}},
		{"text", []byte("hello, this is not an image"), []error{bindings.ErrDecode, bindings.ErrUnsupported}},
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs, err := e.Analyze(context.Background(), [][]byte{c.data}, bindings.Options{})
			if err != nil {
				t.Fatalf("whole call failed: %v", err)
			}
			got := rs[0].Err
			ok := false
			for _, w := range c.want {
				ok = ok || errors.Is(got, w)
			}
			if !ok {
				t.Fatalf("got %v, want one of %v", got, c.want)
			}
			var ne *bindings.Error
			if !errors.As(got, &ne) || ne.Message == "" {
				t.Errorf("error without a reason: %#v", got)
			}
			if len(rs[0].Faces) != 0 {
				t.Errorf("faces on a failed image")
			}
		})
	}
	// A good image in the same batch as bad ones still works.
	rs, err := e.Analyze(context.Background(), [][]byte{nil, probe, random}, bindings.Options{})
	if err != nil || rs[1].Err != nil || len(rs[1].Faces) != 1 {
		t.Fatalf("mixed batch: %v %v", err, rs[1].Err)
	}
	if rs[0].Err == nil || rs[2].Err == nil {
		t.Fatal("bad images in a mixed batch passed")
	}
}

func TestProbe(t *testing.T) {
	f, w, h, err := bindings.Probe(hugeJPEG(t, 30000, 20000))
	if err != nil || f != "jpeg" || w != 30000 || h != 20000 {
		t.Fatalf("jpeg probe: %q %d %d %v", f, w, h, err)
	}
	f, w, h, err = bindings.Probe(encodePNG(t, 7, 5))
	if err != nil || f != "png" || w != 7 || h != 5 {
		t.Fatalf("png probe: %q %d %d %v", f, w, h, err)
	}
	if _, _, _, err := bindings.Probe(nil); !errors.Is(err, bindings.ErrDecode) {
		t.Fatalf("empty probe: %v", err)
	}
}

// FuzzAnalyze feeds arbitrary bytes to the decoder and pipeline: every input
// must come back as a result or a typed error, never a crash. Run it longer
// with `make fuzz`; the corpus lives in testdata/fuzz/FuzzAnalyze.
func FuzzAnalyze(f *testing.F) {
	f.Add([]byte{})
	f.Add(encodePNG(f, 1, 1))
	f.Add(encodePNG(f, 40, 30))
	f.Add(encodeJPEG(f, 48, 32))
	f.Add(hugeJPEG(f, 30000, 30000))
	f.Add(hugePNG(f, 65535, 65535))
	f.Add(animatedGIF(f, 3))
	if b, err := os.ReadFile("testdata/face-160.jpg"); err == nil {
		f.Add(b)
		f.Add(b[:len(b)*2/3])
	}
	e := engine(f)
	known := []error{bindings.ErrDecode, bindings.ErrTooLarge, bindings.ErrUnsupported, bindings.ErrNoFace, bindings.ErrTooSmall}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := e.Analyze(context.Background(), [][]byte{data}, bindings.Options{})
		if err != nil {
			t.Fatalf("whole call failed: %v", err)
		}
		if rs[0].Err == nil {
			return
		}
		for _, k := range known {
			if errors.Is(rs[0].Err, k) {
				return
			}
		}
		t.Fatalf("untyped error: %v", rs[0].Err)
	})
}

// TestNoLeak analyses 1000 images (faces, bad inputs and blanks) and checks
// that the process's resident memory stays flat after a warm-up.
func TestNoLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	e := engine(t)
	face, err := os.ReadFile("testdata/face-160.jpg")
	if err != nil {
		t.Fatal(err)
	}
	inputs := [][]byte{face, face[:len(face)/2], encodePNG(t, 1, 1), hugeJPEG(t, 30000, 30000), encodeJPEG(t, 64, 48)}
	// The default stages cover every allocation path of a request; one
	// attribute pass per round keeps the attribute nets in the loop too.
	opts := bindings.Options{}
	run := func(n int) {
		if _, err := e.Analyze(context.Background(), inputs[:1], bindings.Options{Stages: bindings.StageAll, Attributes: bindings.AttrAll}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i += len(inputs) {
			if _, err := e.Analyze(context.Background(), inputs, opts); err != nil {
				t.Fatal(err)
			}
		}
	}
	run(200) // warm-up: pools, allocator arenas
	runtime.GC()
	before := rssKB(t)
	run(1000)
	runtime.GC()
	after := rssKB(t)
	t.Logf("RSS %d KB -> %d KB after 1000 more images", before, after)
	if after-before > 24*1024 {
		t.Errorf("RSS grew by %d KB over 1000 images", after-before)
	}
}

func rssKB(t *testing.T) int {
	kb, err := procstat.StatusKB(0, "VmRSS")
	if err != nil {
		t.Skip("no /proc: ", err)
	}
	return int(kb)
}
