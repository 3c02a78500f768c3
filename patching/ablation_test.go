package patching

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAblationsMatchReference checks zero, mean and resample ablation (in the clean run) against
// the reference loop with the same source values built on the host.
func TestAblationsMatchReference(t *testing.T) {
	cfg := testConfigs["gpt2-like"]
	m := refModel(t, cfg, 3, testScale["gpt2-like"])
	p := refPrompts(3, 6, cfg.DVocab, 5)
	reference := refPrompts(4, 6, cfg.DVocab, 9).Clean
	for _, abl := range []Ablation{ZeroAblation, MeanAblation, ResampleAblation} {
		e, err := NewExperiment(m, p, LogitDiff(), Options{Ablation: abl, Reference: reference, Seed: 7, MaxRows: 5})
		require.NoError(t, err)
		ref := newRefSetup(t, m, p, "logit_diff", Noise) // target: the clean run
		ref.source = func(name string) []float32 {
			refActs, dims := refCache(t, m, reference, name)
			size := len(refActs) / dims[0]
			out := make([]float32, p.N()*size)
			for n := range p.N() {
				for j := range size {
					switch abl {
					case MeanAblation:
						var s float64
						for r := range dims[0] {
							s += float64(refActs[r*size+j])
						}
						out[n*size+j] = float32(s / float64(dims[0]))
					case ResampleAblation:
						out[n*size+j] = refActs[e.resampled[n]*size+j]
					}
				}
			}
			return out
		}
		for _, tc := range []struct {
			comp Component
			s    Setter
		}{{ResidPre, LayerPosSetter}, {Z, LayerHeadSetter}, {MLPOut, LayerPosSetter}, {Pattern, PatternHeadSetter}} {
			t.Run(fmt.Sprintf("%s/%s/%s", abl, tc.comp, tc.s.Name), func(t *testing.T) {
				got, err := e.Patch(tc.comp, tc.s)
				require.NoError(t, err)
				require.Equal(t, abl.String(), got.Source)
				want := ref.sweep(t, tc.comp, tc.s, false)
				requireClose(t, want, got.Scores, refTol, string(tc.comp))
				require.Greater(t, spread(want), 100*refTol)
			})
		}
	}
	// The resample draw uses several reference rows, not one.
	e, err := NewExperiment(m, p, LogitDiff(), Options{Ablation: ResampleAblation, Reference: reference, Seed: 7})
	require.NoError(t, err)
	require.Len(t, e.resampled, 3)
}
