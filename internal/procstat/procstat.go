// Package procstat reads what Linux's /proc says of a process: fields of its
// status file (VmRSS, VmHWM), its CPU time, its state and its descendants.
// The tests and benchmarks that bound memory or CPU across the server and
// its engine worker processes read them here.
package procstat

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

func path(pid int, file string) string {
	if pid <= 0 {
		return "/proc/self/" + file
	}
	return fmt.Sprintf("/proc/%d/%s", pid, file)
}

// StatusKB reads one "<field>: <n> kB" line of a process's status file
// (VmRSS, VmHWM, RssAnon, ...); pid <= 0 is this process.
func StatusKB(pid int, field string) (int64, error) {
	f, err := os.Open(path(pid, "status"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
	}
	return 0, fmt.Errorf("%s: no %s", path(pid, "status"), field)
}

// ResetPeakRSS sets the process's VmHWM back to its current RSS (Linux
// clear_refs "5"), so that VmHWM afterwards is the peak of what follows.
// It fails where the kernel or the permissions do not allow it.
func ResetPeakRSS(pid int) error {
	return os.WriteFile(path(pid, "clear_refs"), []byte("5"), 0)
}

// stat is the fields of /proc/<pid>/stat after "pid (comm)": comm may hold
// spaces and parentheses, so they start after the last ')'. f[0] is the
// state, f[1] the parent, f[11] and f[12] user and system time in ticks.
func stat(pid int) ([]string, bool) {
	b, err := os.ReadFile(path(pid, "stat"))
	if err != nil {
		return nil, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, false
	}
	f := strings.Fields(s[i+1:])
	return f, len(f) >= 13
}

// Running reports whether pid exists and is not a zombie waiting to be
// reaped.
func Running(pid int) bool {
	f, ok := stat(pid)
	return ok && f[0] != "Z"
}

// CPUTime is the process's user+system time; pid <= 0 is this process.
func CPUTime(pid int) time.Duration {
	f, ok := stat(pid)
	if !ok {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / userHZ
}

// userHZ is the unit of the stat file's times: USER_HZ, 100 on every Linux
// architecture Vizor builds for.
const userHZ = 100

// Tree is pid and its descendants (the engine's worker processes run the
// decoders and the models when engine_isolation=process).
func Tree(pid int) []int {
	parent := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f, ok := stat(p); ok {
			if pp, err := strconv.Atoi(f[1]); err == nil {
				parent[p] = pp
			}
		}
	}
	out := []int{pid}
	for changed := true; changed; {
		changed = false
		for p, pp := range parent {
			if slices.Contains(out, pp) && !slices.Contains(out, p) {
				out = append(out, p)
				changed = true
			}
		}
	}
	return out
}
