// Package host describes the machine a benchmark ran on, for the headers of
// the sections it writes into BENCHMARKS.md.
package host

import (
	"os"
	"strings"
)

// CPUModel is the "model name" line of /proc/cpuinfo, or "unknown CPU".
func CPUModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "model name") {
			if _, v, ok := strings.Cut(l, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}
