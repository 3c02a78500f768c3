package model

import (
	"math"
	"math/rand/v2"
	"sort"
)

// pick chooses the next token from one row's logits [V]: the arg max when opt.Temperature is 0
// (the lowest id among ties, as torch.argmax), otherwise a draw from
// softmax(logits / temperature) restricted by TopK and then TopP, in the order Hugging Face's
// logits processors apply them.
func pick(logits []float32, opt GenerateOptions, rng *rand.Rand) int {
	if opt.Temperature == 0 {
		best := 0
		for i, x := range logits {
			if x > logits[best] {
				best = i
			}
		}
		return best
	}
	order := make([]int, len(logits)) // token ids, most likely first (ties by id)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return logits[order[a]] > logits[order[b]] })
	keep := len(order)
	if k := opt.TopK; k > 0 && k < keep {
		// keep every token at least as likely as the k-th
		kth := logits[order[k-1]]
		keep = k
		for keep < len(order) && logits[order[keep]] == kth {
			keep++
		}
	}
	scaled := make([]float64, keep)
	top := float64(logits[order[0]]) / opt.Temperature
	sum := 0.0
	for i := range scaled {
		scaled[i] = math.Exp(float64(logits[order[i]])/opt.Temperature - top)
		sum += scaled[i]
	}
	if p := opt.TopP; p > 0 && p < 1 {
		// the smallest prefix whose probability reaches p (at least one token)
		cum := 0.0
		for i, w := range scaled {
			cum += w / sum
			if cum >= p {
				keep = i + 1
				break
			}
		}
		scaled = scaled[:keep]
		sum = 0
		for _, w := range scaled {
			sum += w
		}
	}
	u := rng.Float64() * sum
	for i, w := range scaled {
		u -= w
		if u < 0 {
			return order[i]
		}
	}
	return order[len(scaled)-1]
}
