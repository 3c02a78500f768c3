package fastcpu

import (
	"runtime"
	"sync"
)

// numWorkers is how many goroutines a kernel splits its work into.
var numWorkers = runtime.NumCPU()

// parallelFor runs fn over [0, n) split into at most numWorkers contiguous chunks, each at
// least grain long, and waits for them. It starts plain goroutines for each call and never
// waits on a shared pool, so kernels cannot deadlock however they nest.
func parallelFor(n, grain int, fn func(start, end int)) {
	if grain < 1 {
		grain = 1
	}
	chunks := min(numWorkers, (n+grain-1)/grain)
	if chunks <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	step := (n + chunks - 1) / chunks
	for start := step; start < n; start += step {
		wg.Add(1)
		go func(s, e int) {
			defer wg.Done()
			fn(s, e)
		}(start, min(start+step, n))
	}
	fn(0, min(step, n))
	wg.Wait()
}
