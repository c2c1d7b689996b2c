package masshealth

import (
	"encoding/json"
	"net/http"

	"github.com/valyala/fasthttp"

	"vizor/server/compat"
	"vizor/server/service"
)

// padKey holds a request's pad_policy body field on its context: body()
// reads it once with the rest of the JSON, the extractions use it.
const padKey = "masshealth.pad_policy"

// padField reads the optional "pad_policy" body field (a Vizor extension:
// report, off, enforce, enforce_strict); false when it answered a bad one.
func padField(ctx *fasthttp.RequestCtx, m map[string]json.RawMessage) bool {
	raw, ok := m["pad_policy"]
	if !ok || string(raw) == "null" {
		return true
	}
	var s string
	var err error = &service.Error{Kind: service.ErrInvalid, Msg: "pad_policy must be a string"}
	if json.Unmarshal(raw, &s) == nil {
		_, err = service.ParsePADPolicy(s)
	}
	if err != nil {
		fail(ctx, http.StatusBadRequest, service.Reason(err))
		return false
	}
	ctx.SetUserValue(padKey, s)
	return true
}

// opts are the service options of a request: the verification images'
// partition (whose PAD policy applies) and the request's pad_policy.
func (a *API) opts(ctx *fasthttp.RequestCtx) service.Options {
	s, _ := ctx.UserValue(padKey).(string)
	pad, _ := a.d.PADRequest(s) // checked by padField
	return service.Options{Partition: Partition, PAD: pad}
}

// comparePair scores two base64 images and says what PAD found on each.
func (a *API) comparePair(ctx *fasthttp.RequestCtx, s1, s2 string) (float32, [2]service.PADResult, error) {
	var pads [2]service.PADResult
	img1, err := a.decode(s1)
	if err != nil {
		return 0, pads, &pairErr{1, err}
	}
	img2, err := a.decode(s2)
	if err != nil {
		return 0, pads, &pairErr{2, err}
	}
	res, err := a.d.Svc.Compare(compat.From(ctx).Ctx, img1, img2, a.opts(ctx))
	if err != nil {
		return 0, pads, &pairErr{max(1, res.Failed), err}
	}
	return res.Score, [2]service.PADResult{res.Probe1.PAD, res.Probe2.PAD}, nil
}

// padPair is the "pad" object of a comparison: one entry per image that
// PAD reported on.
func padPair(pads [2]service.PADResult) map[string]any {
	out := map[string]any{}
	for i, k := range []string{"image1", "image2"} {
		if p := compat.PADOf(pads[i]); p != nil {
			out[k] = p
		}
	}
	return out
}
