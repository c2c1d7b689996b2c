package engineproc_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"vizor/bindings"
	"vizor/engineproc"
	"vizor/internal/faceset"
)

// The test binary is its own worker: started with workerEnv set, it serves
// a real engine. Two test-only markers stand for native faults: killMarker
// kills the worker mid-call (as a SIGSEGV would; the real native SIGSEGV is
// in the e2e test, built with the vizor_crashtest tag) and hangMarker makes
// the call ignore its cancellation.
const (
	workerEnv  = "ENGINEPROC_TEST_WORKER"
	killMarker = "ENGINEPROC-TEST-KILL"
	hangMarker = "ENGINEPROC-TEST-HANG"
)

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		err := engineproc.ServeWorker(os.NewFile(3, "req"), os.NewFile(4, "rep"), func(c bindings.Config) (bindings.Analyzer, error) {
			if c.ModelsDir == fakeModels {
				return fakeEngine{}, nil
			}
			e, err := bindings.Open(c)
			if err != nil {
				return nil, err
			}
			return faulty{e}, nil
		})
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type faulty struct{ *bindings.Engine }

func (f faulty) Analyze(ctx context.Context, images [][]byte, o bindings.Options) ([]bindings.Result, error) {
	for _, img := range images {
		if bytes.HasPrefix(img, []byte(killMarker)) {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		if bytes.HasPrefix(img, []byte(hangMarker)) {
			select {}
		}
	}
	return f.Engine.Analyze(ctx, images, o)
}

func startPool(t *testing.T, procs int, models string) *engineproc.Pool {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(workerEnv, "1")
	p, err := engineproc.Start(engineproc.Config{
		Command:     []string{exe},
		Engine:      bindings.Config{ModelsDir: models, Workers: 1},
		Procs:       procs,
		CancelGrace: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("start pool: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func photo(t *testing.T, shared, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(shared, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The pool gives what the in-process engine gives, template for template.
func TestPoolMatchesInProcess(t *testing.T) {
	shared, models := faceset.TestDirs(t)
	p := startPool(t, 2, models)
	eng, err := bindings.Open(bindings.Config{ModelsDir: models, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	imgs := [][]byte{photo(t, shared, "probe-640x480.jpg"), photo(t, shared, "faces/pristin.jpg"), []byte("not an image")}
	want, err := eng.Analyze(context.Background(), imgs, bindings.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Analyze(context.Background(), imgs, bindings.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if len(got[i].Faces) != len(want[i].Faces) {
			t.Fatalf("image %d: %d faces, in-process %d", i, len(got[i].Faces), len(want[i].Faces))
		}
		for j := range want[i].Faces {
			if c := bindings.Cosine(got[i].Faces[j].Template, want[i].Faces[j].Template); c < 0.99999 {
				t.Errorf("image %d face %d: cosine %v to the in-process template", i, j, c)
			}
		}
	}
	if !errors.Is(got[2].Err, bindings.ErrDecode) && !errors.Is(got[2].Err, bindings.ErrUnsupported) {
		t.Errorf("garbage image: err %v, want a decode error across the pipe", got[2].Err)
	}
	if p.Info().Workers != 2 || p.Info().RecognizerID == "" {
		t.Errorf("info %+v: want 2 workers and a recognizer id", p.Info())
	}
}

// A worker dying mid-batch costs only the image that killed it: the others
// are answered, the worker is replaced, and the pool serves on.
func TestCrashFailsOnlyItsImage(t *testing.T) {
	shared, models := faceset.TestDirs(t)
	p := startPool(t, 2, models)
	good := photo(t, shared, "probe-640x480.jpg")
	imgs := [][]byte{good, append([]byte(killMarker), good...), good}
	rs, err := p.Analyze(context.Background(), imgs, bindings.Options{})
	if err != nil {
		t.Fatalf("batch with a crashing image: %v (want per-image results)", err)
	}
	for _, i := range []int{0, 2} {
		if rs[i].Err != nil || len(rs[i].Faces) != 1 || rs[i].Faces[0].Template == nil {
			t.Errorf("good image %d: err %v, %d faces", i, rs[i].Err, len(rs[i].Faces))
		}
	}
	if !errors.Is(rs[1].Err, bindings.ErrInternal) || !strings.Contains(rs[1].Err.Error(), "crashed") {
		t.Errorf("crashing image: err %v, want an internal 'crashed' error", rs[1].Err)
	}
	// Two kills: once in the batch, once alone.
	if n := p.Restarts(); n != 2 {
		t.Errorf("restarts %d, want 2", n)
	}
	waitAlive(t, p, 2)
	r, err := p.Analyze(context.Background(), [][]byte{good}, bindings.Options{})
	if err != nil || r[0].Err != nil {
		t.Fatalf("after the crash: %v %v", err, r[0].Err)
	}
}

// A call whose context ends returns at once; a worker that does not answer
// its cancellation within the grace is replaced.
func TestCancelledHangIsReplaced(t *testing.T) {
	shared, models := faceset.TestDirs(t)
	p := startPool(t, 1, models)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := p.Analyze(ctx, [][]byte{[]byte(hangMarker)}, bindings.Options{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the deadline", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("returned after %v", d)
	}
	deadline := time.Now().Add(30 * time.Second)
	for p.Restarts() < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if p.Restarts() != 1 {
		t.Fatalf("restarts %d, want the hung worker replaced", p.Restarts())
	}
	r, err := p.Analyze(context.Background(), [][]byte{photo(t, shared, "probe-640x480.jpg")}, bindings.Options{})
	if err != nil || r[0].Err != nil {
		t.Fatalf("after the hang: %v %v", err, r[0].Err)
	}
}

func TestStartFailsWithoutModels(t *testing.T) {
	exe, _ := os.Executable()
	t.Setenv(workerEnv, "1")
	_, err := engineproc.Start(engineproc.Config{Command: []string{exe}, Engine: bindings.Config{ModelsDir: t.TempDir()}})
	if !errors.Is(err, bindings.ErrModel) {
		t.Fatalf("err %v, want the worker's model error", err)
	}
}

func TestCloseTwiceAndAfter(t *testing.T) {
	_, models := faceset.TestDirs(t)
	p := startPool(t, 1, models)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Analyze(context.Background(), [][]byte{[]byte("x")}, bindings.Options{}); !errors.Is(err, bindings.ErrClosed) {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
	if n := p.Alive(); n != 0 {
		t.Fatalf("%d workers alive after Close", n)
	}
}

func waitAlive(t *testing.T, p *engineproc.Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for p.Alive() != n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if p.Alive() != n {
		t.Fatalf("%d workers alive, want %d", p.Alive(), n)
	}
}

// Every error the engine can give crosses the pipe as the same sentinel.
func TestErrorKindsCrossThePipe(t *testing.T) {
	for _, k := range []error{bindings.ErrInvalidArgument, bindings.ErrDecode, bindings.ErrTooLarge, bindings.ErrUnsupported,
		bindings.ErrNoFace, bindings.ErrModel, bindings.ErrBackend, bindings.ErrTooSmall, bindings.ErrInternal,
		bindings.ErrClosed, bindings.ErrCancelled, context.Canceled, context.DeadlineExceeded} {
		got := engineproc.RoundTripError(&bindings.Error{Kind: k, Message: "why"})
		if !errors.Is(got, k) {
			t.Errorf("%v came back as %v", k, got)
		}
	}
}

// A cancelled call stops the worker's native work at its next stage
// boundary: the worker answers within the grace (so it is not replaced)
// although the batch would take many times longer.
func TestCancelReachesNativeWork(t *testing.T) {
	shared, models := faceset.TestDirs(t)
	p := startPool(t, 1, models)
	var imgs [][]byte
	for _, ph := range []string{"bona.jpg", "chaeyeon.jpg", "jimin.jpg", "joy.jpg", "pristin.jpg", "tzuyu.jpg"} {
		img := photo(t, shared, "faces/"+ph)
		imgs = append(imgs, img, img, img, img, img)
	}
	t0 := time.Now()
	if _, err := p.Analyze(context.Background(), imgs, bindings.Options{}); err != nil {
		t.Fatal(err)
	}
	full := time.Since(t0)
	if full < 3*300*time.Millisecond {
		t.Skipf("the whole batch took only %v: too fast to tell a cancelled one apart from the grace", full)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := p.Analyze(ctx, imgs, bindings.Options{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the deadline", err)
	}
	t1 := time.Now()
	r, err := p.Analyze(context.Background(), imgs[:1], bindings.Options{})
	if err != nil || r[0].Err != nil {
		t.Fatalf("after the cancel: %v", err)
	}
	if p.Restarts() != 0 {
		t.Fatalf("the worker was replaced: the cancel did not stop its native work (batch %v)", full)
	}
	t.Logf("whole batch %v; next call served %v after the cancelled one", full, time.Since(t1))
}
