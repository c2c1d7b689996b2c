package service_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"vizor/server/service"
	st "vizor/server/service/servicetest"
)

var (
	spoof     = face(func(f *st.FakeFace) { f.Liveness = 0.01 }) // below newSvc's 0.1
	greyscale = face(func(f *st.FakeFace) { f.Liveness = -1; f.LivenessStatus = service.LivenessGreyscale })
	tooSmall  = face(func(f *st.FakeFace) { f.Liveness = -1; f.LivenessStatus = service.LivenessFaceTooSmall })
	noPAD     = face(func(f *st.FakeFace) { f.Liveness = -1 })
)

func pol(p service.PADPolicy) service.Options {
	return service.Options{PAD: service.PADRequest{Policy: p, MayWeaken: true}}
}

// Each policy on a spoof, a live face and faces PAD cannot judge: enforce
// refuses only the spoof (and a missing PAD model, as a server fault),
// enforce_strict also what PAD cannot judge, report refuses nothing and
// says what it saw, off neither refuses nor reports.
func TestPADPolicyOutcomes(t *testing.T) {
	s, _, _ := newSvc(t)
	ctx := context.Background()
	cases := []struct {
		policy  service.PADPolicy
		face    st.FakeFace
		err     error
		outcome string
		reason  string
	}{
		{service.PADEnforce, good, nil, service.PADLive, ""},
		{service.PADEnforce, spoof, service.ErrSpoof, service.PADSpoof, ""},
		{service.PADEnforce, greyscale, nil, service.PADUnavailable, "greyscale"},
		{service.PADEnforce, tooSmall, nil, service.PADUnavailable, "face_too_small"},
		{service.PADEnforce, noPAD, service.ErrUnavailable, service.PADUnavailable, "not_computed"},
		{service.PADEnforceStrict, greyscale, service.ErrSpoof, service.PADUnavailable, "greyscale"},
		{service.PADEnforceStrict, spoof, service.ErrSpoof, service.PADSpoof, ""},
		{service.PADEnforceStrict, good, nil, service.PADLive, ""},
		{service.PADReport, spoof, nil, service.PADSpoof, ""},
		{service.PADReport, good, nil, service.PADLive, ""},
		{service.PADReport, greyscale, nil, service.PADUnavailable, "greyscale"},
		{service.PADReport, noPAD, nil, service.PADUnavailable, "not_computed"},
		{service.PADOff, spoof, nil, "", ""},
		{service.PADOff, greyscale, nil, "", ""},
	}
	for _, c := range cases {
		name := string(c.policy) + "/" + c.outcome + c.reason
		res, err := s.Extract(ctx, service.OpSearch, st.Image(c.face), pol(c.policy))
		if !errors.Is(err, c.err) || (c.err == nil && err != nil) {
			t.Errorf("%s: err %v, want %v", name, err, c.err)
		}
		p := res.PAD
		if p.Outcome != c.outcome || p.Reason != c.reason || p.Policy != c.policy {
			t.Errorf("%s: PAD %+v", name, p)
		}
		if c.outcome == service.PADUnavailable && p.Score >= 0 {
			t.Errorf("%s: a made-up score %v for a face PAD could not judge", name, p.Score)
		}
		if c.policy == service.PADOff && (res.Liveness >= 0 || p.Reported()) {
			t.Errorf("off: liveness %v reported", res.Liveness)
		}
		if c.outcome == service.PADSpoof && (p.Score != 0.01 || p.Threshold != 0.1) {
			t.Errorf("%s: score %v threshold %v", name, p.Score, p.Threshold)
		}
	}
}

// The gate order holds under report: a spoof that is not refused still
// meets the quality gate after PAD.
func TestPADReportKeepsLaterGates(t *testing.T) {
	s, _, _ := newSvc(t)
	img := st.Image(face(func(f *st.FakeFace) { f.Liveness = 0.01; f.Quality = 0.01 }))
	res, err := s.Enrol(context.Background(), img, "alice", pol(service.PADReport))
	if !errors.Is(err, service.ErrQuality) || res.Probe.PAD.Outcome != service.PADSpoof {
		t.Fatalf("report: %v, PAD %+v; want the quality gate's refusal with the spoof reported", err, res.Probe.PAD)
	}
}

// A partition's stored policy applies to requests that name none; a
// partition without one takes the flavour's default, then the service's.
func TestPADPolicyPerPartition(t *testing.T) {
	s, _, _ := newSvc(t)
	ctx := context.Background()
	if err := s.SetPartitionPADPolicy(ctx, "kiosk", service.PADReport); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPartitionPADPolicy(ctx, "bank", service.PADEnforce); err != nil {
		t.Fatal(err)
	}
	img := st.Image(spoof)
	// kiosk reports even where the flavour enforces.
	res, err := s.Extract(ctx, service.OpSearch, img, service.Options{Partition: "kiosk", PAD: service.PADRequest{Default: service.PADEnforce}})
	if err != nil || res.PAD.Outcome != service.PADSpoof || res.PAD.Policy != service.PADReport {
		t.Fatalf("kiosk: %v %+v", err, res.PAD)
	}
	// bank enforces even where the flavour only reports.
	if _, err := s.Extract(ctx, service.OpSearch, img, service.Options{Partition: "bank", PAD: service.PADRequest{Default: service.PADReport}}); !errors.Is(err, service.ErrSpoof) {
		t.Fatalf("bank: %v, want a spoof refusal", err)
	}
	// No stored policy: the flavour's default, else the service's (enforce).
	if _, err := s.Extract(ctx, service.OpSearch, img, service.Options{Partition: "other", PAD: service.PADRequest{Default: service.PADReport}}); err != nil {
		t.Fatalf("flavour default report: %v", err)
	}
	if _, err := s.Extract(ctx, service.OpSearch, img, service.Options{Partition: "other"}); !errors.Is(err, service.ErrSpoof) {
		t.Fatalf("service default: %v, want enforce", err)
	}
	// Cleared: back to the flavour's default.
	if err := s.SetPartitionPADPolicy(ctx, "kiosk", ""); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.PartitionPADPolicy(ctx, "kiosk"); p != "" {
		t.Fatalf("cleared policy = %q", p)
	}
	if _, err := s.Extract(ctx, service.OpSearch, img, service.Options{Partition: "kiosk", PAD: service.PADRequest{Default: service.PADEnforce}}); !errors.Is(err, service.ErrSpoof) {
		t.Fatalf("cleared kiosk: %v", err)
	}
	if err := s.SetPartitionPADPolicy(ctx, "kiosk", "lenient"); !errors.Is(err, service.ErrInvalid) {
		t.Fatalf("unknown policy stored: %v", err)
	}
}

// A request may strengthen any policy, choose freely below enforce, and
// weaken an enforcing one only when its key may (MayWeaken); the refusal
// says why and costs no engine call.
func TestPADPolicyPerRequest(t *testing.T) {
	s, e, _ := newSvc(t)
	ctx := context.Background()
	if err := s.SetPartitionPADPolicy(ctx, "bank", service.PADEnforce); err != nil {
		t.Fatal(err)
	}
	img := st.Image(spoof)
	for _, weaker := range []service.PADPolicy{service.PADReport, service.PADOff} {
		calls := e.Calls.Load()
		_, err := s.Verify(ctx, img, "alice", service.Options{Partition: "bank", PAD: service.PADRequest{Policy: weaker}})
		if !errors.Is(err, service.ErrInvalid) || !strings.Contains(err.Error(), "weaken") {
			t.Fatalf("%s on an enforce partition without the right: %v", weaker, err)
		}
		if e.Calls.Load() != calls {
			t.Fatalf("%s: the engine ran for a refused policy", weaker)
		}
		res, err := s.Extract(ctx, service.OpSearch, img, service.Options{Partition: "bank", PAD: service.PADRequest{Policy: weaker, MayWeaken: true}})
		if err != nil || res.PAD.Policy != weaker {
			t.Fatalf("%s with the right: %v %+v", weaker, err, res.PAD)
		}
	}
	// The flavour's enforce default is protected the same way.
	if _, err := s.Extract(ctx, service.OpSearch, img, service.Options{Partition: "p", PAD: service.PADRequest{Policy: service.PADOff, Default: service.PADEnforce}}); !errors.Is(err, service.ErrInvalid) {
		t.Fatalf("off against the flavour's enforce: %v", err)
	}
	// Strengthening needs no right; moving between report and off neither.
	if _, err := s.Extract(ctx, service.OpSearch, img, service.Options{Partition: "p", PAD: service.PADRequest{Policy: service.PADEnforce, Default: service.PADReport}}); !errors.Is(err, service.ErrSpoof) {
		t.Fatalf("enforce asked on a report default: %v", err)
	}
	if _, err := s.Extract(ctx, service.OpSearch, img, service.Options{Partition: "p", PAD: service.PADRequest{Policy: service.PADOff, Default: service.PADReport}}); err != nil {
		t.Fatalf("off asked on a report default: %v", err)
	}
	if _, err := s.Extract(ctx, service.OpSearch, img, service.Options{Partition: "bank", PAD: service.PADRequest{Policy: service.PADEnforceStrict}}); !errors.Is(err, service.ErrSpoof) {
		t.Fatalf("enforce_strict on enforce: %v", err)
	}
	if _, err := s.Extract(ctx, service.OpSearch, img, service.Options{PAD: service.PADRequest{Policy: "lenient"}}); !errors.Is(err, service.ErrInvalid) {
		t.Fatalf("unknown policy: %v", err)
	}
}

func TestParsePADPolicy(t *testing.T) {
	for in, want := range map[string]service.PADPolicy{"": "", " Report ": service.PADReport, "OFF": service.PADOff,
		"enforce": service.PADEnforce, "enforce_strict": service.PADEnforceStrict} {
		if got, err := service.ParsePADPolicy(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	if _, err := service.ParsePADPolicy("none"); !errors.Is(err, service.ErrInvalid) {
		t.Errorf("none: %v", err)
	}
}

// A zero threshold turns the stage off whatever the policy, as before.
func TestPADThresholdZeroIsOff(t *testing.T) {
	s, _, _ := newSvc(t)
	zero := float32(0)
	res, err := s.Extract(context.Background(), service.OpSearch, st.Image(spoof), service.Options{PADThreshold: &zero})
	if err != nil || res.PAD.Policy != service.PADOff {
		t.Fatalf("%v %+v", err, res.PAD)
	}
}

// Under off the engine is asked to skip the PAD stage; under report it is
// not. A micro-batch skips it only when every request in it is off.
func TestPADOffSkipsTheStage(t *testing.T) {
	s, e, _ := newSvc(t)
	ctx := context.Background()
	if _, err := s.Extract(ctx, service.OpSearch, st.Image(spoof), pol(service.PADOff)); err != nil || e.NoPAD.Load() != 1 {
		t.Fatalf("off: %v, %d images without PAD", err, e.NoPAD.Load())
	}
	if _, err := s.Extract(ctx, service.OpSearch, st.Image(spoof), pol(service.PADReport)); err != nil || e.NoPAD.Load() != 1 {
		t.Fatalf("report: %v, %d images without PAD", err, e.NoPAD.Load())
	}

	for _, mixed := range []bool{false, true} {
		fe := &st.FakeEngine{Delay: 30 * time.Millisecond}
		b := service.NewBatcher(fe, 8, 1, 0)
		// Occupy the only slot so the next requests queue into one batch.
		go func() { _, _ = b.Analyze(context.Background(), [][]byte{st.Image(good)}) }()
		time.Sleep(5 * time.Millisecond)
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				c := service.WithoutPAD(context.Background())
				if mixed && i == 2 {
					c = context.Background()
				}
				_, _ = b.Analyze(c, [][]byte{st.Image(good)})
			}(i)
		}
		wg.Wait()
		b.Close()
		if fe.MaxSeen.Load() < 2 {
			t.Fatalf("no batch formed (largest %d): the test proves nothing", fe.MaxSeen.Load())
		}
		if want := map[bool]int64{false: 4, true: 0}[mixed]; fe.NoPAD.Load() != want {
			t.Errorf("mixed=%v: %d images without PAD, want %d", mixed, fe.NoPAD.Load(), want)
		}
	}
}

// OnPAD hears every reported outcome, under report too, and nothing under
// off.
func TestPADOutcomesObserved(t *testing.T) {
	s, _, _ := newSvc(t)
	var mu sync.Mutex
	seen := map[string]int{}
	s.OnPAD = func(op string, r service.PADResult) {
		mu.Lock()
		seen[op+" "+string(r.Policy)+" "+r.Outcome]++
		mu.Unlock()
	}
	ctx := context.Background()
	_, _ = s.Extract(ctx, service.OpEnrol, st.Image(spoof), pol(service.PADReport))
	_, _ = s.Extract(ctx, service.OpSearch, st.Image(spoof), pol(service.PADEnforce))
	_, _ = s.Extract(ctx, service.OpSearch, st.Image(greyscale), pol(service.PADEnforce))
	_, _ = s.Extract(ctx, service.OpSearch, st.Image(spoof), pol(service.PADOff))
	want := map[string]int{"enrol report spoof": 1, "search enforce spoof": 1, "search enforce pad_unavailable": 1}
	if len(seen) != len(want) {
		t.Fatalf("seen %v, want %v", seen, want)
	}
	for k, n := range want {
		if seen[k] != n {
			t.Fatalf("seen %v, want %v", seen, want)
		}
	}
}

// A stored policy this version does not know (written by a newer one, or
// damaged) is read as the strictest, never as off.
func TestPADUnknownStoredPolicyIsStrict(t *testing.T) {
	s, _, g := newSvc(t)
	ctx := context.Background()
	if err := g.SetPartitionPADPolicy(ctx, "future", "enforce_v2"); err != nil {
		t.Fatal(err)
	}
	if p, err := s.PartitionPADPolicy(ctx, "future"); err != nil || p != service.PADEnforceStrict {
		t.Fatalf("%q %v", p, err)
	}
	if _, err := s.Extract(ctx, service.OpSearch, st.Image(greyscale), service.Options{Partition: "future"}); !errors.Is(err, service.ErrSpoof) {
		t.Fatalf("greyscale on an unknown stored policy: %v", err)
	}
}
