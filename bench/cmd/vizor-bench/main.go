// Command vizor-bench runs Vizor's benchmark suites and regenerates the
// generated sections of BENCHMARKS.md (`make bench`).
//
// Each suite writes its own section to bench/results/<suite>.md; this
// command runs the suites one after the other and copies each file between
// the markers
//
//	<!-- vizor-bench:begin <suite> -->  ...  <!-- vizor-bench:end <suite> -->
//
// in BENCHMARKS.md (adding missing markers at the end), leaving everything
// outside the markers alone. A suite runs, in order of preference:
//
//  1. its command: the first bench/<suite>/cmd/<name>/main.go, run as
//     `go run ./bench/<suite>/cmd/<name> -out bench/results/<suite>.md`;
//  2. otherwise `go test -bench` over its packages, -count N, and the
//     section is generated here: the median of the N runs of every
//     benchmark and metric, with ratios to bench/cmd/vizor-bench/targets.json;
//  3. otherwise the section says the suite is missing.
//
// A failing or missing suite does not stop the others; its section says
// what happened and the previous results file, if any, is not reused.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"vizor/bench/cmd/internal/progress"

	"vizor/bench/host"
)

type suite struct {
	Name, Title string
	Cmd         []string // fixed command (our own suites)
	CmdDirs     []string // where a suite command may live
	Pkgs        []string // go test -bench fallback
}

var suites = []suite{
	{Name: "engine", Title: "Engine", CmdDirs: []string{"bench/engine/cmd"}, Pkgs: []string{"./bench/engine/..."}},
	{Name: "gallery", Title: "Gallery", CmdDirs: []string{"bench/gallery/cmd"}, Pkgs: []string{"./gallery/..."}},
	{Name: "http", Title: "HTTP API", CmdDirs: []string{"bench/http/cmd", "bench/server/cmd"}, Pkgs: []string{"./server/..."}},
	{Name: "comparisons", Title: "Comparisons", Cmd: []string{"go", "run", "./bench/cmd/vizor-compare", "-out", "bench/results"}},
	{Name: "accuracy", Title: "Accuracy", Cmd: []string{"go", "run", "./bench/cmd/vizor-eval", "-out", "docs/accuracy", "-summary", "bench/results/accuracy.md"}},
}

func main() {
	var (
		only    = flag.String("suites", "", "comma-separated suites to run (default all: engine,gallery,http,comparisons,accuracy)")
		count   = flag.Int("count", 5, "runs per benchmark for go test suites (the median is reported)")
		timeout = flag.Duration("suite-timeout", 20*time.Minute, "time limit per suite")
		file    = flag.String("file", "BENCHMARKS.md", "file to regenerate")
		results = flag.String("results", "bench/results", "where suites write their sections")
		noRun   = flag.Bool("assemble-only", false, "do not run suites; assemble BENCHMARKS.md from the existing results")
	)
	flag.Parse()
	if err := run(*only, *count, *timeout, *file, *results, *noRun); err != nil {
		fmt.Fprintln(os.Stderr, "vizor-bench:", err)
		os.Exit(1)
	}
}

type outcome struct {
	suite    suite
	how      string
	status   string
	duration time.Duration
	section  string
}

func run(only string, count int, timeout time.Duration, file, results string, noRun bool) error {
	sel := map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			sel[s] = true
		}
	}
	if err := os.MkdirAll(results, 0o755); err != nil {
		return err
	}
	targets, err := loadTargets("bench/cmd/vizor-bench/targets.json")
	if err != nil {
		return err
	}
	start := time.Now()
	var outs []outcome
	for i, s := range suites {
		if len(sel) > 0 && !sel[s.Name] {
			continue
		}
		line := progress.New()
		fmt.Fprintf(os.Stderr, "== suite %d/%d: %s\n", i+1, len(suites), s.Name)
		o := outcome{suite: s}
		t0 := time.Now()
		path := filepath.Join(results, s.Name+".md")
		if noRun {
			o.how, o.status = "not run (-assemble-only)", "kept"
		} else {
			o.how, o.status = runSuite(s, path, count, timeout, targets, line)
		}
		o.duration = time.Since(t0)
		if raw, err := os.ReadFile(path); err == nil && (o.status == "ok" || o.status == "kept") {
			o.section = strings.TrimSpace(string(raw))
		} else if o.status == "kept" {
			o.status = "no results"
		}
		if o.section == "" {
			o.section = fmt.Sprintf("_No results: %s (%s)._", o.status, o.how)
		}
		line.Done("== suite %s: %s in %s", s.Name, o.status, o.duration.Round(time.Second))
		outs = append(outs, o)
	}
	head := runSection(outs, time.Since(start), strings.TrimSpace("go run ./bench/cmd/vizor-bench "+strings.Join(os.Args[1:], " ")))
	if err := assemble(file, head, outs); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", file)
	return nil
}

// runSuite runs one suite and leaves its section in path.
func runSuite(s suite, path string, count int, timeout time.Duration, targets map[string]target, line *progress.Line) (how, status string) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = os.Remove(path) // never reuse a stale section
	cmd := s.Cmd
	if cmd == nil {
		if c := findCommand(s.CmdDirs); c != "" {
			cmd = []string{"go", "run", "./" + c, "-out", path}
		}
	}
	if cmd != nil {
		how = strings.Join(cmd, " ")
		if err := runCmd(ctx, cmd, os.Stderr, line, s.Name); err != nil {
			return how, "failed: " + err.Error()
		}
		if _, err := os.Stat(path); err != nil {
			return how, "failed: the suite wrote no " + path
		}
		return how, "ok"
	}
	pkgs := existingPkgs(s.Pkgs)
	if len(pkgs) == 0 {
		return "none", "missing (no suite command and no packages)"
	}
	args := append([]string{"test", "-run", "^$", "-bench", ".", "-benchmem", "-count", strconv.Itoa(count), "-timeout", timeout.String()}, pkgs...)
	how = "go " + strings.Join(args, " ")
	var buf bytes.Buffer
	err := runCmd(ctx, append([]string{"go"}, args...), io.MultiWriter(&buf, os.Stderr), line, s.Name)
	bs := parseBench(buf.String())
	if len(bs) == 0 {
		if err != nil {
			return how, "failed: " + err.Error()
		}
		return how, "missing (no benchmarks in " + strings.Join(pkgs, " ") + ")"
	}
	md := benchSection(s, bs, count, how, targets)
	if err != nil {
		md += fmt.Sprintf("\n_The run ended with an error: %v; the numbers above are from the benchmarks that finished._\n", err)
	}
	if werr := os.WriteFile(path, []byte(md), 0o644); werr != nil {
		return how, "failed: " + werr.Error()
	}
	return how, "ok"
}

func findCommand(dirs []string) string {
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if _, err := os.Stat(filepath.Join(d, e.Name(), "main.go")); e.IsDir() && err == nil {
				return filepath.Join(d, e.Name())
			}
		}
	}
	return ""
}

func existingPkgs(pkgs []string) []string {
	var out []string
	for _, p := range pkgs {
		if _, err := os.Stat(strings.TrimSuffix(strings.TrimPrefix(p, "./"), "/...")); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// runCmd runs a suite, streaming its output, with a heartbeat line so long
// silent suites still show progress.
func runCmd(ctx context.Context, argv []string, out io.Writer, line *progress.Line, name string) error {
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	tail := &tailBuffer{max: 2048}
	c.Stdout, c.Stderr = out, io.MultiWriter(os.Stderr, tail)
	c.Env = append(os.Environ(), "VIZOR_BENCH=1")
	if err := c.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	t0 := time.Now()
	for {
		select {
		case err := <-done:
			if err != nil {
				if t := strings.TrimSpace(tail.String()); t != "" {
					lines := strings.Split(t, "\n")
					t = strings.Join(lines[max(0, len(lines)-3):], " / ")
					return fmt.Errorf("%w: %s", err, strings.ReplaceAll(t, "|", "\\|"))
				}
			}
			return err
		case <-tick.C:
			line.Printf("   suite %s running for %s", name, time.Since(t0).Round(time.Second))
		}
	}
}

func runSection(outs []outcome, total time.Duration, command string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Generated by `%s` (`make bench`) on %s.\n\n", command, time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "| | |\n|---|---|\n| machine | %s |\n| commit | `%s` |\n| total time | %s |\n\n", machine(), commit(), total.Round(time.Second))
	b.WriteString("| suite | status | how | time |\n|---|---|---|---:|\n")
	for _, o := range outs {
		fmt.Fprintf(&b, "| %s | %s | `%s` | %s |\n", o.suite.Name, o.status, o.how, o.duration.Round(time.Second))
	}
	return b.String()
}

func begin(name string) string { return "<!-- vizor-bench:begin " + name + " -->" }
func end(name string) string   { return "<!-- vizor-bench:end " + name + " -->" }

// assemble replaces each generated section between its markers, appending
// a heading and markers for sections the file does not have yet.
func assemble(file, head string, outs []outcome) error {
	raw, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		// A new file gets every section, in suite order, so later partial
		// runs fill them in place.
		var b strings.Builder
		b.WriteString("# Vizor benchmarks\n\nThe sections between `vizor-bench` markers are generated by `make bench` (bench/cmd/vizor-bench); edit the text around them, not inside.\n")
		for _, s := range append([]suite{{Name: "run", Title: "Run"}}, suites...) {
			fmt.Fprintf(&b, "\n## %s\n\n%s\n_Not generated yet: run `make bench`._\n%s\n", s.Title, begin(s.Name), end(s.Name))
		}
		raw = []byte(b.String())
	} else if err != nil {
		return err
	}
	text := string(raw)
	text = replace(text, "run", "Run", head)
	for _, o := range outs {
		text = replace(text, o.suite.Name, o.suite.Title, o.section)
	}
	return os.WriteFile(file, []byte(text), 0o644)
}

func replace(text, name, title, body string) string {
	b, e := begin(name), end(name)
	i := strings.Index(text, b)
	j := strings.Index(text, e)
	block := b + "\n" + strings.TrimSpace(body) + "\n" + e
	if i < 0 || j < i {
		return strings.TrimRight(text, "\n") + "\n\n## " + title + "\n\n" + block + "\n"
	}
	return text[:i] + block + text[j+len(e):]
}

func machine() string {
	cpu := host.CPUModel()
	mem := ""
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(string(raw))
		if len(f) > 1 {
			if kb, err := strconv.Atoi(f[1]); err == nil {
				mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%s, %d logical CPUs%s, %s/%s, %s", cpu, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

func commit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	s := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		s += " (with uncommitted changes)"
	}
	return s
}

// target is a performance goal for one benchmark metric.
type target struct {
	Metric string  `json:"metric"` // e.g. "ns/op", "req/s"
	Value  float64 `json:"value"`
	Better string  `json:"better"` // "lower" or "higher"
	Source string  `json:"source"` // where the goal comes from (issue)
}

func loadTargets(path string) (map[string]target, error) {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return map[string]target{}, nil
	}
	if err != nil {
		return nil, err
	}
	var m map[string]target
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// bench is one benchmark's runs: metric unit -> values, one per run.
type bench struct {
	name    string
	pkg     string
	metrics map[string][]float64
	order   []string
}

// parseBench reads `go test -bench` output.
func parseBench(out string) []*bench {
	var list []*bench
	idx := map[string]*bench{}
	pkg := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "pkg: ") {
			pkg = strings.TrimPrefix(l, "pkg: ")
			continue
		}
		f := strings.Fields(l)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if k := strings.LastIndex(name, "-"); k > 0 {
			if _, err := strconv.Atoi(name[k+1:]); err == nil {
				name = name[:k] // drop -GOMAXPROCS
			}
		}
		key := pkg + " " + name
		b := idx[key]
		if b == nil {
			b = &bench{name: name, pkg: pkg, metrics: map[string][]float64{}}
			idx[key] = b
			list = append(list, b)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			u := f[i+1]
			if _, ok := b.metrics[u]; !ok {
				b.order = append(b.order, u)
			}
			b.metrics[u] = append(b.metrics[u], v)
		}
	}
	return list
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func benchSection(s suite, bs []*bench, count int, how string, targets map[string]target) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Median of %d runs of `%s`.\n\n", count, how)
	b.WriteString("| package | benchmark | metric | median | runs | target | vs target |\n|---|---|---|---:|---:|---:|---:|\n")
	for _, x := range bs {
		for _, u := range x.order {
			m := median(x.metrics[u])
			tv, ratio := "—", "—"
			if t, ok := targets[x.name]; ok && t.Metric == u && t.Value > 0 && m > 0 {
				tv = fmt.Sprintf("%s (%s)", fmtNum(t.Value), t.Source)
				r := t.Value / m // > 1 means better than target for "lower"
				if t.Better == "higher" {
					r = m / t.Value
				}
				ratio = fmt.Sprintf("%.2f× %s", r, map[bool]string{true: "(meets)", false: "(misses)"}[r >= 1])
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %s | %s |\n", shortPkg(x.pkg), x.name, u, fmtNum(m), len(x.metrics[u]), tv, ratio)
		}
	}
	b.WriteString("\n\"vs target\" > 1 means better than the target (bench/cmd/vizor-bench/targets.json).\n")
	return b.String()
}

func shortPkg(p string) string { return strings.TrimPrefix(p, "vizor/") }

func fmtNum(x float64) string {
	switch {
	case x >= 1e6:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x >= 100:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }
