package gallery

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashEnv = "VIZOR_GALLERY_CRASH_CHILD"

// crashSpecs: one exact partition, one HNSW partition whose snapshot the
// child rewrites all the time (so kills land mid-snapshot too).
var crashSpecs = map[string]string{"p0": "Flat", "p1": "HNSW16,Flat;efSearch=64"}

// TestMain runs the crash child when asked to.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// crashChild enrols and deletes from 8 goroutines until killed, printing
// "E id seed" after each Enrol returns and "D id" after each DeleteTemplate
// returns (one write(2) per line: a line is either whole or absent).
func crashChild(dir string) {
	g, err := Open(Config{Dir: dir, IndexSpecs: crashSpecs})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	say := func(s string) {
		mu.Lock()
		os.Stdout.Write([]byte(s))
		mu.Unlock()
	}
	go func() {
		for {
			time.Sleep(20 * time.Millisecond)
			if err := g.Snapshot(); err != nil {
				fmt.Fprintln(os.Stderr, "child snapshot:", err)
				os.Exit(4)
			}
		}
	}()
	for w := 0; w < 8; w++ {
		go func(w int) {
			r := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(w)))
			var mine []uint64
			var parts []string
			for {
				if len(mine) > 0 && r.IntN(4) == 0 {
					i := r.IntN(len(mine))
					id, part := mine[i], parts[i]
					mine, parts = slices.Delete(mine, i, i+1), slices.Delete(parts, i, i+1)
					say(fmt.Sprintf("d %d\n", id)) // intent: may or may not happen
					if err := g.DeleteTemplate(part, id); err != nil {
						fmt.Fprintln(os.Stderr, "child delete:", err)
						os.Exit(5)
					}
					say(fmt.Sprintf("D %d\n", id))
					continue
				}
				seed := r.Uint64() >> 1
				part := fmt.Sprintf("p%d", seed%2)
				info, err := g.Enrol(part, fmt.Sprintf("s%d", seed%37), tmpl("m", unit(seed, dim)),
					EnrolOptions{Meta: map[string]string{"seed": strconv.FormatUint(seed, 10)}})
				if err != nil {
					fmt.Fprintln(os.Stderr, "child enrol:", err)
					os.Exit(6)
				}
				mine, parts = append(mine, info.ID), append(parts, part)
				say(fmt.Sprintf("E %d %d\n", info.ID, seed))
			}
		}(w)
	}
	select {}
}

func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	acked := map[uint64]uint64{} // id -> seed
	deleted := map[uint64]bool{} // acknowledged deletes
	maybe := map[uint64]bool{}   // deletes under way when killed
	rng := rand.New(rand.NewPCG(1, 2))
	rounds := 20
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var lines []string
		done := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			close(done)
		}()
		// Kill at a random moment once the child is working (its first
		// output), so every round exercises writes in flight.
		time.Sleep(time.Duration(150+rng.IntN(400)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		werr := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(werr, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child did not die of SIGKILL: %v\n%s", round, werr, stderr.String())
		}
		ne, nd := 0, 0
		for _, l := range lines {
			f := strings.Fields(l)
			switch {
			case len(f) == 3 && f[0] == "E":
				id, _ := strconv.ParseUint(f[1], 10, 64)
				seed, _ := strconv.ParseUint(f[2], 10, 64)
				if _, dup := acked[id]; dup {
					t.Fatalf("round %d: id %d handed out twice", round, id)
				}
				acked[id] = seed
				ne++
			case len(f) == 2 && f[0] == "d":
				id, _ := strconv.ParseUint(f[1], 10, 64)
				maybe[id] = true
			case len(f) == 2 && f[0] == "D":
				id, _ := strconv.ParseUint(f[1], 10, 64)
				deleted[id] = true
				nd++
			default:
				t.Fatalf("round %d: torn line %q", round, l)
			}
		}
		verifyCrashState(t, dir, round, acked, deleted, maybe)
		t.Logf("round %d: %d enrols, %d deletes acknowledged (total %d live)", round, ne, nd, len(acked)-len(deleted))
	}
	if len(acked) < 200 {
		t.Fatalf("only %d enrolments in %d rounds: child too slow to test anything", len(acked), rounds)
	}
}

func verifyCrashState(t *testing.T, dir string, round int, acked map[uint64]uint64, deleted, maybe map[uint64]bool) {
	t.Helper()
	g, err := Open(Config{Dir: dir, IndexSpecs: crashSpecs})
	if err != nil {
		t.Fatalf("round %d: reopen: %v", round, err)
	}
	defer g.Close()
	if err := g.checkConsistency(); err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	for id, seed := range acked {
		info, tm, err := g.Template(id)
		if deleted[id] {
			if !errors.Is(err, ErrTemplateNotFound) {
				t.Fatalf("round %d: acknowledged delete of %d lost: %v", round, id, err)
			}
			continue
		}
		if errors.Is(err, ErrTemplateNotFound) && maybe[id] {
			deleted[id] = true // the delete went through before the kill
			continue
		}
		if err != nil {
			t.Fatalf("round %d: acknowledged enrolment %d lost: %v", round, id, err)
		}
		if info.Meta["seed"] != strconv.FormatUint(seed, 10) || !slices.Equal(tm.Vector, unit(seed, dim)) {
			t.Fatalf("round %d: template %d differs from what was enrolled", round, id)
		}
	}
	// Every stored template (acknowledged or not) is whole and unique.
	seeds := map[string]uint64{}
	for _, p := range g.Partitions() {
		all, err := g.Templates(p, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range all {
			seed, err := strconv.ParseUint(ti.Meta["seed"], 10, 64)
			if err != nil {
				t.Fatalf("round %d: template %d has no seed", round, ti.ID)
			}
			if prev, dup := seeds[ti.Meta["seed"]]; dup {
				t.Fatalf("round %d: seed %d stored twice (%d, %d)", round, seed, prev, ti.ID)
			}
			seeds[ti.Meta["seed"]] = ti.ID
			_, tm, _ := g.Template(ti.ID)
			if !slices.Equal(tm.Vector, unit(seed, dim)) || ti.Subject != fmt.Sprintf("s%d", seed%37) || p != fmt.Sprintf("p%d", seed%2) {
				t.Fatalf("round %d: template %d torn", round, ti.ID)
			}
		}
	}
	// Acknowledged templates are searchable (exact partition: always top-1).
	n := 0
	for id, seed := range acked {
		if deleted[id] || seed%2 != 0 || n == 20 {
			continue
		}
		n++
		res, err := g.Search("p0", tmpl("m", unit(seed, dim)), 1, 0.99)
		if err != nil || len(res) != 1 || res[0].TemplateID != id {
			t.Fatalf("round %d: template %d not found by search: %+v %v", round, id, res, err)
		}
	}
}
