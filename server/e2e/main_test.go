// Package e2e drives the real bin/vizor binary (built in TestMain with
// go build) over loopback with the shared photos, parsing the XML.
package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"vizor/internal/vizorproc"
	"vizor/server/openapi"
	"vizor/server/openapi/openapitest"

	"vizor/server/xmlapi/xmltest"
)

var (
	repoRoot string
	binPath  string
	faceDir  string
	probeJPG string
	srv0     *proc // the server most tests share
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	shared := os.Getenv("VIZOR_SHARED_DATA")
	if shared == "" {
		shared = filepath.Join(repoRoot, "..", "shared", "data")
	}
	faceDir = filepath.Join(shared, "faces")
	probeJPG = filepath.Join(shared, "probe-640x480.jpg")
	if _, err := os.Stat(probeJPG); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: shared data not found (%v); set VIZOR_SHARED_DATA\n", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "vizor-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	binPath = filepath.Join(tmp, "vizor")
	if err := vizorproc.Build(repoRoot, binPath); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	srv0, err = startServer(filepath.Join(tmp, "data"), "-read-timeout", "3s")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	code := m.Run()
	if d, err := openapitest.Load(openapi.XMLAPI); err == nil {
		n, refused := d.Counts()
		fmt.Printf("openapi: %d exchanges matched xmlapi.json (%d of them requests it refuses, refused by the server), %d XML answers matched xmlapi.xsd\n", n, refused, openapitest.XSDChecked())
	}
	if err := srv0.stop(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: server exit: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// proc is a running bin/vizor serve.
type proc struct {
	*vizorproc.Proc
	url  string
	addr string
}

// startServer runs bin/vizor serve on a fresh port with the repo's models
// and waits for /health.
func startServer(dataDir string, extra ...string) (*proc, error) {
	var p *proc
	err := vizorproc.RetryPortClash(func() error {
		addr, err := vizorproc.FreeAddr()
		if err != nil {
			return err
		}
		args := append([]string{"serve", "-addr", addr, "-data-dir", dataDir,
			"-models-dir", filepath.Join(repoRoot, "models"), "-log-level", "warn"}, extra...)
		cmd := exec.Command(binPath, args...)
		cmd.Env = append(os.Environ(), "VIZOR_API_KEYS=", "VIZOR_CONFIG=")
		url := "http://" + addr
		vp, err := vizorproc.Start(cmd, 60*time.Second, vizorproc.Healthy(url+"/health"))
		if err != nil {
			return err
		}
		p = &proc{Proc: vp, url: url, addr: addr}
		return nil
	})
	return p, err
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop() error { return p.Stop(40 * time.Second) }

var photoCache = map[string][]byte{}

func photo(t testing.TB, name string) []byte {
	t.Helper()
	if b, ok := photoCache[name]; ok {
		return b
	}
	path := filepath.Join(faceDir, name)
	if name == "probe" {
		path = probeJPG
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	photoCache[name] = b
	return b
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

type resp = xmltest.Resp

// client checks every request the tests send and every answer they get
// against the main listener's OpenAPI document: a disagreement fails the
// round trip (openapitest.Error), hence the test.
var client = &http.Client{Timeout: 60 * time.Second, Transport: &openapitest.Transport{
	Base: &http.Transport{MaxIdleConnsPerHost: 64}, Default: openapi.XMLAPI}}

func doReq(ctx context.Context, method, url, ctype string, body io.Reader) (resp, error) {
	return xmltest.Do(ctx, client, method, url, ctype, body)
}

func do(t testing.TB, method, url, ctype string, body io.Reader) resp {
	t.Helper()
	r, err := doReq(context.Background(), method, url, ctype, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func post(t testing.TB, p *proc, path string, v any) resp {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, "POST", p.url+path, "application/json", bytes.NewReader(b))
}

func getJSON(t testing.TB, p *proc, path string, v any) int {
	t.Helper()
	r := do(t, "GET", p.url+path, "", nil)
	if v != nil {
		if err := json.Unmarshal(r.Body, v); err != nil {
			t.Fatalf("%s: %v: %s", path, err, r.Body)
		}
	}
	return r.Status
}

func expectErr(t testing.TB, r resp, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if r.Doc == nil || r.Doc.Root() == nil || r.Doc.Root().Tag != "ErrorResponse" {
		t.Fatalf("want an XML ErrorResponse, got %q", r.Body)
	}
	if got := r.Text("ErrorResponse/status"); got != fmt.Sprint(status) {
		t.Fatalf("<status> %q, want %d", got, status)
	}
	if code != "" && r.Text("ErrorResponse/code") != code {
		t.Fatalf("<code> %q, want %q: %s", r.Text("ErrorResponse/code"), code, r.Body)
	}
	if r.Text("ErrorResponse/message") == "" {
		t.Fatalf("no <message>: %s", r.Body)
	}
}

func healthy(t testing.TB, p *proc) {
	t.Helper()
	if st := getJSON(t, p, "/health", nil); st != 200 {
		t.Fatalf("health %d\n%s", st, p.Log.String())
	}
}
