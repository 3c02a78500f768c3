package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPick checks the sampler against the distribution it should draw from: softmax(logits/T)
// restricted to the top k, then to the nucleus of mass p. Frequencies of n draws are within 5
// standard deviations (sqrt(p(1-p)/n)) of the probabilities: a failure by chance has odds < 1e-6.
func TestPick(t *testing.T) {
	logits := []float32{1, 3, 2, 3, -1}
	cases := []struct {
		name string
		opt  GenerateOptions
		want []float64 // probabilities per token
	}{
		{"greedy, lowest id among ties", GenerateOptions{}, []float64{0, 1, 0, 0, 0}},
		{"temperature 1", GenerateOptions{Temperature: 1}, softmax64(logits, 1, nil)},
		{"temperature 0.5", GenerateOptions{Temperature: 0.5}, softmax64(logits, 0.5, nil)},
		{"top-k 1 keeps both tied maxima", GenerateOptions{Temperature: 1, TopK: 1}, softmax64(logits, 1, []int{1, 3})},
		{"top-k 3", GenerateOptions{Temperature: 1, TopK: 3}, softmax64(logits, 1, []int{1, 2, 3})},
		// probabilities at T=1: 3 -> .4223 each, 2 -> .1554, 1 -> .0572, -1 -> .0077; the smallest
		// prefix (ids 1, 3, 2 by rank) reaching 0.9 is {1, 3, 2} (0.4223+0.4223 = .8446 < .9).
		{"top-p 0.9", GenerateOptions{Temperature: 1, TopP: 0.9}, softmax64(logits, 1, []int{1, 3, 2})},
		{"top-p 0.3 keeps one", GenerateOptions{Temperature: 1, TopP: 0.3}, []float64{0, 1, 0, 0, 0}},
	}
	const n = 40000
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			count := make([]float64, len(logits))
			for range n {
				count[pick(logits, tc.opt, rng)]++
			}
			for i, p := range tc.want {
				sd := math.Sqrt(p * (1 - p) / n)
				require.InDelta(t, p, count[i]/n, 5*sd+1e-12, "token %d", i)
			}
		})
	}
}

// softmax64 is softmax(logits / T) over the ids in keep (all when nil), zero elsewhere.
func softmax64(logits []float32, T float64, keep []int) []float64 {
	out := make([]float64, len(logits))
	sum := 0.0
	for i, x := range logits {
		if keep != nil && !slices.Contains(keep, i) {
			continue
		}
		out[i] = math.Exp(float64(x) / T)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}
