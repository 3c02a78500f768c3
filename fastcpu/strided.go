package fastcpu

// The strided index walk shared by the data-movement, broadcasting and reduction kernels
// (copyStrided, addBox, forEachRun, reduceSumF32, reduceGeneral): an index box is walked in
// row-major order as runs along its innermost axis, and two operands' offsets follow the walk.

// walkRuns visits the runs [start, end) of the row-major index box outer (the sizes of every
// axis but the innermost one) and calls fn(run, a, b) with the offsets of the run's first
// element in two operands: a = a0 + sum_k idx_k aStr[k], and b likewise. The offsets advance
// like an odometer, so a run costs a few additions however many axes there are.
func walkRuns(outer, aStr, bStr []int, a0, b0, start, end int, fn func(run, a, b int)) {
	if start >= end {
		return // also an empty box (a size 0)
	}
	idx := make([]int, len(outer))
	rem := start
	for k := len(outer) - 1; k >= 0; k-- {
		idx[k] = rem % outer[k]
		rem /= outer[k]
	}
	a, b := a0, b0
	for k := range outer {
		a += idx[k] * aStr[k]
		b += idx[k] * bStr[k]
	}
	for run := start; run < end; run++ {
		fn(run, a, b)
		for k := len(outer) - 1; k >= 0; k-- {
			idx[k]++
			a += aStr[k]
			b += bStr[k]
			if idx[k] < outer[k] {
				break
			}
			a -= aStr[k] * outer[k]
			b -= bStr[k] * outer[k]
			idx[k] = 0
		}
	}
}

// walkRunsParallel is walkRuns over all runs of outer, split across workers in chunks of at
// least grain runs; fn must be safe to call concurrently for different runs.
func walkRunsParallel(outer, aStr, bStr []int, a0, b0, grain int, fn func(run, a, b int)) {
	parallelFor(numRuns(outer), grain, func(start, end int) { walkRuns(outer, aStr, bStr, a0, b0, start, end, fn) })
}

// numRuns is the number of runs of the index box outer: the product of its sizes.
func numRuns(outer []int) int {
	n := 1
	for _, d := range outer {
		n *= d
	}
	return n
}
