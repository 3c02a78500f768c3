package patching

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPatchedLogitsReproduceTheCell reruns cells of sweeps as plain forward passes with one patch
// and checks that the logit difference of the returned logits, averaged over the prompts, is the
// sweep's score for that cell (the sweep runs a batched suffix from the cached residual stream, a
// different path; the tolerance is refTol, as for the reference loop).
func TestPatchedLogitsReproduceTheCell(t *testing.T) {
	cases := []struct {
		comp Component
		s    Setter
	}{{Z, LayerHeadPosSetter}, {ResidPre, LayerPosSetter}, {Pattern, PatternHeadDestSetter}, {V, LayerHeadSetter}}
	for name, cfg := range testConfigs {
		m := refModel(t, cfg, 3, testScale[name])
		p := refPrompts(3, 6, cfg.DVocab, 5)
		for _, opt := range []Options{{}, {Direction: Noise}, {Ablation: MeanAblation}} {
			e, err := NewExperiment(m, p, LogitDiff(), opt)
			require.NoError(t, err)
			for _, tc := range cases {
				res, err := e.Patch(tc.comp, tc.s)
				require.NoError(t, err, "%s %s", name, tc.comp)
				nv := len(res.Scores) / cfg.NLayers
				for _, cell := range []int{0, nv / 2, nv - 1, len(res.Scores) - 1} {
					l, v := cell/nv, cell%nv
					logits, err := e.PatchedLogits(tc.comp, tc.s, l, v)
					require.NoError(t, err)
					require.Len(t, logits, p.N())
					var ld float64
					for n, row := range logits {
						ld += float64(row[p.Answer[n]]) - float64(row[p.Wrong[n]])
					}
					ld /= float64(p.N())
					require.InDelta(t, res.Scores[cell], ld, refTol, "%s %s/%s %v cell %d", name, tc.comp, tc.s.Name, opt, cell)
				}
			}
		}
	}
	m := refModel(t, testConfigs["gpt2-like"], 3, 8)
	e, err := NewExperiment(m, refPrompts(3, 6, 23, 5), LogitDiff(), Options{})
	require.NoError(t, err)
	_, err = e.PatchedLogits(Z, LayerHeadSetter, 2, 0)
	require.ErrorContains(t, err, "layer 2 out of range")
	_, err = e.PatchedLogits(Z, LayerHeadSetter, 0, 4)
	require.ErrorContains(t, err, "variant 4 out of range")
	_, err = e.PatchedLogits(Z, LayerPosSetter, 0, 0)
	require.ErrorContains(t, err, "applies to")
}
