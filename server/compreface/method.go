package compreface

import (
	"net/http"
	"strings"

	"github.com/valyala/fasthttp"

	"vizor/server/compat"
)

// WrongMethod answers a known path asked with a method it does not serve as
// CompreFace does: its exception handler turns Spring's "method not
// supported" into 404 with code 0 (undefined) and Spring's message. Allow
// still lists the methods, which CompreFace's clients ignore and a person
// reading the answer needs.
func (a *API) WrongMethod(ctx *fasthttp.RequestCtx, method string, allow []string) {
	ctx.Response.Header.Set("Allow", strings.Join(allow, ", "))
	compat.WriteJSON(ctx, http.StatusNotFound, cfError{Message: "Request method '" + method + "' not supported", Code: codeUndefined})
}
