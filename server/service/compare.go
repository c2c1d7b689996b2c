package service

import (
	"context"
	"sync"

	"vizor/internal/vec"
)

// This file adds the two operations the drop-in compatibility flavours
// (server/compreface, server/facenet, server/masshealth) need on top of
// enrol/verify/search: extracting a gated template from one image, and
// comparing the faces of two images. Both run the same gate order as the
// rest of the service.

// Extract runs the gates of op (OpEnrol applies the enrolment quality gate
// and MAD; any other op the probe gates) on the selected face of image and
// returns the probe with its template.
func (s *Service) Extract(ctx context.Context, op string, image []byte, o Options) (Probe, error) {
	return s.probe(ctx, op, image, o)
}

// CompareResult is a 1:1 comparison of two images.
type CompareResult struct {
	Probe1, Probe2 Probe
	Score          float32 // cosine similarity of the two templates
	Match          bool
	Threshold      float32
	// Failed is 1 or 2 when the error came from that image, 0 otherwise.
	Failed int
}

// Compare extracts the selected face of each image (probe gates, both images
// in flight at once so the micro-batcher can merge them) and scores them.
func (s *Service) Compare(ctx context.Context, image1, image2 []byte, o Options) (CompareResult, error) {
	thr := pick(o.MatchThreshold, s.cfg.MatchThreshold)
	if !inRange(thr, -1, 1) {
		return CompareResult{}, newErr(ErrInvalid, "threshold must be in [-1,1]")
	}
	var (
		wg         sync.WaitGroup
		p1, p2     Probe
		err1, err2 error
		res        CompareResult
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		p2, err2 = s.probe(ctx, OpVerify, image2, o)
	}()
	p1, err1 = s.probe(ctx, OpVerify, image1, o)
	wg.Wait()
	res.Probe1, res.Probe2, res.Threshold = p1, p2, thr
	switch {
	case err1 != nil:
		res.Failed = 1
		return res, err1
	case err2 != nil:
		res.Failed = 2
		return res, err2
	}
	res.Score = Cosine(p1.Template, p2.Template)
	res.Match = res.Score >= thr
	return res, nil
}

// Cosine is the cosine similarity of two templates (vec.Cosine).
func Cosine(a, b []float32) float32 { return vec.Cosine(a, b) }
