package service_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"vizor/server/service"
	st "vizor/server/service/servicetest"
)

func newSvc(t *testing.T) (*service.Service, *st.FakeEngine, *st.MemGallery) {
	t.Helper()
	e := &st.FakeEngine{}
	g := st.NewMemGallery()
	s := service.New(service.Config{MatchThreshold: 0.45, QualityThreshold: 0.5, ProbeQualityThreshold: 0.4, PADThreshold: 0.1, DefaultTopK: 5, MaxTopK: 50}, e, g)
	return s, e, g
}

var good = st.FakeFace{W: 100, H: 120, Quality: 0.9, Liveness: 0.9, Seed: 1}

func face(mod func(*st.FakeFace)) st.FakeFace {
	f := good
	mod(&f)
	return f
}

func TestGateOrder(t *testing.T) {
	s, _, _ := newSvc(t)
	ctx := context.Background()
	cases := []struct {
		name string
		img  []byte
		want error
		gate string
	}{
		{"not an image", []byte("hello"), service.ErrBadImage, ""},
		{"no face", st.Image(), service.ErrNoFace, "detection"},
		{"alignment before PAD", st.Image(face(func(f *st.FakeFace) { f.NoAlign = true; f.Liveness = 0 })), service.ErrAlignment, "alignment"},
		{"PAD before quality", st.Image(face(func(f *st.FakeFace) { f.Liveness = 0.01; f.Quality = 0.01 })), service.ErrSpoof, "pad"},
		{"quality before extraction", st.Image(face(func(f *st.FakeFace) { f.Quality = 0.2; f.NoExtract = true })), service.ErrQuality, "quality"},
		{"extraction", st.Image(face(func(f *st.FakeFace) { f.NoExtract = true })), service.ErrExtraction, "extraction"},
	}
	for _, c := range cases {
		_, err := s.Enrol(ctx, c.img, "alice", service.Options{})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
			continue
		}
		var se *service.Error
		if c.gate != "" && (!errors.As(err, &se) || se.Gate != c.gate) {
			t.Errorf("%s: gate %+v, want %s", c.name, se, c.gate)
		}
	}
}

func TestQualityThresholdPerOperation(t *testing.T) {
	s, _, _ := newSvc(t)
	ctx := context.Background()
	img := st.Image(face(func(f *st.FakeFace) { f.Quality = 0.45 }))
	if _, err := s.Enrol(ctx, img, "a", service.Options{}); !errors.Is(err, service.ErrQuality) {
		t.Fatalf("enrol at 0.45 with threshold 0.5: %v", err)
	}
	if _, err := s.Enrol(ctx, st.Image(good), "a", service.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx, img, "a", service.Options{}); err != nil {
		t.Fatalf("verify at 0.45 with probe threshold 0.4: %v", err)
	}
}

func TestMADGate(t *testing.T) {
	e := &st.FakeEngine{}
	mad := &fakeMAD{score: 0.9}
	s := service.New(service.Config{MatchThreshold: 0.45, MAD: mad, MADThreshold: 0.5}, e, st.NewMemGallery())
	ctx := context.Background()
	if _, err := s.Enrol(ctx, st.Image(good), "a", service.Options{}); !errors.Is(err, service.ErrMorph) {
		t.Fatalf("enrol with morph score 0.9: %v", err)
	}
	// MAD applies to enrolment only.
	if _, err := s.Search(ctx, st.Image(good), service.Options{}); errors.Is(err, service.ErrMorph) {
		t.Fatal("MAD gate ran on search")
	}
	mad.score = 0.1
	r, err := s.Enrol(ctx, st.Image(good), "a", service.Options{})
	if err != nil || r.Probe.MorphScore != 0.1 {
		t.Fatalf("enrol: %v %+v", err, r.Probe)
	}
	// Without a model, the gate is off and reports no score.
	s2, _, _ := newSvc(t)
	r, err = s2.Enrol(ctx, st.Image(good), "a", service.Options{})
	if err != nil || r.Probe.MorphScore >= 0 || s2.MADEnabled() {
		t.Fatalf("MAD off: %v %+v", err, r.Probe)
	}
}

type fakeMAD struct{ score float32 }

func (m *fakeMAD) Name() string { return "fake-mad" }
func (m *fakeMAD) Score(context.Context, []byte, service.Face) (float32, error) {
	return m.score, nil
}

func TestEnrolSearchVerifyDelete(t *testing.T) {
	s, _, _ := newSvc(t)
	ctx := context.Background()
	for i, name := range []string{"alice", "bob", "carol"} {
		f := good
		f.Seed = int64(i + 1)
		if _, err := s.Enrol(ctx, st.Image(f), name, service.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	bob := good
	bob.Seed = 2
	res, err := s.Search(ctx, st.Image(bob), service.Options{TopK: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Candidates) != 2 || res.Candidates[0].Subject != "bob" || res.Candidates[0].Rank != 1 || res.Candidates[1].Rank != 2 {
		t.Fatalf("search: %+v", res.Candidates)
	}
	if res.Candidates[0].Score < 0.999 {
		t.Fatalf("self score %v", res.Candidates[0].Score)
	}
	v, err := s.Verify(ctx, st.Image(bob), "bob", service.Options{})
	if err != nil || !v.Match {
		t.Fatalf("verify bob: %v %+v", err, v)
	}
	v, err = s.Verify(ctx, st.Image(bob), "alice", service.Options{})
	if err != nil || v.Match {
		t.Fatalf("verify bob as alice: %v %+v", err, v)
	}
	thr := float32(-1)
	v, err = s.Verify(ctx, st.Image(bob), "alice", service.Options{MatchThreshold: &thr})
	if err != nil || !v.Match || v.Threshold != -1 {
		t.Fatalf("per-request threshold: %v %+v", err, v)
	}
	if _, err := s.Verify(ctx, st.Image(bob), "nobody", service.Options{}); !errors.Is(err, service.ErrSubjectNotFound) || !errors.Is(err, service.ErrNotFound) {
		t.Fatalf("unknown subject: %v", err)
	}
	if _, err := s.Search(ctx, st.Image(bob), service.Options{Partition: "nope"}); !errors.Is(err, service.ErrPartitionNotFound) {
		t.Fatalf("unknown partition: %v", err)
	}
	d, err := s.Delete(ctx, "bob", service.Options{})
	if err != nil || d.Removed != 1 {
		t.Fatalf("delete: %v %+v", err, d)
	}
	if _, err := s.Delete(ctx, "bob", service.Options{}); !errors.Is(err, service.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if _, err := s.Search(ctx, st.Image(bob), service.Options{TopK: 1000}); !errors.Is(err, service.ErrInvalid) {
		t.Fatalf("top_k too large: %v", err)
	}
	if _, err := s.Enrol(ctx, st.Image(good), "", service.Options{}); !errors.Is(err, service.ErrInvalid) {
		t.Fatalf("empty subject: %v", err)
	}
	if _, err := s.Enrol(ctx, st.Image(good), "a\x00b", service.Options{}); !errors.Is(err, service.ErrInvalid) {
		t.Fatalf("control chars: %v", err)
	}
}

func TestFaceSelection(t *testing.T) {
	s, _, _ := newSvc(t)
	ctx := context.Background()
	small := st.FakeFace{W: 40, H: 50, Quality: 0.9, Liveness: 0.9, Seed: 7}
	large := st.FakeFace{W: 200, H: 220, Quality: 0.9, Liveness: 0.9, Seed: 8}
	img := st.Image(small, large) // engine order deliberately not by size
	if _, err := s.Enrol(ctx, st.Image(large), "large", service.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enrol(ctx, st.Image(small), "small", service.Options{}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Search(ctx, img, service.Options{})
	if err != nil || r.Probe.FaceIndex != 0 || r.Probe.FacesDetected != 2 || r.Candidates[0].Subject != "large" {
		t.Fatalf("largest: %v %+v", err, r)
	}
	r, err = s.Search(ctx, img, service.Options{Face: service.FaceIndex(1)})
	if err != nil || r.Probe.FaceIndex != 1 || r.Candidates[0].Subject != "small" {
		t.Fatalf("index 1: %v %+v", err, r)
	}
	if _, err := s.Search(ctx, img, service.Options{Face: service.FaceIndex(2)}); !errors.Is(err, service.ErrInvalid) {
		t.Fatalf("index 2 of 2: %v", err)
	}
}

func TestBatcherMerges(t *testing.T) {
	e := &st.FakeEngine{Delay: 20 * time.Millisecond}
	b := service.NewBatcher(e, 8, 1, 0)
	defer b.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			f := good
			f.Seed = int64(i)
			rs, err := b.Analyze(context.Background(), [][]byte{st.Image(f)})
			if err != nil {
				errs <- err
				return
			}
			want := st.Vector(int64(i), 8)
			if len(rs) != 1 || rs[0].Faces[0].Template[0] != want[0] {
				errs <- errors.New("result mismatch")
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if e.MaxSeen.Load() < 2 || e.Calls.Load() >= 32 {
		t.Fatalf("no batching: %d calls, largest batch %d", e.Calls.Load(), e.MaxSeen.Load())
	}
	if e.MaxSeen.Load() > 8 {
		t.Fatalf("batch over max: %d", e.MaxSeen.Load())
	}
}

func TestBatcherTimeoutAndClose(t *testing.T) {
	e := &st.FakeEngine{Delay: 200 * time.Millisecond}
	b := service.NewBatcher(e, 4, 1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Analyze(ctx, [][]byte{st.Image(good)}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout: %v", err)
	}
	b.Close()
	if _, err := b.Analyze(context.Background(), [][]byte{st.Image(good)}); !errors.Is(err, service.ErrUnavailable) {
		t.Fatalf("after close: %v", err)
	}
}

func TestTimeoutMapsToErrTimeout(t *testing.T) {
	e := &st.FakeEngine{Delay: 200 * time.Millisecond}
	s := service.New(service.Config{}, e, st.NewMemGallery())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.Search(ctx, st.Image(good), service.Options{}); !errors.Is(err, service.ErrTimeout) {
		t.Fatalf("got %v", err)
	}
}
