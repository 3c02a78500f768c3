package patching

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMetricsMatchReference runs one sweep with every built-in metric (single answers and answer
// sets) against the reference loop's host metrics.
func TestMetricsMatchReference(t *testing.T) {
	cfg := testConfigs["gpt2-like"]
	m := refModel(t, cfg, 3, testScale["gpt2-like"])
	single := refPrompts(3, 6, cfg.DVocab, 5)
	sets := refPrompts(3, 6, cfg.DVocab, 5)
	sets.AnswerSets = [][]int{{1, 2, 3}, {4}, {5, 6}}
	sets.WrongSets = [][]int{{7, 8}, {9, 10, 11, 12}, {0}}
	for _, name := range MetricNames() {
		for pname, p := range map[string]*Prompts{"single": single, "sets": sets} {
			t.Run(name+"/"+pname, func(t *testing.T) {
				metric, err := MetricByName(name)
				require.NoError(t, err)
				e, err := NewExperiment(m, p, metric, Options{})
				require.NoError(t, err)
				ref := newRefSetup(t, m, p, name, Denoise)
				require.InDelta(t, ref.clean, e.Clean, refTol*math.Max(1, math.Abs(ref.clean)))
				require.InDelta(t, ref.corr, e.Corrupted, refTol*math.Max(1, math.Abs(ref.corr)))
				got, err := e.Patch(ResidPre, LayerPosSetter)
				require.NoError(t, err)
				want := ref.sweep(t, ResidPre, LayerPosSetter, metric.Normalized)
				requireClose(t, want, got.Scores, refTol, name)
				require.Greater(t, spread(want), 100*refTol)
				if name == "kl" {
					require.InDelta(t, 0, e.Clean, 1e-5, "KL of the clean run to itself")
				}
				if metric.Normalized {
					// Patching the whole residual stream before block 0 at every position
					// would restore the clean run; one position at the scored token gets
					// part of the way. Scores live on the 0 (corrupted) .. 1 (clean) scale.
					require.Equal(t, true, got.Normalized)
				}
			})
		}
	}
}

// TestHostMetric checks a user metric written as plain Go against the graph metric it mirrors.
func TestHostMetric(t *testing.T) {
	cfg := testConfigs["gpt2-like"]
	m := refModel(t, cfg, 3, testScale["gpt2-like"])
	p := refPrompts(3, 6, cfg.DVocab, 5)
	host := Metric{Name: "my_logit_diff", Host: func(logits []float32, i int, p *Prompts) float64 {
		return float64(logits[p.Answer[i]] - logits[p.Wrong[i]])
	}}
	eh, err := NewExperiment(m, p, host, Options{MaxRows: 4})
	require.NoError(t, err)
	eg, err := NewExperiment(m, p, LogitDiff(), Options{})
	require.NoError(t, err)
	gh, err := eh.Patch(Z, LayerHeadPosSetter)
	require.NoError(t, err)
	gg, err := eg.Patch(Z, LayerHeadPosSetter)
	require.NoError(t, err)
	requireClose(t, gg.Scores, gh.Scores, 1e-5, "host metric")
	require.Equal(t, "my_logit_diff", gh.Metric)
}

func TestMetricErrors(t *testing.T) {
	_, err := MetricByName("logit_dif")
	require.ErrorContains(t, err, `unknown metric "logit_dif"`)
	cfg := testConfigs["gpt2-like"]
	m := refModel(t, cfg, 3, 1)
	p := refPrompts(2, 5, cfg.DVocab, 5)
	p.Corrupted = p.Clean // identical runs: the normalised metric is undefined
	_, err = NewExperiment(m, p, NormLogitDiff(), Options{})
	require.ErrorContains(t, err, "normalised metric is undefined")
}
