package report

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// WriteSummary writes the short accuracy section BENCHMARKS.md carries,
// linking to the full report at reportPath (relative to the repository).
func WriteSummary(path, reportPath string, r *Result) error {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	v, c := &r.Verification, &r.Calibration
	dir := filepath.ToSlash(filepath.Dir(reportPath))
	w("Full report: [%s](%s) (plots, per-image results, method), numbers in [%s/report.json](%s/report.json). ", filepath.ToSlash(reportPath), filepath.ToSlash(reportPath), dir, dir)
	w("Data: %s, %d images of %d identities; recognizer `%s`; commit `%s`; `%s`.\n\n", r.Dataset.Root, r.Dataset.Images, r.Dataset.Identities, r.Engine.RecognizerID, r.Commit, r.Command)
	w("| metric | value |\n|---|---|\n")
	w("| failure to enrol | %s |\n", pct(r.Enrolment.FTE))
	w("| comparisons | %d genuine, %d impostor |\n", v.GenuinePairs, v.ImpostorPairs)
	w("| genuine scores | min %s, median %s |\n| impostor scores | median %s, max %s |\n", num(v.Genuine.Min, 3), num(v.Genuine.Median, 3), num(v.Impostor.Median, 3), num(v.Impostor.Max, 3))
	w("| AUC | %s |\n| EER | %s at %s |\n", num(v.AUC, 4), pct(v.EER.FMR), num(v.EER.Threshold, 3))
	for _, a := range v.AtFMR {
		w("| FNMR at FMR %s | %s |\n", sci(a.Target), fmrCell(a))
	}
	w("| default threshold | **%s** (FMR %s, FNMR %s, accuracy %s here) |\n", num(c.Threshold, 2), pct(c.AtThreshold.FMR), pct(c.AtThreshold.FNMR), pct(c.Accuracy))
	if id := r.Identification; id != nil {
		w("| rank-1 (closed set) | %s of %d probes |\n", pct(id.Rank1), id.MatedProbes)
		a := id.Watchlist.AtThreshold
		w("| watchlist at the default | FPIR %s, FNIR %s |\n", pct(a.FPIR), pct(a.FNIR))
	}
	w("\nDefault threshold: %s, rounded up to %.2f and clamped to [%.2f, %.2f]. ", c.Source, c.Policy.Round, c.Policy.Lo, c.Policy.Hi)
	w("Confidence bands by distance from it: low < %.2f, medium < %.2f, high otherwise.\n\n", c.Policy.Low, c.Policy.Medium)
	for _, cv := range r.Caveats {
		w("- %s\n", cv)
	}
	w("\n![score distributions](%s/scores.png)\n", dir)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
