package main

import (
	"errors"
	"flag"
	"fmt"

	"vizor/bindings"
)

func init() {
	register("compare", "compare the largest faces of two photos and print the score and verdict", runCompare)
}

func runCompare(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	var ef engineFlags
	ef.register(fs)
	thr := fs.Float64("threshold", 0, "match threshold on the cosine score (0: the model's calibrated default)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vizor compare [flags] a.jpg b.jpg")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errors.New("compare takes exactly two photos")
	}
	results, info, err := ef.analyzeFiles(fs.Args(),
		bindings.Options{Stages: bindings.StageDetect | bindings.StageTemplate, MaxFaces: 1})
	if err != nil {
		return err
	}
	for i, r := range results {
		if r.Err != nil {
			return fmt.Errorf("%s: %w", fs.Arg(i), r.Err)
		}
		if len(r.Faces) == 0 || r.Faces[0].Template == nil {
			return fmt.Errorf("%s: %w", fs.Arg(i), bindings.ErrNoFace)
		}
	}
	threshold := float32(*thr)
	if threshold == 0 {
		threshold = info.MatchThreshold
	}
	score := bindings.Cosine(results[0].Faces[0].Template, results[1].Faces[0].Template)
	verdict := "different people"
	if score >= threshold {
		verdict = "same person"
	}
	fmt.Printf("score %.4f threshold %.2f: %s\n", score, threshold, verdict)
	return nil
}
