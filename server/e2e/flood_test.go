package e2e

import (
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"vizor/internal/vizorproc"
)

// floodFileLimit is the open-file limit the flooded server runs under, and
// floodConns the idle connections opened against it: more than the limit.
const (
	floodFileLimit = 256
	floodConns     = 400
)

// startLimited runs bin/vizor serve under `ulimit -n floodFileLimit` (soft
// and hard, so Go's start-up raise cannot lift it).
func startLimited(t *testing.T, extra ...string) *proc {
	t.Helper()
	var p *proc
	err := vizorproc.RetryPortClash(func() error {
		addr, err := vizorproc.FreeAddr()
		if err != nil {
			return err
		}
		args := append([]string{"-c", `ulimit -n ` + strconv.Itoa(floodFileLimit) + ` && exec "$0" "$@"`, binPath,
			"serve", "-addr", addr, "-data-dir", filepath.Join(t.TempDir(), "data"),
			"-models-dir", filepath.Join(repoRoot, "models"), "-log-level", "warn",
			"-engine-workers", "1", "-read-timeout", "60s", "-idle-timeout", "60s"}, extra...)
		cmd := exec.Command("bash", args...)
		cmd.Env = append(os.Environ(), "VIZOR_API_KEYS=", "VIZOR_CONFIG=")
		url := "http://" + addr
		vp, err := vizorproc.Start(cmd, 60*time.Second, vizorproc.Healthy(url+"/health"))
		if err != nil {
			return err
		}
		p = &proc{Proc: vp, url: url, addr: addr}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("server exit after the flood: %v", err)
		}
	})
	return p
}

// alive reports whether the server process still runs (signal 0 fails
// once it has exited and been reaped).
func alive(p *proc) bool {
	return !errors.Is(p.Cmd.Process.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

// flood opens floodConns idle connections (sending nothing) and returns
// them; dials that fail are counted.
func flood(t *testing.T, addr string) (conns []net.Conn, failed int) {
	t.Helper()
	for i := 0; i < floodConns; i++ {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			failed++
			continue
		}
		conns = append(conns, c)
	}
	return conns, failed
}

// servedAgain polls url with fresh connections until it answers want.
func servedAgain(t *testing.T, p *proc, url string, want int, within time.Duration) {
	t.Helper()
	cl := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(within)
	for {
		res, err := cl.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not served %v after the flood ended (last: %v)\n%s", within, err, p.Log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFlood: more idle connections than the process's open-file limit do
// not stop the server, and normal clients are served once they go.
//
// capped: the default connection cap (file limit less its reserve) answers
// the excess 503 and closes it, so descriptors never run out.
//
// uncapped: with the caps lifted the process does run out of descriptors;
// accept's EMFILE is retried with back-off (and logged) instead of ending
// Serve, which used to make `vizor serve` exit with status 0.
//
// compat: the same on a compatibility listener (Facenet512), uncapped.
func TestFlood(t *testing.T) {
	compatAddr, err := vizorproc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		extra []string
	}{
		{"capped", []string{"-max-conns-per-ip", "0"}},
		{"uncapped", []string{"-max-conns", "100000", "-max-conns-per-ip", "0"}},
		{"compat", []string{"-max-conns", "100000", "-max-conns-per-ip", "0", "-facenet512", "-facenet512-addr", compatAddr}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := startLimited(t, c.extra...)
			// The flooded listener, and a request it answers when served.
			target, url, want := p.addr, p.url+"/health", 200
			if c.name == "compat" {
				target, url, want = compatAddr, "http://"+compatAddr+"/no-such-path", 404
			}
			conns, failed := flood(t, target)
			// Give the server time to accept, refuse or fail on them.
			time.Sleep(2 * time.Second)
			refused := 0
			for _, cn := range conns {
				_ = cn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
				var b [64]byte
				n, err := cn.Read(b[:])
				var ne net.Error
				if n > 0 || (err != nil && !(errors.As(err, &ne) && ne.Timeout())) {
					refused++ // answered (503) or closed
				}
			}
			t.Logf("%s: %d connections open, %d dials failed, %d refused by the server", c.name, len(conns), failed, refused)
			if !alive(p) {
				t.Fatalf("server exited under the flood\n%s", p.Log.String())
			}
			if c.name == "capped" && refused == 0 {
				t.Fatalf("no connection refused over the cap\n%s", p.Log.String())
			}
			if c.name != "capped" && !strings.Contains(p.Log.String(), "accept failed") {
				t.Fatalf("no accept error logged: the flood did not reach the file limit\n%s", p.Log.String())
			}
			for _, cn := range conns {
				cn.Close()
			}
			servedAgain(t, p, url, want, 10*time.Second)
			servedAgain(t, p, p.url+"/health", 200, 10*time.Second)
			if !alive(p) {
				t.Fatal("server exited after the flood")
			}
		})
	}
}
