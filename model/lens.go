package model

import (
	"fmt"
	"math"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
)

// TokenProb is one token with its probability.
type TokenProb struct {
	Token int     `json:"token"`
	Prob  float64 `json:"prob"`
}

// LogitLens is the logit lens over one prompt: the residual stream before each block, and after
// the last, read out through the model's own final norm and unembedding.
type LogitLens struct {
	// Labels name the rows as hooks.AccumulatedResid does: "0_pre", "1_pre", ..., "final_post".
	Labels []string `json:"labels"`
	// Top [row][pos] holds the k most likely next tokens read from that row's stream.
	Top [][][]TokenProb `json:"top"`
	// Final [row][pos] is the probability that row gives the model's own top prediction at pos
	// (the last row's top-1), to show where in depth the prediction forms.
	Final [][]float64 `json:"final"`
}

// LogitLens runs one prompt and reads each layer's residual stream (hook_resid_pre of every block,
// then the last block's hook_resid_post) out through the final norm and unembedding, the logit lens
// of nostalgebraist: the norm's statistics are recomputed on each stream. (TransformerLens's
// accumulated_resid(apply_ln=True) instead divides every stream by the final stream's scale, which
// keeps the decomposition linear; see hooks.Cache.ApplyLNToStack.)
//
// It is a client of the forward pass: the streams are patched into the last block's
// hook_resid_post of a batch with one row per stream, so whatever follows that point in the model
// (final norm, unembedding, soft-capping) is applied exactly as in a plain run.
func (m *Model) LogitLens(tokens []int, k int) (*LogitLens, error) {
	c := m.Config
	if len(tokens) == 0 {
		return nil, fmt.Errorf("model: logit lens: empty prompt")
	}
	if k < 1 {
		return nil, fmt.Errorf("model: logit lens: k %d, want at least 1", k)
	}
	k = min(k, c.DVocab)
	tt, err := Tokens([][]int{tokens})
	if err != nil {
		return nil, err
	}
	L, P, D := c.NLayers, len(tokens), c.DModel
	last := hooks.ResidPost(L - 1)
	names := []string{last}
	lens := &LogitLens{}
	for l := range L {
		names = append(names, hooks.ResidPre(l))
		lens.Labels = append(lens.Labels, fmt.Sprintf("%d_pre", l))
	}
	lens.Labels = append(lens.Labels, "final_post")
	out, err := m.Run(tt, hooks.New().Cache(names...))
	if err != nil {
		return nil, err
	}
	R := L + 1
	stack := make([]float32, 0, R*P*D)
	for _, n := range append(names[1:], last) {
		stack = append(stack, tensors.MustCopyFlatData[float32](out.Cache.MustGet(n))...)
	}
	rows := make([][]int, R)
	for i := range rows {
		rows[i] = tokens
	}
	batch, err := Tokens(rows)
	if err != nil {
		return nil, err
	}
	set := hooks.New().Replace(last, tensors.FromFlatDataAndDimensions(stack, R, P, D))
	lensOut, err := m.Run(batch, set)
	if err != nil {
		return nil, err
	}
	logits := tensors.MustCopyFlatData[float32](lensOut.Logits)
	V := c.DVocab
	probs := func(r, p int) []float64 { return Probs(logits[(r*P+p)*V : (r*P+p+1)*V]) }
	lens.Top = make([][][]TokenProb, R)
	lens.Final = make([][]float64, R)
	finalTop := make([]int, P)
	for p := range P {
		finalTop[p] = TopK(probs(R-1, p), 1)[0].Token
	}
	for r := range R {
		lens.Top[r] = make([][]TokenProb, P)
		lens.Final[r] = make([]float64, P)
		for p := range P {
			pr := probs(r, p)
			lens.Top[r][p] = TopK(pr, k)
			lens.Final[r][p] = pr[finalTop[p]]
		}
	}
	return lens, nil
}

// Probs returns the probabilities of one row of logits, in float64 (max subtracted).
func Probs(logits []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v))
	}
	out := make([]float64, len(logits))
	var sum float64
	for i, v := range logits {
		out[i] = math.Exp(float64(v) - mx)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// TopK returns the k most probable tokens of a distribution, most probable first; ties go to the
// smaller token id.
func TopK(probs []float64, k int) []TokenProb {
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return probs[idx[a]] > probs[idx[b]] })
	k = min(k, len(idx))
	out := make([]TokenProb, k)
	for i := range k {
		out[i] = TokenProb{Token: idx[i], Prob: probs[idx[i]]}
	}
	return out
}
