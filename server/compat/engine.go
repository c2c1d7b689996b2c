package compat

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif"  // decoders for the crop mode
	_ "image/jpeg" //
	_ "image/png"  //
	"strings"

	_ "golang.org/x/image/bmp"  //
	_ "golang.org/x/image/tiff" //
	_ "golang.org/x/image/webp" //

	"vizor/bindings"
	"vizor/server/service"
)

// Analyzer is the engine call the compatibility flavours make when they need
// more than the service's gated single face: every face of an image, with
// landmarks and attributes (age, gender, pose), a caller-chosen detection
// threshold and face limit.
type Analyzer interface {
	AnalyzeDetail(ctx context.Context, image []byte, o DetailOptions) (Analysis, error)
	Info() bindings.Info
}

// DetailOptions tune one detailed analysis.
type DetailOptions struct {
	Template     bool               // compute templates (and PAD/quality)
	Attributes   bindings.Attribute // attributes to compute; 0: none
	MaxFaces     int                // largest first; 0: all
	DetThreshold float32            // detector confidence; 0: the engine's calibrated one
	// Cropped treats the image as an already-cropped face (CompreFace
	// detect_faces=false): it is framed in a neutral border before
	// detection, so a face filling the whole image is still found, and
	// coordinates are mapped back to the input.
	Cropped bool
}

// Analysis is one image's faces, largest first.
type Analysis struct {
	Width, Height int
	Faces         []bindings.Face
	Timings       bindings.Timings
	// PAD is what the PAD policy said of each face, when a flavour judged
	// them (CompreFace recognition); nil otherwise.
	PAD []service.PADResult
}

// Engine adapts the engine (in process, or engineproc's worker pool).
type Engine struct{ E bindings.Analyzer }

// Info passes through.
func (e Engine) Info() bindings.Info { return e.E.Info() }

// AnalyzeDetail runs one image. Errors wrap the service's sentinels
// (ErrBadImage, ErrImageTooLarge, ErrNoFace, ErrUnavailable, ...).
func (e Engine) AnalyzeDetail(ctx context.Context, img []byte, o DetailOptions) (Analysis, error) {
	st := bindings.StageDetect | bindings.StageLandmarks
	if o.Template {
		st = bindings.StageDefault
	}
	if o.Attributes != 0 {
		st |= bindings.StageAttributes
	}
	in, dx, dy := img, float32(0), float32(0)
	w0, h0 := 0, 0
	if o.Cropped {
		framed, x, y, w, h, err := frame(img)
		if err != nil {
			return Analysis{}, err
		}
		in, dx, dy, w0, h0 = framed, float32(x), float32(y), w, h
	}
	r, err := bindings.AnalyzeOne(ctx, e.E, in, bindings.Options{Stages: st, Attributes: o.Attributes, MaxFaces: o.MaxFaces, DetThreshold: o.DetThreshold})
	if err != nil && !errors.Is(err, bindings.ErrNoFace) {
		return Analysis{}, MapEngineErr(err)
	}
	a := Analysis{Width: r.Width, Height: r.Height, Faces: r.Faces, Timings: r.Timings}
	if o.Cropped {
		a.Width, a.Height = w0, h0
		for i := range a.Faces {
			f := &a.Faces[i]
			f.Box.X -= dx
			f.Box.Y -= dy
			for k := range f.Landmarks5 {
				f.Landmarks5[k].X -= dx
				f.Landmarks5[k].Y -= dy
			}
			for k := range f.Landmarks68 {
				f.Landmarks68[k].X -= dx
				f.Landmarks68[k].Y -= dy
			}
		}
	}
	return a, nil
}

// MaxCroppedPixels bounds an already-cropped face image (CompreFace
// detect_faces=false). It is decoded in Go and framed on a canvas 2.56 times
// its area: at 4 megapixels that is at most 64 MB decoded (16-bit RGBA),
// 43 MB of canvas and up to 43 MB of PNG, inside the per-request memory
// budget with the engine's own decode of the framed image; a face crop
// needs far fewer pixels.
const MaxCroppedPixels = 4 << 20

// frame pastes the image in the middle of a grey canvas 1.6 times its size
// and encodes it as PNG; it returns the offset and the original size. The
// header is checked against MaxCroppedPixels before anything is decoded.
func frame(b []byte) ([]byte, int, int, int, int, error) {
	if _, err := CheckImage(b, MaxCroppedPixels); err != nil {
		if errors.Is(err, service.ErrImageTooLarge) {
			err = &service.Error{Kind: service.ErrImageTooLarge, Msg: "cropped face image (detect_faces=false): " + strings.TrimPrefix(err.Error(), service.ErrImageTooLarge.Error()+": ")}
		}
		return nil, 0, 0, 0, 0, err
	}
	src, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, 0, 0, 0, 0, &service.Error{Kind: service.ErrBadImage, Msg: "image could not be decoded", Cause: err}
	}
	sb := src.Bounds()
	w, h := sb.Dx(), sb.Dy()
	if int64(w)*int64(h) > MaxCroppedPixels {
		return nil, 0, 0, 0, 0, &service.Error{Kind: service.ErrImageTooLarge, Msg: "cropped face image too large"}
	}
	mx, my := w*3/10, h*3/10
	dst := image.NewRGBA(image.Rect(0, 0, w+2*mx, h+2*my))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.Gray{Y: 128}), image.Point{}, draw.Src)
	draw.Draw(dst, image.Rect(mx, my, mx+w, my+h), src, sb.Min, draw.Src)
	out, err := encodePNG(dst)
	if err != nil {
		return nil, 0, 0, 0, 0, &service.Error{Kind: service.ErrBadImage, Msg: err.Error()}
	}
	return out, mx, my, w, h, nil
}

// MapEngineErr maps a bindings error to the service's sentinels.
func MapEngineErr(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &service.Error{Kind: service.ErrTimeout, Msg: "the engine did not answer in time", Cause: err}
	case errors.Is(err, context.Canceled):
		return &service.Error{Kind: service.ErrUnavailable, Msg: "request cancelled", Cause: err}
	case errors.Is(err, bindings.ErrNoFace):
		return &service.Error{Kind: service.ErrNoFace, Msg: "the image contains no detectable face", Cause: err}
	case errors.Is(err, bindings.ErrDecode), errors.Is(err, bindings.ErrUnsupported), errors.Is(err, bindings.ErrTooSmall):
		return &service.Error{Kind: service.ErrBadImage, Msg: engineMsg(err), Cause: err}
	case errors.Is(err, bindings.ErrTooLarge):
		return &service.Error{Kind: service.ErrImageTooLarge, Msg: engineMsg(err), Cause: err}
	case errors.Is(err, bindings.ErrInvalidArgument):
		return &service.Error{Kind: service.ErrInvalid, Msg: err.Error(), Cause: err}
	case errors.Is(err, bindings.ErrClosed), errors.Is(err, bindings.ErrBackend):
		return &service.Error{Kind: service.ErrUnavailable, Msg: "engine unavailable", Cause: err}
	}
	return &service.Error{Kind: service.ErrInternal, Msg: "engine failure", Cause: err}
}

// engineMsg is the engine's own message without the sentinel's text, which
// the service error's kind already says ("image too large: image too
// large: ..." otherwise).
func engineMsg(err error) string {
	var be *bindings.Error
	if errors.As(err, &be) && be.Message != "" {
		if be.Kind == bindings.ErrUnsupported || be.Kind == bindings.ErrTooSmall {
			return be.Kind.Error() + ": " + be.Message
		}
		return be.Message
	}
	return err.Error()
}
