package patching

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/model"
)

// testConfigs are small models; testScale scales their random weights up so that every patch
// kind moves the metric (without LayerNorm the attention-only model needs larger weights for
// its patterns to be far from uniform).
var testConfigs = map[string]model.Config{
	"gpt2-like": {NLayers: 2, DModel: 16, NHeads: 4, DHead: 4, DMLP: 32, NCtx: 12, DVocab: 23,
		Act: model.GeluNew, Normalization: model.LayerNorm, PositionalEmbeddings: true, TiedEmbeddings: true, LNEps: 1e-5},
	"attn-only": model.AttnOnlyToy(2, 4, 16, 23, 12),
	// Llama-style: RMSNorm, rotary, grouped-query attention (hook_k, hook_v have 2 heads), SwiGLU.
	"llama-like": {NLayers: 2, DModel: 16, NHeads: 4, NKVHeads: 2, DHead: 4, DMLP: 24, NCtx: 12, DVocab: 23,
		Act: model.Silu, Normalization: model.RMS, LNEps: 1e-6, GatedMLP: true, RotaryDim: 4, RotaryBase: 10000},
	// Pythia-style: parallel residual (no resid_mid), partial rotary, untied.
	"pythia-like": {NLayers: 2, DModel: 16, NHeads: 4, DHead: 4, DMLP: 32, NCtx: 12, DVocab: 23,
		Act: model.Gelu, Normalization: model.LayerNorm, LNEps: 1e-5, ParallelResidual: true, RotaryDim: 2, RotaryBase: 10000},
	// Shortformer: W_pos enters the queries and keys of every layer, not the residual stream, so
	// sweeps that start inside the model (model.Blocks) must add it again.
	"shortformer": {NLayers: 2, DModel: 16, NHeads: 4, DHead: 4, NCtx: 12, DVocab: 23, Act: model.Relu,
		Normalization: model.LayerNorm, LNEps: 1e-5, AttnOnly: true, PositionalEmbeddings: true, Shortformer: true},
}

var testScale = map[string]float32{"gpt2-like": 8, "attn-only": 30, "llama-like": 8, "pythia-like": 8, "shortformer": 8}

const refTol = 1e-4

// TestPatchMatchesReference checks every component with every setter that applies to it,
// denoising and noising, against the one-patch-per-forward reference loop.
func TestPatchMatchesReference(t *testing.T) {
	for cname, cfg := range testConfigs {
		m := refModel(t, cfg, 3, testScale[cname])
		p := refPrompts(3, 6, cfg.DVocab, 5)
		for _, dir := range []Direction{Denoise, Noise} {
			// MaxRows 7 forces several batched forwards per layer, the last one padded.
			e, err := NewExperiment(m, p, LogitDiff(), Options{Direction: dir, MaxRows: 7})
			require.NoError(t, err)
			ref := newRefSetup(t, m, p, "logit_diff", dir)
			require.InDelta(t, ref.clean, e.Clean, refTol)
			require.InDelta(t, ref.corr, e.Corrupted, refTol)
			for _, comp := range Components() {
				if comp.CheckModel(cfg) != nil {
					continue
				}
				for _, s := range settersFor(comp) {
					t.Run(fmt.Sprintf("%s/%s/%s/%s", cname, dir, comp, s.Name), func(t *testing.T) {
						got, err := e.Patch(comp, s)
						require.NoError(t, err)
						want := ref.sweep(t, comp, s, false)
						requireClose(t, want, got.Scores, refTol, string(comp))
						require.Greater(t, spread(want), 100*refTol, "patches should move the metric")
						require.Equal(t, []int{cfg.NLayers}, got.Dims()[:1])
					})
				}
			}
		}
	}
}

func settersFor(c Component) []Setter {
	switch c.layout() {
	case layoutPosVector:
		return []Setter{LayerPosSetter}
	case layoutPosHeadVector:
		return []Setter{LayerHeadSetter, LayerHeadPosSetter}
	}
	return []Setter{PatternHeadSetter, PatternHeadDestSetter, PatternHeadDestSrcSetter}
}
