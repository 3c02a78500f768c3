package train

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/fastcpu"
	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// TestAttentionGradFusionUnderClamps: fastcpu fuses the attention's backward in every layer of a
// plain training step, and in no layer whose pattern a clamp replaces (the clamped value is not
// the softmax's, so the gradient takes the unfused ops there), on every head or on some. The fused kernel's numerics are fastcpu's TestAttentionGradFused and TestEquivGradients.
func TestAttentionGradFusionUnderClamps(t *testing.T) {
	w, err := model.NewRandomWeights(model.AttnOnlyToy(2, 4, 32, 16, 16), 0)
	require.NoError(t, err)
	backend, name := model.MustNewBackend("")
	if os.Getenv("INTERP_NO_ATTENTION_GRAD_FUSION") != "" {
		t.Skip("INTERP_NO_ATTENTION_GRAD_FUSION is set")
	}
	if name != fastcpu.BackendName {
		t.Skipf("backend %s: the fusion is fastcpu's", name)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([][]int, 4)
	for i := range rows {
		rows[i] = make([]int, 16)
		for j := range rows[i] {
			rows[i][j] = rng.IntN(16)
		}
	}
	for _, c := range []struct {
		name   string
		clamps []Clamp
		fused  int64
	}{
		{"no clamp", nil, 2},
		{"layer 0 pattern", []Clamp{{Hook: hooks.Pattern(0), Value: PrevToken()}}, 1},
		{"layer 1 pattern, head 2", []Clamp{{Hook: hooks.Pattern(1), Heads: []int{2}, Value: Uniform()}}, 1},
		{"both patterns", []Clamp{{Hook: hooks.Pattern(0), Value: Uniform()}, {Hook: hooks.Pattern(1), Value: PrevToken()}}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := fastcpu.FusedAttentionGrads()
			oneStep(t, backend, w, c.clamps, rows)
			require.Equal(t, c.fused, fastcpu.FusedAttentionGrads()-before, "attention backward passes fused")
		})
	}
}

// TestNormGradFusion: fastcpu fuses the backward of every norm in a training step, LayerNorm (a
// GPT-2-layout model: ln1 per layer and ln_final) and RMSNorm (Llama layout: ln1 and ln2 per layer
// and ln_final). The fused kernel's exactness is fastcpu's TestNormGradFusedIsExact.
func TestNormGradFusion(t *testing.T) {
	backend, name := model.MustNewBackend("")
	if name != fastcpu.BackendName {
		t.Skipf("backend %s: the fusion is fastcpu's", name)
	}
	if os.Getenv("INTERP_NO_NORM_FUSION") != "" {
		t.Skip("INTERP_NO_NORM_FUSION is set")
	}
	ln := model.AttnOnlyToy(2, 4, 32, 16, 16)
	ln.Normalization = model.LayerNorm
	for _, c := range []struct {
		name  string
		cfg   model.Config
		fused int64
	}{{"layernorm", ln, 3}, {"rmsnorm", model.LlamaToy(2, 4, 2, 32, 16, 16), 5}} {
		t.Run(c.name, func(t *testing.T) {
			w, err := model.NewRandomWeights(c.cfg, 0)
			require.NoError(t, err)
			rows := [][]int{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0}, {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3}}
			before := fastcpu.FusedNormGrads()
			oneStep(t, backend, w, nil, rows)
			require.Equal(t, c.fused, fastcpu.FusedNormGrads()-before, "norm backward passes fused")
		})
	}
}

// oneStep compiles and runs one AdamW training step of w on rows (16 tokens each) under clamps.
func oneStep(t *testing.T, backend backends.Backend, w *model.Weights, clamps []Clamp, rows [][]int) {
	t.Helper()
	tokens, err := model.Tokens(rows)
	require.NoError(t, err)
	cfg := DefaultConfig()
	plan, err := newClampPlan(w.Config, 16, clamps)
	require.NoError(t, err)
	step, err := newStepExec(backend, w.Config, cfg, plan, len(rows))
	require.NoError(t, err)
	_, _, err = step.run(newAdamState(w), cfg, 1, 1e-3, tokens, maskTensor(nil, len(rows), len(rows), 16))
	require.NoError(t, err)
}
