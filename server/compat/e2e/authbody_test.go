package e2e

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// CompreFace checks its key from the headers, before reading the body: a
// request announcing 16 MiB gets its answer after 8 KiB, with the
// connection closed, whether the key is missing, malformed, unknown or of
// another service.
func TestCompreFaceKeyBeforeBody(t *testing.T) {
	for _, c := range []struct {
		name, key string
		status    int
		msg       string
	}{
		{"missing", "", 400, "Missing header: x-api-key"},
		{"not a UUID", "abc", 400, "Service API key should be UUID"},
		{"unknown", "00000000-0000-4000-8000-000000000000", 404, "not found"},
		{"other service", srv.Keys["detection"], 404, "not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.CFAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			hdr := "POST /api/v1/recognition/recognize HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 16777216\r\n"
			if c.key != "" {
				hdr += "x-api-key: " + c.key + "\r\n"
			}
			start := time.Now()
			_, _ = io.WriteString(conn, hdr+"\r\n")
			_, _ = conn.Write(bytes.Repeat([]byte{'A'}, 8<<10))
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer with the body unsent: %v", err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != c.status || !strings.Contains(string(b), c.msg) || !res.Close {
				t.Fatalf("%d close=%v %s (after %v)", res.StatusCode, res.Close, b, time.Since(start))
			}
		})
	}
}
