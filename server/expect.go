package server

import "github.com/valyala/fasthttp"

// Expect: 100-continue. A client that asks before sending its body (curl
// does for large uploads) is answered from the same header checks as any
// request: a refused one gets its final status (401, 403, 404, 503...)
// instead of an invitation to send the body it would be refused for, and
// its connection is closed. An admitted one gets 100 Continue; its request
// then runs as usual (the checks run again, with the slot taken for real).

const expectKey = "vizor.expect"

// expectState marks a handler pass made only to answer Expect.
type expectState struct{ admitted bool }

// ExpectHandler returns a fasthttp ExpectHandler that runs handle in
// headers-only mode: handle must call ExpectOnly once its header checks
// pass and return when it reports true, before touching the body.
func ExpectHandler(handle fasthttp.RequestHandler) func(*fasthttp.RequestCtx) int {
	return func(ctx *fasthttp.RequestCtx) int {
		st := &expectState{}
		ctx.SetUserValue(expectKey, st)
		handle(ctx)
		ctx.RemoveUserValue(expectKey)
		if st.admitted {
			// The real pass writes the response from scratch.
			ctx.Response.Reset()
			return fasthttp.StatusContinue
		}
		return ctx.Response.StatusCode()
	}
}

// ExpectOnly reports whether this handler pass only answers Expect (the
// request passed its header checks: the caller returns without reading the
// body and without logging).
func ExpectOnly(ctx *fasthttp.RequestCtx) bool {
	st, ok := ctx.UserValue(expectKey).(*expectState)
	if ok {
		st.admitted = true
	}
	return ok
}
