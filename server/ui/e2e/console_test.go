// Package e2e drives the web console (/ui) of the real vizor binary in
// headless Chromium (Debian's chromium, installed by scripts/deps.sh) with
// chromedp: it types the API key, enrols, verifies and searches with the
// shared photos through the page's file inputs, and checks what the page
// shows. Screenshots of each step are saved under $VIZOR_UI_ARTIFACTS (a
// fresh temporary folder when unset, named in the test log).
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"vizor/internal/faceset"
	"vizor/internal/vizorproc"
	"vizor/server/config"
)

// ArtifactsEnv names the folder the screenshots go to.
const ArtifactsEnv = "VIZOR_UI_ARTIFACTS"

const apiKey = "console-test-key-7f3a"

func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	faceset.Missing(t, "headless Chromium (Debian's chromium: scripts/deps.sh)", exec.ErrNotFound)
	return ""
}

func artifactsDir(t *testing.T) string {
	dir := os.Getenv(ArtifactsEnv)
	if dir == "" {
		d, err := os.MkdirTemp("", "vizor-ui-")
		if err != nil {
			t.Fatal(err)
		}
		dir = d
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("console screenshots in %s", dir)
	return dir
}

// build compiles the binary under test.
func build(t *testing.T, models string) string {
	bin := filepath.Join(t.TempDir(), "vizor")
	if err := vizorproc.Build(filepath.Dir(models), bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// startServer runs vizor serve with one API key.
func startServer(t *testing.T, bin, models string, extra ...string) string {
	var url string
	var p *vizorproc.Proc
	err := vizorproc.RetryPortClash(func() error {
		addr, err := vizorproc.FreeAddr()
		if err != nil {
			return err
		}
		args := append([]string{"serve", "-addr", addr, "-data-dir", t.TempDir(), "-models-dir", models,
			"-log-level", "warn", "-engine-workers", "1"}, extra...)
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "VIZOR_API_KEYS="+apiKey, "VIZOR_CONFIG=")
		url = "http://" + addr
		p, err = vizorproc.Start(cmd, 90*time.Second, vizorproc.Healthy(url+"/health"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(30 * time.Second); err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return url
}

func TestConsoleInChromium(t *testing.T) {
	shared, models := faceset.TestDirs(t)
	chrome := chromiumPath(t)
	faces := filepath.Join(shared, "faces")
	shots := artifactsDir(t)
	bin := build(t, models)
	url := startServer(t, bin, models)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// A synthetic camera (a test pattern, no face) and no permission
		// prompt, so the camera path runs headless.
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancelC := chromedp.NewContext(actx)
	defer cancelC()
	ctx, cancelT := context.WithTimeout(ctx, 4*time.Minute)
	defer cancelT()

	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	// op runs one operation from its tab: the subject (unless search), the
	// photo through the file input, the button; it waits for the outcome.
	op := func(name, subject, photo string) string {
		t.Helper()
		acts := []chromedp.Action[chromedp.Void]{
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`#tabs button[data-tab=%q]`, name))),
			chromedp.Evaluate[chromedp.Void](`document.querySelector('#result').removeAttribute('data-outcome')`),
		}
		if subject != "" {
			acts = append(acts, chromedp.SetValue(chromedp.CSS("#"+name+"-subject"), subject))
		}
		acts = append(acts,
			chromedp.SetUploadFiles(chromedp.CSS("#"+name+"-file"), []string{filepath.Join(faces, photo)}),
			chromedp.Click(chromedp.CSS("#"+name+"-go")),
			chromedp.WaitReady(chromedp.CSS(`#result[data-outcome]`)),
		)
		if err := chromedp.Do(ctx, acts...); err != nil {
			t.Fatalf("%s %s: %v", name, photo, err)
		}
		a, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#result"), "data-outcome"))
		if err != nil {
			t.Fatal(err)
		}
		return a.Value
	}

	// Without a key the page loads (it is open) but says the server wants one.
	if err := chromedp.Do(ctx, chromedp.Navigate(url+"/ui"),
		chromedp.WaitVisible(chromedp.CSS(`#stats tbody td.bad`))); err != nil {
		t.Fatalf("page without a key: %v", err)
	}
	if s := text("#stats tbody"); !strings.Contains(s, "needs an API key") {
		t.Fatalf("stats without a key: %q", s)
	}
	shot("01-no-key")

	// The key is kept in session storage and sent as x-api-key.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#api-key"), apiKey),
		chromedp.Click(chromedp.CSS("#key-form button")),
		chromedp.WaitVisible(chromedp.CSS(`#stats tbody td.muted`)),
		chromedp.SetValue(chromedp.CSS("#partition"), "console"),
	); err != nil {
		t.Fatalf("key: %v", err)
	}
	stored, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem('vizor.apiKey')`))
	if err != nil || stored != apiKey {
		t.Fatalf("session storage key %q (%v)", stored, err)
	}

	// Enrol two people; the stats show the new partition.
	for _, e := range []struct{ subject, photo string }{{"jimin", "jimin.jpg"}, {"bona", "bona.jpg"}} {
		if got := op("enrol", e.subject, e.photo); got != "ok" {
			t.Fatalf("enrol %s: outcome %q: %s", e.photo, got, text("#result"))
		}
		if s := text("#outcome"); s != "Enrolled "+e.subject {
			t.Fatalf("enrol %s: %q", e.photo, s)
		}
	}
	res := text("#result")
	for _, want := range []string{"Face detection: 1 face found", "PAD (enforce): liveness 0.", fmt.Sprintf("is at or above %.3f", config.Default().PADThreshold), "Quality:", "MAD: off"} {
		if !strings.Contains(res, want) {
			t.Errorf("enrol gates: %q missing from %q", want, res)
		}
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#stats tr[data-partition="console"]`))); err != nil {
		t.Fatal(err)
	}
	if row := text(`#stats tr[data-partition="console"]`); !strings.Contains(row, "2") {
		t.Errorf("stats row for console: %q", row)
	}
	shot("02-enrolled")

	// The full profile fails the quality gate, explained in words.
	if got := op("enrol", "jimin", "jimin3.jpg"); got != "quality_rejected" {
		t.Fatalf("enrol jimin3.jpg: outcome %q: %s", got, text("#result"))
	}
	if res := text("#result"); !strings.Contains(res, "Refused by the quality gate") || !strings.Contains(res, "profile") ||
		!strings.Contains(res, "1 face found (detector confidence 0.") || !strings.Contains(res, "Template extraction: not reached") {
		t.Errorf("quality refusal not explained: %q", res)
	}
	shot("03-quality-refused")

	// 1:1: another photo of jimin matches, with its score.
	if got := op("verify", "jimin", "jimin2.jpg"); got != "ok" {
		t.Fatalf("verify: outcome %q: %s", got, text("#result"))
	}
	if s := text("#outcome"); s != "Match: jimin" {
		t.Fatalf("verify jimin2 as jimin: %q", s)
	}
	if s := text("#verify-score"); !strings.HasPrefix(s, "Similarity 0.") || !strings.Contains(s, "threshold 0.450") {
		t.Errorf("verify score line: %q", s)
	}
	shot("04-verified")

	// 1:N with a two-face photo: jimin ranks first, the page says which face
	// was used and draws both.
	if got := op("search", "", "jimin4.jpg"); got != "ok" {
		t.Fatalf("search: outcome %q: %s", got, text("#result"))
	}
	if s := text("#outcome"); s != "Best match: jimin" {
		t.Fatalf("search jimin4: %q", s)
	}
	cands := text("#candidates tbody")
	if !strings.Contains(cands, "jimin") || !strings.Contains(cands, "bona") {
		t.Errorf("candidates: %q", cands)
	}
	if res := text("#result"); !strings.Contains(res, "2 faces found; the largest one (#0) was used") {
		t.Errorf("search detection line: %q", res)
	}
	drawn, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const c = document.querySelector('#photo'); return c.width > 0 && c.height > 0; })()`))
	if err != nil || !drawn {
		t.Errorf("photo canvas not drawn (%v)", err)
	}
	shot("05-searched")

	// The camera: a frame of Chromium's synthetic camera is taken and sent;
	// it shows no face, and the page says so.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#tabs button[data-tab="enrol"]`)),
		chromedp.SetValue(chromedp.CSS("#enrol-subject"), "camera"),
		chromedp.Click(chromedp.CSS("#enrol-form button.camera")),
		chromedp.WaitVisible(chromedp.CSS("#video")),
	); err != nil {
		t.Fatalf("camera: %v", err)
	}
	for i := 0; ; i++ {
		ready, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#video').videoWidth > 0`))
		if err != nil {
			t.Fatal(err)
		}
		if ready {
			break
		}
		if i == 100 {
			t.Fatal("the camera never delivered a frame")
		}
		time.Sleep(100 * time.Millisecond)
	}
	shot("06-camera")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#snap")),
		chromedp.WaitNotVisible(chromedp.CSS("#camera")),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#result').removeAttribute('data-outcome')`),
		chromedp.Click(chromedp.CSS("#enrol-go")),
		chromedp.WaitReady(chromedp.CSS(`#result[data-outcome]`)),
	); err != nil {
		t.Fatalf("camera photo: %v", err)
	}
	if res := text("#result"); !strings.Contains(res, "Refused: no_face") || !strings.Contains(res, "no face was found") {
		t.Errorf("camera frame without a face: %q", res)
	}
	shot("07-camera-no-face")

	// PAD in words, on a server where every face is a spoof (pad_threshold
	// 1: P(live) is below 1 for every photo): the default policy refuses,
	// and the page's policy choice "report" lets the photo in with a warning.
	url2 := startServer(t, bin, models, "-pad-threshold", "1")
	if err := chromedp.Do(ctx, chromedp.Navigate(url2+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS(`#stats tbody td`)),
		chromedp.SetValue(chromedp.CSS("#api-key"), apiKey),
		chromedp.Click(chromedp.CSS("#key-form button")),
		chromedp.WaitVisible(chromedp.CSS(`#stats tbody td.muted`)),
	); err != nil {
		t.Fatalf("second server: %v", err)
	}
	if got := op("enrol", "bona", "bona.jpg"); got != "spoof_detected" {
		t.Fatalf("enrol at pad_threshold 1: outcome %q: %s", got, text("#result"))
	}
	if res := text("#result"); !strings.Contains(res, "Refused by presentation attack detection: liveness 0.") ||
		!strings.Contains(res, "below the threshold 1.000") || !strings.Contains(res, "printed photo") {
		t.Errorf("PAD refusal not explained: %q", res)
	}
	shot("08-pad-refused")
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#pad-policy"), "report")); err != nil {
		t.Fatal(err)
	}
	if got := op("enrol", "bona", "bona.jpg"); got != "ok" {
		t.Fatalf("enrol with pad_policy report: outcome %q: %s", got, text("#result"))
	}
	if res := text("#result"); !strings.Contains(res, "PAD (report): liveness 0.") || !strings.Contains(res, "only reports it") {
		t.Errorf("reported spoof not explained: %q", res)
	}
	shot("09-pad-reported")
}
