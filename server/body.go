package server

import (
	"errors"
	"fmt"
	"io"

	"github.com/valyala/fasthttp"
)

// Auth before body. fasthttp would buffer a whole request body before any
// handler runs, so 200 keyless connections each announcing 16 MiB held
// 3.6 GB. Every listener runs with StreamRequestBody: fasthttp reads the
// headers and at most the first 8 KiB of a body, then the core decides the
// route, the API key and the in-flight slot from the headers alone, and
// only then ReadBody pulls the body into memory (bounded by max_body_bytes)
// so the handlers keep reading ctx.PostBody() and multipart forms as
// before. A refused request's unread body is never held: CloseIfUnread
// discards a small one (so the client reads its 401, not a reset) and
// closes the connection on a large one.

// ReadBody reads the streamed request body into memory, refusing one over
// max bytes (announced by Content-Length, or counted for a chunked body)
// with fasthttp.ErrBodyTooLarge before reading it. Other errors are the
// connection's (read timeout, client gone, bad chunking); ReadError
// classifies them all. A request built in memory (no stream) is only
// checked against max.
func ReadBody(ctx *fasthttp.RequestCtx, max int) error {
	req := &ctx.Request
	cl := req.Header.ContentLength()
	if cl > max {
		ctx.SetConnectionClose()
		return fasthttp.ErrBodyTooLarge
	}
	stream := req.BodyStream()
	if stream == nil {
		if len(req.Body()) > max {
			return fasthttp.ErrBodyTooLarge
		}
		return nil
	}
	var buf []byte
	var err error
	if cl >= 0 {
		buf = make([]byte, cl)
		_, err = io.ReadFull(stream, buf)
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
	} else {
		buf, err = io.ReadAll(io.LimitReader(stream, int64(max)+1))
		if err == nil && len(buf) > max {
			err = fasthttp.ErrBodyTooLarge
		}
	}
	if err != nil {
		// The stream stops at an unknown offset: the connection cannot
		// carry another request.
		ctx.SetConnectionClose()
		if errors.Is(err, fasthttp.ErrBodyTooLarge) {
			return err
		}
		return fmt.Errorf("reading the request body: %w", err)
	}
	req.SetBodyRaw(buf)
	return nil
}

// unreadBody reports whether the request announced a body that nobody read
// (the request was refused from its headers).
func unreadBody(ctx *fasthttp.RequestCtx) bool {
	cl := ctx.Request.Header.ContentLength()
	return ctx.Request.IsBodyStream() && (cl > 0 || cl == -1)
}

// drainMax is the largest unread body a refused request's connection is
// drained of (read and discarded, never held) instead of being closed.
// Closing a socket with unread data makes the kernel answer with a reset,
// which can reach the client before the 401 it should read: an ordinary
// client that sent a small upload with a wrong key would see "connection
// reset" instead of the reason. Bodies above this, and chunked ones, are not
// read at all: the connection closes.
const drainMax = 256 << 10

// CloseIfUnread settles a request whose body was not read (it was refused
// from its headers): a body announced at up to drainMax bytes is discarded
// so the connection stays usable and the answer arrives intact; anything
// else closes the connection after the response, so a refused client cannot
// make the server read what it sends.
func CloseIfUnread(ctx *fasthttp.RequestCtx) {
	if !unreadBody(ctx) {
		return
	}
	cl := ctx.Request.Header.ContentLength()
	if cl > 0 && cl <= drainMax {
		if stream := ctx.Request.BodyStream(); stream != nil {
			if n, err := io.CopyN(io.Discard, stream, int64(cl)); err == nil && n == int64(cl) {
				return
			}
		}
	}
	ctx.SetConnectionClose()
}

// BytesIn is the request's body size for the log: what was read, or what
// Content-Length announced when the body was left unread (reading it to
// measure it is what auth-before-body avoids).
func BytesIn(ctx *fasthttp.RequestCtx) int {
	if ctx.Request.IsBodyStream() {
		return max(ctx.Request.Header.ContentLength(), 0)
	}
	return len(ctx.Request.Body())
}
