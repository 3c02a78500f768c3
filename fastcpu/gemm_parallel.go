package fastcpu

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// gemmTask is one unit of parallel work: rows [i0,i1) × columns [j0,j1) of C[b].
type gemmTask struct {
	b, i0, i1, j0, j1 int
}

// Minimum flops (2·m·n·k) per goroutine before splitting work further: waking
// an idle core costs several µs (tens of µs in a VM), so each goroutine should
// get at least ~25 µs of work.
const gemmMinFlopsPerWorker = 2 << 20

// gemmParallel cuts the batch into tasks and runs them on up to GOMAXPROCS
// goroutines (the calling goroutine included), calling run(worker, task).
// Each problem is cut into s parts (along m, or along n when m is small) so
// that the number of tasks is a multiple of the number of workers when the
// batch is small; align is the preferred granularity of the cuts.
//
// Plain goroutines and a WaitGroup per call: no shared bounded pool, so
// nested or concurrent calls cannot deadlock.
func gemmParallel(batch, m, n, k, align int, run func(worker int, t gemmTask)) {
	flops := 2 * batch * m * n * k
	nw := runtime.GOMAXPROCS(0)
	if byWork := flops / gemmMinFlopsPerWorker; byWork < nw {
		nw = byWork
	}
	if nw <= 1 {
		for b := range batch {
			run(0, gemmTask{b, 0, m, 0, n})
		}
		return
	}

	// Parts per problem: 1 if the batch balances well over the workers,
	// otherwise enough that batch·s is a multiple of nw.
	s := 1
	if batch%nw != 0 && batch < 4*nw {
		s = nw / gemmGCD(batch, nw)
	}
	splitRows := m >= s*align || m >= n
	dim := n
	if splitRows {
		dim = m
	}
	units := (dim + align - 1) / align
	s = max(1, min(s, units))
	cut := func(p int) int { return min(p*units/s*align, dim) }

	nTasks := batch * s
	nw = min(nw, nTasks)
	var next atomic.Int64
	worker := func(w int) {
		for {
			t := int(next.Add(1)) - 1
			if t >= nTasks {
				return
			}
			b, p := t/s, t%s
			lo, hi := cut(p), cut(p+1)
			if lo >= hi {
				continue
			}
			if splitRows {
				run(w, gemmTask{b, lo, hi, 0, n})
			} else {
				run(w, gemmTask{b, 0, m, lo, hi})
			}
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < nw; w++ {
		wg.Go(func() { worker(w) })
	}
	worker(0)
	wg.Wait()
}

func gemmGCD(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
