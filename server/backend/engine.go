// Package backend adapts the real engine (vizor/bindings, cgo) and gallery
// (vizor/gallery, bbolt + FAISS) to the interfaces of server/service.
package backend

import (
	"context"
	"errors"
	"strings"

	"vizor/bindings"
	"vizor/server/service"
)

// Engine wraps the engine: in process (*bindings.Engine) or in supervised
// worker processes (*engineproc.Pool).
type Engine struct {
	E      bindings.Analyzer
	status service.EngineStatus
}

// NewEngine adapts e.
func NewEngine(e bindings.Analyzer) *Engine {
	info := e.Info()
	st := service.EngineStatus{
		Version: info.EngineVersion, ABIVersion: info.ABIVersion, Backend: info.Backend,
		ModelID: info.RecognizerID, Components: map[string]bool{}, Models: map[string]string{},
	}
	loaded := map[string]bool{}
	for _, m := range info.Models {
		loaded[m.Role] = m.Loaded
		name := m.ID
		if name == "" {
			name = m.Name
		}
		st.Models[m.Role] = name
	}
	// The quality score is computed from the detector's confidence, the
	// landmarks (pose, eyes), sharpness and exposure: it needs the detector
	// and the landmarker.
	st.Components["detection"] = loaded["detector"]
	st.Components["alignment"] = loaded["landmarker"]
	st.Components["recognition"] = loaded["recognizer"]
	st.Components["pad"] = loaded["liveness"]
	st.Components["quality"] = loaded["detector"] && loaded["landmarker"]
	return &Engine{E: e, status: st}
}

// Status implements service.Engine.
func (e *Engine) Status() service.EngineStatus { return e.status }

// opts: the service's requests use one face of an image (a face_index
// below service.ProbeFaces): the engine drops the rest right after
// detection instead of aligning, embedding and scoring every face of a
// crowd.
var opts = bindings.Options{Stages: bindings.StageDefault, MaxFaces: service.ProbeFaces}

// Analyze implements service.Engine: one native call for the whole batch.
func (e *Engine) Analyze(ctx context.Context, images [][]byte) ([]service.ImageResult, error) {
	o := opts
	if service.PADSkipped(ctx) {
		o.Stages &^= bindings.StageLiveness // policy off: no PAD pass
	}
	rs, err := e.E.Analyze(ctx, images, o)
	if err != nil {
		return nil, mapEngineErr(err)
	}
	out := make([]service.ImageResult, len(rs))
	for i, r := range rs {
		o := service.ImageResult{Width: r.Width, Height: r.Height}
		if r.Err != nil {
			o.Err = mapEngineErr(r.Err)
		}
		o.Faces = make([]service.Face, len(r.Faces))
		for j, f := range r.Faces {
			q := float32(-1)
			if f.Quality != nil {
				q = f.Quality.Score
			}
			o.Faces[j] = service.Face{
				Box:      service.Rect{X: f.Box.X, Y: f.Box.Y, W: f.Box.W, H: f.Box.H},
				DetScore: f.DetScore,
				Aligned:  len(f.Landmarks5) > 0 && (f.Template != nil || f.Landmarks68 != nil),
				Liveness: f.Liveness,
				// Why the face has or lacks a score (scored,
				// not_computed, greyscale, face_too_small): the PAD
				// policy answers pad_unavailable with it.
				LivenessStatus: f.LivenessStatus,
				Quality:        q,
				Template:       f.Template,
			}
		}
		out[i] = o
	}
	return out, nil
}

func mapEngineErr(err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, bindings.ErrNoFace):
		return &service.Error{Kind: service.ErrNoFace, Msg: "the image contains no detectable face", Cause: err}
	case errors.Is(err, bindings.ErrDecode), errors.Is(err, bindings.ErrUnsupported):
		return &service.Error{Kind: service.ErrBadImage, Msg: "not a decodable JPEG or PNG image", Cause: err}
	case errors.Is(err, bindings.ErrTooSmall):
		return &service.Error{Kind: service.ErrBadImage, Msg: "image too small", Cause: err}
	case errors.Is(err, bindings.ErrTooLarge):
		// The kind says "image too large" already.
		return &service.Error{Kind: service.ErrImageTooLarge, Msg: strings.TrimPrefix(msg, bindings.ErrTooLarge.Error()+": "), Cause: err}
	case errors.Is(err, bindings.ErrInvalidArgument):
		return &service.Error{Kind: service.ErrInvalid, Msg: msg, Cause: err}
	case errors.Is(err, bindings.ErrClosed), errors.Is(err, bindings.ErrBackend):
		return &service.Error{Kind: service.ErrUnavailable, Msg: "engine unavailable", Cause: err}
	}
	return &service.Error{Kind: service.ErrInternal, Msg: "engine failure", Cause: err}
}
