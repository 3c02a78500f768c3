package transcoder

import "github.com/interp-dev/interp/sae"

// MaskedSource is a token source that also says which next-token predictions count (a task's
// loss mask): Evaluate scores the CE loss and KL only there.
type MaskedSource interface {
	sae.TokenSource
	// Masked returns batch rows of tokens [B][P] and the mask [B][P-1] (true where predicting
	// token p+1 from position p counts; nil: every position).
	Masked(batch int) (rows [][]int, mask [][]bool, err error)
}

// TaskSource adapts a generator of masked batches, e.g. a task's Batch method, to a MaskedSource.
type TaskSource struct {
	Label string
	Fn    func(batch int) (rows [][]int, mask [][]bool)
}

// Name is Label.
func (s TaskSource) Name() string { return s.Label }

// Tokens returns the rows of a batch.
func (s TaskSource) Tokens(batch int) ([][]int, error) {
	rows, _ := s.Fn(batch)
	return rows, nil
}

// Masked returns a batch with its loss mask.
func (s TaskSource) Masked(batch int) ([][]int, [][]bool, error) {
	rows, mask := s.Fn(batch)
	return rows, mask, nil
}

// nextBatch reads a batch and, from a MaskedSource, its mask.
func nextBatch(src sae.TokenSource, n int) ([][]int, [][]bool, error) {
	if ms, ok := src.(MaskedSource); ok {
		return ms.Masked(n)
	}
	rows, err := src.Tokens(n)
	return rows, nil, err
}
