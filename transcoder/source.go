package transcoder

import "github.com/interp-dev/interp/sae"

// MaskedSource and TaskSource are sae's: a token source with a task's loss mask, so that the CE
// loss and KL are scored where the task's predictions count.
type (
	MaskedSource = sae.MaskedSource
	TaskSource   = sae.TaskSource
)

// nextBatch reads a batch and, from a MaskedSource, its mask.
func nextBatch(src sae.TokenSource, n int) ([][]int, [][]bool, error) { return sae.NextBatch(src, n) }
