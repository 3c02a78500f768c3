package fastcpu

import (
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/gomlx/gomlx/backends"
)

// Per-op wall-time accounting, on when INTERP_PROFILE_OPS is set (it costs two clock reads an
// op). WriteOpTimes prints the table; benchmarks use it to see where a forward pass goes.

type opTimeTable struct {
	mu    sync.Mutex
	total map[backends.OpType]time.Duration
	count map[backends.OpType]int
}

var opTimes = func() *opTimeTable {
	if os.Getenv("INTERP_PROFILE_OPS") == "" {
		return nil
	}
	return &opTimeTable{total: map[backends.OpType]time.Duration{}, count: map[backends.OpType]int{}}
}()

func (t *opTimeTable) add(op backends.OpType, d time.Duration) {
	t.mu.Lock()
	t.total[op] += d
	t.count[op]++
	t.mu.Unlock()
}

// WriteOpTimes writes the accumulated time per op type (largest first) and resets it. It writes
// nothing unless INTERP_PROFILE_OPS was set when the program started.
func WriteOpTimes(w io.Writer) {
	if opTimes == nil {
		return
	}
	opTimes.mu.Lock()
	defer opTimes.mu.Unlock()
	type row struct {
		op backends.OpType
		d  time.Duration
	}
	var rows []row
	var sum time.Duration
	for op, d := range opTimes.total {
		rows = append(rows, row{op, d})
		sum += d
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].d > rows[j].d })
	for _, r := range rows {
		fmt.Fprintf(w, "%-20s %10.1f ms %5.1f%% %7d calls\n", r.op, float64(r.d)/1e6, 100*float64(r.d)/float64(sum), opTimes.count[r.op])
	}
	fmt.Fprintf(w, "%-20s %10.1f ms\n", "total", float64(sum)/1e6)
	clear(opTimes.total)
	clear(opTimes.count)
}
