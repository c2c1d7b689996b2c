// Package compattest runs the real vizor binary with the compatibility
// listeners (CompreFace, Facenet512, MassHealth) for integration tests: it
// builds cmd/vizor once, creates CompreFace keys with the CLI, starts
// `vizor serve` on free loopback ports with a fresh data directory and waits
// until every listener answers.
package compattest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"vizor/internal/faceset"
)

// Server is a running `vizor serve`.
type Server struct {
	Bin        string
	Root       string // repository root
	DataDir    string
	Main       string // base URLs
	CompreFace string
	Facenet    string
	MassHealth string
	CFAddr     string            // CompreFace host:port
	Keys       map[string]string // "recognition", "recognition2", "detection", "verification"
	FacesDir   string
	log        *syncBuffer
	cmd        *exec.Cmd
	done       chan error
	tmp        string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Log returns the server's output so far.
func (s *Server) Log() string { return s.log.String() }

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Start builds the binary and starts the server. extra flags are appended.
func Start(extra ...string) (*Server, error) {
	root, err := faceset.RepoRoot()
	if err != nil {
		return nil, err
	}
	shared, err := faceset.Dir()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "vizor-compat-")
	if err != nil {
		return nil, err
	}
	s := &Server{Root: root, tmp: tmp, DataDir: filepath.Join(tmp, "data"), Bin: filepath.Join(tmp, "vizor"),
		FacesDir: filepath.Join(shared, "faces"), Keys: map[string]string{}, log: &syncBuffer{}, done: make(chan error, 1)}
	fail := func(err error) (*Server, error) {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	build := exec.Command("go", "build", "-o", s.Bin, "./cmd/vizor")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("go build ./cmd/vizor: %v\n%s", err, out))
	}
	for _, k := range [][2]string{{"recognition", "recognition"}, {"recognition2", "recognition"}, {"detection", "detection"}, {"verification", "verification"}} {
		out, err := s.CLI("compreface-keys", "create", "-type", k[1], "-name", k[0])
		if err != nil {
			return fail(err)
		}
		s.Keys[k[0]] = strings.TrimSpace(out)
	}
	// The ports are picked free and then handed to the server, so another
	// process (a parallel test's client connections use the same ephemeral
	// range) can take one in between: start again on fresh ports then.
	for attempt := 1; ; attempt++ {
		err := s.start(root, extra)
		if err == nil {
			return s, nil
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			_ = os.RemoveAll(tmp)
			return nil, err
		}
	}
}

// start picks four free loopback ports and starts the binary on them.
func (s *Server) start(root string, extra []string) error {
	var err error
	var addrs [4]string
	for i := range addrs {
		if addrs[i], err = freeAddr(); err != nil {
			return err
		}
	}
	s.Main, s.CFAddr = "http://"+addrs[0], addrs[1]
	s.CompreFace, s.Facenet, s.MassHealth = "http://"+addrs[1], "http://"+addrs[2], "http://"+addrs[3]
	args := append([]string{"serve", "-addr", addrs[0], "-data-dir", s.DataDir, "-models-dir", filepath.Join(root, "models"),
		"-log-level", "warn",
		"-compreface=true", "-compreface-addr", addrs[1],
		"-facenet512=true", "-facenet512-addr", addrs[2],
		"-masshealth=true", "-masshealth-addr", addrs[3]}, extra...)
	s.cmd = exec.Command(s.Bin, args...)
	s.cmd.Env = s.env()
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return err
	}
	go func() { s.done <- s.cmd.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for _, u := range []string{s.CompreFace + "/", s.Facenet + "/list_references", s.MassHealth + "/health"} {
		for {
			select {
			case err := <-s.done:
				return fmt.Errorf("server exited at start: %v\n%s", err, s.Log())
			default:
			}
			if time.Now().After(deadline) {
				_ = s.cmd.Process.Kill()
				<-s.done
				return fmt.Errorf("server not ready after 90s\n%s", s.Log())
			}
			resp, err := http.Get(u)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

func (s *Server) env() []string {
	var env []string
	for _, e := range os.Environ() {
		if strings.HasPrefix(e, "VIZOR_") && !strings.HasPrefix(e, "VIZOR_SHARED_DATA=") {
			continue
		}
		env = append(env, e)
	}
	return append(env, "VIZOR_DATA_DIR="+s.DataDir)
}

// CLI runs the binary with args (the server's data directory in the
// environment) and returns its standard output.
func (s *Server) CLI(args ...string) (string, error) {
	cmd := exec.Command(s.Bin, args...)
	cmd.Env = s.env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("vizor %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// Stop sends SIGTERM, waits for a clean exit and removes the data.
func (s *Server) Stop() error {
	defer os.RemoveAll(s.tmp)
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case err := <-s.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("server exit: %v\n%s", err, s.Log())
		}
		return err
	case <-ctx.Done():
		_ = s.cmd.Process.Kill()
		return fmt.Errorf("server did not stop in 30s")
	}
}

// Photo reads a shared photo by file name.
func (s *Server) Photo(name string) []byte {
	b, err := os.ReadFile(filepath.Join(s.FacesDir, name))
	if err != nil {
		panic(err)
	}
	return b
}
