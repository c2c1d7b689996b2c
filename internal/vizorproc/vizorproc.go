// Package vizorproc builds the vizor binary and runs it as a child process,
// for the end-to-end tests and benchmarks that exercise the real server
// rather than its packages.
package vizorproc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build compiles ./cmd/vizor of the module at root into out.
func Build(root, out string) error { return BuildTags(root, out, "") }

// BuildTags is Build with Go build tags (comma-separated; "" for none), e.g.
// vizor_crashtest for the binary whose engine workers can be crashed on
// purpose.
func BuildTags(root, out, tags string) error {
	args := []string{"build", "-o", out}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command("go", append(args, "./cmd/vizor")...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/vizor: %v\n%s", err, b)
	}
	return nil
}

// FreeAddr is a loopback host:port that was free a moment ago. Another
// process can take it before the server binds it: see RetryPortClash.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// RetryPortClash runs start up to three times while it fails because a port
// picked by FreeAddr was taken in between (parallel tests' client
// connections share the ephemeral range); start must pick fresh ports.
func RetryPortClash(start func() error) error {
	for attempt := 1; ; attempt++ {
		err := start()
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return err
		}
	}
}

// Log collects a child's standard output and error; safe to read while the
// child writes.
type Log struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Healthy is a readiness check for Start: GET url answers 200.
func Healthy(url string) func() bool {
	return func() bool {
		res, err := http.Get(url)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}
}

// Proc is a running child process.
type Proc struct {
	Cmd  *exec.Cmd
	Log  *Log
	done chan error
}

// Start runs cmd with its output going to a Log, then polls ready every
// 100 ms until it reports true. It fails, killing the child, when the child
// exits first or timeout passes.
func Start(cmd *exec.Cmd, timeout time.Duration, ready func() bool) (*Proc, error) {
	p := &Proc{Cmd: cmd, Log: &Log{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.Log, p.Log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.done <- cmd.Wait() }()
	deadline := time.Now().Add(timeout)
	for !ready() {
		select {
		case err := <-p.done:
			return nil, fmt.Errorf("server exited at start: %v\n%s", err, p.Log)
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-p.done
			return nil, fmt.Errorf("server not ready after %v\n%s", timeout, p.Log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p, nil
}

// Stop sends SIGTERM and waits up to timeout for the child to exit, killing
// it after that. It returns the exit error (with the log when the exit was
// not clean), or a timeout error.
func (p *Proc) Stop(timeout time.Duration) error {
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("server exit: %v\n%s", err, p.Log)
		}
		return err
	case <-time.After(timeout):
		_ = p.Cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("server did not stop in %v", timeout)
	}
}
