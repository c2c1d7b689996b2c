package pad

import (
	"math"
	"testing"
)

func near(a, b, eps float64) bool { return math.Abs(a-b) < eps }

func TestWilson(t *testing.T) {
	// Reference values: Wilson 95% interval, computed by hand from the
	// formula (p + z²/2n ± z√(p(1-p)/n + z²/4n²)) / (1 + z²/n).
	r := NewRate(3, 300)
	if r.Value != 0.01 || !near(r.Lo, 0.003409, 1e-5) || !near(r.Hi, 0.028987, 1e-5) {
		t.Errorf("3/300: %+v", r)
	}
	r = NewRate(0, 50)
	if r.Value != 0 || r.Lo != 0 || !near(r.Hi, 0.071348, 1e-5) {
		t.Errorf("0/50: %+v", r)
	}
	r = NewRate(10, 10)
	if r.Value != 1 || r.Hi != 1 || !near(r.Lo, 0.722467, 1e-5) {
		t.Errorf("10/10: %+v", r)
	}
	if r := NewRate(0, 0); r.N != 0 || r.Lo != 0 || r.Hi != 1 {
		t.Errorf("0/0: %+v", r)
	}
}

func TestErrorRates(t *testing.T) {
	bona := []float64{0.01, 0.2, 0.5, 0.9, 0.99}
	attack := []float64{0.001, 0.05, 0.3, 0.95}
	if r := BPCER(bona, 0.2); r.K != 1 || r.N != 5 {
		t.Errorf("BPCER at 0.2 (a score equal to the threshold passes): %+v", r)
	}
	if r := APCER(attack, 0.3); r.K != 2 || r.N != 4 {
		t.Errorf("APCER at 0.3 (a score equal to the threshold is accepted): %+v", r)
	}
	roc := ROC(bona, attack)
	if len(roc) != 11 || roc[0].Threshold != 0 || roc[len(roc)-1].Threshold != 1 {
		t.Fatalf("ROC: %d points %v..%v", len(roc), roc[0].Threshold, roc[len(roc)-1].Threshold)
	}
	for i := 1; i < len(roc); i++ {
		if roc[i].BPCER.K < roc[i-1].BPCER.K || roc[i].APCER.K > roc[i-1].APCER.K {
			t.Errorf("ROC not monotone at %v", roc[i].Threshold)
		}
	}
	if roc[0].APCER.K != 4 || roc[0].BPCER.K != 0 {
		t.Errorf("at 0 every attack passes, no bona fide refused: %+v", roc[0])
	}
}

func TestThresholdFor(t *testing.T) {
	bona := make([]float64, 200)
	for i := range bona {
		bona[i] = float64(i+1) / 200 // 0.005 .. 1
	}
	// 1% of 200 = 2 may be refused: the third smallest score.
	th := ThresholdFor(bona, 0.01)
	if th != 0.015 {
		t.Errorf("threshold %v, want 0.015", th)
	}
	if r := BPCER(bona, th); r.K != 2 {
		t.Errorf("BPCER at the chosen threshold: %+v", r)
	}
	// Rounding goes down: the bound holds.
	if th := ThresholdFor([]float64{0.123456789, 0.5}, 0); th != 0.1234 || BPCER([]float64{0.123456789, 0.5}, th).K != 0 {
		t.Errorf("rounded threshold %v", th)
	}
	if ThresholdFor(nil, 0.01) != 0 {
		t.Error("empty set")
	}
}

func TestAUC(t *testing.T) {
	if a := AUC([]float64{0.9, 0.8}, []float64{0.1, 0.2}); a != 1 {
		t.Errorf("separated: %v", a)
	}
	if a := AUC([]float64{0.5}, []float64{0.5}); a != 0.5 {
		t.Errorf("tie: %v", a)
	}
	if a := AUC([]float64{0.1, 0.9}, []float64{0.5}); a != 0.5 {
		t.Errorf("half: %v", a)
	}
}
