package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"os"

	"gocv.io/x/gocv"

	"vizor/bindings"
)

func init() {
	register("annotate", "draw detected faces, landmarks and scores onto a copy of a photo", runAnnotate)
}

// runAnnotate is the one place Go itself needs OpenCV (through gocv): it
// draws the engine's output so a person can see what it found.
func runAnnotate(args []string) error {
	fs := flag.NewFlagSet("annotate", flag.ContinueOnError)
	var ef engineFlags
	ef.register(fs)
	maxSide := fs.Int("max-side", 0, "downscale the output so its longer side is at most this many pixels (0: keep)")
	noDraw := fs.Bool("no-draw", false, "only re-encode (and downscale); draw nothing")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vizor annotate [flags] in.jpg out.jpg")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errors.New("annotate takes an input and an output path")
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	img, err := gocv.IMDecode(data, gocv.IMReadColor)
	if err != nil || img.Empty() {
		return fmt.Errorf("%s: %w", fs.Arg(0), bindings.ErrDecode)
	}
	defer img.Close()

	if !*noDraw {
		eng, err := ef.open()
		if err != nil {
			return err
		}
		defer eng.Close()
		r, err := eng.AnalyzeOne(context.Background(), data, bindings.Options{})
		if err != nil && !errors.Is(err, bindings.ErrNoFace) {
			return err
		}
		thick := max(1, img.Cols()/400)
		green, yellow := color.RGBA{0, 220, 0, 0}, color.RGBA{255, 220, 0, 0}
		for i, f := range r.Faces {
			box := image.Rect(int(f.Box.X), int(f.Box.Y), int(f.Box.X+f.Box.W), int(f.Box.Y+f.Box.H))
			gocv.Rectangle(&img, box, green, thick)
			for _, p := range f.Landmarks68 {
				gocv.Circle(&img, image.Pt(int(p.X), int(p.Y)), thick, yellow, -1)
			}
			label := fmt.Sprintf("#%d det %.2f", i, f.DetScore)
			if f.Quality != nil {
				label += fmt.Sprintf(" q %.2f", f.Quality.Score)
			}
			if f.Liveness >= 0 {
				label += fmt.Sprintf(" live %.2f", f.Liveness)
			}
			gocv.PutText(&img, label, image.Pt(box.Min.X, max(12, box.Min.Y-4*thick)),
				gocv.FontHersheySimplex, 0.4*float64(thick), green, thick)
		}
	}
	if side := max(img.Cols(), img.Rows()); *maxSide > 0 && side > *maxSide {
		s := float64(*maxSide) / float64(side)
		gocv.Resize(img, &img, image.Point{}, s, s, gocv.InterpolationArea)
	}
	if !gocv.IMWrite(fs.Arg(1), img) {
		return fmt.Errorf("could not write %s", fs.Arg(1))
	}
	return nil
}
