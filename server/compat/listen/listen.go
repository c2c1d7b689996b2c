// Package listen starts Vizor's drop-in compatibility listeners (CompreFace,
// Facenet512, MassHealth), each on its own address, over the process's one
// service, engine and gallery. cmd/vizor/serve.go calls Start after building
// the service and Stop before closing it.
package listen

import (
	"context"
	"errors"
	"fmt"
	"net"

	"vizor/server"
	"vizor/server/compat"
	"vizor/server/compreface"
	"vizor/server/config"
	"vizor/server/facenet"
	"vizor/server/masshealth"
)

// Listeners are the started compatibility servers.
type Listeners struct {
	srvs []*compat.Server
	errs chan error
}

// Start opens every enabled listener. On error nothing is left running.
func Start(d compat.Deps) (*Listeners, error) {
	l := &Listeners{errs: make(chan error, 3)}
	c := d.Cfg.Compat
	if !c.CompreFace && !c.Facenet512 && !c.MassHealth {
		return l, nil
	}
	if err := d.Cfg.ValidateCompat(); err != nil {
		return nil, err
	}
	if c.CompreFace || c.Facenet512 {
		// Their contracts include the image, so their partitions keep it
		// whatever keep_images says (gallery.EnrolOptions.KeepImage).
		d.Log.Info().Msg("CompreFace and Facenet512 partitions store enrolment images: their APIs download them")
	}
	type one struct {
		api    compat.API
		addr   string
		public bool // has its own authentication
		note   string
	}
	var apis []one
	if c.CompreFace {
		a, err := compreface.New(d)
		if err != nil {
			return nil, err
		}
		apis = append(apis, one{a, c.CompreFaceAddr, true, fmt.Sprintf("%d keys", a.Keys())})
	}
	if c.Facenet512 {
		apis = append(apis, one{facenet.New(d), c.Facenet512Addr, false, ""})
	}
	if c.MassHealth {
		apis = append(apis, one{masshealth.New(d, c.MassHealthAddr), c.MassHealthAddr, false, ""})
	}
	for _, x := range apis {
		addr := x.addr
		if !x.public && !d.Cfg.AllowPublic && !config.IsLoopback(addr) {
			_, port, _ := net.SplitHostPort(addr)
			addr = net.JoinHostPort("127.0.0.1", port)
			d.Log.Warn().Str("api", x.api.Name()).Msgf("%s has no authentication: binding to loopback %s instead of %s (set allow_public=true to serve it on other interfaces)", x.api.Name(), addr, x.addr)
		}
		ln, err := server.Listen(addr) // loopback: 127.0.0.1 and [::1]
		if err != nil {
			l.Stop(context.Background())
			return nil, fmt.Errorf("%s listener: %w", x.api.Name(), err)
		}
		s := compat.NewServer(x.api, d.Cfg, d.Log, d.Metrics)
		l.srvs = append(l.srvs, s)
		go func() { l.errs <- s.Serve(ln) }()
		ev := d.Log.Info().Str("api", x.api.Name()).Str("addr", server.ListenAddrs(ln))
		if x.note != "" {
			ev = ev.Str("note", x.note)
		}
		ev.Msg("vizor serving a compatibility API")
	}
	return l, nil
}

// Err reports a listener that stopped on its own (nil channel when none run).
func (l *Listeners) Err() <-chan error {
	if l == nil || len(l.srvs) == 0 {
		return nil
	}
	return l.errs
}

// Stop shuts every listener down, waiting for requests in flight until ctx
// ends.
func (l *Listeners) Stop(ctx context.Context) error {
	if l == nil {
		return nil
	}
	var errs []error
	for _, s := range l.srvs {
		errs = append(errs, s.Shutdown(ctx))
	}
	l.srvs = nil
	return errors.Join(errs...)
}
