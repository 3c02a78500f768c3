package patching

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEverySweepsStackTheNamedOnes(t *testing.T) {
	cfg := testConfigs["gpt2-like"]
	m := refModel(t, cfg, 3, testScale["gpt2-like"])
	p := refPrompts(3, 6, cfg.DVocab, 5)
	e, err := NewExperiment(m, p, LogitDiff(), Options{})
	require.NoError(t, err)

	every, err := e.HeadByPosEvery()
	require.NoError(t, err)
	require.Equal(t, []int{5, 2, 4, 6}, every.Dims())
	require.Equal(t, []string{"z", "q", "k", "v", "pattern"}, every.Axes[0].Labels)
	q, err := e.HeadQByPos()
	require.NoError(t, err)
	pat, err := e.HeadPatternByPos()
	require.NoError(t, err)
	require.Equal(t, q.At(1, 3, 4), every.At(1, 1, 3, 4))
	require.Equal(t, pat.At(0, 2, 5), every.At(4, 0, 2, 5))

	block, err := e.BlockEvery()
	require.NoError(t, err)
	require.Equal(t, []int{3, 2, 6}, block.Dims())
	all, err := e.HeadAllPosEvery()
	require.NoError(t, err)
	require.Equal(t, []int{5, 2, 4}, all.Dims())
	src, err := e.HeadPatternDestSrc()
	require.NoError(t, err)
	require.Equal(t, []int{2, 4, 6, 6}, src.Dims())
	// Patching attention to a later source position (masked, 0 in both runs) changes nothing.
	require.InDelta(t, e.Corrupted, src.At(1, 2, 1, 4), 1e-5)
}

func TestResultNestedIsLayerMajor(t *testing.T) {
	r := &Result{Scores: []float64{0, 1, 2, 3, 4, 5}, Axes: []Axis{numberedAxis("layer", 2), numberedAxis("head", 3)}}
	b, err := json.Marshal(r.Nested())
	require.NoError(t, err)
	require.JSONEq(t, `[[0,1,2],[3,4,5]]`, string(b))
	require.Equal(t, 5.0, r.At(1, 2))
	r3 := &Result{Scores: []float64{0, 1, 2, 3, 4, 5, 6, 7}, Axes: []Axis{numberedAxis("a", 2), numberedAxis("b", 2), numberedAxis("c", 2)}}
	b, _ = json.Marshal(r3.Nested())
	require.JSONEq(t, `[[[0,1],[2,3]],[[4,5],[6,7]]]`, string(b))
	require.InDelta(t, 1, Correlation([]float64{1, 2, 3}, []float64{2, 4, 6.5}), 0.01)
}

func TestPatchErrors(t *testing.T) {
	cfg := testConfigs["attn-only"]
	m := refModel(t, cfg, 3, 1)
	p := refPrompts(2, 5, cfg.DVocab, 5)
	e, err := NewExperiment(m, p, LogitDiff(), Options{})
	require.NoError(t, err)
	_, err = e.Patch(MLPOut, LayerPosSetter)
	require.ErrorContains(t, err, "attention-only")
	_, err = e.Patch(Z, LayerPosSetter)
	require.ErrorContains(t, err, `setter "pos" applies to [pos, d] activations, component z is [pos, head, d]`)
	_, err = e.Patch(Z, LayerHeadSetter, 5)
	require.ErrorContains(t, err, "layer 5 outside [0, 2)")
	_, err = ParseComponent("zz")
	require.ErrorContains(t, err, `unknown component "zz"`)

	bad := refPrompts(2, 5, cfg.DVocab, 5)
	bad.Pos[1] = 5
	_, err = NewExperiment(m, bad, LogitDiff(), Options{})
	require.ErrorContains(t, err, "row 1: scored position 5 outside [0, 5)")
	bad = refPrompts(2, 5, cfg.DVocab, 5)
	bad.Corrupted[0] = bad.Corrupted[0][:4]
	_, err = NewExperiment(m, bad, LogitDiff(), Options{})
	require.ErrorContains(t, err, "corrupted row 0 has 4 tokens")
	bad = refPrompts(2, 5, cfg.DVocab, 5)
	bad.Answer[1] = 99
	_, err = NewExperiment(m, bad, LogitDiff(), Options{})
	require.ErrorContains(t, err, "row 1: answer token 99 outside the vocabulary")
}
