// Package progress prints progress lines for the bench commands: on a
// terminal one line rewritten in place, otherwise (CI logs) a fresh line at
// most every few seconds.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Line is a throttled progress line.
type Line struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	every    time.Duration
	last     time.Time
	lastLen  int
	start    time.Time
	finished bool
}

// New writes to stderr.
func New() *Line { return NewTo(os.Stderr) }

// NewTo writes to w; w is treated as a terminal when it is a character
// device.
func NewTo(w io.Writer) *Line {
	l := &Line{w: w, every: 3 * time.Second, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			l.tty, l.every = true, 200*time.Millisecond
		}
	}
	return l
}

// Elapsed since New.
func (l *Line) Elapsed() time.Duration { return time.Since(l.start) }

// Printf updates the line (throttled).
func (l *Line) Printf(format string, a ...any) { l.print(false, format, a...) }

// Done prints the final state of the line and ends it.
func (l *Line) Done(format string, a ...any) { l.print(true, format, a...) }

func (l *Line) print(final bool, format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.finished {
		return
	}
	now := time.Now()
	if !final && now.Sub(l.last) < l.every {
		return
	}
	l.last = now
	msg := fmt.Sprintf(format, a...)
	if l.tty {
		pad := ""
		if n := l.lastLen - len(msg); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		fmt.Fprintf(l.w, "\r%s%s", msg, pad)
		l.lastLen = len(msg)
		if final {
			fmt.Fprintln(l.w)
		}
	} else {
		fmt.Fprintln(l.w, msg)
	}
	if final {
		l.finished = true
	}
}

// Bar renders done/total as a fixed-width bar with a percentage and ETA.
func Bar(done, total int, elapsed time.Duration) string {
	const width = 24
	if total <= 0 {
		return fmt.Sprintf("%d", done)
	}
	frac := float64(done) / float64(total)
	n := int(frac * width)
	eta := "?"
	if done > 0 && done < total {
		eta = (time.Duration(float64(elapsed) / frac * (1 - frac))).Round(time.Second).String()
	} else if done >= total {
		eta = "0s"
	}
	return fmt.Sprintf("[%s%s] %3.0f%% %d/%d eta %s", strings.Repeat("=", n), strings.Repeat(" ", width-n), 100*frac, done, total, eta)
}
