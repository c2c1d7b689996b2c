package server

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// RequestIDs hands out request ids: the client's X-Request-Id when it is a
// short printable token (so a caller can trace its own ids through the
// logs), else a per-process random prefix and a counter. Every listener of
// the process uses one.
type RequestIDs struct {
	prefix string
	seq    atomic.Uint64
}

// NewRequestIDs starts a generator with a fresh random prefix.
func NewRequestIDs() *RequestIDs {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	return &RequestIDs{prefix: hex.EncodeToString(rnd[:])}
}

// Next returns the id of the request in ctx.
func (g *RequestIDs) Next(ctx *fasthttp.RequestCtx) string {
	if v := ctx.Request.Header.Peek("X-Request-Id"); len(v) > 0 && len(v) <= 64 && printable(v) {
		return string(v)
	}
	return g.prefix + "-" + strconv.FormatUint(g.seq.Add(1), 36)
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}
