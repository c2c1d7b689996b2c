package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vizor/bench/eval/metrics"
)

func TestWriteAll(t *testing.T) {
	pairs := []PairScore{
		{"a1", "a2", 0.9, true}, {"a1", "a3", 0.8, true}, {"b1", "b2", 0.6, true}, {"c1", "c2", 0.4, true},
		{"a1", "b1", 0.1, false}, {"a1", "c1", 0.2, false}, {"b1", "c1", 0.3, false}, {"a2", "b2", 0.5, false}, {"a3", "c2", 0.6, false},
	}
	r := &Result{Generated: "now", Command: "test", Engine: EngineInfo{RecognizerID: "m"}}
	r.Verification = NewVerification(pairs, VerificationOptions{Threshold: 0.55, FMRTargets: []float64{1e-2, 0.2}, RequestedFMR: 1e-3, Hardest: 2})
	if r.Verification.AUC != 0.875 || r.Verification.GenuinePairs != 4 {
		t.Fatalf("verification %+v", r.Verification)
	}
	s := Scores(pairs)
	r.Calibration = metrics.Calibrate(s, metrics.DefaultPolicy)
	closed := []metrics.Search{
		{Probe: "p1", Mate: "A", Scores: map[string]float64{"A": .9, "B": .3}},
		{Probe: "p2", Mate: "A", Scores: map[string]float64{"A": .5, "B": .6}},
	}
	open := append(closed, metrics.Search{Probe: "n1", Scores: map[string]float64{"A": .55, "B": .2}})
	r.Identification = NewIdentification("closed", 2, closed, "open", []string{"A", "B"}, open, 0.5)
	if r.Identification.Rank1 != 0.5 || len(r.Identification.Misses) != 1 || r.Identification.Misses[0].Top != "B" {
		t.Fatalf("identification %+v", r.Identification)
	}
	dir := t.TempDir()
	names, err := WritePlots(dir, r, s.Genuine, s.Impostor)
	if err != nil || len(names) != 4 {
		t.Fatalf("plots %v %v", names, err)
	}
	if err := WriteMarkdown(filepath.Join(dir, "report.md"), r); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(filepath.Join(dir, "report.json"), r); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{"| AUC | 0.8750 |", "not enough impostor pairs", "rank-1 identification"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	// The curve's last threshold is +Inf: written as null, and the value in
	// memory is restored afterwards.
	if !strings.Contains(string(raw), `"threshold": null`) {
		t.Error("no null threshold in report.json")
	}
	if c := r.Verification.Curve; c[len(c)-1].Threshold < 1e300 {
		t.Error("non-finite value not restored")
	}
}
