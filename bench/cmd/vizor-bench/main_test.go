package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseBench(t *testing.T) {
	out := "goos: linux\npkg: vizor/gallery\nBenchmarkSearch/n=1000-2   \t 100\t 12000 ns/op\t 80 B/op\t 2 allocs/op\n" +
		"BenchmarkSearch/n=1000-2 \t 100\t 10000 ns/op\t 80 B/op\t 2 allocs/op\nBenchmarkSearch/n=1000-2 \t 100\t 11000 ns/op\t 80 B/op\t 2 allocs/op\nPASS\n"
	bs := parseBench(out)
	if len(bs) != 1 || bs[0].name != "BenchmarkSearch/n=1000" || median(bs[0].metrics["ns/op"]) != 11000 || len(bs[0].order) != 3 {
		t.Fatalf("%+v", bs[0])
	}
	md := benchSection(suite{Name: "gallery"}, bs, 3, "go test", map[string]target{"BenchmarkSearch/n=1000": {Metric: "ns/op", Value: 22000, Better: "lower", Source: "#1"}})
	if !strings.Contains(md, "2.00× (meets)") {
		t.Error(md)
	}
}

func TestAssemble(t *testing.T) {
	f := filepath.Join(t.TempDir(), "B.md")
	os.WriteFile(f, []byte("# B\n\nintro\n\n## Engine\n\n"+begin("engine")+"\nold\n"+end("engine")+"\n\nhand-written notes\n"), 0o644)
	outs := []outcome{{suite: suite{Name: "engine", Title: "Engine"}, section: "new engine"}, {suite: suite{Name: "accuracy", Title: "Accuracy"}, section: "acc"}}
	if err := assemble(f, "run info", outs); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(f)
	s := string(raw)
	for _, want := range []string{"new engine", "hand-written notes", "## Accuracy\n\n" + begin("accuracy") + "\nacc\n", "run info"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}
	if strings.Contains(s, "old") {
		t.Error("old section kept")
	}
	// Idempotent.
	assemble(f, "run info", outs)
	raw2, _ := os.ReadFile(f)
	if string(raw2) != s {
		t.Error("second assemble changed the file")
	}
}
