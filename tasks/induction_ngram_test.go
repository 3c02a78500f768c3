package tasks

import (
	"math"
	"slices"
	"testing"
)

// TestInductionNgramRows: every row is BOS then a uniform segment repeated at once, and the repeat
// starts at many different positions, early ones included.
func TestInductionNgramRows(t *testing.T) {
	task := newTask(t, InductionNgram, Options{})
	half := InductionHalf(DefaultSeqLen)
	lo := max(2, half/4)
	b := task.Batch(seededRand(3), 400)
	if b.LossMask != nil {
		t.Error("LossMask is not nil (all positions)")
	}
	starts := map[int]int{}
	for i, s := range b.Tokens {
		if len(s) != 2*half+1 || s[0] != BOS || slices.Contains(s[1:], BOS) {
			t.Fatalf("row %d = %v: want BOS then 2x%d non-BOS tokens", i, s, half)
		}
		start, l := -1, 0
		for a := 1; a < len(s) && start < 0; a++ {
			for n := half; n >= lo; n-- {
				if a+2*n <= len(s) && slices.Equal(s[a:a+n], s[a+n:a+2*n]) {
					start, l = a, n
					break
				}
			}
		}
		if start < 0 {
			t.Fatalf("row %d = %v: no segment of %d..%d tokens repeated at once", i, s, lo, half)
		}
		_ = l
		starts[start]++
	}
	early := 0
	for st, c := range starts {
		if st <= 5 {
			early += c
		}
	}
	if len(starts) < 20 || early == 0 {
		t.Errorf("repeat starts %v: want many positions, some within the first 5", starts)
	}
}

// TestInductionNgramChain: the filler sampler draws next tokens with the chain's probabilities
// softmax(A[cur] + B[prev]), within 5 binomial standard deviations for every token (and at least 5
// counts, where the normal approximation fails for tokens expected less than once).
func TestInductionNgramChain(t *testing.T) {
	task := newTask(t, InductionNgram, Options{}).(*inductionNgram)
	a, b := NgramLogits(DefaultVocab)
	rng := seededRand(7)
	const n = 40000
	for _, ctx := range [][2]int{{BOS, 5}, {17, 42}, {63, 1}} {
		prev, cur := ctx[0], ctx[1]
		counts := make([]float64, DefaultVocab)
		for range n {
			counts[task.next(rng, prev, cur)]++
		}
		if counts[BOS] != 0 {
			t.Fatalf("context %v: BOS drawn %v times", ctx, counts[BOS])
		}
		var z float64
		for j := 1; j < DefaultVocab; j++ {
			z += math.Exp(a[cur][j] + b[prev][j])
		}
		for j := 1; j < DefaultVocab; j++ {
			p := math.Exp(a[cur][j]+b[prev][j]) / z
			sd := math.Sqrt(p * (1 - p) / n)
			if f := counts[j] / n; math.Abs(f-p) > max(5*sd, 5.0/n) {
				t.Errorf("context %v, next %d: frequency %.5f, chain probability %.5f (5 sd = %.5f)", ctx, j, f, p, 5*sd)
			}
		}
	}
	// The previous token must matter more than the current one (what makes a previous-token head
	// worth learning): the tables' spreads follow the constants.
	sd := func(t [][]float64) float64 {
		var s, s2, k float64
		for _, row := range t {
			for _, x := range row[1:] {
				s, s2, k = s+x, s2+x*x, k+1
			}
		}
		return math.Sqrt(s2/k - (s/k)*(s/k))
	}
	if sa, sb := sd(a), sd(b); math.Abs(sa-NgramCurSD) > 0.05*NgramCurSD || math.Abs(sb-NgramPrevSD) > 0.05*NgramPrevSD {
		t.Errorf("table spreads %.3f, %.3f; want %.1f, %.1f", sa, sb, NgramCurSD, NgramPrevSD)
	}
}
