package server

import (
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A loopback address listens on 127.0.0.1 and [::1] with one port; a
// connection to either is accepted through the one listener.
func TestListenBothLoopbacks(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		ln, err := Listen(addr)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		addrs := ListenAddrs(ln)
		if !strings.Contains(addrs, "127.0.0.1:") || !strings.Contains(addrs, "[::1]:") {
			t.Fatalf("%s listens on %s", addr, addrs)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_, _ = c.Write([]byte("hi"))
				_ = c.Close()
			}
		}()
		for _, host := range []string{"127.0.0.1", "::1"} {
			c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), 2*time.Second)
			if err != nil {
				t.Fatalf("%s: dial %s: %v", addr, host, err)
			}
			b, _ := io.ReadAll(c)
			_ = c.Close()
			if string(b) != "hi" {
				t.Fatalf("%s: %s answered %q", addr, host, b)
			}
		}
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("after close: %v", err)
		}
	}
}

// Any other address is exactly the one configured.
func TestListenOtherAddressAsConfigured(t *testing.T) {
	ln, err := Listen("127.0.0.2:0")
	if err != nil {
		t.Skipf("127.0.0.2 not bindable here: %v", err)
	}
	defer ln.Close()
	if a := ListenAddrs(ln); strings.Contains(a, " ") || !strings.HasPrefix(a, "127.0.0.2:") {
		t.Fatalf("listens on %s", a)
	}
}

// [::1] held by another process is an error, not a silent IPv4-only start.
func TestListenIPv6PortTaken(t *testing.T) {
	other, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer other.Close()
	port := other.Addr().(*net.TCPAddr).Port
	ln, err := Listen(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err == nil {
		ln.Close()
		t.Fatal("listened although [::1] was taken")
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("error %v", err)
	}
}
