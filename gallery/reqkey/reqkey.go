// Package reqkey carries a request id in a context so that a gallery backend
// can derive idempotent enrolment keys from it; it is free of cgo, so the
// HTTP core can import it without the gallery.
package reqkey

import (
	"context"
	"strconv"
	"sync/atomic"
)

// A request's enrolments get keys "<request id>/<n>", n counting the
// request's enrolments in order: a client that retries a request with the
// same X-Request-Id after a timeout replays the same keys, and a backend
// that derives ids from keys (the cluster) stores nothing twice.
type requestKeys struct {
	id string
	n  atomic.Int64
}

type keyCtx struct{}

// With returns ctx carrying the request id that Next derives
// enrolment keys from.
func With(ctx context.Context, requestID string) context.Context {
	if requestID == "" {
		return ctx
	}
	return context.WithValue(ctx, keyCtx{}, &requestKeys{id: requestID})
}

// Next is the key of the request's next enrolment ("" without a
// request id: the backend then draws a random one).
func Next(ctx context.Context) string {
	k, _ := ctx.Value(keyCtx{}).(*requestKeys)
	if k == nil {
		return ""
	}
	return k.id + "/" + strconv.FormatInt(k.n.Add(1), 10)
}
