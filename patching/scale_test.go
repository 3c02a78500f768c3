package patching

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// TestScaleHeads checks the scaled runs against an independent path: the heads' hook_z taken
// from a run, multiplied by the factor outside the graph and put back with Replace, layer by
// layer (layer 1's z is read from the run with layer 0 already replaced).
func TestScaleHeads(t *testing.T) {
	for name, cfg := range testConfigs {
		m := refModel(t, cfg, 3, testScale[name])
		p := refPrompts(5, 6, cfg.DVocab, 9)
		heads := []Head{{0, 2}, {1, 1}, {1, 3}}
		factors := []float64{1, 0, 2.5}
		got, err := ScaleHeads(m, p, heads, factors)
		require.NoError(t, err, name)
		tokens, err := model.Tokens(p.Clean)
		require.NoError(t, err)
		for fi, f := range factors {
			replaced := map[string]*tensors.Tensor{}
			withReplaced := func() *hooks.Set {
				s := hooks.New()
				for name, z := range replaced {
					s.Replace(name, z)
				}
				return s
			}
			for l := range cfg.NLayers {
				out, err := m.Run(tokens, withReplaced().Cache(hooks.Z(l)))
				require.NoError(t, err)
				z := tensors.MustCopyFlatData[float32](out.Cache.MustGet(hooks.Z(l)))
				dims := out.Cache.MustGet(hooks.Z(l)).Shape().Dimensions // [N, P, H, dh]
				H, dh := dims[2], dims[3]
				for _, h := range heads {
					if h.Layer != l {
						continue
					}
					for i := range z {
						if (i/dh)%H == h.Head {
							z[i] *= float32(f)
						}
					}
				}
				replaced[hooks.Z(l)] = tensors.FromFlatDataAndDimensions(z, dims...)
			}
			out, err := m.Run(tokens, withReplaced())
			require.NoError(t, err)
			logits := tensors.MustCopyFlatData[float32](out.Logits)
			var ld, acc float64
			P, V := p.Len(), cfg.DVocab
			for i := range p.N() {
				row := logits[(i*P+p.Pos[i])*V:][:V]
				d := float64(row[p.Answer[i]]) - float64(row[p.Wrong[i]])
				ld += d / float64(p.N())
				if d > 0 {
					acc += 1 / float64(p.N())
				}
			}
			require.InDelta(t, ld, got[fi].LogitDiff, refTol, "%s factor %g", name, f)
			require.InDelta(t, acc, got[fi].Accuracy, 1e-9, "%s factor %g", name, f)
		}
		// The factor changes the result: 0 and 2.5 differ from the plain model.
		require.Greater(t, abs(got[1].LogitDiff-got[0].LogitDiff)+abs(got[2].LogitDiff-got[0].LogitDiff), 1e-3, name)
	}
	m := refModel(t, testConfigs["gpt2-like"], 3, 8)
	p := refPrompts(3, 6, 23, 5)
	_, err := ScaleHeads(m, p, []Head{{2, 0}}, []float64{2})
	require.ErrorContains(t, err, "head 2.0 out of range")
	_, err = ScaleHeads(m, p, []Head{{1, 0}, {1, 0}}, []float64{2})
	require.ErrorContains(t, err, "head 1.0 is listed twice")
	p.AnswerSets, p.WrongSets = [][]int{{1}, {2}, {3}}, [][]int{{4}, {5}, {6}}
	_, err = ScaleHeads(m, p, []Head{{1, 0}}, []float64{2})
	require.ErrorContains(t, err, "sets of answers")
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
