package service_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"vizor/server/service"
	st "vizor/server/service/servicetest"
)

func f32(v float64) *float32 { x := float32(v); return &x }

// NaN compares false with everything, so a "v < lo || v > hi" check let it
// through: every threshold-like option is refused unless it is a number in
// its range.
func TestNonNumericThresholdsRefused(t *testing.T) {
	s, _, _ := newSvc(t)
	ctx := context.Background()
	if _, err := s.Enrol(ctx, st.Image(good), "alice", service.Options{}); err != nil {
		t.Fatal(err)
	}
	img := st.Image(good)
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1.5, -2} {
		if _, err := s.Verify(ctx, img, "alice", service.Options{MatchThreshold: f32(v)}); !errors.Is(err, service.ErrInvalid) {
			t.Errorf("verify threshold %v: %v", v, err)
		}
		if _, err := s.Search(ctx, img, service.Options{MinScore: f32(v)}); !errors.Is(err, service.ErrInvalid) {
			t.Errorf("search min_score %v: %v", v, err)
		}
		if _, err := s.Compare(ctx, img, img, service.Options{MatchThreshold: f32(v)}); !errors.Is(err, service.ErrInvalid) {
			t.Errorf("compare threshold %v: %v", v, err)
		}
		if _, err := s.Extract(ctx, service.OpVerify, img, service.Options{QualityThreshold: f32(v)}); !errors.Is(err, service.ErrInvalid) {
			t.Errorf("quality threshold %v: %v", v, err)
		}
		if _, err := s.Extract(ctx, service.OpVerify, img, service.Options{PADThreshold: f32(v)}); !errors.Is(err, service.ErrInvalid) {
			t.Errorf("pad threshold %v: %v", v, err)
		}
	}
	if _, err := s.Verify(ctx, img, "alice", service.Options{MatchThreshold: f32(0.3)}); err != nil {
		t.Fatalf("a plain threshold: %v", err)
	}
}

// A crowd costs ProbeFaces faces: the largest are kept, face_index must
// fall among them, and FacesDetected counts at most that many.
func TestProbeConsidersProbeFacesAtMost(t *testing.T) {
	s, _, _ := newSvc(t)
	ctx := context.Background()
	crowd := make([]st.FakeFace, 3*service.ProbeFaces)
	for i := range crowd {
		crowd[i] = face(func(f *st.FakeFace) { f.W, f.H, f.Seed = float32(10+i), float32(10+i), int64(i+1) })
	}
	img := st.Image(crowd...)
	p, err := s.Extract(ctx, service.OpVerify, img, service.Options{Face: service.FaceIndex(service.ProbeFaces - 1)})
	if err != nil {
		t.Fatal(err)
	}
	if p.FacesDetected != service.ProbeFaces || p.Box.W != float32(10+len(crowd)-service.ProbeFaces) {
		t.Fatalf("faces %d, box %+v", p.FacesDetected, p.Box)
	}
	_, err = s.Extract(ctx, service.OpVerify, img, service.Options{Face: service.FaceIndex(service.ProbeFaces)})
	if !errors.Is(err, service.ErrInvalid) || !strings.Contains(err.Error(), "face_index") {
		t.Fatalf("face_index past the bound: %v", err)
	}
}

// Ids XML cannot carry faithfully are refused at enrolment, with a reason;
// ids stored earlier can still be verified and deleted.
func TestEnrolRefusesIDsXMLCannotCarry(t *testing.T) {
	s, _, g := newSvc(t)
	ctx := context.Background()
	for _, id := range []string{"a\uFFFEb", "a\uFFFF", "a\u0085b", "a\uFDD0", "a\U0001FFFF", "a\x7f"} {
		_, err := s.Enrol(ctx, st.Image(good), id, service.Options{})
		if !errors.Is(err, service.ErrInvalid) || !strings.Contains(err.Error(), "subject_id") {
			t.Errorf("%q: %v", id, err)
		}
		if _, err := s.Enrol(ctx, st.Image(good), "ok", service.Options{Partition: "p" + id}); !errors.Is(err, service.ErrInvalid) {
			t.Errorf("partition %q: %v", id, err)
		}
	}
	for _, id := range []string{"Zoë", "李雷", "emoji 😀", "a\uFFFDb"} {
		if _, err := s.Enrol(ctx, st.Image(good), id, service.Options{}); err != nil {
			t.Errorf("%q refused: %v", id, err)
		}
	}
	legacy := "old\uFFFE"
	if _, err := g.Enrol(ctx, "default", legacy, service.Template{ModelID: "fake-model-8", Vector: st.Vector(1, 8)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx, st.Image(good), legacy, service.Options{}); err != nil {
		t.Fatalf("verify a legacy id: %v", err)
	}
	if _, err := s.Delete(ctx, legacy, service.Options{}); err != nil {
		t.Fatalf("delete a legacy id: %v", err)
	}
}
