package pad

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

func TestSplitKeepsGroupsTogether(t *testing.T) {
	const spec = "Akinori-F-Ebihara/SpecDiff_in_house_database_sample"
	// Every photo of one person's folder falls on the same side.
	p := PartOf(spec, "data/live/ID00/IMG_0324.JPG")
	for _, f := range []string{"IMG_0325.JPG", "IMG_0400.JPG", "IMG_0999.JPG"} {
		if got := PartOf(spec, "data/live/ID00/"+f); got != p {
			t.Errorf("%s: %s, the folder's first photo %s", f, got, p)
		}
	}
	// Across many files both parts get a fair share, the same every call.
	n := map[string]int{}
	for i := 0; i < 1000; i++ {
		f := filepath.Join("x", string(rune('a'+i%26)), string(rune('a'+i/26)))
		if PartOf("r", f) != PartOf("r", f) {
			t.Fatal("not deterministic")
		}
		n[PartOf("r", f)]++
	}
	if n[Calibration] < 400 || n[HeldOut] < 400 {
		t.Errorf("split %v", n)
	}
}

func TestDerive(t *testing.T) {
	if k := DeriveKind(Item{Source: "Akinori-F-Ebihara/SpecDiff_in_house_database_sample", Path: "a.jpg"}); k != "" {
		t.Errorf("a source that forbids modification got variant %q", k)
	}
	img := image.NewRGBA(image.Rect(0, 0, 400, 300))
	for y := 0; y < 300; y++ {
		for x := 0; x < 400; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	a, err := Recompress(buf.Bytes(), 60)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Recompress(buf.Bytes(), 60)
	if !bytes.Equal(a, b) {
		t.Error("re-compression is not deterministic")
	}
	g, err := Greyscale(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if gi, err := jpeg.Decode(bytes.NewReader(g)); err != nil || gi.ColorModel() != color.GrayModel {
		t.Errorf("greyscale variant: %v %v", err, gi.ColorModel())
	}
	c, ok, err := TightCrop(buf.Bytes(), 200, 150, 100, 350)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if ci, err := jpeg.Decode(bytes.NewReader(c)); err != nil || ci.Bounds().Dx() != 350 || ci.Bounds().Dy() != 350 {
		t.Errorf("tight crop: %v", err)
	}
	// A square that leaves the image is not made.
	if _, ok, _ := TightCrop(buf.Bytes(), 20, 20, 100, 350); ok {
		t.Error("crop off the edge")
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "files.tsv")
	body := "set\tkind\trepo\tcommit\tpath\tsha256\nbona\tweb\to/r\tc\td/a.jpg\tx\nattack\tprint_or_replay\to/r\tc\tb.jpg\ty\n"
	if err := os.WriteFile(list, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(list, dir, ""); err == nil {
		t.Fatal("missing files must be an error (a partial fetch changes the figures)")
	}
	for _, f := range []string{"bona/o+r/d/a.jpg", "attack/o+r/b.jpg"} {
		p := filepath.Join(dir, filepath.FromSlash(f))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o644)
	}
	items, err := Load(list, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Set != "bona" || items[1].Kind != "print_or_replay" || items[0].Key() != "o/r:d/a.jpg" {
		t.Errorf("items %+v", items)
	}
	if s := Sample(items, 1); len(s) != 2 {
		t.Error("sample 1 keeps all")
	}
}
