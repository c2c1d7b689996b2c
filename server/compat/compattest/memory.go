package compattest

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Pid is the server's process id.
func (s *Server) Pid() int { return s.proc.Cmd.Process.Pid }

// StatusKB reads one "<field>: <n> kB" line of /proc/<pid>/status (VmRSS,
// VmHWM).
func StatusKB(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
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
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// ResetPeakRSS sets the process's VmHWM back to its current RSS (Linux
// clear_refs "5"), so that VmHWM afterwards is the peak of what follows.
// It fails where the kernel or the permissions do not allow it.
func ResetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// Tree is pid and its descendants (the engine's worker processes run the
// decoders and the models when engine_isolation=process), read from
// /proc/*/stat.
func Tree(pid int) []int {
	parent := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			parent[p] = pp
		}
	}
	out := []int{pid}
	for changed := true; changed; {
		changed = false
		for p, pp := range parent {
			if slicesContains(out, pp) && !slicesContains(out, p) {
				out = append(out, p)
				changed = true
			}
		}
	}
	return out
}

func slicesContains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
