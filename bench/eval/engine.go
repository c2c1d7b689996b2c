package eval

import (
	"context"
	"errors"

	"vizor/bindings"
)

// EngineExtractor extracts templates with the native engine: default stages
// (detection, landmarks, template, liveness, quality), largest face.
type EngineExtractor struct {
	Engine *bindings.Engine
}

// ModelID is the recognizer id templates carry.
func (e EngineExtractor) ModelID() string { return e.Engine.Info().RecognizerID }

// Extract analyses a batch in one engine call.
func (e EngineExtractor) Extract(ctx context.Context, images [][]byte) ([]Template, error) {
	rs, err := e.Engine.Analyze(ctx, images, bindings.Options{Stages: bindings.StageDefault})
	if err != nil {
		return nil, err
	}
	out := make([]Template, len(images))
	for i, r := range rs {
		t := Template{Faces: len(r.Faces), Quality: -1, Liveness: -1}
		switch {
		case r.Err != nil:
			t.Err = r.Err.Error()
			if errors.Is(r.Err, bindings.ErrNoFace) {
				t.Err = "no face detected"
			}
		case len(r.Faces) == 0:
			t.Err = "no face detected"
		default:
			f := r.Faces[0]
			t.Vector = f.Template
			t.DetScore = float64(f.DetScore)
			t.Liveness = float64(f.Liveness)
			if f.Quality != nil {
				t.Quality = float64(f.Quality.Score)
			}
			if len(t.Vector) == 0 {
				t.Err = "no template"
			}
		}
		out[i] = t
	}
	return out, nil
}
