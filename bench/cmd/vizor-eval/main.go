// Command vizor-eval measures Vizor's accuracy on a labelled image set with
// the real engine and writes a Markdown report, PNG plots and a JSON file
// with every number.
//
//	go run ./bench/cmd/vizor-eval                       # ../shared/data/faces -> docs/accuracy
//	go run ./bench/cmd/vizor-eval -data DIR|LABELS.tsv  # folder per person, or a labels file
//	go run ./bench/cmd/vizor-eval -pairs pairs.csv -root DIR   # file_x,file_y,Decision or LFW pairs.txt
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"vizor/bench/cmd/internal/progress"
	"vizor/bench/eval"
	"vizor/bench/eval/dataset"
	"vizor/bench/eval/metrics"
	"vizor/bench/eval/report"
	"vizor/bindings"
	"vizor/internal/faceset"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vizor-eval:", err)
		os.Exit(1)
	}
}

func run() error {
	p := metrics.DefaultPolicy
	var (
		data       = flag.String("data", "", "labelled images: a folder (LABELS.tsv inside, or one sub-folder per identity) or a labels file; default ../shared/data/faces ($VIZOR_SHARED_DATA/faces)")
		pairs      = flag.String("pairs", "", "explicit comparisons instead of all pairs: a file_x,file_y,Decision CSV or an LFW pairs.txt")
		root       = flag.String("root", "", "image root for -pairs (default: the pairs file's folder)")
		exclude    = flag.String("exclude", "", "comma-separated image names to leave out")
		models     = flag.String("models", "models", "models directory")
		cacheDir   = flag.String("cache", eval.DefaultCacheDir(), "template cache directory")
		noCache    = flag.Bool("no-cache", false, "recompute every template")
		out        = flag.String("out", "docs/accuracy", "report directory (report.md, report.json, plots)")
		threshold  = flag.Float64("threshold", 0, "configured match threshold to report accuracy at; 0: the calibrated one")
		reqFMR     = flag.Float64("fmr", 1e-3, "report the threshold that gives this FMR")
		minQuality = flag.Float64("min-quality", 0, "quality gate for enrolment (0: none)")
		batch      = flag.Int("batch", 4, "images per engine call")
		workers    = flag.Int("workers", 0, "engine workers (0: number of CPUs)")
		summary    = flag.String("summary", "", "also write a short Markdown summary here (BENCHMARKS.md's Accuracy section)")
	)
	flag.Float64Var(&p.TargetFMR, "calib-fmr", p.TargetFMR, "calibration: the FMR the default threshold holds on impostors")
	flag.Float64Var(&p.Lo, "calib-lo", p.Lo, "calibration: lower bound of the default threshold")
	flag.Float64Var(&p.Hi, "calib-hi", p.Hi, "calibration: upper bound of the default threshold")
	flag.Float64Var(&p.Low, "band-low", p.Low, "confidence: |score-threshold| below this is low")
	flag.Float64Var(&p.Medium, "band-medium", p.Medium, "confidence: |score-threshold| below this is medium, else high")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	set, err := load(*data, *pairs, *root)
	if err != nil {
		return err
	}
	if *exclude != "" {
		if *pairs != "" {
			return fmt.Errorf("-exclude applies to labelled sets, not -pairs")
		}
		set.Exclude(strings.Split(*exclude, ","), "excluded on the command line")
	}

	eng, err := bindings.Open(bindings.Config{ModelsDir: *models, Workers: *workers})
	if err != nil {
		return fmt.Errorf("opening the engine (models in %s): %w", *models, err)
	}
	defer eng.Close()
	info := eng.Info()
	var cache *eval.Cache
	if !*noCache {
		cache = &eval.Cache{Dir: *cacheDir, ModelID: info.RecognizerID}
	}
	line := progress.New()
	cfg := eval.Config{
		Extractor: eval.EngineExtractor{Engine: eng}, Cache: cache, BatchSize: *batch,
		MinQuality: *minQuality, Threshold: *threshold, RequestedFMR: *reqFMR, Policy: p,
		Progress: func(done, total, cached int) {
			msg := fmt.Sprintf("templates %s (%d cached)", progress.Bar(done, total, line.Elapsed()), cached)
			if done == total {
				line.Done("%s in %s", msg, line.Elapsed().Round(time.Millisecond))
			} else {
				line.Printf("%s", msg)
			}
		},
	}
	r, err := eval.Evaluate(ctx, cfg, set)
	if err != nil {
		return err
	}
	r.Generated = time.Now().UTC().Format(time.RFC3339)
	r.Commit = gitCommit()
	r.Command = "go run ./bench/cmd/vizor-eval " + strings.Join(os.Args[1:], " ")
	r.Dataset.Root = displayPath(set.Root)
	r.Engine.EngineVersion, r.Engine.Backend = info.EngineVersion, info.Backend

	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	sc := report.Scores(r.Verification.Pairs)
	if r.Plots, err = report.WritePlots(*out, r, sc.Genuine, sc.Impostor); err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	if err := report.WriteMarkdown(filepath.Join(*out, "report.md"), r); err != nil {
		return err
	}
	if err := report.WriteJSON(filepath.Join(*out, "report.json"), r); err != nil {
		return err
	}
	if *summary != "" {
		if err := report.WriteSummary(*summary, filepath.Join(*out, "report.md"), r); err != nil {
			return err
		}
	}
	v := r.Verification
	fmt.Printf("FTE %.2f%% | %d genuine / %d impostor pairs | AUC %.4f | EER %.2f%% at %.3f | default threshold %.2f (FMR %.2f%%, FNMR %.2f%%)",
		100*r.Enrolment.FTE, v.GenuinePairs, v.ImpostorPairs, v.AUC, 100*v.EER.FMR, v.EER.Threshold,
		r.Calibration.Threshold, 100*r.Calibration.AtThreshold.FMR, 100*r.Calibration.AtThreshold.FNMR)
	if id := r.Identification; id != nil {
		fmt.Printf(" | rank-1 %.2f%%", 100*id.Rank1)
	}
	fmt.Printf("\nwrote %s\n", filepath.Join(*out, "report.md"))
	return nil
}

func load(data, pairs, root string) (*dataset.Set, error) {
	if pairs != "" {
		return dataset.LoadPairs(pairs, root)
	}
	if data == "" {
		d, err := faceset.Dir()
		if err != nil {
			return nil, fmt.Errorf("no -data given and %w", err)
		}
		data = filepath.Join(d, "faces")
	}
	return dataset.Load(data)
}

// displayPath shows paths inside or beside the repository relative to it, so
// the committed report does not depend on where the checkout lives.
func displayPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	if root, err := faceset.RepoRoot(); err == nil {
		if rel, err := filepath.Rel(root, abs); err == nil && !strings.HasPrefix(rel, "../..") {
			return rel
		}
	}
	return abs
}

func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
