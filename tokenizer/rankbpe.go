package tokenizer

import "container/heap"

// rankMerge byte-pair encodes piece with tiktoken's rule: starting from
// single bytes, repeatedly merge the adjacent pair whose concatenation is the
// token of lowest rank (leftmost on ties), considering only tokens with
// rank < limit. It appends to bounds the start offsets of the resulting
// parts followed by len(piece), and returns it.
func rankMerge(piece string, ranks map[string]int, limit int, bounds []int) []int {
	n := len(piece)
	if n == 0 {
		return append(bounds, 0)
	}
	// next[i] is the start of the part after the part starting at i (n at the
	// end); prev[i] the start of the part before it (-1 at the start).
	// dead[i] marks offsets merged into the part before them.
	next := make([]int, n)
	prev := make([]int, n)
	dead := make([]bool, n)
	for i := range n {
		next[i], prev[i] = i+1, i-1
	}
	rankAt := func(i int) int { // rank of the part at i merged with the next one
		j := next[i]
		if j >= n {
			return -1
		}
		if r, ok := ranks[piece[i:next[j]]]; ok && r < limit {
			return r
		}
		return -1
	}
	var q mergeQueue
	for i := range n - 1 {
		if r := rankAt(i); r >= 0 {
			q = append(q, candidate{rank: r, left: i})
		}
	}
	heap.Init(&q)
	for q.Len() > 0 {
		c := heap.Pop(&q).(candidate)
		// Skip stale candidates: the part at c.left changed since. A rank
		// names one token, so an equal rank means the same pair.
		if dead[c.left] || rankAt(c.left) != c.rank {
			continue
		}
		j := next[c.left]
		dead[j] = true
		next[c.left] = next[j]
		if next[j] < n {
			prev[next[j]] = c.left
		}
		if r := rankAt(c.left); r >= 0 {
			heap.Push(&q, candidate{rank: r, left: c.left})
		}
		if p := prev[c.left]; p >= 0 {
			if r := rankAt(p); r >= 0 {
				heap.Push(&q, candidate{rank: r, left: p})
			}
		}
	}
	for i := 0; i < n; i = next[i] {
		bounds = append(bounds, i)
	}
	return append(bounds, n)
}

// splitAt returns the parts of s between consecutive bounds.
func splitAt(s string, bounds []int) []string {
	parts := make([]string, 0, len(bounds)-1)
	for i := 0; i+1 < len(bounds); i++ {
		parts = append(parts, s[bounds[i]:bounds[i+1]])
	}
	return parts
}
