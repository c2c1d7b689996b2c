package openapi_test

import (
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/valyala/fasthttp"

	"vizor/internal/faceset"
	"vizor/server/openapi"
)

// operations counts the operations of a document.
func operations(t *testing.T, name string) int {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapi.Spec(name), &doc); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, item := range doc.Paths {
		for m := range item {
			switch m {
			case "get", "put", "post", "delete", "patch":
				n++
			}
		}
	}
	return n
}

// The /docs page, served as the listeners serve it, renders every
// operation of its document in real (headless) Chromium under its own
// Content-Security-Policy: no asset from elsewhere, no script blocked.
func TestDocsPageInChromium(t *testing.T) {
	var chrome string
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			chrome = p
			break
		}
	}
	if chrome == "" {
		faceset.Missing(t, "headless Chromium (Debian's chromium: scripts/deps.sh)", exec.ErrNotFound)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// One listener, the document chosen by a path prefix: /<name>/docs
	// fetches /<name>/openapi.json, as the page asks for it relatively.
	handlers := map[string]fasthttp.RequestHandler{}
	for _, name := range openapi.Names {
		handlers["/"+name+"/docs"] = openapi.Page(name)
		handlers["/"+name+"/openapi.json"] = openapi.Document(name)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if h := handlers[string(ctx.Path())]; h != nil {
			h(ctx)
			return
		}
		ctx.SetStatusCode(fasthttp.StatusNotFound)
	}}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Shutdown()

	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chrome), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()))
	defer cancelA()
	ctx, cancelC := chromedp.NewContext(actx)
	defer cancelC()
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelT()

	base := "http://" + ln.Addr().String()
	num := func(expr string) int {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[int](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	str := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	for _, name := range openapi.Names {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"+name+"/docs"),
			chromedp.WaitVisible(chromedp.CSS("section.op"))); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ops, navs := num(`document.querySelectorAll("section.op").length`), num(`document.querySelectorAll("nav a").length`)
		title := str(`document.getElementById("sub").textContent`)
		errText := str(`(document.getElementById("err") || {textContent: ""}).textContent`)
		firstPath := str(`document.querySelector("section.op h3 code").textContent`)
		want := operations(t, name)
		if ops != want || navs != want {
			t.Errorf("%s: %d operations and %d links on the page, the document has %d", name, ops, navs, want)
		}
		if !strings.HasPrefix(title, "OpenAPI 3.1.0") || errText != "" || !strings.HasPrefix(firstPath, "/") {
			t.Errorf("%s: header %q, error %q, first path %q", name, title, errText, firstPath)
		}
	}
}
