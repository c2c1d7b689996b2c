package masshealth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"vizor/bindings"
	"vizor/gallery"
	"vizor/internal/vec"
	"vizor/server"
	"vizor/server/compat"
	"vizor/server/config"
	"vizor/server/service"
	st "vizor/server/service/servicetest"
)

// slowEngine finds one good face in any image, slowly enough that
// concurrent uploads overlap between their check and their store.
type slowEngine struct{ delay time.Duration }

func (e slowEngine) Status() service.EngineStatus {
	return service.EngineStatus{ModelID: "fake-model-8", Components: map[string]bool{"detection": true, "recognition": true}}
}

func (e slowEngine) Analyze(ctx context.Context, images [][]byte) ([]service.ImageResult, error) {
	time.Sleep(e.delay)
	out := make([]service.ImageResult, len(images))
	for i := range images {
		out[i] = service.ImageResult{Width: 64, Height: 64, Faces: []service.Face{{
			Box: service.Rect{W: 40, H: 40}, DetScore: 0.99, Aligned: true, Liveness: 0.9, Quality: 0.9,
			Template: vec.RandomUnit(rand.New(rand.NewSource(int64(i+1))), 8)}}}
	}
	return out, nil
}

type noAnalyzer struct{}

func (noAnalyzer) AnalyzeDetail(context.Context, []byte, compat.DetailOptions) (compat.Analysis, error) {
	return compat.Analysis{}, nil
}
func (noAnalyzer) Info() bindings.Info { return bindings.Info{TemplateDim: 8} }

func newTestAPI(t *testing.T) *API {
	t.Helper()
	g, err := gallery.Open(gallery.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	svc := service.New(service.Config{MatchThreshold: 0.45}, slowEngine{delay: 30 * time.Millisecond}, st.NewMemGallery())
	cfg := config.Default()
	return New(compat.Deps{Cfg: cfg, Log: zerolog.Nop(), Metrics: server.NewMetrics(), Svc: svc, Engine: noAnalyzer{}, Gallery: gallery.Embedded{Gallery: g}}, "127.0.0.1:9002")
}

func pngB64(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 64, 64))); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

func call(h func(*fasthttp.RequestCtx, compat.Params), body any) (int, string) {
	var ctx fasthttp.RequestCtx
	b, _ := json.Marshal(body)
	ctx.Request.SetBody(b)
	h(&ctx, nil)
	return ctx.Response.StatusCode(), string(ctx.Response.Body())
}

// Eight concurrent uploads of three images each for one user: every one
// passes the early check (nothing stored yet), but only three may store,
// because the limit is checked again under the user's lock.
func TestConcurrentUploadsKeepThePerUserLimit(t *testing.T) {
	a := newTestAPI(t)
	img := pngB64(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := call(a.upload, map[string]any{"userId": "u1", "images": []string{img, img, img}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case status == http.StatusOK:
				ok++
			case status == http.StatusBadRequest && strings.Contains(body, "At most 10 verification images"):
				refused++
			default:
				t.Errorf("upload: %d %s", status, body)
			}
		}()
	}
	wg.Wait()
	refs, err := a.storedImages("u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) > MaxImages || len(refs) != 3*ok || ok != 3 || refused != 5 {
		t.Fatalf("%d stored, %d uploads stored, %d refused", len(refs), ok, refused)
	}
	// Names stay unique and in order.
	seen := map[string]bool{}
	for _, r := range refs {
		if seen[r.name] {
			t.Fatalf("name %s twice", r.name)
		}
		seen[r.name] = true
	}
	// Another user is not held up by u1's lock, nor counted against it.
	if status, body := call(a.upload, map[string]any{"userId": "u2", "images": []string{img}}); status != 200 {
		t.Fatalf("u2: %d %s", status, body)
	}
	// replace=true swaps the set under the same lock.
	if status, body := call(a.upload, map[string]any{"userId": "u1", "images": []string{img, img}, "replace": true}); status != 200 {
		t.Fatalf("replace: %d %s", status, body)
	}
	if refs, _ := a.storedImages("u1"); len(refs) != 2 {
		t.Fatalf("after replace: %d", len(refs))
	}
}

// A store that cannot write shows in /health: "degraded", with the cause.
func TestHealthShowsStorageFailure(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/dev/full", filepath.Join(dir, ".vizor-write-probe")); err != nil {
		t.Fatal(err)
	}
	a := newTestAPI(t)
	a.d.Svc = service.New(service.Config{MatchThreshold: 0.45, DataDir: dir, MinFreeBytes: 1}, slowEngine{}, st.NewMemGallery())
	var ctx fasthttp.RequestCtx
	a.health(&ctx, nil)
	var h map[string]any
	if err := json.Unmarshal(ctx.Response.Body(), &h); err != nil || h["status"] != "degraded" ||
		!strings.Contains(fmt.Sprint(h["storage_error"]), "no space left on device") {
		t.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}

func TestUploadRefusesIDsXMLCannotCarry(t *testing.T) {
	a := newTestAPI(t)
	img := pngB64(t)
	for _, id := range []string{"u\uFFFE", "u\uFFFF", "u\u0085", "u\x01"} {
		if status, body := call(a.upload, map[string]any{"userId": id, "images": []string{img}}); status != 400 || !strings.Contains(body, "userId") {
			t.Errorf("%q: %d %s", id, status, body)
		}
	}
}
