// Package heads scores attention heads with TransformerLens's head detector: how much of a
// head's attention falls where a previous-token, duplicate-token or induction head would put it.
//
// For a token sequence t of length P the detection patterns are 0/1 matrices [P, P] (query row
// i, key column j, lower-triangular):
//
//	previous token:  D[i, j] = 1 if j = i - 1
//	duplicate token: D[i, j] = 1 if j < i and t[j] = t[i]
//	induction:       D[i, j] = 1 if 1 <= j <= i and t[j-1] = t[i] and j-1 < i
//	                 (the token after an earlier copy of the current token)
//
// and a head's score on one sequence is TransformerLens's "mul" similarity
//
//	score = sum_ij A[i, j] D[i, j] / sum_ij A[i, j]
//
// for its attention pattern A (blocks.L.attn.hook_pattern), averaged over the sequences of a
// batch. Options exclude the BOS column and the current token (diagonal) from A first, as
// detect_head's exclude_bos and exclude_current_token do. Because every row of A sums to one,
// a perfect head scores the fraction of rows that have a target: about 1 for previous-token
// heads, about 0.5 for induction and duplicate-token heads on a sequence repeated twice
// (BOS + n random tokens + the same n again). Scores are computed on such repeated random
// sequences by Compute; FromPatterns scores cached patterns of any batch.
package heads
