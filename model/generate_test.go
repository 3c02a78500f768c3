package model

import (
	"fmt"

	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/hooks"
)

// generationModels are the models the generation tests decode with: every family's golden
// checkpoint (real loaders, windows, soft-caps, GQA, rotary scaling) and the random test configs.
func generationModels(t *testing.T) map[string]*Model {
	t.Helper()
	out := map[string]*Model{}
	dirs, err := filepath.Glob("../testdata/golden-families/*/expected.safetensors")
	require.NoError(t, err)
	require.NotEmpty(t, dirs, "no goldens; regenerate with /usr/bin/python3 testdata/ref/families_ref.py")
	for _, path := range dirs {
		m, _, _ := loadGolden(t, path)
		out[filepath.Base(filepath.Dir(path))] = m
	}
	for name, c := range testConfigs {
		out[name] = testModel(t, c, 3)
	}
	// The shortformer golden: its W_pos (std 0.3) moves the queries and keys, where the random
	// test config's (std 0.01) barely does.
	w, err := Load("../testdata/golden/attn-only-tiny-shortformer")
	require.NoError(t, err)
	b, name := MustNewBackend("")
	sf, err := New(w, b, name)
	require.NoError(t, err)
	out["attn-only-tiny-shortformer"] = sf
	return out
}

// lastLogits is the full forward pass's logits [V] at the last position of each row.
func lastLogits(t *testing.T, m *Model, rows [][]int, set *hooks.Set) [][]float32 {
	t.Helper()
	tok, err := Tokens(rows)
	require.NoError(t, err)
	out, err := m.Run(tok, set)
	require.NoError(t, err)
	dims := out.Logits.Shape().Dimensions
	P, V := dims[1], dims[2]
	flat := floats(out.Logits)
	res := make([][]float32, len(rows))
	for b := range rows {
		res[b] = flat[(b*P+P-1)*V : (b*P+P)*V]
	}
	return res
}

// decodeTolerance bounds |cached - full| for one logit. The two compute the same sums over the
// same visible terms; they differ in the reductions' lengths and blocking (a masked slot adds an
// exact zero, but BLAS kernels split a length-T dot product differently from a length-P one), so
// each reduction of n <= 64 terms may round differently, by up to n*eps32 relative. Through L
// layers of size-|x| activations that compounds to about L*n*eps32*|x|; with the logits' largest
// magnitude as |x| and a factor 4 for the norms' divisions and the softmax, the bound is
// 4*L*64*eps32*(1+max|logit|). A wrong position, mask or cache slot moves logits by 1e-2 or more.
func decodeTolerance(m *Model, logits []float32) float64 {
	big := 0.0
	for _, x := range logits {
		big = max(big, math.Abs(float64(x)))
	}
	return 4 * float64(m.Config.NLayers) * 64 * 0x1p-23 * (1 + big)
}

func maxDiff(a, b []float32) float64 {
	worst := 0.0
	for i := range a {
		worst = max(worst, math.Abs(float64(a[i]-b[i])))
	}
	return worst
}

// promptsFor returns two prompts of different lengths (so the shorter is left-padded) and a
// number of new tokens that fits n_ctx and, on the windowed models, runs past the window.
func promptsFor(m *Model) ([][]int, int) {
	V := m.Config.DVocab
	long := []int{1 % V, 7 % V, 3 % V, 9 % V, 4 % V, 2 % V}
	short := []int{5 % V, 8 % V, 6 % V}
	maxNew := min(8, m.Config.NCtx-len(long)+1)
	return [][]int{short, long}, maxNew
}

// TestCachedDecodingMatchesForward: on every family's model, the logits that cached decoding
// chooses each token from equal the full forward pass's last-position logits on the sequence so
// far, for a left-padded batch, with and without the key/value cache.
func TestCachedDecodingMatchesForward(t *testing.T) {
	for name, m := range generationModels(t) {
		t.Run(name, func(t *testing.T) {
			prompts, maxNew := promptsFor(m)
			for _, noCache := range []bool{false, true} {
				comps, err := m.Generate(prompts, GenerateOptions{MaxNew: maxNew, KeepLogits: true, NoCache: noCache})
				require.NoError(t, err)
				require.Equal(t, 2, len(comps), "completions")
				worst := 0.0
				for _, cp := range comps {
					require.Len(t, cp.Tokens, maxNew)
					seq := append([]int(nil), prompts[cp.Prompt]...)
					for i, id := range cp.Tokens {
						want := lastLogits(t, m, [][]int{seq}, nil)[0]
						d := maxDiff(cp.Logits[i], want)
						require.LessOrEqual(t, d, decodeTolerance(m, want), "prompt %d, step %d (noCache %v): max |cached - full|", cp.Prompt, i, noCache)
						worst = max(worst, d)
						seq = append(seq, id)
					}
				}
				t.Logf("noCache=%v: %d steps x 2 prompts, worst |diff| %.2g", noCache, maxNew, worst)
			}
		})
	}
}

// TestPaddedRowGeneratesAlone: a prompt decoded in a batch with a longer one (so left-padded)
// produces the tokens it produces alone, greedy and sampled, and logits within rounding.
func TestPaddedRowGeneratesAlone(t *testing.T) {
	for name, m := range generationModels(t) {
		t.Run(name, func(t *testing.T) {
			prompts, maxNew := promptsFor(m)
			for _, opt := range []GenerateOptions{
				{MaxNew: maxNew, KeepLogits: true},
				{MaxNew: maxNew, KeepLogits: true, Temperature: 1.5, TopK: 10, TopP: 0.95, Seed: 11, Samples: 2},
			} {
				batch, err := m.Generate(prompts, opt)
				require.NoError(t, err)
				alone, err := m.Generate(prompts[:1], opt)
				require.NoError(t, err)
				samples := max(1, opt.Samples)
				require.Equal(t, 2*samples, len(batch), "completions in the batch")
				require.Equal(t, samples, len(alone), "completions alone")
				for j, a := range alone {
					b := batch[j] // prompt 0's completions come first
					require.Equal(t, 0, b.Prompt)
					require.Equal(t, a.Sample, b.Sample)
					require.Equal(t, a.Tokens, b.Tokens, "sample %d: padded row vs alone (temperature %g)", j, opt.Temperature)
					for i := range a.Logits {
						require.LessOrEqual(t, maxDiff(a.Logits[i], b.Logits[i]), decodeTolerance(m, a.Logits[i]), "sample %d, step %d", j, i)
					}
				}
			}
		})
	}
}

// TestGenerateWithHooks: hooks apply during cached decoding as in a full forward pass. With scope
// all, a steering vector (a [D] direction added at every position) and a head ablation give the
// logits the full forward pass with the same hooks gives on the sequence so far; with scope
// generated the first token, predicted at the prompt's last position, is the plain model's.
func TestGenerateWithHooks(t *testing.T) {
	models := generationModels(t)
	for _, name := range []string{"gpt2-like", "llama-like", "gemma3-local-rope-bf16", "pythia-parallel"} {
		m := models[name]
		c := m.Config
		dir := make([]float32, c.DModel)
		for i := range dir {
			dir[i] = float32(math.Sin(float64(3*i+1))) * 2
		}
		sets := map[string]func() *hooks.Set{
			"steer": func() *hooks.Set { return hooks.New().Add(hooks.ResidPost(0), tensors.FromValue(dir)) },
			"ablate-head": func() *hooks.Set {
				return hooks.New().Func(hooks.Z(c.NLayers-1), "zero-head-0", func(x *graph.Node, _ []*graph.Node) *graph.Node {
					dims := x.Shape().Dimensions
					keep := make([]float32, dims[2])
					for h := 1; h < dims[2]; h++ {
						keep[h] = 1
					}
					return graph.Mul(x, graph.Reshape(graph.Const(x.Graph(), keep), 1, 1, dims[2], 1))
				})
			},
		}
		for setName, mk := range sets {
			t.Run(name+"/"+setName, func(t *testing.T) {
				prompts, maxNew := promptsFor(m)
				comps, err := m.Generate(prompts, GenerateOptions{MaxNew: maxNew, KeepLogits: true, Hooks: mk()})
				require.NoError(t, err)
				plain, err := m.Generate(prompts, GenerateOptions{MaxNew: 1, KeepLogits: true})
				require.NoError(t, err)
				moved := 0.0
				for i, cp := range comps {
					seq := append([]int(nil), prompts[cp.Prompt]...)
					for s, id := range cp.Tokens {
						want := lastLogits(t, m, [][]int{seq}, mk())[0]
						require.LessOrEqual(t, maxDiff(cp.Logits[s], want), decodeTolerance(m, want), "prompt %d, step %d", cp.Prompt, s)
						seq = append(seq, id)
					}
					moved = max(moved, maxDiff(cp.Logits[0], plain[i].Logits[0]))
				}
				require.Greater(t, moved, 1e-3, "the hooks change the logits")

				gen, err := m.Generate(prompts, GenerateOptions{MaxNew: 2, KeepLogits: true, Hooks: mk(), Scope: ScopeGenerated})
				require.NoError(t, err)
				for i, cp := range gen {
					require.LessOrEqual(t, maxDiff(cp.Logits[0], plain[i].Logits[0]), decodeTolerance(m, plain[i].Logits[0]), "scope generated leaves the first token's logits alone")
				}
			})
		}
	}
}

// TestGenerateRefusesBadInput: bad options and prompts are one-line errors naming the problem,
// found before any work.
func TestGenerateRefusesBadInput(t *testing.T) {
	m := testModel(t, testConfigs["gpt2-like"], 1)
	c := m.Config
	cases := []struct {
		prompts [][]int
		opt     GenerateOptions
		want    string
	}{
		{[][]int{{1}}, GenerateOptions{}, "max new tokens 0"},
		{nil, GenerateOptions{MaxNew: 1}, "no prompts"},
		{[][]int{{}}, GenerateOptions{MaxNew: 1}, "prompt 0 is empty"},
		{[][]int{{1, c.DVocab}}, GenerateOptions{MaxNew: 1}, "prompt 0, position 1: token id"},
		{[][]int{{1}}, GenerateOptions{MaxNew: c.NCtx + 1}, "n_ctx"},
		{[][]int{{1}}, GenerateOptions{MaxNew: 1, TopP: 2}, "top-p"},
		{[][]int{{1}}, GenerateOptions{MaxNew: 1, Stop: []int{-1}}, "stop id -1"},
		{[][]int{{1}}, GenerateOptions{MaxNew: 1, Scope: "middle"}, `unknown hook scope "middle"`},
		{[][]int{{1}}, GenerateOptions{MaxNew: 1, Hooks: hooks.New().Cache(hooks.ResidPost(0))}, "cache activations"},
		{[][]int{{1}}, GenerateOptions{MaxNew: 1, Hooks: hooks.New().Zero("blocks.9.hook_resid_post")}, "blocks.9.hook_resid_post"},
		{[][]int{{1}}, GenerateOptions{MaxNew: 1, Hooks: hooks.New().Add(hooks.ResidPost(0), tensors.FromValue(make([]float32, c.DModel+1)))}, "broadcast"},
	}
	for _, tc := range cases {
		_, err := m.Generate(tc.prompts, tc.opt)
		require.ErrorContains(t, err, tc.want)
		require.NotContains(t, err.Error(), "\n", "one line")
	}
}

// TestGenerateStopsAndSamples: a stop token ends a completion (kept as its last token), sampling
// is reproducible by seed, and samples of one prompt differ.
func TestGenerateStopsAndSamples(t *testing.T) {
	m := testModel(t, testConfigs["gpt2-like"], 1)
	prompts := [][]int{{1, 2, 3}}
	greedy, err := m.Generate(prompts, GenerateOptions{MaxNew: 5})
	require.NoError(t, err)
	stop := greedy[0].Tokens[1]
	stopped, err := m.Generate(prompts, GenerateOptions{MaxNew: 5, Stop: []int{stop}})
	require.NoError(t, err)
	first := 0
	for greedy[0].Tokens[first] != stop {
		first++
	}
	require.Equal(t, greedy[0].Tokens[:first+1], stopped[0].Tokens)
	require.True(t, stopped[0].Stopped)

	opt := GenerateOptions{MaxNew: 6, Temperature: 2, Seed: 5, Samples: 4}
	a, err := m.Generate(prompts, opt)
	require.NoError(t, err)
	b, err := m.Generate(prompts, opt)
	require.NoError(t, err)
	distinct := map[string]bool{}
	for i := range a {
		require.Equal(t, a[i].Tokens, b[i].Tokens, "same seed, same sample")
		distinct[fmt.Sprint(a[i].Tokens)] = true
	}
	require.Greater(t, len(distinct), 1, "4 samples at temperature 2 are not all equal")
}

// TestGenerateFallsBackToPureGo: a generation hook with an op fastcpu lacks (BitwiseAnd) runs the
// generation on the pure-Go backend and gives the same tokens and logits.
func TestGenerateFallsBackToPureGo(t *testing.T) {
	c := testConfigs["llama-like"]
	w, err := NewRandomWeights(c, 8)
	require.NoError(t, err)
	b, name := MustNewBackend("fastcpu")
	m, err := New(w, b, name)
	require.NoError(t, err)
	prompts := [][]int{{1, 2, 3}, {4, 5}}
	plain, err := m.Generate(prompts, GenerateOptions{MaxNew: 4, KeepLogits: true})
	require.NoError(t, err)
	set := hooks.New().Func(hooks.ResidPre(1), "bitwise-noop", func(x *graph.Node, _ []*graph.Node) *graph.Node {
		i := graph.ConvertDType(x, dtypes.Int32)
		bits := graph.ConvertDType(graph.BitwiseAnd(i, i), dtypes.Float32)
		return graph.Add(x, graph.MulScalar(bits, 0))
	})
	got, err := m.Generate(prompts, GenerateOptions{MaxNew: 4, KeepLogits: true, Hooks: set})
	require.NoError(t, err)
	require.NotNil(t, m.fallback, "ran on the fallback model")
	for i := range plain {
		require.Equal(t, plain[i].Tokens, got[i].Tokens)
		for s := range plain[i].Logits {
			require.LessOrEqual(t, maxDiff(plain[i].Logits[s], got[i].Logits[s]), decodeTolerance(m, plain[i].Logits[s]))
		}
	}
}
