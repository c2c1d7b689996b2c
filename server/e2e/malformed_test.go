package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestMalformedSweep throws broken input at every biometric endpoint: each
// answer must be a clear 4xx XML error, and the server must stay up.
func TestMalformedSweep(t *testing.T) {
	p := srv0
	post(t, p, "/api/v1/enrol", map[string]any{"image": b64(photo(t, "probe")), "subject_id": "sweep", "partition": "sweep"})
	rnd := make([]byte, 3<<20)
	rand.Read(rnd)
	jpg := photo(t, "probe")
	pngHeader := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x10\x00\x00\x00\x10\x00\x08\x02\x00\x00\x00")
	hugeDims := append([]byte{}, jpg...)
	bodies := []struct {
		name string
		body string
	}{
		{"empty", ``},
		{"whitespace", "   \n"},
		{"truncated", `{"image":"`},
		{"not JSON", `image=abc`},
		{"array", `[{"image":"abc"}]`},
		{"string", `"abc"`},
		{"null", `null`},
		{"number", `42`},
		{"two objects", `{"subject_id":"a"}{"subject_id":"b"}`},
		{"bad escape", `{"subject_id":"\x"}`},
		{"invalid UTF-8", "{\"subject_id\":\"\xff\xfe\"}"},
		{"deep nesting", strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)},
		{"image is object", `{"image":{"data":"abc"},"subject_id":"a"}`},
		{"image is array", `{"image":[1,2,3],"subject_id":"a"}`},
		{"image is bool", `{"image":true,"subject_id":"a"}`},
		{"subject is number", `{"image":"` + b64(jpg) + `","subject_id":12}`},
		{"partition is array", `{"image":"` + b64(jpg) + `","subject_id":"a","partition":["x"]}`},
		{"top_k float", `{"image":"` + b64(jpg) + `","top_k":2.5}`},
		{"top_k huge", `{"image":"` + b64(jpg) + `","top_k":99999999999}`},
		{"top_k negative", `{"image":"` + b64(jpg) + `","top_k":-3}`},
		{"min_score string", `{"image":"` + b64(jpg) + `","min_score":"high"}`},
		{"min_score out of range", `{"image":"` + b64(jpg) + `","min_score":7}`},
		{"unknown field", `{"image":"` + b64(jpg) + `","subject_id":"a","extra":1}`},
		{"base64 garbage", `{"image":"!!!!****","subject_id":"a"}`},
		{"base64 of random bytes (4 MB)", `{"image":"` + b64(rnd) + `","subject_id":"a"}`},
		{"base64 of text", `{"image":"` + b64([]byte(strings.Repeat("hello ", 1000))) + `","subject_id":"a"}`},
		{"base64 of PNG header only", `{"image":"` + b64(pngHeader) + `","subject_id":"a"}`},
		{"base64 of half a JPEG", `{"image":"` + b64(jpg[:len(jpg)/2]) + `","subject_id":"a"}`},
		{"base64 of JPEG header", `{"image":"` + b64(hugeDims[:64]) + `","subject_id":"a"}`},
		{"empty image", `{"image":"","subject_id":"a"}`},
		{"empty subject", `{"image":"` + b64(jpg) + `","subject_id":""}`},
		{"long subject", `{"image":"` + b64(jpg) + `","subject_id":"` + strings.Repeat("x", 300) + `"}`},
		{"control chars in subject", `{"image":"` + b64(jpg) + `","subject_id":"a\u0000b"}`},
		{"bad partition", `{"image":"` + b64(jpg) + `","subject_id":"a","partition":"../../etc"}`},
	}
	for _, ep := range []string{"search", "verify", "enrol", "delete"} {
		for _, b := range bodies {
			t.Run(ep+"/"+b.name, func(t *testing.T) {
				r := do(t, "POST", p.url+"/api/v1/"+ep, "application/json", strings.NewReader(b.body))
				if r.Status < 400 || r.Status >= 500 {
					t.Fatalf("status %d: %.300s", r.Status, r.Body)
				}
				if r.Doc == nil || r.Doc.Root() == nil || r.Doc.Root().Tag != "ErrorResponse" || r.Text("ErrorResponse/code") == "" {
					t.Fatalf("not an XML ErrorResponse: %.300s", r.Body)
				}
			})
		}
	}
	t.Run("huge base64 over the limit", func(t *testing.T) {
		big := append([]byte(`{"image":"`), bytes.Repeat([]byte("QUFB"), 5<<20)...) // 20 MiB > 16 MiB
		big = append(big, `","subject_id":"a"}`...)
		r, err := doReq(t.Context(), "POST", p.url+"/api/v1/enrol", "application/json", bytes.NewReader(big))
		if err == nil && r.Status != 413 {
			t.Fatalf("status %d", r.Status)
		}
	})
	t.Run("slowloris", func(t *testing.T) {
		// The shared server runs with read_timeout 3s: a body dripped one
		// byte at a time is cut off by the read deadline.
		conn, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /api/v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
		start := time.Now()
		buf := make([]byte, 4096)
		closed := false
		for time.Since(start) < 10*time.Second {
			if _, err := conn.Write([]byte("a")); err != nil {
				closed = true
				break
			}
			conn.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
			n, err := conn.Read(buf)
			if n > 0 || (err != nil && !isTimeout(err)) {
				closed = true
				break
			}
		}
		if !closed {
			t.Fatal("slow body still accepted after 10 s")
		}
		t.Logf("slow body cut after %v", time.Since(start).Round(100*time.Millisecond))
	})
	t.Run("slow headers", func(t *testing.T) {
		conn, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		fmt.Fprintf(conn, "POST /api/v1/search HTTP/1.1\r\n")
		buf := make([]byte, 1)
		closed := false
		for time.Since(start) < 10*time.Second {
			if _, err := fmt.Fprintf(conn, "X-Drip: %d\r\n", time.Now().UnixNano()); err != nil {
				closed = true
				break
			}
			conn.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
			if n, err := conn.Read(buf); n > 0 || (err != nil && !isTimeout(err)) {
				closed = true
				break
			}
		}
		if !closed {
			t.Fatal("slow headers still accepted after 10 s")
		}
	})
	healthy(t, p)
	if r := post(t, p, "/api/v1/verify", map[string]any{"image": b64(jpg), "subject_id": "sweep", "partition": "sweep"}); r.Status != 200 || r.Text("VerifyResponse/match") != "true" {
		t.Fatalf("server unusable after the sweep: %d %s", r.Status, r.Body)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
