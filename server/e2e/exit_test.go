package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Linux system calls the standard library does not wrap.
const (
	sysPidfdOpen  = 434
	sysPidfdGetfd = 438
)

// TestListenerFailureExitsNonZero: when a listener really fails (here its
// socket is shut down from outside, through a duplicate taken with
// pidfd_getfd), `vizor serve` stops and exits non-zero, so a supervisor's
// Restart=on-failure restarts it. It used to exit 0.
func TestListenerFailureExitsNonZero(t *testing.T) {
	p, err := startServer(filepath.Join(t.TempDir(), "data"), "-engine-workers", "1")
	if err != nil {
		t.Fatal(err)
	}
	pid := p.Cmd.Process.Pid
	pidfd, _, errno := syscall.Syscall(sysPidfdOpen, uintptr(pid), 0, 0)
	if errno != 0 {
		_ = p.stop()
		t.Skipf("pidfd_open: %v (kernel older than 5.6?)", errno)
	}
	defer syscall.Close(int(pidfd))
	_, port, _ := net.SplitHostPort(p.addr)
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	shut := false
	for _, e := range ents {
		target, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fd, _, errno := syscall.Syscall(sysPidfdGetfd, pidfd, uintptr(target), 0)
		if errno != 0 {
			if errno == syscall.EPERM {
				_ = p.stop()
				t.Skip("pidfd_getfd not permitted here (needs ptrace access to the child)")
			}
			continue
		}
		if listening(int(fd), port) {
			if err := syscall.Shutdown(int(fd), syscall.SHUT_RDWR); err != nil {
				t.Fatal(err)
			}
			shut = true
		}
		syscall.Close(int(fd))
	}
	if !shut {
		_ = p.stop()
		t.Fatal("listening socket not found")
	}
	deadline := time.Now().Add(40 * time.Second)
	for alive(p) {
		if time.Now().After(deadline) {
			_ = p.stop()
			t.Fatal("server still running with its listener failed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	err = p.stop() // already exited: its exit error
	if err == nil || !strings.Contains(err.Error(), "exit status 1") || !strings.Contains(err.Error(), "XML API listener stopped") {
		t.Fatalf("exit: %v", err)
	}
}

// listening reports whether fd is a listening TCP socket on port.
func listening(fd int, port string) bool {
	acc, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	if err != nil || acc != 1 {
		return false
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return false
	}
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return strconv.Itoa(a.Port) == port
	case *syscall.SockaddrInet6:
		return strconv.Itoa(a.Port) == port
	}
	return false
}
