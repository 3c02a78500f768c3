package fastcpu

// Broadcasting for binary ops. GoMLX's binary ops take operands of equal rank whose dimensions
// are equal or 1 (or a scalar). The iteration collapses adjacent axes that broadcast the same
// way, so the work becomes a few long runs in which each operand is either contiguous (stride
// 1) or a single repeated value (stride 0): [B, P, D] + [1, 1, D] is B*P runs of D, and
// [B, H, P, P] masked by [1, 1, P, P] is B*H runs of P*P.

type bcAxis struct {
	size   int
	aBcast bool
	bBcast bool
}

// runFn handles one run of n output elements starting at out offset o; a and b are the
// operands' offsets, sa and sb their strides within the run (0 or 1).
type runFn func(o, a, b, n, sa, sb int)

// forEachRun calls fn on the runs that cover the output, in parallel for large outputs.
func forEachRun(out, aDims, bDims []int, fn runFn) {
	rank := len(out)
	ad, bd := aDims, bDims
	if len(ad) == 0 {
		ad = ones(rank)
	}
	if len(bd) == 0 {
		bd = ones(rank)
	}
	var axes []bcAxis
	for i := range rank {
		if out[i] == 1 {
			continue
		}
		ax := bcAxis{size: out[i], aBcast: ad[i] == 1, bBcast: bd[i] == 1}
		if k := len(axes) - 1; k >= 0 && axes[k].aBcast == ax.aBcast && axes[k].bBcast == ax.bBcast {
			axes[k].size *= ax.size
			continue
		}
		axes = append(axes, ax)
	}
	total := 1
	for _, d := range out {
		total *= d
	}
	if total == 0 {
		return // a zero dimension: nothing to compute
	}
	if len(axes) == 0 { // every dimension is 1
		fn(0, 0, 0, total, 0, 0)
		return
	}
	inner := axes[len(axes)-1]
	sa, sb := 1, 1
	if inner.aBcast {
		sa = 0
	}
	if inner.bBcast {
		sb = 0
	}
	outer := axes[:len(axes)-1]
	// Sizes and operand strides of the outer axes.
	sizes, aStr, bStr := make([]int, len(outer)), make([]int, len(outer)), make([]int, len(outer))
	as, bs := sa*inner.size, sb*inner.size
	if inner.aBcast {
		as = 1
	}
	if inner.bBcast {
		bs = 1
	}
	for k := len(outer) - 1; k >= 0; k-- {
		sizes[k] = outer[k].size
		if outer[k].aBcast {
			aStr[k] = 0
		} else {
			aStr[k] = as
			as *= outer[k].size
		}
		if outer[k].bBcast {
			bStr[k] = 0
		} else {
			bStr[k] = bs
			bs *= outer[k].size
		}
	}
	walkRunsParallel(sizes, aStr, bStr, 0, 0, max(1, (1<<15)/inner.size), func(run, aOff, bOff int) {
		fn(run*inner.size, aOff, bOff, inner.size, sa, sb)
	})
}

func ones(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = 1
	}
	return o
}
