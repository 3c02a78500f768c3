package sae

import (
	"math"
	"runtime"
	"slices"
	"sync"
)

// Host-side selection for TopK, BatchTopK and the AuxK loss. GoMLX v0.26.0 has no TopK or Sort
// op, so the training step computes the pre-activations in one graph, finds the thresholds here
// (quickselect per row, a radix select for the batch; rows split across cores), writes the
// active masks, and feeds them to the step graph. KthLargestGraph is the in-graph equivalent
// used when an SAE is spliced into a model run.

// rowThresholds returns, for each row of pre [n, f], its k-th largest value, raised to the
// smallest positive float so that "pre >= threshold" also implies "pre > 0".
//
// Each row first keeps only the values at or above an estimate (its maximum times the ratio of
// the previous row's 2k-th largest value to its maximum): when at least k remain, the k-th
// largest is among them and a quickselect on those few finds it; otherwise the whole row is
// selected.
func rowThresholds(pre []float32, n, f, k int) []float32 {
	out := make([]float32, n)
	parallelRows(n, func(lo, hi int) {
		scratch := make([]float32, 0, f)
		ratio := float32(0)
		for r := lo; r < hi; r++ {
			row := pre[r*f : (r+1)*f]
			mx := slices.Max(row)
			est := float32(math.Inf(-1))
			if mx > 0 {
				est = ratio * mx
			}
			cand := scratch[:f]
			m := 0
			for _, v := range row { // branch-free: write every value, advance past kept ones
				cand[m] = v
				m += int(ge(v, est))
			}
			cand = cand[:m]
			if len(cand) < k {
				cand = append(scratch[:0], row...)
			}
			scratch = cand
			t := quickSelectDesc(cand, k-1)
			// cand[k:] holds the values below t; their k-th largest is this row's 2k-th.
			ratio = 0
			if rest := cand[k:]; len(rest) >= k && mx > 0 {
				ratio = max(quickSelectDesc(rest, k-1)/mx, 0)
			}
			out[r] = max(t, tinyPositive)
		}
	})
	return out
}

// auxThresholds returns, for each row, the kAux-th largest pre-activation among the latents
// listed in dead (the AuxK selection). Values may be negative.
func auxThresholds(pre []float32, n, f, kAux int, dead []int) []float32 {
	out := make([]float32, n)
	parallelRows(n, func(lo, hi int) {
		scratch := make([]float32, 0, len(dead))
		for r := lo; r < hi; r++ {
			out[r] = kthLargest(pre[r*f:(r+1)*f], kAux, &scratch, dead)
		}
	})
	return out
}

// kthLargest returns the k-th largest of v (only over the indices in idx when idx is not nil),
// by quickselect on a copy in scratch.
func kthLargest(v []float32, k int, scratch *[]float32, idx []int) float32 {
	a := (*scratch)[:0]
	if idx == nil {
		a = append(a, v...)
	} else {
		for _, j := range idx {
			a = append(a, v[j])
		}
	}
	*scratch = a
	return quickSelectDesc(a, k-1)
}

// quickSelectDesc returns the element of rank r (0 = largest) of v, reordering v.
func quickSelectDesc(v []float32, r int) float32 {
	lo, hi := 0, len(v)-1
	for hi > lo {
		if hi-lo < 16 { // insertion sort, descending
			for i := lo + 1; i <= hi; i++ {
				for j := i; j > lo && v[j] > v[j-1]; j-- {
					v[j], v[j-1] = v[j-1], v[j]
				}
			}
			return v[r]
		}
		mid := lo + (hi-lo)/2
		a, b, c := v[lo], v[mid], v[hi]
		p := max(min(a, b), min(max(a, b), c)) // median of three
		i, j := lo, hi
		for i <= j {
			for v[i] > p {
				i++
			}
			for v[j] < p {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case r <= j:
			hi = j
		case r >= i:
			lo = i
		default:
			return v[r]
		}
	}
	return v[r]
}

// batchThreshold returns the kn-th largest value of max(pre, 0) over the whole batch (BatchTopK),
// raised to the smallest positive float (so fewer than kn positive values select all of them).
// A strided sample gives a value that about 1.3 kn entries exceed; the entries at or above it
// are gathered (rows split across cores) and, when there are at least kn, a quickselect among
// them finds the kn-th largest exactly; otherwise every positive entry is gathered.
func batchThreshold(pre []float32, kn int) float32 {
	if kn <= 0 {
		return math.MaxFloat32
	}
	const stride = 61
	var sample []float32
	for i := 0; i < len(pre); i += stride {
		sample = append(sample, pre[i])
	}
	est := float32(0)
	if r := int(1.3*float64(kn)*float64(len(sample))/float64(len(pre))) + 32; r < len(sample) {
		est = max(quickSelectDesc(sample, r), 0)
	}
	cand := gatherAtLeast(pre, est)
	if len(cand) < kn && est > 0 {
		cand = gatherAtLeast(pre, 0)
	}
	if len(cand) < kn {
		return tinyPositive // fewer than kn positive values
	}
	return max(quickSelectDesc(cand, kn-1), tinyPositive)
}

// gatherAtLeast returns the values of v that are >= t and > 0.
func gatherAtLeast(v []float32, t float32) []float32 {
	var mu sync.Mutex
	var out []float32
	parallelRows(len(v), func(lo, hi int) {
		var part []float32
		for _, x := range v[lo:hi] {
			if x >= t && x > 0 {
				part = append(part, x)
			}
		}
		mu.Lock()
		out = append(out, part...)
		mu.Unlock()
	})
	return out
}

// parallelRows splits [0, n) into one contiguous range per core.
func parallelRows(n int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/64))
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	step := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += step {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, min(lo+step, n))
	}
	wg.Wait()
}

// deadList returns the indices where dead is true.
func deadList(dead []bool) []int {
	var out []int
	for j, d := range dead {
		if d {
			out = append(out, j)
		}
	}
	return slices.Clip(out)
}

// Masks. The step graph multiplies by float masks instead of comparing and selecting in the
// graph: fastcpu's float arithmetic is vectorised, its comparisons and selects are not, and the
// host pass that finds TopK thresholds can write the mask in the same sweep.

// gt is 1 when v > t and 0 otherwise, without a branch (random signs defeat branch
// prediction, which made these loops four times slower): the sign bit of t - v, which is set
// exactly when v > t (a difference of distinct floats is never zero).
func gt(v, t float32) float32 {
	return math.Float32frombits((math.Float32bits(t-v) >> 31) * 0x3f800000)
}

// ge is 1 when v >= t and 0 otherwise, without a branch.
func ge(v, t float32) float32 { return 1 - gt(t, v) }

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// maskRule says which pre-activations are active: pre > thr (strict) or pre >= thr, with thr a
// scalar, a per-row threshold or a per-latent threshold.
type maskRule struct {
	strict bool
	thr    float32
	rowThr []float32 // [n], or nil
	colThr []float32 // [F], or nil
}

// activeMask writes mask [n*f] (1 where the latent is active, else 0) and returns the number of
// rows on which each latent is active.
func activeMask(pre []float32, n, f int, r maskRule, mask []float32) []float32 {
	var mu sync.Mutex
	fires := make([]float32, f)
	parallelRows(n, func(lo, hi int) {
		cnt := make([]float32, f)
		for row := lo; row < hi; row++ {
			p, m := pre[row*f:(row+1)*f], mask[row*f:(row+1)*f]
			t := r.thr
			if r.rowThr != nil {
				t = r.rowThr[row]
			}
			switch {
			case r.colThr != nil: // JumpReLU: strict, per latent
				for j, v := range p {
					a := gt(v, r.colThr[j])
					m[j] = a
					cnt[j] += a
				}
			case r.strict:
				for j, v := range p {
					a := gt(v, t)
					m[j] = a
					cnt[j] += a
				}
			default:
				for j, v := range p {
					a := ge(v, t)
					m[j] = a
					cnt[j] += a
				}
			}
		}
		mu.Lock()
		for j, c := range cnt {
			fires[j] += c
		}
		mu.Unlock()
	})
	return fires
}

// auxMask writes out [n*f] with 1 at the kAux largest pre-activations among the dead latents of
// each row (the AuxK selection), 0 elsewhere.
func auxMask(pre []float32, n, f, kAux int, dead []int, out []float32) {
	parallelRows(n, func(lo, hi int) {
		scratch := make([]float32, 0, len(dead))
		for row := lo; row < hi; row++ {
			p, o := pre[row*f:(row+1)*f], out[row*f:(row+1)*f]
			t := kthLargest(p, kAux, &scratch, dead)
			clear(o)
			for _, j := range dead {
				if p[j] >= t {
					o[j] = 1
				}
			}
		}
	})
}

// windowMask writes out [n*f] with 1 where |pre - theta_j| < bandwidth/2: the support of the
// JumpReLU straight-through kernel.
func windowMask(pre []float32, n, f int, theta []float32, bandwidth float64, out []float32) {
	half := float32(bandwidth / 2)
	parallelRows(n, func(lo, hi int) {
		for row := lo; row < hi; row++ {
			p, o := pre[row*f:(row+1)*f], out[row*f:(row+1)*f]
			for j, v := range p {
				o[j] = gt(half, abs32(v-theta[j]))
			}
		}
	})
}
