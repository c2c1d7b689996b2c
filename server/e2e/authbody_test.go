package e2e

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
	"vizor/internal/procstat"
)

// TestKeylessBodiesRSS: 200 keyless connections each pushing a 16 MiB body
// at the XML API (which used to cost 3.6 GB: fasthttp buffered every body
// before the key was checked) each get 401 from their headers, and the
// server's RSS grows by less than 64 MiB while they push.
func TestKeylessBodiesRSS(t *testing.T) {
	const n, body = 200, 16 << 20
	p, err := startServer(filepath.Join(t.TempDir(), "data"), "-api-keys", "e2e-key", "-engine-workers", "1")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.stop(); err != nil {
			t.Error(err)
		}
	}()
	pid := p.Cmd.Process.Pid
	base := rssBytes(t, pid)
	chunk := bytes.Repeat([]byte{'A'}, 1<<20)
	var peak int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			peak = max(peak, rssBytes(t, pid))
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			_, _ = io.WriteString(c, "POST /api/v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "+strconv.Itoa(body)+"\r\n\r\n")
			// Push the body until the server closes the connection.
			go func() {
				_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				for sent := 0; sent < body; sent += len(chunk) {
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
			}()
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				statuses[0]++
				return
			}
			res.Body.Close()
			statuses[res.StatusCode]++
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	growth := peak - base
	t.Logf("%d keyless connections pushing %d MiB each: statuses %v, RSS %d MiB -> peak %d MiB (growth %.1f MiB)",
		n, body>>20, statuses, base>>20, peak>>20, float64(growth)/(1<<20))
	if statuses[401] != n {
		t.Fatalf("want %d x 401, got %v", n, statuses)
	}
	if growth > 64<<20 {
		t.Fatalf("RSS grew %d MiB", growth>>20)
	}
	healthy(t, p)
}

// rssBytes is a process's resident set size.
func rssBytes(t *testing.T, pid int) int64 {
	t.Helper()
	kb, err := procstat.StatusKB(pid, "VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	return kb << 10
}
