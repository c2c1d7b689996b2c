package procstat

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

func TestSelfAndChild(t *testing.T) {
	rss, err := StatusKB(0, "VmRSS")
	if err != nil || rss <= 0 {
		t.Fatalf("VmRSS of self: %d %v", rss, err)
	}
	if _, err := StatusKB(0, "NoSuchField"); err == nil {
		t.Fatal("a missing field gave no error")
	}
	for i := 0; CPUTime(0) == 0 && i < 1e8; i++ {
	}
	if CPUTime(0) <= 0 {
		t.Fatal("no CPU time for a busy process")
	}
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	child := cmd.Process.Pid
	if !Running(child) || !slices.Contains(Tree(os.Getpid()), child) {
		t.Fatalf("child %d: running %v, tree %v", child, Running(child), Tree(os.Getpid()))
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if Running(child) {
		t.Fatal("a reaped child still runs")
	}
}
