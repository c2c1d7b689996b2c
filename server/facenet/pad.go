package facenet

import (
	"net/http"

	"github.com/valyala/fasthttp"

	"vizor/server/compat"
	"vizor/server/service"
)

// options are the service options of an upload or a comparison: the
// references' partition (whose PAD policy applies) and the request's
// pad_policy form field (a Vizor extension: report, off, enforce,
// enforce_strict). ok=false when it answered a bad value.
func (a *API) options(ctx *fasthttp.RequestCtx) (service.Options, bool) {
	v, _ := compat.FormValue(ctx, "pad_policy")
	pad, err := a.d.PADRequest(v)
	if err != nil {
		fail(ctx, http.StatusBadRequest, service.Reason(err))
		return service.Options{}, false
	}
	return service.Options{Partition: Partition, PAD: pad}, true
}
