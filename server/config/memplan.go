package config

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// The memory plan: what one request can cost at worst, and the in-flight
// limit that keeps the worst case inside the machine's memory. The figures
// are bounds the limits enforce, checked by the bomb corpus test
// (server/compat/bombs) and documented in README ("Memory per request").

const (
	// Server-side copies of one request body at worst: fasthttp's body
	// buffer, the decoded image (base64 or multipart part) and the parse
	// (JSON string or XML text) it came from.
	bodyCopies = 3
	// Engine-side bytes per declared pixel of one image at worst: the BGR
	// decode (3) plus the decoder's transient buffers; measured 2.3-2.4
	// B/px for 36-40 MP PNGs (vizor analyze, peak RSS over the 640x480
	// probe), so 3 is a bound. JPEGs decode DCT-scaled and cost less.
	enginePerPixel = 3
	// Resident engine (models, nets, OpenCV) per engine process: 240 MB
	// measured with every net of the shipped manifest.
	engineBase = 256 << 20
	// maxAutoInFlight caps the automatic limit: past a few dozen requests
	// per core, requests only queue (the engine is the bottleneck).
	maxAutoInFlight = 64
	minAutoInFlight = 2
)

// MemoryPlan is the worst-case memory of the configured limits.
type MemoryPlan struct {
	Limit      int64 // bytes available to the process tree (cgroup limit, else MemTotal)
	Budget     int64 // the part of Limit the plan may use (3/4: the OS, page cache and gallery keep the rest)
	PerRequest int64 // server-side bytes one admitted request may hold
	PerImage   int64 // engine-side bytes one image may take while analysed
	Engine     int64 // engine worst case: processes x (base + batch_max x PerImage)
	InFlight   int   // the max_in_flight that fits: (Budget - Engine) / PerRequest, in [2, 64]
}

// PlanMemory computes the plan for c on a machine with limit bytes.
func (c Config) PlanMemory(limit int64) MemoryPlan {
	procs := int64(c.EngineWorkers)
	if procs <= 0 {
		procs = int64(runtime.NumCPU())
	}
	batch := int64(max(1, c.BatchMax))
	p := MemoryPlan{Limit: limit, Budget: limit / 4 * 3}
	p.PerRequest = bodyCopies * int64(c.MaxBodyBytes)
	p.PerImage = int64(c.MaxBodyBytes) + enginePerPixel*c.MaxPixels
	p.Engine = procs * (engineBase + batch*p.PerImage)
	n := int64(minAutoInFlight)
	if p.PerRequest > 0 && p.Budget > p.Engine {
		n = (p.Budget - p.Engine) / p.PerRequest
	}
	p.InFlight = int(min(max(n, minAutoInFlight), maxAutoInFlight))
	return p
}

// String is the plan in words, for the start-up log and -print-config.
func (p MemoryPlan) String() string {
	mb := func(b int64) string { return fmt.Sprintf("%d MiB", b>>20) }
	return fmt.Sprintf("memory %s (budget %s): engine worst case %s (%s per image), %s per request in flight, max_in_flight %d",
		mb(p.Limit), mb(p.Budget), mb(p.Engine), mb(p.PerImage), mb(p.PerRequest), p.InFlight)
}

// MemoryLimit is the memory this process may use: the cgroup's limit
// (v2 memory.max, v1 memory.limit_in_bytes) when one is set, else the
// machine's MemTotal; 0 when neither can be read.
func MemoryLimit() int64 {
	total := memTotal()
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && n > 0 && (total == 0 || n < total) {
			return n
		}
	}
	return total
}

func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return n << 10
			}
		}
	}
	return 0
}

// resolveInFlight sets an automatic max_in_flight (0) from the memory plan.
func (c *Config) resolveInFlight() {
	if c.MaxInFlight != 0 {
		return
	}
	limit := MemoryLimit()
	if limit <= 0 {
		c.MaxInFlight = maxAutoInFlight
		return
	}
	c.MaxInFlight = c.PlanMemory(limit).InFlight
}
