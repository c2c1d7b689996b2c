package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"

	"vizor/bindings"
)

func init() {
	register("analyze", "detect faces in photos and print boxes, landmarks, quality, PAD, attributes as JSON", runAnalyze)
}

type analyzedFace struct {
	Box         bindings.Rect        `json:"box"`
	DetScore    float32              `json:"det_score"`
	Landmarks5  []bindings.Point     `json:"landmarks5"`
	Landmarks68 []bindings.Point     `json:"landmarks68,omitempty"`
	Liveness    float32              `json:"liveness"`
	Quality     *bindings.Quality    `json:"quality,omitempty"`
	Attributes  *bindings.Attributes `json:"attributes,omitempty"`
	Template    []float32            `json:"template,omitempty"`
}

type analyzedImage struct {
	File    string           `json:"file"`
	Width   int              `json:"width"`
	Height  int              `json:"height"`
	Error   string           `json:"error,omitempty"`
	Faces   []analyzedFace   `json:"faces"`
	Timings bindings.Timings `json:"timings_ms"`
}

func runAnalyze(args []string) error {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	var ef engineFlags
	ef.register(fs)
	attrs := fs.Bool("attributes", true, "compute age, gender, pose, expression and eye state")
	lm68 := fs.Bool("landmarks68", false, "print all 68 landmarks")
	tmpl := fs.Bool("template", false, "print the 512-d templates")
	thr := fs.Float64("threshold", 0, "detection threshold (0: engine default)")
	maxFaces := fs.Int("max-faces", 0, "keep at most this many faces, largest first (0: all)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vizor analyze [flags] photo.jpg...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no photos given")
	}
	opts := bindings.Options{Stages: bindings.StageDefault, MaxFaces: *maxFaces, DetThreshold: float32(*thr)}
	if *attrs {
		opts.Stages |= bindings.StageAttributes
		opts.Attributes = bindings.AttrAll
	}
	results, _, err := ef.analyzeFiles(fs.Args(), opts)
	if err != nil {
		return err
	}
	out := make([]analyzedImage, len(results))
	for i, r := range results {
		img := analyzedImage{File: fs.Arg(i), Width: r.Width, Height: r.Height, Timings: r.Timings, Faces: []analyzedFace{}}
		if r.Err != nil {
			img.Error = r.Err.Error()
		}
		for _, f := range r.Faces {
			af := analyzedFace{Box: f.Box, DetScore: f.DetScore, Landmarks5: f.Landmarks5,
				Liveness: f.Liveness, Quality: f.Quality, Attributes: f.Attributes}
			if *lm68 {
				af.Landmarks68 = f.Landmarks68
			}
			if *tmpl {
				af.Template = f.Template
			}
			img.Faces = append(img.Faces, af)
		}
		out[i] = img
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
