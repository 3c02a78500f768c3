package train

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/model"
)

// BenchmarkTrainStep is one AdamW step (forward, masked cross-entropy, backward through every
// weight, gradient clipping, update; one compiled graph) of the 2-layer attention-only model of the
// induction-head studies: d_model 64, 8 heads, n_ctx 64, vocab 64, batch 32 x 64 tokens, no clamps.
// The PyTorch side is bench/torch_train_loop.py.
func BenchmarkTrainStep(b *testing.B) { benchTrainStep(b, model.AttnOnlyToy(2, 8, 64, 64, 64), 32, 64) }

// BenchmarkTrainStepLN is the same step with a LayerNorm before each attention layer and the
// unembedding (the GPT-2 layout of interp train's text models): the norms' backward is fused,
// unless INTERP_NO_NORM_FUSION=1.
func BenchmarkTrainStepLN(b *testing.B) {
	c := model.AttnOnlyToy(2, 8, 64, 64, 64)
	c.Normalization = model.LayerNorm
	benchTrainStep(b, c, 32, 64)
}

// BenchmarkTrainStepText is one step of the natural-text study's 2-layer attention-only model
// (docs/MODELS.md): GPT-2 layout with LayerNorm, d_model 128, 4 heads, vocab 4096, batch 8 x 512.
func BenchmarkTrainStepText(b *testing.B) {
	c := model.AttnOnlyToy(2, 4, 128, 4096, 512)
	c.Normalization = model.LayerNorm
	benchTrainStep(b, c, 8, 512)
}

func benchTrainStep(b *testing.B, c model.Config, batch, pos int) {
	w, err := model.NewRandomWeights(c, 0)
	require.NoError(b, err)
	backend, _ := model.MustNewBackend("")
	cfg := DefaultConfig()
	plan, err := newClampPlan(w.Config, pos, nil)
	require.NoError(b, err)
	step, err := newStepExec(backend, w.Config, cfg, plan, batch)
	require.NoError(b, err)
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([][]int, batch)
	for i := range rows {
		rows[i] = make([]int, pos)
		for j := range rows[i] {
			rows[i][j] = rng.IntN(c.DVocab)
		}
	}
	tokens, err := model.Tokens(rows)
	require.NoError(b, err)
	mask := maskTensor(nil, batch, batch, pos)
	st := newAdamState(w)
	t := 1
	_, _, err = step.run(st, cfg, t, 1e-3, tokens, mask) // compile outside the timer
	require.NoError(b, err)
	b.ResetTimer()
	for b.Loop() {
		t++
		if _, _, err := step.run(st, cfg, t, 1e-3, tokens, mask); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e3, "ms/step")
}
