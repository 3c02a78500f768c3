package fastcpu

import (
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

// gemmPlan says how gemmParallel cuts a call: nw goroutines, each problem cut
// into s parts along m (splitRows) or n, at multiples of align.
type gemmPlan struct {
	nw, s     int
	splitRows bool
	align     int
}

// newGemmPlan plans a call on at most maxWorkers goroutines. Each problem is
// cut into s parts (along m, or along n when m is small) so that the number of
// tasks is a multiple of the number of workers when the batch is small;
// alignM and alignN are the preferred granularities of cuts along m and n.
func newGemmPlan(batch, m, n, k, alignM, alignN, maxWorkers int) gemmPlan {
	flops := 2 * batch * m * n * k
	nw := maxWorkers
	if byWork := flops / gemmMinFlopsPerWorker; byWork < nw {
		nw = byWork
	}
	if nw <= 1 {
		return gemmPlan{nw: 1, s: 1, splitRows: true, align: alignM}
	}
	// Parts per problem: 1 if the batch balances well over the workers,
	// otherwise enough that batch·s is a multiple of nw.
	s := 1
	if batch%nw != 0 && batch < 4*nw {
		s = nw / gemmGCD(batch, nw)
	}
	p := gemmPlan{s: s, splitRows: m >= s*alignM || m >= n, align: alignN}
	dim := n
	if p.splitRows {
		dim, p.align = m, alignM
	}
	units := (dim + p.align - 1) / p.align
	p.s = max(1, min(s, units))
	p.nw = min(nw, batch*p.s)
	return p
}

// gemmParallel runs the tasks of plan p on p.nw goroutines (the calling
// goroutine included), calling run(worker, task) with worker in [0, p.nw).
//
// Plain goroutines and a WaitGroup per call: no shared bounded pool, so
// nested or concurrent calls cannot deadlock.
func gemmParallel(p gemmPlan, batch, m, n int, run func(worker int, t gemmTask)) {
	if p.nw <= 1 && p.s <= 1 {
		for b := range batch {
			run(0, gemmTask{b, 0, m, 0, n})
		}
		return
	}
	dim := n
	if p.splitRows {
		dim = m
	}
	units := (dim + p.align - 1) / p.align
	cut := func(part int) int { return min(part*units/p.s*p.align, dim) }
	nTasks := batch * p.s
	var next atomic.Int64
	worker := func(w int) {
		for {
			t := int(next.Add(1)) - 1
			if t >= nTasks {
				return
			}
			b, part := t/p.s, t%p.s
			lo, hi := cut(part), cut(part+1)
			if lo >= hi {
				continue
			}
			if p.splitRows {
				run(w, gemmTask{b, lo, hi, 0, n})
			} else {
				run(w, gemmTask{b, 0, m, lo, hi})
			}
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < p.nw; w++ {
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
