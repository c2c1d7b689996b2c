package compreface

import (
	"net/http"

	"github.com/valyala/fasthttp"

	"vizor/server/compat"
	"vizor/server/service"
)

// engineErr answers an engine or gate error in CompreFace's terms.
func engineErr(ctx *fasthttp.RequestCtx, err error) {
	// After fail, which logs the client message: the log gets the cause.
	defer func() { compat.From(ctx).Detail = service.LogDetail(err) }()
	switch service.Kind(err) {
	case service.ErrNoFace:
		fail(ctx, http.StatusBadRequest, codeNoFaces, "No face is found in the given image")
	case service.ErrBadImage:
		fail(ctx, http.StatusBadRequest, codeUndefined, "Image could not be decoded: "+service.Reason(err))
	case service.ErrImageTooLarge:
		fail(ctx, http.StatusBadRequest, codeUndefined, "Image too large: "+service.Reason(err))
	case service.ErrAlignment, service.ErrQuality, service.ErrSpoof, service.ErrMorph, service.ErrExtraction:
		// Vizor's enrolment gates: CompreFace has no such errors; they
		// are 400s with the gate's reason.
		fail(ctx, http.StatusBadRequest, codeUndefined, "Face rejected: "+service.Message(err))
	case service.ErrInvalid:
		fail(ctx, http.StatusBadRequest, codeIncorrectArg, service.Message(err))
	case service.ErrTimeout, service.ErrUnavailable:
		fail(ctx, http.StatusServiceUnavailable, codeFacesService, service.Message(err))
	default:
		fail(ctx, http.StatusInternalServerError, codeFacesService, "internal error")
	}
}
