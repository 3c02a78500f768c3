package model

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"
)

// logSoftmaxRows returns log_softmax over the last axis of flat logits with v columns, in float64.
func logSoftmaxRows(x []float32, v int) []float64 {
	out := make([]float64, len(x))
	for r := 0; r < len(x); r += v {
		m := math.Inf(-1)
		for _, a := range x[r : r+v] {
			m = math.Max(m, float64(a))
		}
		var s float64
		for _, a := range x[r : r+v] {
			s += math.Exp(float64(a) - m)
		}
		for i := r; i < r+v; i++ {
			out[i] = float64(x[i]) - m - math.Log(s)
		}
	}
	return out
}

// TestProcessKeepsTheFunction: on every family's golden checkpoint, every applicable step, and all
// of them together, leave the logits as they were (the log-probabilities, with center_unembed).
//
// Tolerance: processing only re-associates float32 sums (a gain multiplied into a weight before
// rather than after the matmul, a mean subtracted before the norm subtracts it again), so each
// activation moves by a few float32 roundings of its reductions, ~ n*eps32*|terms| with n <= 64 and
// terms ~10: 1e-4 bounds it with room; a step applied wrongly moves logits by O(1).
func TestProcessKeepsTheFunction(t *testing.T) {
	dirs, err := filepath.Glob("../testdata/golden-families/*/config.json")
	require.NoError(t, err)
	dirs = append(dirs, "../testdata/golden/gpt2-tiny/config.json", "../testdata/golden/gpt2-tiny-untied/config.json",
		"../testdata/golden/attn-only-tiny-shortformer/config.json")
	b, backendName := MustNewBackend("")
	for _, cfg := range dirs {
		dir := filepath.Dir(cfg)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			w, err := Load(dir)
			require.NoError(t, err)
			rows, err := ReadTokensFile(filepath.Join(dir, "tokens.json"))
			require.NoError(t, err)
			tok, err := Tokens(rows)
			require.NoError(t, err)
			logits := func(w *Weights) []float32 {
				m, err := New(w, b, backendName)
				require.NoError(t, err)
				out, err := m.Run(tok, nil)
				require.NoError(t, err)
				return tensors.MustCopyFlatData[float32](out.Logits)
			}
			raw := logits(w)
			V := w.Config.DVocab
			rawLP := logSoftmaxRows(raw, V)
			check := func(steps []string, got []float32) {
				worst := 0.0
				if slices.Contains(steps, CenterUnembed) { // logits move by a constant per position
					for i, lp := range logSoftmaxRows(got, V) {
						worst = max(worst, math.Abs(lp-rawLP[i]))
					}
				} else {
					for i := range raw {
						worst = max(worst, math.Abs(float64(got[i]-raw[i])))
					}
				}
				require.LessOrEqual(t, worst, 1e-4, "%v", steps)
			}
			var admissible []string
			for _, step := range ProcessSteps() {
				p, err := Process(w, []string{step})
				if err != nil {
					t.Logf("%s: %v", step, err) // a step this layout does not admit says why
					continue
				}
				admissible = append(admissible, step)
				check([]string{step}, logits(p))
			}
			p, err := Process(w, admissible) // together, in TransformerLens's order
			require.NoError(t, err)
			check(admissible, logits(p))
			applied := len(admissible)
			require.GreaterOrEqual(t, applied, 2, "fold_ln and fold_value_biases apply to every family")
		})
	}
}

func TestProcessFoldsAndErrors(t *testing.T) {
	w, err := Load("../testdata/golden/gpt2-tiny")
	require.NoError(t, err)
	p, err := Process(w, []string{FoldLN, FoldValueBiases})
	require.NoError(t, err)
	require.False(t, p.Config.TiedEmbeddings, "fold_ln unties the unembedding")
	require.True(t, p.Config.UnembedBias, "a LayerNorm's bias becomes b_U")
	for _, v := range p.Flat("blocks.0.ln1.w") {
		require.Equal(t, float32(1), v)
	}
	for _, v := range p.Flat("blocks.1.attn.b_V") {
		require.Zero(t, v)
	}
	require.NotEqual(t, w.Flat("blocks.0.ln1.w")[0], float32(1), "the original is left as it was")
	// Saved and loaded back (interp's own layout: GPT-2's has no b_U), the processed model is the same.
	dir := t.TempDir()
	require.NoError(t, Save(p, dir))
	back, err := Load(dir)
	require.NoError(t, err)
	require.Equal(t, p.Config, back.Config)
	require.Equal(t, p.Flat("unembed.b_U"), back.Flat("unembed.b_U"))

	_, err = ParseProcess("fold_ln,center_everything")
	require.ErrorContains(t, err, `unknown processing step "center_everything"`)
	steps, err := ParseProcess("none")
	require.NoError(t, err)
	require.Empty(t, steps)

	g, err := Load("../testdata/golden-families/llama-gqa-bf16-sharded")
	require.NoError(t, err)
	_, err = Process(g, []string{CenterWritingWeights})
	require.ErrorContains(t, err, "needs LayerNorm")
	sf, err := Load("../testdata/golden/attn-only-tiny-shortformer")
	require.NoError(t, err)
	_, err = Process(sf, []string{FoldLN})
	require.ErrorContains(t, err, "shortformer")
	gm, err := Load("../testdata/golden-families/gemma2-softcap")
	require.NoError(t, err)
	_, err = Process(gm, []string{CenterUnembed})
	require.ErrorContains(t, err, "soft-capping")
}
