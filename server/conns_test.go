package server

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"vizor/server/config"
)

func TestTemporaryAcceptError(t *testing.T) {
	wrap := func(e error) error {
		return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", e)}
	}
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED, syscall.ENOBUFS, syscall.ENOMEM} {
		if !TemporaryAcceptError(wrap(e)) {
			t.Errorf("%v: not temporary", e)
		}
	}
	for _, e := range []error{net.ErrClosed, wrap(syscall.EBADF), wrap(syscall.EINVAL), errors.New("boom"), nil} {
		if TemporaryAcceptError(e) {
			t.Errorf("%v: temporary", e)
		}
	}
}

// scriptedListener returns its errors in order, then its connection, then
// net.ErrClosed: the accept loop's logic without a real descriptor flood
// (the e2e flood test makes a real one).
type scriptedListener struct {
	errs []error
	conn net.Conn
	n    int
}

func (l *scriptedListener) Accept() (net.Conn, error) {
	l.n++
	if len(l.errs) > 0 {
		e := l.errs[0]
		l.errs = l.errs[1:]
		return nil, e
	}
	if l.conn != nil {
		c := l.conn
		l.conn = nil
		return c, nil
	}
	return nil, net.ErrClosed
}
func (l *scriptedListener) Close() error   { return nil }
func (l *scriptedListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func TestRetryListener(t *testing.T) {
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	var logged zerologBuf
	sl := &scriptedListener{errs: []error{emfile, emfile, emfile, emfile}, conn: c1}
	l := NewRetryListener(sl, zerolog.New(&logged))
	l.minBackoff, l.maxBackoff = time.Millisecond, 2*time.Millisecond
	c, err := l.Accept()
	if err != nil || c != c1 {
		t.Fatalf("Accept after 4 EMFILE: %v %v", c, err)
	}
	if sl.n != 5 {
		t.Fatalf("accept calls %d, want 5", sl.n)
	}
	if n := logged.lines(); n != 1 {
		t.Fatalf("%d log lines for 4 errors in a burst, want 1 (rate-limited)", n)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("closed listener: %v", err)
	}

	// A permanent error is returned, not retried.
	perm := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EBADF)}
	l = NewRetryListener(&scriptedListener{errs: []error{perm}}, zerolog.Nop())
	if _, err := l.Accept(); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("permanent error: %v", err)
	}

	// Close ends a back-off in progress.
	many := make([]error, 1000)
	for i := range many {
		many[i] = emfile
	}
	l = NewRetryListener(&scriptedListener{errs: many}, zerolog.Nop())
	l.minBackoff, l.maxBackoff = time.Second, time.Second
	done := make(chan error, 1)
	go func() { _, err := l.Accept(); done <- err }()
	time.Sleep(50 * time.Millisecond)
	_ = l.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("after Close: %v", err)
		}
	case <-time.After(500 * time.Millisecond):
		t.Fatal("Close did not end the back-off")
	}
}

type zerologBuf struct{ b []byte }

func (z *zerologBuf) Write(p []byte) (int, error) { z.b = append(z.b, p...); return len(p), nil }
func (z *zerologBuf) lines() int {
	n := 0
	for _, c := range z.b {
		if c == '\n' {
			n++
		}
	}
	return n
}

func TestConnCaps(t *testing.T) {
	cfg := config.Default()
	for _, c := range []struct {
		limit, listeners, maxConns int
		total, per                 int
	}{
		{256, 1, 0, 192, 192},                       // reserve 64
		{1024, 1, 0, 768, 768},                      // reserve 256
		{1 << 20, 1, 0, 1<<20 - 1024, 1<<20 - 1024}, // reserve capped at 1024
		{20000, 4, 0, 18976, 4744},                  // split across XML + three compat listeners
		{20000, 2, 1000, 1000, 500},                 // max_conns set
		{80, 4, 0, 16, 16},                          // every listener serves at least 16
	} {
		cfg.MaxConns = c.maxConns
		cfg.Compat.CompreFace = c.listeners > 1
		cfg.Compat.Facenet512 = c.listeners > 2
		cfg.Compat.MassHealth = c.listeners > 3
		total, per := ConnCaps(cfg, c.limit)
		if total != c.total || per != c.per {
			t.Errorf("%+v: total %d per listener %d", c, total, per)
		}
	}
	n, err := FileLimit()
	if err != nil || n < 64 {
		t.Fatalf("FileLimit %d %v", n, err)
	}
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur != r.Max {
		t.Fatalf("soft limit %d not raised to the hard limit %d (%v)", r.Cur, r.Max, err)
	}
}

// Over max_conns_per_ip a client's new connection is answered 429 and
// closed; its earlier connections and other work go on.
func TestPerIPCap(t *testing.T) {
	addr, _ := startCore(t, func(c *config.Config) { c.MaxConnsPerIP = 3 })
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	time.Sleep(100 * time.Millisecond) // let the server accept them
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(b), "HTTP/1.1 429") {
		t.Fatalf("4th connection from one address: %q", b)
	}
	// A held connection still works.
	_, _ = io.WriteString(held[0], "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Api-Key: "+testKey+"\r\n\r\n")
	_ = held[0].SetReadDeadline(time.Now().Add(2 * time.Second))
	var buf [16]byte
	if n, _ := held[0].Read(buf[:]); !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
		t.Fatalf("held connection: %q", buf[:n])
	}
}

// A connection refused by a cap is logged at warn level (fasthttp's own
// note, at most once a minute), other fasthttp chatter at debug.
func TestCapRefusalLogged(t *testing.T) {
	var b zerologBuf
	l := fasthttpLogger{zerolog.New(&b).Level(zerolog.InfoLevel)}
	l.Printf("The number of connections from %s exceeds MaxConnsPerIP=%d", "127.0.0.1", 3)
	l.Printf("error when serving connection %q<->%q: %v", "a", "b", "x")
	if b.lines() != 1 || !strings.Contains(string(b.b), `"level":"warn"`) {
		t.Fatalf("log: %s", b.b)
	}
}
