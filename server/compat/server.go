// Package compat holds what Vizor's drop-in compatibility APIs share: a small
// fasthttp core with path parameters (CompreFace routes carry subjects and
// image ids in the path), request ids, per-request deadlines, the in-flight
// limit, panic recovery, request logs and the main server's metrics; image
// normalisation (formats the engine does not decode are converted to PNG);
// the similarity mapping; and the detailed (multi-face, attributes) engine
// call.
//
// The flavours themselves live in server/compreface, server/facenet and
// server/masshealth; server/compat/listen starts the enabled ones.
package compat

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"vizor/server"
	"vizor/server/config"
)

// Params are the path parameters of a matched route.
type Params map[string]string

// Route is one endpoint. Pattern segments "{name}" match one path segment
// (percent-decoded); a trailing slash in the request is ignored.
type Route struct {
	Method  string
	Pattern string
	Name    string // metrics/log label (prefixed with the API's name)
	Limited bool   // counts against max_in_flight
	Handler func(ctx *fasthttp.RequestCtx, p Params)
}

// API is one compatibility flavour.
type API interface {
	Name() string
	Routes() []Route
	// WriteError renders an error the core produces (unknown path, wrong
	// method, busy, panic, unreadable request) in the API's format.
	WriteError(ctx *fasthttp.RequestCtx, status int, msg string)
}

// MethodRefuser is an API that answers a known path asked with a method it
// does not serve in its own way (CompreFace: 404 with code 0, as its Spring
// exception handler does); without it the core answers 405 with Allow.
type MethodRefuser interface {
	WrongMethod(ctx *fasthttp.RequestCtx, method string, allow []string)
}

// Admitter is an API with its own keys. Admit decides from the request's
// headers alone, before the in-flight slot and before any body byte is
// read, whether the matched route may run; when it returns false it has
// written the answer (and the connection is closed without reading the
// body).
type Admitter interface {
	Admit(ctx *fasthttp.RequestCtx, route Route) bool
}

// Request is the per-request state.
type Request struct {
	ID     string
	Ctx    context.Context
	Route  string
	Detail string // short error detail for the log (never image data); API keys are redacted from it
	start  time.Time
	// secret is the request's API key (x-api-key or an {api_key} path
	// segment): the log shows it as server.KeyID, never a prefix of it.
	secret string
	path   string // the path as logged (secret path segments redacted)
	expect bool   // an admitted Expect: 100-continue pass: not logged
}

const reqKey = "vizor.compat.req"

// From returns the request state of ctx (never nil).
func From(ctx *fasthttp.RequestCtx) *Request {
	if r, ok := ctx.UserValue(reqKey).(*Request); ok {
		return r
	}
	return &Request{Ctx: context.Background()}
}

type route struct {
	Route
	segs []string
}

// Server is one compatibility listener.
type Server struct {
	api    API
	cfg    config.Config
	log    zerolog.Logger
	m      *server.Metrics
	routes []route
	limit  *server.Limiter
	ids    *server.RequestIDs
	srv    *fasthttp.Server
}

// NewServer builds a listener for api with the main server's limits,
// timeouts and metrics.
func NewServer(api API, cfg config.Config, log zerolog.Logger, m *server.Metrics) *Server {
	s := &Server{api: api, cfg: cfg, log: log.With().Str("api", api.Name()).Logger(), m: m,
		limit: server.NewLimiter(cfg.MaxInFlight, m), ids: server.NewRequestIDs()}
	routes := api.Routes()
	if d, ok := api.(Documented); ok {
		routes = append(routes, docRoutes(d.OpenAPI())...)
	}
	for _, r := range routes {
		s.routes = append(s.routes, route{Route: r, segs: split(r.Pattern)})
	}
	s.srv = server.NewHTTPServer(cfg, s.log, s.handle, s.transportError)
	// These APIs' clients read an absent Content-Type as "no body type";
	// fasthttp would otherwise default it to text/plain.
	s.srv.NoDefaultContentType = true
	return s
}

// Serve serves on ln until Shutdown. Temporary accept errors are retried
// (server.RetryListener): an error here is a real failure of the listener.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(server.NewRetryListener(ln, s.log)) }

// Shutdown stops accepting and waits for requests in flight (until ctx ends).
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.ShutdownWithContext(ctx) }

func split(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// match finds the route for a raw (still percent-encoded) path. It returns
// the route (nil when none), its parameters, and whether the path exists
// under another method.
func (s *Server) match(method, rawPath string) (*route, Params, []string) {
	segs := split(rawPath)
	var allow []string
	for i := range s.routes {
		r := &s.routes[i]
		if len(r.segs) != len(segs) {
			continue
		}
		var ps Params
		ok := true
		for j, rs := range r.segs {
			if strings.HasPrefix(rs, "{") && strings.HasSuffix(rs, "}") {
				v, err := url.PathUnescape(segs[j])
				if err != nil || v == "" {
					ok = false
					break
				}
				if ps == nil {
					ps = Params{}
				}
				ps[rs[1:len(rs)-1]] = v
				continue
			}
			if rs != segs[j] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if r.Method == method || (method == "HEAD" && r.Method == "GET") {
			return r, ps, nil
		}
		allow = append(allow, r.Method)
	}
	return nil, nil, allow
}

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	req := &Request{start: time.Now(), ID: s.ids.Next(ctx), Ctx: context.Background(), Route: s.api.Name() + "_unmatched"}
	ctx.Response.Header.Set("X-Request-Id", req.ID)
	ctx.SetUserValue(reqKey, req)
	defer s.finish(ctx, req)
	r, ps, allow := s.match(string(ctx.Method()), string(ctx.URI().PathOriginal()))
	req.secret, req.path = requestSecret(ctx, r, ps)
	if r == nil {
		if mr, ok := s.api.(MethodRefuser); ok && len(allow) > 0 {
			mr.WrongMethod(ctx, string(ctx.Method()), allow)
			return
		}
		if len(allow) > 0 {
			ctx.Response.Header.Set("Allow", strings.Join(allow, ", "))
			s.api.WriteError(ctx, fasthttp.StatusMethodNotAllowed, "Request method '"+string(ctx.Method())+"' not supported")
			return
		}
		s.api.WriteError(ctx, fasthttp.StatusNotFound, "Not Found")
		return
	}
	req.Route = s.api.Name() + "_" + r.Name
	if ad, ok := s.api.(Admitter); ok && !ad.Admit(ctx, r.Route) {
		return
	}
	if r.Limited {
		release, ok := s.limit.Acquire(ctx)
		if !ok {
			req.Detail = s.limit.Busy()
			s.api.WriteError(ctx, fasthttp.StatusServiceUnavailable, req.Detail)
			return
		}
		defer release()
	}
	if server.ExpectOnly(ctx) {
		req.expect = true
		return
	}
	// Admitted from its headers: only now is the body read.
	if err := server.ReadBody(ctx, s.cfg.MaxBodyBytes); err != nil {
		status, _, report := server.ReadError(err, s.cfg.MaxBodyBytes)
		req.Detail = report.Error()
		s.api.WriteError(ctx, status, report.Error())
		return
	}
	c, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	req.Ctx = c
	defer func() {
		if p := recover(); p != nil {
			req.Detail = fmt.Sprint(p)
			s.log.Error().Str("id", req.ID).Interface("panic", p).Msg("handler panic")
			ctx.Response.Reset()
			ctx.Response.Header.Set("X-Request-Id", req.ID)
			s.api.WriteError(ctx, fasthttp.StatusInternalServerError, "internal error")
		}
	}()
	r.Handler(ctx, ps)
}

func (s *Server) finish(ctx *fasthttp.RequestCtx, req *Request) {
	if req.expect {
		return
	}
	ev := server.RequestDone(s.log, s.m, ctx, req.ID, req.Route, req.path, req.start)
	if req.secret != "" {
		ev = ev.Str("key", server.KeyID(req.secret))
	}
	if req.Detail != "" {
		ev = ev.Str("detail", redact(req.Detail, req.secret))
	}
	ev.Msg("request")
}

func (s *Server) transportError(ctx *fasthttp.RequestCtx, err error) {
	status, _, err := server.ReadError(err, s.cfg.MaxBodyBytes)
	r, ps, _ := s.match(string(ctx.Method()), string(ctx.URI().PathOriginal()))
	_, path := requestSecret(ctx, r, ps)
	s.m.Requests.With(s.api.Name()+"_transport", strconv.Itoa(status)).Inc()
	s.log.Info().Str("path", path).Int("status", status).Str("error", err.Error()).Msg("request refused")
	ctx.SetConnectionClose()
	s.api.WriteError(ctx, status, err.Error())
}
