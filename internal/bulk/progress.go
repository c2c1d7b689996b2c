package bulk

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Progress shows how an import goes: on a terminal one line redrawn in
// place (a bar, count, rate, ETA); elsewhere (a log file, CI) a plain line
// every interval, so a log does not fill with carriage returns.
type Progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	total    int
	done     int
	counts   map[string]int
	start    time.Time
	last     time.Time
	interval time.Duration
	now      func() time.Time
}

// IsTerminal reports whether f is a character device (a terminal).
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// NewProgress starts a progress display of total items on w.
func NewProgress(w io.Writer, tty bool, total int) *Progress {
	p := &Progress{w: w, tty: tty, total: total, counts: map[string]int{}, now: time.Now}
	p.interval = 5 * time.Second
	if tty {
		p.interval = 200 * time.Millisecond
	}
	p.start = p.now()
	p.last = p.start
	return p
}

// Add counts one finished item with its outcome (enrolled, skipped,
// refused, failed) and redraws when due.
func (p *Progress) Add(outcome string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	p.counts[outcome]++
	now := p.now()
	if now.Sub(p.last) >= p.interval || p.done == p.total {
		p.last = now
		p.draw(now)
	}
}

// Finish ends the display (a newline after a terminal bar).
func (p *Progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

// Line is the current progress as text (without a bar).
func (p *Progress) Line() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.line(p.now())
}

func (p *Progress) line(now time.Time) string {
	el := now.Sub(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(p.done) / el
	}
	eta := "?"
	if rate > 0 {
		eta = (time.Duration(float64(p.total-p.done)/rate) * time.Second).Round(time.Second).String()
	}
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(p.done) / float64(p.total)
	}
	return fmt.Sprintf("%d/%d (%.0f%%) %.1f photos/s ETA %s  enrolled %d, skipped %d, refused %d, failed %d",
		p.done, p.total, pct, rate, eta, p.counts["enrolled"], p.counts["skipped"], p.counts["refused"], p.counts["failed"])
}

func (p *Progress) draw(now time.Time) {
	if !p.tty {
		fmt.Fprintln(p.w, "import:", p.line(now))
		return
	}
	const width = 30
	fill := width
	if p.total > 0 {
		fill = width * p.done / p.total
	}
	bar := strings.Repeat("#", fill) + strings.Repeat(".", width-fill)
	fmt.Fprintf(p.w, "\r[%s] %s\x1b[K", bar, p.line(now))
}
