package bindings_test

import (
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/draw"

	"vizor/bindings"
)

// padThreshold is the default PAD threshold the manifest records for the
// liveness model (docs/accuracy/pad.md chose it on public bona fide photos).
func padThreshold(t *testing.T) float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(modelsDir(), "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Models []struct {
			Role      string  `json:"role"`
			Threshold float64 `json:"threshold"`
		} `json:"models"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, x := range m.Models {
		if x.Role == "liveness" && x.Threshold > 0 {
			return x.Threshold
		}
	}
	t.Fatal("manifest: the liveness model has no threshold")
	return 0
}

// Every face of the shared bona fide photos passes the default PAD
// threshold (they are real people: a refusal is a BPCER error).
func TestSharedPhotosPassPAD(t *testing.T) {
	th := padThreshold(t)
	for file, r := range analyzedPhotos(t) {
		for i, f := range r.Faces {
			if f.LivenessStatus != bindings.LivenessScored {
				t.Errorf("%s face %d: liveness_status %q, want scored", file, i, f.LivenessStatus)
				continue
			}
			if float64(f.Liveness) < th {
				t.Errorf("%s face %d (%.0f px): P(live) %.4f under the default threshold %.4f", file, i, f.Box.H, f.Liveness, th)
			}
		}
	}
}

// tightCrop cuts the square of 1.15 x the face height about the face centre
// and scales it to 350x350: the face fills the frame.
func tightCrop(src image.Image, f bindings.Face) image.Image {
	cx, cy, s := f.Box.X+f.Box.W/2, f.Box.Y+f.Box.H/2, 1.15*f.Box.H
	r := image.Rect(int(cx-s/2), int(cy-s/2), int(cx+s/2), int(cy+s/2)).Add(src.Bounds().Min).Intersect(src.Bounds())
	dst := image.NewRGBA(image.Rect(0, 0, 350, 350))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, r, draw.Src, nil)
	return dst
}

// A tight crop of every frontal single-face shared photo, in colour and in
// greyscale, is found: one face, at the default detector threshold.
func TestTightCropsDetected(t *testing.T) {
	res := analyzedPhotos(t)
	for _, p := range photos(t) {
		if p.Faces != 1 || p.Profile() {
			continue
		}
		r := res[p.File]
		if r.Err != nil || len(r.Faces) == 0 {
			t.Fatalf("%s: %v", p.File, r.Err)
		}
		f := r.Faces[0]
		for _, grey := range []bool{false, true} {
			img := reencode(t, p.File, func(src image.Image) image.Image {
				c := tightCrop(src, f)
				if grey {
					return toGray(c)
				}
				return c
			})
			rs, err := engine(t).Analyze(t.Context(), [][]byte{img}, bindings.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rs[0].Err != nil || len(rs[0].Faces) != 1 {
				t.Errorf("%s tight crop (grey %v): %d faces, err %v", p.File, grey, len(rs[0].Faces), rs[0].Err)
			}
		}
	}
}
