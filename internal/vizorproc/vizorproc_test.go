package vizorproc

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStartReportsEarlyExitWithLog(t *testing.T) {
	_, err := Start(exec.Command("sh", "-c", "echo boom; exit 3"), 10*time.Second, func() bool { return false })
	if err == nil || !strings.Contains(err.Error(), "exited at start") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v", err)
	}
}

func TestStartTimesOutAndKills(t *testing.T) {
	t0 := time.Now()
	_, err := Start(exec.Command("sleep", "30"), 300*time.Millisecond, func() bool { return false })
	if err == nil || !strings.Contains(err.Error(), "not ready") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Fatalf("took %v: the child was not killed", d)
	}
}

func TestStopCleanAndUnclean(t *testing.T) {
	// A child that exits 0 on SIGTERM, as vizor serve does.
	// It is ready once the trap is set (it touches a file then).
	up := filepath.Join(t.TempDir(), "up")
	clean := exec.Command("sh", "-c", `trap 'exit 0' TERM; touch "$1"; while :; do sleep 0.05; done`, "sh", up)
	p, err := Start(clean, 10*time.Second, func() bool { _, err := os.Stat(up); return err == nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("clean stop: %v", err)
	}
	// One that dies of the signal: an error that carries the log.
	rude := exec.Command("sh", "-c", `echo still-here; exec sleep 30`)
	p, err = Start(rude, 10*time.Second, func() bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let it print
	err = p.Stop(10 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "still-here") {
		t.Fatalf("unclean stop: %v", err)
	}
}

func TestRetryPortClash(t *testing.T) {
	n := 0
	err := RetryPortClash(func() error { n++; return errors.New("listen: address already in use") })
	if err == nil || n != 3 {
		t.Fatalf("clash: %d attempts, err %v", n, err)
	}
	n = 0
	err = RetryPortClash(func() error { n++; return errors.New("models missing") })
	if err == nil || n != 1 {
		t.Fatalf("other error: %d attempts, err %v", n, err)
	}
	n = 0
	if err := RetryPortClash(func() error {
		n++
		if n < 2 {
			return errors.New("address already in use")
		}
		return nil
	}); err != nil || n != 2 {
		t.Fatalf("second attempt: %d attempts, err %v", n, err)
	}
}

func TestFreeAddrIsLoopback(t *testing.T) {
	a, err := FreeAddr()
	if err != nil || !strings.HasPrefix(a, "127.0.0.1:") {
		t.Fatalf("%q, %v", a, err)
	}
}

func TestHealthy(t *testing.T) {
	if Healthy("http://127.0.0.1:1/health")() {
		t.Fatal("nothing listens on port 1")
	}
}
