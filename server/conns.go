package server

import (
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"vizor/server/config"
)

// Connection limits. A client that opens connections until the process
// runs out of file descriptors must not stop the server: fasthttp's Serve
// returns on any accept error that is not a timeout, which used to end
// `vizor serve`. So every listener is wrapped in RetryListener, and each
// fasthttp server gets a share of a total connection cap derived from the
// file limit, so that a flood is refused (503 and close) while descriptors
// are left for the gallery, the models, worker pipes and the logs.

// fdReserve is how many descriptors the connection caps leave to everything
// that is not a client connection: the gallery's bbolt file and FAISS
// snapshots, model files, engine worker pipes, the log, the listeners
// themselves. A quarter of the limit, at least 64 and at most 1024.
func fdReserve(limit int) int {
	return min(max(limit/4, 64), 1024)
}

// FileLimit raises the soft RLIMIT_NOFILE to the hard limit (Go's os
// package already does so at start on Linux; this covers builds where it
// did not) and returns the soft limit in force.
func FileLimit() (int, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	if r.Cur < r.Max {
		want := r
		want.Cur = r.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err == nil {
			r = want
		}
	}
	if r.Cur > 1<<30 {
		r.Cur = 1 << 30
	}
	return int(r.Cur), nil
}

// Listeners counts the listeners cfg switches on: the XML API's and each
// compatibility API's.
func Listeners(cfg config.Config) int {
	n := 1
	for _, on := range []bool{cfg.Compat.CompreFace, cfg.Compat.Facenet512, cfg.Compat.MassHealth} {
		if on {
			n++
		}
	}
	return n
}

// ConnCaps returns the total connection cap of the process (max_conns, or
// the file limit less fdReserve when max_conns is 0) and the share of one
// listener (the total split evenly across the listeners that are on). Every
// listener gets at least 16, so a tiny file limit still serves.
func ConnCaps(cfg config.Config, fileLimit int) (total, perListener int) {
	total = cfg.MaxConns
	if total <= 0 {
		total = fileLimit - fdReserve(fileLimit)
	}
	n := Listeners(cfg)
	perListener = max(total/n, 16)
	return total, perListener
}

// RetryListener wraps a listener so that temporary accept errors (out of
// file descriptors, a connection reset before accept, no buffer space) are
// retried with back-off instead of ending Serve. Only a closed listener or
// an error that is not a client-side condition is returned.
type RetryListener struct {
	net.Listener
	log  zerolog.Logger
	done chan struct{}
	once sync.Once

	// Back-off between retries: doubling from minBackoff to maxBackoff,
	// reset by the next successful accept.
	minBackoff, maxBackoff time.Duration

	mu      sync.Mutex
	lastLog time.Time
	dropped int // errors not logged since lastLog
}

// acceptLogEvery rate-limits the accept-error log line: a flood can make
// thousands of failed accepts a second.
const acceptLogEvery = 5 * time.Second

// NewRetryListener wraps ln; errors are logged to log at most every 5 s.
func NewRetryListener(ln net.Listener, log zerolog.Logger) *RetryListener {
	return &RetryListener{Listener: ln, log: log, done: make(chan struct{}),
		minBackoff: 5 * time.Millisecond, maxBackoff: time.Second}
}

// Accept returns the next connection, retrying temporary errors.
func (l *RetryListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return c, nil
		}
		if !TemporaryAcceptError(err) {
			return nil, err
		}
		if delay == 0 {
			delay = l.minBackoff
		} else {
			delay = min(2*delay, l.maxBackoff)
		}
		l.note(err, delay)
		t := time.NewTimer(delay)
		select {
		case <-l.done:
			t.Stop()
			return nil, net.ErrClosed
		case <-t.C:
		}
	}
}

func (l *RetryListener) note(err error, delay time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.lastLog) < acceptLogEvery {
		l.dropped++
		return
	}
	l.log.Warn().Err(err).Str("addr", l.Addr().String()).Dur("retry_in", delay).Int("since_last_log", l.dropped).
		Msg("accept failed (a client-side condition such as a connection flood): retrying")
	l.lastLog, l.dropped = time.Now(), 0
}

// Close closes the listener and ends a back-off in progress.
func (l *RetryListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// TemporaryAcceptError reports whether an accept error is a condition that
// clients or the moment caused and that goes away by itself: the process
// or system out of descriptors (a connection flood), a connection aborted
// or reset before it was accepted, kernel buffers or memory short, an
// interrupted call, a timeout.
func TemporaryAcceptError(err error) bool {
	if err == nil || errors.Is(err, net.ErrClosed) {
		return false
	}
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED, syscall.ECONNRESET,
		syscall.ENOBUFS, syscall.ENOMEM, syscall.EAGAIN, syscall.EINTR, syscall.EPROTO, syscall.EPERM, syscall.ETIMEDOUT} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}
