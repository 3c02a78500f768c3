package fastcpu

import (
	"fmt"
	"os"
	"sort"
	"sync"

	"github.com/gomlx/gomlx/backends"
)

// Op recording: with INTERP_RECORD_OPS=FILE set, every op type a fastcpu graph builds is
// appended to FILE (one name a line, deduplicated per process), so running the test suite
// lists the ops the project's graphs use. Unimplemented ops are recorded too, with a "!" prefix.

var (
	recordMu   sync.Mutex
	recordSeen = map[string]bool{}
	recordPath = os.Getenv("INTERP_RECORD_OPS")
)

func recordOp(op backends.OpType) { record(op.String()) }

func recordMissing(op backends.OpType) { record("!" + op.String()) }

func record(name string) {
	if recordPath == "" {
		return
	}
	recordMu.Lock()
	defer recordMu.Unlock()
	if recordSeen[name] {
		return
	}
	recordSeen[name] = true
	f, err := os.OpenFile(recordPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintln(f, name)
}

// ImplementedOps lists the op types this backend implements, sorted.
func ImplementedOps() []string {
	var out []string
	for op := range implementedOps {
		out = append(out, op.String())
	}
	sort.Strings(out)
	return out
}
