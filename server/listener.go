package server

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"vizor/server/config"
)

// The pieces every listener of the process shares (the XML API's and each
// compatibility API's): the fasthttp server settings, the in-flight limit
// and the classification of requests fasthttp could not read.

// NewHTTPServer is a fasthttp server for handler with the config's timeouts
// and body limit; handlers parse multipart themselves, connections close at
// shutdown and fasthttp's own log lines go to log at debug level. Request
// bodies are streamed: the handler reads one with ReadBody once the request
// is admitted (body.go). Open connections are capped per listener (its
// share of ConnCaps: 503 and close beyond) and per client address
// (max_conns_per_ip: 429 and close beyond).
func NewHTTPServer(cfg config.Config, log zerolog.Logger, handler fasthttp.RequestHandler,
	onReadError func(*fasthttp.RequestCtx, error)) *fasthttp.Server {
	limit, err := FileLimit()
	if err != nil {
		limit = 1024
	}
	_, perListener := ConnCaps(cfg, limit)
	return &fasthttp.Server{
		Name:                         "vizor",
		Handler:                      handler,
		ExpectHandler:                ExpectHandler(handler),
		ErrorHandler:                 onReadError,
		ReadTimeout:                  cfg.ReadTimeout,
		WriteTimeout:                 cfg.WriteTimeout,
		IdleTimeout:                  cfg.IdleTimeout,
		MaxRequestBodySize:           cfg.MaxBodyBytes,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		Concurrency:                  perListener,
		MaxConnsPerIP:                cfg.MaxConnsPerIP,
		Logger:                       fasthttpLogger{log},
	}
}

type fasthttpLogger struct{ l zerolog.Logger }

// Printf logs at debug level, except fasthttp's notes that a connection
// cap refused connections (it writes them at most once a minute): an
// operator needs those to see a flood or a cap set too low.
func (f fasthttpLogger) Printf(format string, args ...any) {
	ev := f.l.Debug()
	if strings.Contains(format, "Concurrency") || strings.Contains(format, "MaxConnsPerIP") {
		ev = f.l.Warn()
	}
	ev.Str("component", "fasthttp").Msgf(format, args...)
}

// Limiter bounds the requests a listener processes at once.
type Limiter struct {
	slots chan struct{}
	m     *Metrics
}

// NewLimiter allows n requests at once (config.Validate keeps n >= 1).
func NewLimiter(n int, m *Metrics) *Limiter {
	return &Limiter{slots: make(chan struct{}, n), m: m}
}

// Acquire takes a slot for the request. When none is free it counts the
// rejection, sets Retry-After and returns ok false: the caller answers 503
// in its API's format. Otherwise release gives the slot back.
func (l *Limiter) Acquire(ctx *fasthttp.RequestCtx) (release func(), ok bool) {
	select {
	case l.slots <- struct{}{}:
	default:
		l.m.Rejected.With("busy").Inc()
		ctx.Response.Header.Set("Retry-After", "1")
		return nil, false
	}
	g := l.m.InFlight.With()
	g.Inc()
	return func() { g.Dec(); <-l.slots }, true
}

// Busy is the message of a 503 from Acquire.
func (l *Limiter) Busy() string {
	return fmt.Sprintf("server busy: %d requests in flight", cap(l.slots))
}

// ReadError classifies an error fasthttp hit reading a request: 413 for a
// body over the limit, 408 for a read timeout, else 400; with a short code
// and the error to report.
func ReadError(err error, maxBody int) (status int, code string, report error) {
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return fasthttp.StatusRequestEntityTooLarge, "body_too_large", fmt.Errorf("request body over the %d-byte limit", maxBody)
	case errors.As(err, &ne) && ne.Timeout():
		return fasthttp.StatusRequestTimeout, "request_timeout", err
	}
	return fasthttp.StatusBadRequest, "bad_request", err
}
