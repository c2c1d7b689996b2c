package compreface

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/valyala/fasthttp"

	"vizor/server/compat"
)

// Admit implements compat.Admitter: the CompreFace key check runs from the
// headers, before the in-flight slot and before the body is read, so a
// keyless or unknown-key client cannot make the server buffer its upload.
// The service a route belongs to is the first segment after /api/v1/, as
// in CompreFace's own URL layout; the image link (/api/v1/static/...)
// carries its key in the path and has no body, so its handler checks it.
func (a *API) Admit(ctx *fasthttp.RequestCtx, r compat.Route) bool {
	typ := serviceOf(r.Pattern)
	if typ == "" {
		return true
	}
	_, ok := a.checkKey(ctx, typ)
	return ok
}

// serviceOf is the key type a route pattern needs ("" for none).
func serviceOf(pattern string) string {
	rest, ok := strings.CutPrefix(pattern, "/api/v1/")
	if !ok {
		return ""
	}
	svc, _, _ := strings.Cut(rest, "/")
	if ValidType(svc) {
		return svc
	}
	return ""
}

// checkKey checks x-api-key the way CompreFace does: missing (400, code
// 20), not a UUID (400, code 26), unknown or of another service type (404,
// code 10). On failure it has written the answer. The message quotes the
// key back to its sender, as CompreFace's does; the request log shows it
// redacted (compat's core).
func (a *API) checkKey(ctx *fasthttp.RequestCtx, typ string) (Key, bool) {
	v := strings.TrimSpace(string(ctx.Request.Header.Peek("x-api-key")))
	if v == "" {
		fail(ctx, http.StatusBadRequest, codeMissingHeader, "Missing header: x-api-key")
		return Key{}, false
	}
	if !IsUUID(v) {
		fail(ctx, http.StatusBadRequest, codeValidation, "Service API key should be UUID")
		return Key{}, false
	}
	k, ok := a.keys.lookup(v)
	if !ok || k.Type != typ {
		fail(ctx, http.StatusNotFound, codeModelNotFound, fmt.Sprintf("%s service with API Key %s not found", typeTitle[typ], v))
		return Key{}, false
	}
	return k, true
}
