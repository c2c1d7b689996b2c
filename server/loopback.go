package server

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
)

// Listen opens a listener for addr. A loopback address (127.0.0.1, ::1 or
// localhost) listens on both loopback addresses with the same port, so a
// client whose "localhost" resolves to [::1] (curl, browsers, Node.js on
// most systems) reaches the server as one resolving to 127.0.0.1 does;
// nothing is opened on another interface. Any other address is one
// listener, as configured. A host without IPv6 keeps the IPv4 listener
// alone; [::1] held by another process is an error (its localhost clients
// would reach that process), as "address already in use" is for one
// address. Port 0 picks one port free on both.
func Listen(addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if !loopbackHost(host) {
		return net.Listen("tcp", addr)
	}
	for attempt := 0; ; attempt++ {
		v4, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
		if err != nil {
			return nil, err
		}
		p := v4.Addr().(*net.TCPAddr).Port
		v6, err := net.Listen("tcp", net.JoinHostPort("::1", fmt.Sprint(p)))
		switch {
		case err == nil:
			return newMultiListener(v4, v6), nil
		case noIPv6(err):
			return v4, nil
		case port == "0" && attempt < 8 && errors.Is(err, syscall.EADDRINUSE):
			_ = v4.Close() // the picked port is taken on [::1]: pick another
			continue
		}
		_ = v4.Close()
		return nil, err
	}
}

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback() && (ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback))
}

// noIPv6 reports an error that means the host has no [::1] to bind.
func noIPv6(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) || errors.Is(err, syscall.EPROTONOSUPPORT)
}

// ListenAddrs names every address ln listens on, for the log.
func ListenAddrs(ln net.Listener) string {
	if m, ok := ln.(*multiListener); ok {
		s := ""
		for i, l := range m.lns {
			if i > 0 {
				s += " "
			}
			s += l.Addr().String()
		}
		return s
	}
	return ln.Addr().String()
}

// multiListener accepts from several listeners as one, so one fasthttp
// Serve (one connection cap, one shutdown) covers both loopback addresses.
// A listener's permanent accept error is returned once and ends that
// listener's accepting; temporary ones pass through for RetryListener.
type multiListener struct {
	lns    []net.Listener
	conns  chan acceptResult
	done   chan struct{}
	closer sync.Once
}

type acceptResult struct {
	c   net.Conn
	err error
}

func newMultiListener(lns ...net.Listener) *multiListener {
	m := &multiListener{lns: lns, conns: make(chan acceptResult), done: make(chan struct{})}
	for _, l := range lns {
		go m.accept(l)
	}
	return m
}

func (m *multiListener) accept(l net.Listener) {
	for {
		c, err := l.Accept()
		select {
		case m.conns <- acceptResult{c, err}:
		case <-m.done:
			if c != nil {
				_ = c.Close()
			}
			return
		}
		if err != nil && !TemporaryAcceptError(err) {
			return
		}
	}
}

func (m *multiListener) Accept() (net.Conn, error) {
	select {
	case r := <-m.conns:
		return r.c, r.err
	case <-m.done:
		return nil, net.ErrClosed
	}
}

func (m *multiListener) Close() error {
	var errs []error
	m.closer.Do(func() {
		close(m.done)
		for _, l := range m.lns {
			errs = append(errs, l.Close())
		}
	})
	return errors.Join(errs...)
}

// Addr is the first (IPv4) listener's address; ListenAddrs names all.
func (m *multiListener) Addr() net.Addr { return m.lns[0].Addr() }
