// Package server is Vizor's HTTP core on fasthttp: routing, API keys,
// request ids, the in-flight limit, per-request deadlines, panic recovery,
// request logs, /metrics and graceful shutdown. API flavours (server/xmlapi
// and later ones) plug in as a Flavour: a route table plus an error writer
// in their own format, all over one server/service.
package server

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"vizor/gallery/reqkey"
	"vizor/server/config"
)

// Version is the server's version, set with -ldflags "-X vizor/server.Version=...".
var Version = "0.1.0-dev"

// Route is one endpoint.
type Route struct {
	Method  string
	Path    string
	Name    string // metrics/log label
	Op      string // API-key operation; "" is open to all (health, version)
	Limited bool   // counts against max_in_flight
	Handler fasthttp.RequestHandler
}

// Flavour is one API dialect.
type Flavour interface {
	Routes() []Route
	// WriteError renders an error in the flavour's format.
	WriteError(ctx *fasthttp.RequestCtx, status int, code, msg string)
}

// Request is the per-request state the core keeps in the fasthttp context.
type Request struct {
	ID      string
	Ctx     context.Context // carries the request deadline
	Route   string
	Op      string
	Part    string
	ErrCode string
	Detail  string // short error detail for the log (never image data)
	key     *key
	start   time.Time
	expect  bool // an admitted Expect: 100-continue pass: not logged
}

const reqKey = "vizor.req"

// From returns the request state of ctx (never nil inside a route handler).
func From(ctx *fasthttp.RequestCtx) *Request {
	if r, ok := ctx.UserValue(reqKey).(*Request); ok {
		return r
	}
	return &Request{Ctx: context.Background()}
}

// Allow checks the request's API key for op on partition.
func (r *Request) Allow(op, partition string) error {
	r.Op, r.Part = op, partition
	if !r.key.allowsOp(op) || !r.key.allowsPartition(partition) {
		return ErrForbidden
	}
	return nil
}

// AllowsOp reports whether the key may do op, without recording it as the
// request's operation (for rights a request uses in passing, such as
// weakening a PAD policy).
func (r *Request) AllowsOp(op string) bool { return r.key.allowsOp(op) }

// AllowsPartition reports whether the key may see partition (for listings).
func (r *Request) AllowsPartition(p string) bool { return r.key.allowsPartition(p) }

// Server is the HTTP server.
type Server struct {
	cfg     config.Config
	log     zerolog.Logger
	m       *Metrics
	auth    *Auth
	flavour Flavour
	routes  map[string]map[string]*Route // path -> method -> route
	limit   *Limiter
	ids     *RequestIDs
	srv     *fasthttp.Server
}

// New builds a server for one flavour.
func New(cfg config.Config, log zerolog.Logger, m *Metrics, fl Flavour) *Server {
	s := &Server{cfg: cfg, log: log, m: m, auth: NewAuth(cfg.APIKeys), flavour: fl,
		routes: map[string]map[string]*Route{}, limit: NewLimiter(cfg.MaxInFlight, m),
		ids: NewRequestIDs()}
	for _, r := range fl.Routes() {
		s.add(r)
	}
	s.add(Route{Method: "GET", Path: "/metrics", Name: "metrics", Op: "read", Handler: s.metrics})
	s.srv = NewHTTPServer(cfg, log, s.handle, s.transportError)
	return s
}

func (s *Server) add(r Route) {
	rr := r
	if s.routes[r.Path] == nil {
		s.routes[r.Path] = map[string]*Route{}
	}
	s.routes[r.Path][r.Method] = &rr
}

// Auth returns the key checker.
func (s *Server) Auth() *Auth { return s.auth }

// EffectiveAddr applies the loopback rule: without API keys and without
// allow_public, a non-loopback address is replaced by 127.0.0.1 on the same
// port. It returns the address and a note to log (empty when unchanged).
func EffectiveAddr(cfg config.Config) (string, string) {
	if len(cfg.APIKeys) > 0 || cfg.AllowPublic || config.IsLoopback(cfg.Addr) {
		return cfg.Addr, ""
	}
	_, port, _ := net.SplitHostPort(cfg.Addr)
	addr := net.JoinHostPort("127.0.0.1", port)
	return addr, fmt.Sprintf("no API keys configured: binding to loopback %s only instead of %s (configure api_keys, or set allow_public=true to serve unauthenticated)", addr, cfg.Addr)
}

// Serve serves on ln until Shutdown. Temporary accept errors (a connection
// flood exhausting file descriptors) are retried, never returned: an error
// here is a real failure of the listener.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(NewRetryListener(ln, s.log)) }

// Shutdown stops accepting connections and waits for requests in flight
// (until ctx ends).
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.ShutdownWithContext(ctx) }

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	req := &Request{start: time.Now(), ID: s.ids.Next(ctx)}
	ctx.Response.Header.Set("X-Request-Id", req.ID)
	path := string(ctx.Path())
	methods := s.routes[path]
	route := methods[string(ctx.Method())]
	if route == nil && string(ctx.Method()) == "HEAD" {
		route = methods["GET"]
	}
	req.Route = "unmatched"
	if route != nil {
		req.Route = route.Name
	}
	ctx.SetUserValue(reqKey, req)
	defer s.finish(ctx, req)

	switch {
	case methods == nil:
		req.ErrCode = "not_found"
		s.flavour.WriteError(ctx, fasthttp.StatusNotFound, "not_found", "no such endpoint: "+path)
		return
	case route == nil:
		allow := ""
		for m := range methods {
			if allow != "" {
				allow += ", "
			}
			allow += m
		}
		ctx.Response.Header.Set("Allow", allow)
		req.ErrCode = "method_not_allowed"
		s.flavour.WriteError(ctx, fasthttp.StatusMethodNotAllowed, "method_not_allowed", "method not allowed; use "+allow)
		return
	}
	if route.Op != "" && s.auth.Enabled() {
		k := s.auth.lookup(string(ctx.Request.Header.Peek("X-Api-Key")))
		if k == nil {
			req.ErrCode = "unauthorized"
			s.m.Rejected.With("unauthorized").Inc()
			s.flavour.WriteError(ctx, fasthttp.StatusUnauthorized, "unauthorized", ErrUnauthorized.Error())
			return
		}
		req.key = k
		if !k.allowsOp(route.Op) {
			req.ErrCode = "forbidden"
			s.m.Rejected.With("forbidden").Inc()
			s.flavour.WriteError(ctx, fasthttp.StatusForbidden, "forbidden", ErrForbidden.Error())
			return
		}
	}
	if route.Limited {
		release, ok := s.limit.Acquire(ctx)
		if !ok {
			req.ErrCode = "busy"
			s.flavour.WriteError(ctx, fasthttp.StatusServiceUnavailable, "busy", s.limit.Busy())
			return
		}
		defer release()
	}
	if ExpectOnly(ctx) {
		req.expect = true
		return
	}
	// Admitted from its headers: only now is the body read.
	if err := ReadBody(ctx, s.cfg.MaxBodyBytes); err != nil {
		status, code, report := ReadError(err, s.cfg.MaxBodyBytes)
		req.ErrCode, req.Detail = code, report.Error()
		s.m.Rejected.With(code).Inc()
		s.flavour.WriteError(ctx, status, code, report.Error())
		return
	}
	// The request id keys the gallery's enrolments: a client retrying with
	// the same X-Request-Id stores nothing twice on the cluster backend.
	c, cancel := context.WithTimeout(reqkey.With(context.Background(), req.ID), s.cfg.RequestTimeout)
	defer cancel()
	req.Ctx = c
	defer func() {
		if p := recover(); p != nil {
			req.ErrCode = "internal"
			req.Detail = fmt.Sprint(p)
			s.log.Error().Str("id", req.ID).Interface("panic", p).Msg("handler panic")
			ctx.Response.Reset()
			ctx.Response.Header.Set("X-Request-Id", req.ID)
			s.flavour.WriteError(ctx, fasthttp.StatusInternalServerError, "internal", "internal error")
		}
	}()
	route.Handler(ctx)
}

// RequestDone counts a finished request in the metrics and starts its log
// line (request id, route, status, latency, sizes; never bodies). Callers
// add their own fields and send it with Msg. Every listener of the process
// logs and counts requests through it.
//
// path is the request path as it may be logged (a flavour whose paths carry
// secrets passes it redacted). A request whose body was left unread has its
// connection closed here (CloseIfUnread), and bytes_in is then the announced
// Content-Length.
func RequestDone(log zerolog.Logger, m *Metrics, ctx *fasthttp.RequestCtx, id, route, path string, start time.Time) *zerolog.Event {
	CloseIfUnread(ctx)
	lat := time.Since(start)
	status := ctx.Response.StatusCode()
	code := strconv.Itoa(status)
	m.Requests.With(route, code).Inc()
	m.Latency.With(route, code).Observe(lat.Seconds())
	lvl := zerolog.InfoLevel
	if status >= 500 {
		lvl = zerolog.ErrorLevel
	}
	return log.WithLevel(lvl).
		Str("id", id).
		Str("method", string(ctx.Method())).
		Str("path", path).
		Str("route", route).
		Int("status", status).
		Float64("latency_ms", float64(lat.Microseconds())/1000).
		Int("bytes_in", BytesIn(ctx)).
		Int("bytes_out", len(ctx.Response.Body())).
		Str("remote", ctx.RemoteIP().String())
}

func (s *Server) finish(ctx *fasthttp.RequestCtx, req *Request) {
	if req.expect {
		return
	}
	ev := RequestDone(s.log, s.m, ctx, req.ID, req.Route, string(ctx.Path()), req.start)
	if req.key != nil {
		ev = ev.Str("key", req.key.id)
	}
	if req.Op != "" {
		ev = ev.Str("op", req.Op)
	}
	if req.Part != "" {
		ev = ev.Str("partition", req.Part)
	}
	if req.ErrCode != "" {
		ev = ev.Str("error", req.ErrCode)
	}
	if req.Detail != "" {
		ev = ev.Str("detail", req.Detail)
	}
	ev.Msg("request")
}

// transportError answers requests fasthttp could not read: bodies over the
// limit (413), malformed HTTP (400), read timeouts.
func (s *Server) transportError(ctx *fasthttp.RequestCtx, err error) {
	status, code, err := ReadError(err, s.cfg.MaxBodyBytes)
	s.m.Rejected.With(code).Inc()
	s.m.Requests.With("transport", strconv.Itoa(status)).Inc()
	s.log.Info().Str("path", string(ctx.Path())).Int("status", status).Str("error", code).Str("remote", ctx.RemoteIP().String()).Msg("request refused")
	ctx.SetConnectionClose()
	s.flavour.WriteError(ctx, status, code, err.Error())
}

// metrics serves the process-wide series. They count every partition's
// requests, so a key limited to some partitions gets 403: only a key
// allowed every partition may read them.
func (s *Server) metrics(ctx *fasthttp.RequestCtx) {
	req := From(ctx)
	if !req.key.allowsAllPartitions() {
		req.ErrCode = "forbidden"
		s.m.Rejected.With("forbidden").Inc()
		s.flavour.WriteError(ctx, fasthttp.StatusForbidden, "forbidden", "/metrics counts every partition: this API key is limited to some partitions")
		return
	}
	s.m.Reg.Serve(ctx) // client_golang's handler: text or OpenMetrics, gzip
}
