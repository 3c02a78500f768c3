package train

import (
	"context"
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
)

// TestClampedRunScoresPairsWithItsClamps trains a few steps of icl-classify with layer 0's heads
// forced to the previous token, then scores the final weights independently: once as they are
// (pairs_unclamped), and once through the inference path with that layer's pattern replaced, on
// the host, by the previous-token pattern (pairs). The run's prompts are one token shorter than
// its training rows, so the clamped scoring pads them; the reference does not.
func TestClampedRunScoresPairsWithItsClamps(t *testing.T) {
	task, err := tasks.New("icl-classify", tasks.Options{Vocab: 32, SeqLen: 15})
	require.NoError(t, err)
	w, err := model.NewRandomWeights(model.AttnOnlyToy(2, 4, 32, 32, 16), 3)
	require.NoError(t, err)
	b, bname := model.MustNewBackend("")
	m, err := model.New(w, b, bname)
	require.NoError(t, err)
	cfg := tinyConfig(300)
	cfg.LR = 3e-2
	clamp := Clamp{Hook: hooks.Pattern(0), Value: PrevToken()}
	res, err := Run(context.Background(), m, task, cfg, clamp)
	require.NoError(t, err)
	last := res.Evals[len(res.Evals)-1]
	require.NotNil(t, last.Pairs)
	require.NotNil(t, last.PairsUnclamped, "a clamped run also scores the weights alone")

	trained, err := model.New(res.Weights, b, bname)
	require.NoError(t, err)
	p, err := task.Pairs(pairsSeed(cfg.Seed), pairsScored)
	require.NoError(t, err)
	require.Less(t, len(p.Clean[0]), cfg.SeqLen, "the prompts must be shorter than the rows for the padding to be exercised")
	tokens, err := model.Tokens(p.Clean)
	require.NoError(t, err)

	plain, err := trained.Run(tokens, nil)
	require.NoError(t, err)
	tolAlone := requireScoredAs(t, p, plain.Logits, *last.PairsUnclamped, "weights alone")

	// The reference: every head of layer 0 on the previous token, built on the host.
	N, H, P := len(p.Clean), m.Config.NHeads, len(p.Clean[0])
	pat := make([]float32, N*H*P*P) // [N, H, P, P]
	for nh := range N * H {
		for i := range P {
			pat[(nh*P+i)*P+max(i-1, 0)] = 1
		}
	}
	forced := tensors.FromFlatDataAndDimensions(pat, N, H, P, P)
	out, err := trained.Run(tokens, hooks.New().Replace(hooks.Pattern(0), forced))
	require.NoError(t, err)
	tol := requireScoredAs(t, p, out.Logits, *last.Pairs, "with the clamps")
	t.Logf("logit difference with the clamp %.5f, without %.5f; accuracy %.2f / %.2f", last.Pairs.LogitDiff, last.PairsUnclamped.LogitDiff, last.Pairs.Accuracy, last.PairsUnclamped.Accuracy)
	// The clamp must matter here, or the test could not tell the two scorings apart: a run that
	// scored without its clamps would then miss the clamped reference by more than tol.
	require.Greater(t, math.Abs(last.Pairs.LogitDiff-last.PairsUnclamped.LogitDiff), 3*(tol+tolAlone))
}

// requireScoredAs checks score against the logits [N, P, V] of the prompts p from an independent
// run, and returns the tolerance of the mean logit difference. Each logit is a chain of about four
// float32 reductions of d_model = 32 terms (two attention layers, the unembedding), each off by at
// most 32 x eps x the size of its terms; 1 + the logits' size stands in for that. A prompt whose
// difference is within its tolerance of 0 may count either way.
func requireScoredAs(t *testing.T, p *tasks.Pairs, logitsT *tensors.Tensor, score PairScore, what string) float64 {
	t.Helper()
	const eps = 1.0 / (1 << 23)
	logits := tensors.MustCopyFlatData[float32](logitsT)
	dims := logitsT.Shape().Dimensions
	N, P, V := dims[0], dims[1], dims[2]
	require.Equal(t, N, score.Pairs, what)
	var sum, tolMean float64
	right, unsure := 0, 0
	for n := range N {
		at := logits[(n*P+p.Pos[n])*V:]
		la, lw := float64(at[p.Answer[n]]), float64(at[p.Wrong[n]])
		d := la - lw
		tol := 4 * 32 * eps * (2 + math.Abs(la) + math.Abs(lw))
		sum, tolMean = sum+d, tolMean+tol/float64(N)
		switch {
		case math.Abs(d) <= tol:
			unsure++
		case d > 0:
			right++
		}
	}
	require.InDelta(t, sum/float64(N), score.LogitDiff, tolMean, what)
	require.GreaterOrEqual(t, score.Accuracy, float64(right)/float64(N)-1e-9, what)
	require.LessOrEqual(t, score.Accuracy, float64(right+unsure)/float64(N)+1e-9, what)
	return tolMean
}
