// Package compattest runs the real vizor binary with the compatibility
// listeners (CompreFace, Facenet512, MassHealth) for integration tests: it
// builds cmd/vizor once, creates CompreFace keys with the CLI, starts
// `vizor serve` on free loopback ports with a fresh data directory and waits
// until every listener answers.
package compattest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"vizor/internal/faceset"
	"vizor/internal/vizorproc"
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
	proc       *vizorproc.Proc
	tmp        string
}

// Log returns the server's output so far.
func (s *Server) Log() string {
	if s.proc == nil {
		return ""
	}
	return s.proc.Log.String()
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
		FacesDir: filepath.Join(shared, "faces"), Keys: map[string]string{}}
	fail := func(err error) (*Server, error) {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	if err := vizorproc.Build(root, s.Bin); err != nil {
		return fail(err)
	}
	for _, k := range [][2]string{{"recognition", "recognition"}, {"recognition2", "recognition"}, {"detection", "detection"}, {"verification", "verification"}} {
		out, err := s.CLI("compreface-keys", "create", "-type", k[1], "-name", k[0])
		if err != nil {
			return fail(err)
		}
		s.Keys[k[0]] = strings.TrimSpace(out)
	}
	if err := vizorproc.RetryPortClash(func() error { return s.start(root, extra) }); err != nil {
		return fail(err)
	}
	return s, nil
}

// start picks four free loopback ports, starts the binary on them and waits
// until every listener answers.
func (s *Server) start(root string, extra []string) error {
	var err error
	var addrs [4]string
	for i := range addrs {
		if addrs[i], err = vizorproc.FreeAddr(); err != nil {
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
	cmd := exec.Command(s.Bin, args...)
	cmd.Env = s.env()
	s.proc, err = vizorproc.Start(cmd, 90*time.Second, func() bool {
		for _, u := range []string{s.CompreFace + "/", s.Facenet + "/list_references", s.MassHealth + "/health"} {
			resp, err := http.Get(u)
			if err != nil {
				return false
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return true
	})
	return err
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
	if s.proc == nil {
		return nil
	}
	return s.proc.Stop(30 * time.Second)
}

// Photo reads a shared photo by file name.
func (s *Server) Photo(name string) []byte {
	b, err := os.ReadFile(filepath.Join(s.FacesDir, name))
	if err != nil {
		panic(err)
	}
	return b
}
