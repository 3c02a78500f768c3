package heads

import (
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/model"
)

// Sharpness is, per layer and head, the mean attention a head puts on one target position, read
// from raw patterns of sequences BOS + n distinct tokens + the same n again (RepeatedDistinct):
//
//   - PrevToken[l][h]: from each position p >= 1 to p-1, averaged over every p.
//   - Induction[l][h]: from each position p of the second copy (n+1 .. 2n) to the token after the
//     earlier copy of its token, p-n+1, averaged over those p.
//
// Unlike the detector's scores (Scores, TransformerLens's detect_head), which average over every
// query including those with nothing to find, a perfect head scores 1 on both. A head that
// attends uniformly scores about 1/(p+1) at position p.
type Sharpness struct {
	PrevToken [][]float64 `json:"previous_token_attention"`
	Induction [][]float64 `json:"induction_attention"`
}

// Best returns the largest value of one row (one layer) of a [layer][head] table and its head.
func Best(row []float64) (head int, v float64) {
	for h, x := range row {
		if h == 0 || x > v {
			head, v = h, x
		}
	}
	return head, v
}

// RepeatedDistinct returns batch sequences BOS (id 0) + n distinct random tokens from [1, vocab) +
// the same n again (length 2n+1), deterministically from seed. Distinct tokens make the earlier
// copy of every second-copy token unique, so the induction target is one position.
func RepeatedDistinct(seed uint64, batch, n, vocab int) ([][]int, error) {
	if n < 2 || n > vocab-1 {
		return nil, fmt.Errorf("heads: %d distinct tokens do not fit a vocabulary of %d ids (BOS excluded)", n, vocab)
	}
	rng := rand.New(rand.NewPCG(seed, 0x73686172)) // "shar"
	rows := make([][]int, batch)
	for b := range rows {
		perm := rng.Perm(vocab - 1)
		row := make([]int, 2*n+1)
		for i := 1; i <= n; i++ {
			row[i] = 1 + perm[i-1]
			row[i+n] = row[i]
		}
		rows[b] = row
	}
	return rows, nil
}

// SharpnessFromPatterns measures Sharpness from each layer's patterns [B, H, P, P] (float32) of
// sequences made by RepeatedDistinct with n distinct tokens (P = 2n+1).
func SharpnessFromPatterns(patterns []*tensors.Tensor, n int) (*Sharpness, error) {
	if len(patterns) == 0 {
		return nil, fmt.Errorf("heads: no attention patterns")
	}
	s := &Sharpness{}
	for l, pt := range patterns {
		dims := pt.Shape().Dimensions
		if len(dims) != 4 || dims[2] != 2*n+1 || dims[3] != 2*n+1 {
			return nil, fmt.Errorf("heads: layer %d: pattern shape %v, want [B, H, %d, %d] for %d repeated tokens", l, dims, 2*n+1, 2*n+1, n)
		}
		if pt.DType() != dtypes.Float32 {
			return nil, fmt.Errorf("heads: layer %d: pattern is %s, want float32", l, pt.DType())
		}
		b, h, p := dims[0], dims[1], dims[2]
		flat := tensors.MustCopyFlatData[float32](pt)
		prev, ind := make([]float64, h), make([]float64, h)
		for bi := range b {
			for hi := range h {
				a := flat[(bi*h+hi)*p*p : (bi*h+hi+1)*p*p]
				for i := 1; i < p; i++ {
					prev[hi] += float64(a[i*p+i-1]) / float64(b*(p-1))
				}
				for i := n + 1; i <= 2*n; i++ {
					ind[hi] += float64(a[i*p+i-n+1]) / float64(b*n)
				}
			}
		}
		s.PrevToken = append(s.PrevToken, prev)
		s.Induction = append(s.Induction, ind)
	}
	return s, nil
}

// ComputeSharpness runs m on RepeatedDistinct(seed, batch, n, vocab) and measures Sharpness.
func ComputeSharpness(m *model.Model, seed uint64, batch, n int) (*Sharpness, error) {
	rows, err := RepeatedDistinct(seed, batch, n, m.Config.DVocab)
	if err != nil {
		return nil, err
	}
	if 2*n+1 > m.Config.NCtx {
		return nil, fmt.Errorf("heads: %d repeated tokens need %d positions, the model has %d", n, 2*n+1, m.Config.NCtx)
	}
	patterns, err := runPatterns(m, rows)
	if err != nil {
		return nil, err
	}
	return SharpnessFromPatterns(patterns, n)
}
