// Package progress shows the progress of long work (training, sweeps, activation collection)
// as a terminal bar with rate, ETA and a status line (e.g. the current loss). When stderr is
// not a terminal, or INTERP_NO_PROGRESS=1, it prints nothing until Finish, which writes one
// summary line, so logs and CI output stay readable.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
)

// Bar is the progress of one job of a known number of units.
type Bar struct {
	mu     sync.Mutex
	bar    *progressbar.ProgressBar // nil when quiet
	w      io.Writer
	desc   string
	total  int
	done   int
	status string
	start  time.Time
	closed bool
}

// New starts a bar of total units on stderr.
func New(total int, desc string) *Bar {
	quiet := os.Getenv("INTERP_NO_PROGRESS") == "1" || !isatty.IsTerminal(os.Stderr.Fd())
	return newBar(os.Stderr, total, desc, quiet)
}

func newBar(w io.Writer, total int, desc string, quiet bool) *Bar {
	b := &Bar{w: w, desc: desc, total: total, start: time.Now()}
	if !quiet {
		b.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return b
}

// Add records n more units done; status (may be empty) replaces the text after the
// description, e.g. "loss 2.31".
func (b *Bar) Add(n int, status string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	if status != "" {
		b.status = status
	}
	if b.bar != nil {
		if status != "" {
			b.bar.Describe(b.desc + " " + status)
		}
		_ = b.bar.Add(n)
	}
}

// Finish ends the bar and writes one summary line: units done, wall time and the last status.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	if b.bar != nil {
		_ = b.bar.Finish()
	}
	line := fmt.Sprintf("%s: %d/%d in %s", b.desc, b.done, b.total, time.Since(b.start).Round(100*time.Millisecond))
	if b.status != "" {
		line += ", " + b.status
	}
	fmt.Fprintln(b.w, line)
}
