package compreface

import (
	"net/http"

	"github.com/valyala/fasthttp"

	"vizor/bindings"
	"vizor/server/compat"
	"vizor/server/service"
)

// PAD (presentation attack detection) on the CompreFace API. The original
// has none; Vizor adds a "pad" object to each face it scored (recognize,
// verify, add-face) under the compat_pad_policy default (report), and the
// query parameter pad_policy=report|off|enforce|enforce_strict chooses per
// request. A collection's own policy (set through the XML API on the
// partition named after the key, see Partition) applies to requests that
// name none; a request cannot weaken an enforcing one.

// padRequest reads the request's pad_policy query parameter.
func (a *API) padRequest(ctx *fasthttp.RequestCtx) (service.PADRequest, error) {
	return a.d.PADRequest(compat.Query(ctx, "pad_policy").Get("pad_policy"))
}

// extract runs the enrolment gates on img for key k's collection.
func (a *API) extract(ctx *fasthttp.RequestCtx, k Key, img []byte) (service.Probe, error) {
	pad, err := a.padRequest(ctx)
	if err != nil {
		return service.Probe{}, err
	}
	return a.d.Svc.Extract(compat.From(ctx).Ctx, service.OpEnrol, img, service.Options{Partition: Partition(k.Key), PAD: pad})
}

// judgePAD applies the PAD policy to every face of a recognition or
// verification analysis (templates computed, so PAD ran): each face gets
// its result in an.PAD; an enforcing policy refuses the request when any
// face is refused (400, "Face rejected: ..."). False when it answered.
func (a *API) judgePAD(ctx *fasthttp.RequestCtx, an *compat.Analysis) bool {
	pad, err := a.padRequest(ctx)
	var pol service.PADPolicy
	if err == nil {
		// The collection of the request's key (verification keys have
		// none stored, so they take the default).
		part := Partition(string(ctx.Request.Header.Peek("x-api-key")))
		pol, err = a.d.Svc.EffectivePADPolicy(compat.From(ctx).Ctx, part, pad)
	}
	if err != nil {
		engineErr(ctx, err)
		return false
	}
	thr := a.d.Svc.Config().PADThreshold
	an.PAD = make([]service.PADResult, len(an.Faces))
	for i, f := range an.Faces {
		r, err := service.JudgePAD(pol, thr, compat.ServiceFace(f))
		if err != nil {
			engineErr(ctx, err)
			return false
		}
		an.PAD[i] = r
		a.d.Svc.ObservePAD(service.OpSearch, r)
	}
	return true
}

// padOf is the "pad" object of face f of an (nil when none was judged).
func padOf(f bindings.Face, an compat.Analysis) *compat.PAD {
	for i := range an.Faces {
		if i < len(an.PAD) && an.Faces[i].Box == f.Box {
			return compat.PADOf(an.PAD[i])
		}
	}
	return nil
}

// added answers a stored face: CompreFace's image_id and subject, and the
// PAD outcome when there is one.
func (a *API) added(ctx *fasthttp.RequestCtx, imageID, subject string, pad service.PADResult) {
	out := map[string]any{"image_id": imageID, "subject": subject}
	compat.AddPAD(out, pad)
	compat.WriteJSON(ctx, http.StatusCreated, out)
}
