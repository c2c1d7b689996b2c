// Command vizor-pad measures presentation attack detection and detection
// recall on the public bona fide and attack sets of bench/datasets/pad
// (fetched outside the repository by its fetch.sh), the ISO/IEC 30107-3
// way: BPCER and APCER per attack type with counts and 95% Wilson
// intervals, the ROC of P(live), the default threshold picked for a BPCER
// target on the calibration part and checked on the held-out part, and
// failure-to-acquire at the default detector threshold.
//
//	bench/datasets/pad/fetch.sh                 # ~/.cache/vizor/pad
//	go run ./bench/cmd/vizor-pad                # -> docs/accuracy/pad/
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"vizor/bench/cmd/internal/progress"
	"vizor/bench/eval/pad"
	"vizor/bindings"
	"vizor/internal/faceset"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vizor-pad:", err)
		os.Exit(1)
	}
}

// Outcome is what the engine said about one item (its largest face).
type Outcome struct {
	Key      string  `json:"key"`
	Set      string  `json:"set"`
	Kind     string  `json:"kind"`
	Variant  string  `json:"variant"`
	Part     string  `json:"part"`
	Err      string  `json:"err,omitempty"`
	Faces    int     `json:"faces"`
	Status   string  `json:"status,omitempty"`
	Live     float64 `json:"live"`
	BoxH     float64 `json:"box_h,omitempty"`
	DetScore float64 `json:"det_score,omitempty"`
	W        int     `json:"w"`
	H        int     `json:"h"`

	cx, cy float64
	item   pad.Item
}

func (o Outcome) acquired() bool { return o.Err == "" && o.Faces > 0 }
func (o Outcome) scored() bool   { return o.acquired() && o.Status == bindings.LivenessScored }

func run() error {
	home, _ := os.UserHomeDir()
	var (
		dir      = flag.String("dir", filepath.Join(home, ".cache", "vizor", "pad"), "fetched sets (bench/datasets/pad/fetch.sh DEST)")
		list     = flag.String("list", "bench/datasets/pad/files.tsv", "file list")
		shared   = flag.String("shared", "", "shared test photos to add to the bona fide side (default ../shared/data/faces; \"-\": none)")
		models   = flag.String("models", "models", "models directory")
		out      = flag.String("out", "docs/accuracy/pad", "report directory (report.md, report.json, roc.png, scores.png)")
		target   = flag.Float64("bpcer", 0.01, "BPCER target the default threshold is chosen for, on the calibration part")
		at       = flag.Float64("at", 0, "also report the error rates at this threshold (e.g. the configured one)")
		derive   = flag.Bool("derive", true, "add the derived variants (web JPEG, greyscale, tight crop)")
		workers  = flag.Int("workers", 0, "engine workers (0: number of CPUs)")
		batch    = flag.Int("batch", 8, "images per engine call")
		outcomes = flag.String("outcomes", "", "also write every image's outcome (JSON) to this file")
		sample   = flag.Int("sample", 1, "keep one original in this many (a quick look; by a hash of the name)")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	sharedDir := *shared
	if sharedDir == "" {
		if d, err := faceset.Dir(); err == nil {
			sharedDir = filepath.Join(d, "faces")
		}
	} else if sharedDir == "-" {
		sharedDir = ""
	}
	items, err := pad.Load(*list, *dir, sharedDir)
	if err != nil {
		return err
	}
	items = pad.Sample(items, *sample)
	eng, err := bindings.Open(bindings.Config{ModelsDir: *models, Workers: *workers})
	if err != nil {
		return fmt.Errorf("opening the engine (models in %s): %w", *models, err)
	}
	defer eng.Close()

	line := progress.New()
	outs, err := analyze(ctx, eng, items, nil, *batch, line, "originals")
	if err != nil {
		return err
	}
	if *derive {
		var dv []pad.Item
		var dbytes [][]byte
		for _, o := range outs {
			if o.Set != "bona" {
				continue
			}
			it := o.item
			b, err := os.ReadFile(it.File)
			if err != nil {
				return err
			}
			var d []byte
			switch pad.DeriveKind(it) {
			case "jpeg":
				q := pad.WebQuality(it)
				d, err = pad.Recompress(b, q)
				it.Variant = fmt.Sprintf("jpeg%d", q)
			case "grey":
				d, err = pad.Greyscale(b)
				it.Variant = "grey"
			case "tight":
				if !o.acquired() {
					continue
				}
				var ok bool
				d, ok, err = pad.TightCrop(b, o.cx, o.cy, o.BoxH, 350)
				if !ok && err == nil {
					continue
				}
				it.Variant = "tight"
			default:
				continue
			}
			if err != nil {
				// Files Go cannot decode (e.g. CMYK JPEG) get no variant.
				continue
			}
			dv = append(dv, it)
			dbytes = append(dbytes, d)
		}
		more, err := analyze(ctx, eng, dv, dbytes, *batch, line, "variants")
		if err != nil {
			return err
		}
		outs = append(outs, more...)
	}
	rep := build(outs, *target, *at)
	rep.Generated = time.Now().UTC().Format(time.RFC3339)
	rep.Command = "go run ./bench/cmd/vizor-pad " + strings.Join(os.Args[1:], " ")
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := writePlots(*out, rep, outs); err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	md := markdown(rep)
	if err := os.WriteFile(filepath.Join(*out, "report.md"), []byte(md), 0o644); err != nil {
		return err
	}
	js, _ := json.MarshalIndent(rep, "", " ")
	if err := os.WriteFile(filepath.Join(*out, "report.json"), js, 0o644); err != nil {
		return err
	}
	if *outcomes != "" {
		// Per image (4,700 rows): kept out of the committed report.
		js, _ := json.MarshalIndent(outs, "", " ")
		if err := os.WriteFile(*outcomes, js, 0o644); err != nil {
			return err
		}
	}
	fmt.Print(md)
	return nil
}

// analyze runs the engine over items (bytes from data when given, else
// their files), batch by batch.
func analyze(ctx context.Context, eng *bindings.Engine, items []pad.Item, data [][]byte, batch int, line *progress.Line, what string) ([]Outcome, error) {
	outs := make([]Outcome, 0, len(items))
	for start := 0; start < len(items); start += batch {
		end := min(len(items), start+batch)
		imgs := make([][]byte, 0, end-start)
		for i := start; i < end; i++ {
			if data != nil {
				imgs = append(imgs, data[i])
				continue
			}
			b, err := os.ReadFile(items[i].File)
			if err != nil {
				return nil, err
			}
			imgs = append(imgs, b)
		}
		rs, err := eng.Analyze(ctx, imgs, bindings.Options{Stages: bindings.StageDefault})
		if err != nil {
			return nil, err
		}
		for k, r := range rs {
			it := items[start+k]
			o := Outcome{Key: it.Key(), Set: it.Set, Kind: it.Kind, Variant: it.Variant, Part: it.Part, Faces: len(r.Faces), Live: -1, W: r.Width, H: r.Height, item: it}
			if r.Err != nil {
				o.Err = r.Err.Error()
			} else if len(r.Faces) > 0 {
				f := r.Faces[0]
				o.Status, o.Live, o.BoxH, o.DetScore = f.LivenessStatus, float64(f.Liveness), float64(f.Box.H), float64(f.DetScore)
				o.cx, o.cy = float64(f.Box.X+f.Box.W/2), float64(f.Box.Y+f.Box.H/2)
			}
			outs = append(outs, o)
		}
		line.Printf("%s %s", what, progress.Bar(end, len(items), line.Elapsed()))
	}
	line.Done("%s: %d images in %s", what, len(items), line.Elapsed().Round(time.Millisecond))
	return outs, nil
}

// Report holds every figure of a run.
type Report struct {
	Generated string `json:"generated"`
	Command   string `json:"command"`
	Target    float64
	Threshold float64 `json:"threshold"` // chosen on the calibration part
	Counts    map[string]int
	// Detection: failure to acquire per bona fide variant.
	FTA    map[string]pad.Rate
	Misses []string
	// PAD: per part, at the chosen threshold and at -at.
	BPCER      map[string]pad.Rate // "calibration", "held-out", "held-out/<variant>", "held-out/<kind>"
	APCER      map[string]pad.Rate // per attack kind, all attacks (they choose nothing)
	At         float64
	BPCERAt    map[string]pad.Rate
	APCERAt    map[string]pad.Rate
	Unavail    map[string]int // status -> bona fide count
	Grid       []pad.ROCPoint // held-out bona fide vs all attacks
	AUC        float64        // all scored bona fide vs all attacks
	Refused    []string       // held-out bona fide refused at the threshold
	LowestBona []string       // the lowest-scored bona fide (both parts)
}

func build(outs []Outcome, target, at float64) *Report {
	r := &Report{Target: target, At: at, Counts: map[string]int{}, FTA: map[string]pad.Rate{}, BPCER: map[string]pad.Rate{},
		APCER: map[string]pad.Rate{}, BPCERAt: map[string]pad.Rate{}, APCERAt: map[string]pad.Rate{}, Unavail: map[string]int{}}
	type acc struct{ k, n int }
	fta := map[string]*acc{}
	bona := map[string][]float64{}
	attack := map[string][]float64{}
	var allAttack []float64
	for _, o := range outs {
		r.Counts[o.Set+"/"+o.Part]++
		r.Counts[o.Set]++
		if o.Set == "bona" {
			for _, key := range []string{"all", variantClass(o.Variant), "kind:" + o.Kind} {
				if fta[key] == nil {
					fta[key] = &acc{}
				}
				fta[key].n++
				if !o.acquired() {
					fta[key].k++
				}
			}
			if !o.acquired() {
				r.Misses = append(r.Misses, o.Key)
				continue
			}
			if !o.scored() {
				r.Unavail[o.Status]++
				continue
			}
			bona[o.Part] = append(bona[o.Part], o.Live)
			if o.Part == pad.HeldOut {
				bona["held-out/"+variantClass(o.Variant)] = append(bona["held-out/"+variantClass(o.Variant)], o.Live)
				bona["held-out/kind:"+o.Kind] = append(bona["held-out/kind:"+o.Kind], o.Live)
			}
			continue
		}
		if !o.scored() {
			r.Counts["attack not scored ("+firstNonEmpty(o.Status, "no face")+")"]++
			continue
		}
		attack[o.Kind] = append(attack[o.Kind], o.Live)
		allAttack = append(allAttack, o.Live)
	}
	for k, a := range fta {
		r.FTA[k] = pad.NewRate(a.k, a.n)
	}
	sort.Strings(r.Misses)
	r.Threshold = pad.ThresholdFor(bona[pad.Calibration], target)
	for k, s := range bona {
		r.BPCER[k] = pad.BPCER(s, r.Threshold)
		if at > 0 {
			r.BPCERAt[k] = pad.BPCER(s, at)
		}
	}
	attack["all"] = allAttack
	for k, s := range attack {
		r.APCER[k] = pad.APCER(s, r.Threshold)
		if at > 0 {
			r.APCERAt[k] = pad.APCER(s, at)
		}
	}
	grid := []float64{0.001, 0.003, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, r.Threshold}
	if at > 0 {
		grid = append(grid, at)
	}
	sort.Float64s(grid)
	grid = slices.Compact(grid)
	r.Grid = pad.Grid(bona[pad.HeldOut], allAttack, grid)
	r.AUC = pad.AUC(append(append([]float64(nil), bona[pad.Calibration]...), bona[pad.HeldOut]...), allAttack)
	var scoredBona []Outcome
	for _, o := range outs {
		if o.Set == "bona" && o.scored() {
			scoredBona = append(scoredBona, o)
			if o.Part == pad.HeldOut && o.Live < r.Threshold {
				r.Refused = append(r.Refused, fmt.Sprintf("%s (%.4f)", o.Key, o.Live))
			}
		}
	}
	sort.Slice(scoredBona, func(i, j int) bool { return scoredBona[i].Live < scoredBona[j].Live })
	for i := 0; i < len(scoredBona) && i < 15; i++ {
		o := scoredBona[i]
		r.LowestBona = append(r.LowestBona, fmt.Sprintf("%s %s %dx%d face %.0f px: %.4f", o.Part, o.Key, o.W, o.H, o.BoxH, o.Live))
	}
	return r
}

// variantClass folds the JPEG qualities into one "web" class.
func variantClass(v string) string {
	if strings.HasPrefix(v, "jpeg") {
		return "web-jpeg"
	}
	return v
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func pct(r pad.Rate) string {
	return fmt.Sprintf("%.2f%% (%d/%d, 95%% CI %.2f-%.2f%%)", 100*r.Value, r.K, r.N, 100*r.Lo, 100*r.Hi)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func markdown(r *Report) string {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	w("# PAD and detection on the public bona fide and attack sets\n\n")
	w("Generated %s by `%s`.\n\n", r.Generated, r.Command)
	w("## Sets\n\n| set | images |\n|---|---:|\n")
	for _, k := range sortedKeys(r.Counts) {
		w("| %s | %d |\n", k, r.Counts[k])
	}
	w("\n## Detection: failure to acquire (bona fide, default detector threshold)\n\n| variant / kind | FTA |\n|---|---|\n")
	for _, k := range sortedKeys(r.FTA) {
		w("| %s | %s |\n", k, pct(r.FTA[k]))
	}
	if len(r.Misses) > 0 {
		w("\nNot acquired: %s\n", strings.Join(r.Misses, ", "))
	}
	w("\n## PAD unavailable (bona fide, largest face)\n\n| liveness_status | images |\n|---|---:|\n")
	for _, k := range sortedKeys(r.Unavail) {
		w("| %s | %d |\n", k, r.Unavail[k])
	}
	w("\n## Default threshold\n\nChosen on the calibration part for BPCER <= %.2f%%: **%.4f**.\n\n", 100*r.Target, r.Threshold)
	w("| bona fide part | BPCER at %.4f |", r.Threshold)
	if r.At > 0 {
		w(" BPCER at %.4f |", r.At)
	}
	w("\n|---|---|%s\n", map[bool]string{true: "---|", false: ""}[r.At > 0])
	for _, k := range sortedKeys(r.BPCER) {
		w("| %s | %s |", k, pct(r.BPCER[k]))
		if r.At > 0 {
			w(" %s |", pct(r.BPCERAt[k]))
		}
		w("\n")
	}
	w("\n| attack type | APCER at %.4f |", r.Threshold)
	if r.At > 0 {
		w(" APCER at %.4f |", r.At)
	}
	w("\n|---|---|%s\n", map[bool]string{true: "---|", false: ""}[r.At > 0])
	for _, k := range sortedKeys(r.APCER) {
		w("| %s | %s |", k, pct(r.APCER[k]))
		if r.At > 0 {
			w(" %s |", pct(r.APCERAt[k]))
		}
		w("\n")
	}
	w("\n## ROC of P(live): held-out bona fide against all attacks\n\nAUC (every scored bona fide against every attack): %.4f.\n\n| threshold | BPCER | APCER |\n|---:|---|---|\n", r.AUC)
	for _, p := range r.Grid {
		w("| %.4f | %s | %s |\n", p.Threshold, pct(p.BPCER), pct(p.APCER))
	}
	w("\nPlots: `roc.png` (APCER against BPCER), `scores.png` (P(live) of bona fide and attacks).\n")
	if len(r.Refused) > 0 {
		w("\nHeld-out bona fide refused at the default: %s\n", strings.Join(r.Refused, ", "))
	}
	w("\n<details><summary>Lowest-scored bona fide</summary>\n\n")
	for _, s := range r.LowestBona {
		w("- %s\n", s)
	}
	w("\n</details>\n")
	return b.String()
}
