package model

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
)

// TextLoss is the next-token cross-entropy of a model over rows of tokens.
type TextLoss struct {
	// Loss is the mean of -log p(token p+1 | tokens 0..p) over every predicted token, in nats.
	Loss float64 `json:"loss"`
	// Tokens is the number of predicted tokens (P-1 per row).
	Tokens int `json:"tokens"`
	Rows   int `json:"rows"`
	// ByPosition[q] is the mean loss of predicting token q+1 from tokens 0..q, over the rows.
	ByPosition []float64 `json:"loss_by_position"`
}

// InContextScore is Olsson et al.'s in-context learning score for windows of P tokens: the mean
// loss at the last 8 predicted positions minus the mean at predicted positions 8-15 (negative
// when later tokens, with more context, are predicted better). NaN for windows under 24 tokens.
func (l TextLoss) InContextScore() float64 {
	n := len(l.ByPosition)
	if n < 23 {
		return math.NaN()
	}
	mean := func(v []float64) float64 {
		var s float64
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	return mean(l.ByPosition[n-8:]) - mean(l.ByPosition[8:16])
}

// Perplexity is exp(Loss).
func (l TextLoss) Perplexity() float64 { return math.Exp(l.Loss) }

// Loss runs rows (all of one length P, 2 <= P <= n_ctx) through the model, batch rows at a time,
// and returns the mean next-token loss over all of them (TransformerLens's model(tokens,
// return_type="loss") for a batch with every position counted). The log-softmax is taken in
// float64 from the model's logits.
func (m *Model) Loss(rows [][]int, batch int) (TextLoss, error) {
	return m.LossWithHooks(rows, batch, nil)
}

// LossWithHooks is Loss with the hooks of set in the forward pass (TransformerLens's
// run_with_hooks(tokens, return_type="loss", fwd_hooks=...)), for the loss of a model with heads
// ablated or activations patched. A nil set is the plain model.
func (m *Model) LossWithHooks(rows [][]int, batch int, set *hooks.Set) (TextLoss, error) {
	var sum float64
	var n int
	var byPos []float64
	err := m.eachTokenLoss(rows, batch, set, func(_, q int, nll float64) {
		if byPos == nil {
			byPos = make([]float64, len(rows[0])-1)
		}
		sum += nll
		byPos[q] += nll
		n++
	})
	if err != nil {
		return TextLoss{}, err
	}
	for q := range byPos {
		byPos[q] /= float64(len(rows))
	}
	return TextLoss{Loss: sum / float64(n), Tokens: n, Rows: len(rows), ByPosition: byPos}, nil
}

// TokenLosses returns every token's loss: out[r][q] is -log p(rows[r][q+1] | rows[r][0..q]) in
// nats, with set's hooks in the forward pass (nil: none), as Loss computes them (TransformerLens's
// loss_per_token=True). Olsson et al. compare these per-token losses across training.
func (m *Model) TokenLosses(rows [][]int, batch int, set *hooks.Set) ([][]float64, error) {
	out := make([][]float64, len(rows))
	err := m.eachTokenLoss(rows, batch, set, func(r, q int, nll float64) {
		if out[r] == nil {
			out[r] = make([]float64, len(rows[r])-1)
		}
		out[r][q] = nll
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachTokenLoss runs rows (all of one length P, 2 <= P <= n_ctx) through the model with set's
// hooks, batch rows at a time, and calls fn with each predicted token's loss (row r, position q
// predicting token q+1), in row order and position order within a row. The log-softmax is taken
// in float64 from the model's float32 logits.
func (m *Model) eachTokenLoss(rows [][]int, batch int, set *hooks.Set, fn func(r, q int, nll float64)) error {
	if len(rows) == 0 {
		return fmt.Errorf("model: loss of no rows")
	}
	p := len(rows[0])
	if p < 2 || p > m.Config.NCtx {
		return fmt.Errorf("model: loss: rows of %d tokens, want 2..n_ctx = %d", p, m.Config.NCtx)
	}
	if batch < 1 {
		batch = 16
	}
	runner, err := m.Compile(set)
	if err != nil {
		return err
	}
	for lo := 0; lo < len(rows); lo += batch {
		chunk := rows[lo:min(lo+batch, len(rows))]
		for i, r := range chunk {
			if len(r) != p {
				return fmt.Errorf("model: loss: row %d has %d tokens, row 0 has %d", lo+i, len(r), p)
			}
		}
		t, err := Tokens(chunk)
		if err != nil {
			return err
		}
		out, err := runner.Run(t)
		if err != nil {
			return err
		}
		logits := out.Logits
		if logits.DType() != dtypes.Float32 {
			return fmt.Errorf("model: loss: logits are %s, want float32", logits.DType())
		}
		v := logits.Shape().Dimensions[2]
		flat := tensors.MustCopyFlatData[float32](logits)
		for i, r := range chunk {
			for q := 0; q+1 < p; q++ {
				row := flat[(i*p+q)*v : (i*p+q+1)*v]
				hi := math.Inf(-1)
				for _, x := range row {
					hi = math.Max(hi, float64(x))
				}
				var z float64
				for _, x := range row {
					z += math.Exp(float64(x) - hi)
				}
				nll := hi + math.Log(z) - float64(row[r[q+1]])
				fn(lo+i, q, nll)
			}
		}
	}
	return nil
}
