package model

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/hooks"
)

// testConfigs are small configs covering every architectural switch.
var testConfigs = map[string]Config{
	"gpt2-like": {NLayers: 2, DModel: 16, NHeads: 4, DHead: 4, DMLP: 32, NCtx: 12, DVocab: 23,
		Act: GeluNew, Normalization: LayerNorm, PositionalEmbeddings: true, TiedEmbeddings: true, LNEps: 1e-5},
	"attn-only": AttnOnlyToy(2, 4, 16, 23, 12),
	"untied-gelu-dhead": {NLayers: 1, DModel: 12, NHeads: 2, DHead: 8, DMLP: 20, NCtx: 8, DVocab: 11,
		Act: Gelu, Normalization: LayerNorm, PositionalEmbeddings: false, TiedEmbeddings: false, LNEps: 1e-5},
	"llama-like": {NLayers: 2, DModel: 16, NHeads: 4, NKVHeads: 2, DHead: 4, DMLP: 24, NCtx: 12, DVocab: 23,
		Act: Silu, Normalization: RMS, LNEps: 1e-6, GatedMLP: true, RotaryDim: 4, RotaryBase: 10000},
	"pythia-like": {NLayers: 2, DModel: 16, NHeads: 2, DHead: 8, DMLP: 32, NCtx: 12, DVocab: 23,
		Act: Gelu, Normalization: LayerNorm, LNEps: 1e-5, ParallelResidual: true, RotaryDim: 2, RotaryBase: 10000},
	"gemma-like": {NLayers: 2, DModel: 16, NHeads: 2, NKVHeads: 1, DHead: 8, DMLP: 24, NCtx: 12, DVocab: 23,
		Act: GeluNew, Normalization: RMS, LNEps: 1e-6, GatedMLP: true, RotaryDim: 8, RotaryBase: 1e6, RotaryBaseLocal: 1e4,
		NormPlacement: PrePostNorm, QKNorm: QKNormHead, AttnScale: 3, AttnSoftcap: 5, OutputSoftcap: 4,
		WindowSize: 3, LocalLayers: []bool{true, false}, EmbedScale: 4, TiedEmbeddings: true},
	"shortformer": {NLayers: 2, DModel: 16, NHeads: 4, DHead: 4, NCtx: 12, DVocab: 23, Act: Relu,
		Normalization: LayerNorm, LNEps: 1e-5, AttnOnly: true, PositionalEmbeddings: true, Shortformer: true},
	"olmo-like": {NLayers: 1, DModel: 16, NHeads: 2, DHead: 8, DMLP: 24, NCtx: 12, DVocab: 23,
		Act: Silu, Normalization: RMS, LNEps: 1e-6, GatedMLP: true, RotaryDim: 8, NormPlacement: PostNorm, QKNorm: QKNormProj},
}

func testModel(t testing.TB, c Config, seed uint64) *Model {
	t.Helper()
	w, err := NewRandomWeights(c, seed)
	require.NoError(t, err)
	b, name := MustNewBackend("") // $GOMLX_BACKEND, else the default order
	m, err := New(w, b, name)
	require.NoError(t, err)
	return m
}

func randTokens(t testing.TB, batch, pos, vocab int, seed int) *tensors.Tensor {
	rows := make([][]int, batch)
	x := seed
	for b := range rows {
		rows[b] = make([]int, pos)
		for p := range rows[b] {
			x = (x*1103515245 + 12345) & 0x7fffffff
			rows[b][p] = x % vocab
		}
	}
	tok, err := Tokens(rows)
	require.NoError(t, err)
	return tok
}

func floats(t *tensors.Tensor) []float32 { return tensors.MustCopyFlatData[float32](t) }

// TestHookPointsMatchForward runs every config with CacheAll and checks that the forward pass
// visits exactly the listed hook points, with the listed shapes.
func TestHookPointsMatchForward(t *testing.T) {
	for name, c := range testConfigs {
		t.Run(name, func(t *testing.T) {
			m := testModel(t, c, 1)
			out, err := m.Run(randTokens(t, 2, 5, c.DVocab, 7), hooks.New().CacheAll())
			require.NoError(t, err)
			specs := HookPoints(c, 2, 5)
			var want []string
			for _, s := range specs {
				want = append(want, s.Name)
				got, ok := out.Cache.Get(s.Name)
				require.True(t, ok, "hook %s not cached", s.Name)
				require.Equal(t, s.Shape, got.Shape().Dimensions, "shape of %s", s.Name)
			}
			require.ElementsMatch(t, want, out.Cache.Names())
			require.Equal(t, []int{2, 5, c.DVocab}, out.Logits.Shape().Dimensions)
		})
	}
}

// TestResidualIdentities checks the algebra that ties hooks together: resid_post = resid_pre +
// attn_out (+ mlp_out), attn_out = sum of head results + b_O, the pattern rows sum to one and
// are causal, and a run without hooks gives the same logits as one that caches everything.
func TestResidualIdentities(t *testing.T) {
	c := testConfigs["gpt2-like"]
	m := testModel(t, c, 2)
	tok := randTokens(t, 2, 6, c.DVocab, 3)
	out := m.MustRun(tok, hooks.New().CacheAll())
	plain := m.MustRun(tok, nil)
	requireClose(t, floats(plain.Logits), floats(out.Logits), 1e-5, "logits with and without cache")

	get := func(n string) []float32 { return floats(out.Cache.MustGet(n)) }
	for l := range c.NLayers {
		pre, mid, post := get(hooks.ResidPre(l)), get(hooks.ResidMid(l)), get(hooks.ResidPost(l))
		attn, mlpOut := get(hooks.AttnOut(l)), get(hooks.MLPOut(l))
		sum := make([]float32, len(pre))
		for i := range pre {
			sum[i] = pre[i] + attn[i]
		}
		requireClose(t, mid, sum, 1e-5, "resid_mid")
		for i := range pre {
			sum[i] = mid[i] + mlpOut[i]
		}
		requireClose(t, post, sum, 1e-5, "resid_post")

		res := get(hooks.Result(l)) // [B, P, H, D]
		bO := m.Weights.Flat(blockName(l, "attn.b_O"))
		D, H := c.DModel, c.NHeads
		heads := make([]float32, len(attn))
		for i := range heads {
			bp, d := i/D, i%D
			v := bO[d]
			for h := range H {
				v += res[(bp*H+h)*D+d]
			}
			heads[i] = v
		}
		requireClose(t, attn, heads, 1e-5, "attn_out vs head results")

		pat := get(hooks.Pattern(l)) // [B, H, P, P]
		P := 6
		for row := range len(pat) / P {
			q := row % P
			var s float64
			for k := range P {
				s += float64(pat[row*P+k])
				if k > q {
					require.Zero(t, pat[row*P+k], "pattern attends to the future at row %d key %d", row, k)
				}
			}
			require.InDelta(t, 1, s, 1e-5)
		}
	}
}

// TestHooksReplaceAddZero checks that hooks change the run as documented.
func TestHooksReplaceAddZero(t *testing.T) {
	c := testConfigs["gpt2-like"]
	m := testModel(t, c, 3)
	tok := randTokens(t, 2, 4, c.DVocab, 5)
	clean := m.MustRun(tok, hooks.New().CacheAll())

	// Zeroing every attention and MLP output leaves logits = unembed(ln(embed + pos)).
	set := hooks.New().Cache(hooks.ResidPost(1))
	for l := range c.NLayers {
		set.Zero(hooks.AttnOut(l)).Zero(hooks.MLPOut(l))
	}
	z := m.MustRun(tok, set)
	e, p := floats(clean.Cache.MustGet(hooks.Embed)), floats(clean.Cache.MustGet(hooks.PosEmbed))
	for i := range e {
		e[i] += p[i]
	}
	requireClose(t, floats(z.Cache.MustGet(hooks.ResidPost(1))), e, 1e-5, "resid_post with all sublayers zeroed")

	// Replacing resid_pre of block 1 with its clean value reproduces the clean logits, whatever
	// block 0 did.
	set = hooks.New().Zero(hooks.AttnOut(0)).Replace(hooks.ResidPre(1), clean.Cache.MustGet(hooks.ResidPre(1)))
	r := m.MustRun(tok, set)
	requireClose(t, floats(r.Logits), floats(clean.Logits), 1e-5, "replace resid_pre restores logits")

	// Add then subtract the same vector: a no-op.
	v := clean.Cache.MustGet(hooks.MLPOut(0))
	neg := floats(v)
	for i := range neg {
		neg[i] = -neg[i]
	}
	set = hooks.New().Add(hooks.MLPOut(0), v).Add(hooks.MLPOut(0), tensors.FromFlatDataAndDimensions(neg, v.Shape().Dimensions...))
	requireClose(t, floats(m.MustRun(tok, set).Logits), floats(clean.Logits), 1e-5, "add then subtract")

	// A function hook sees the activation and its fed inputs.
	set = hooks.New().Func(hooks.ResidPre(1), "scale-by-input", func(x *graph.Node, in []*graph.Node) *graph.Node {
		return graph.Mul(x, in[0])
	}, tensors.FromScalar(float32(0))).Cache(hooks.ResidPre(1))
	f := m.MustRun(tok, set)
	for _, x := range floats(f.Cache.MustGet(hooks.ResidPre(1))) {
		require.Zero(t, x)
	}
}

// TestHookErrors checks that unknown names and mis-shaped values fail with clear errors.
func TestHookErrors(t *testing.T) {
	c := testConfigs["attn-only"]
	m := testModel(t, c, 4)
	tok := randTokens(t, 1, 4, c.DVocab, 1)
	_, err := m.Run(tok, hooks.New().Cache("blocks.0.hook_resid_mid")) // attention-only: no resid_mid
	require.ErrorContains(t, err, `unknown hook point "blocks.0.hook_resid_mid"`)
	_, err = m.Run(tok, hooks.New().Cache("blocks.0.attn.hook_patern"))
	require.ErrorContains(t, err, `did you mean "blocks.0.attn.hook_pattern"`)
	_, err = m.Run(tok, hooks.New().Replace(hooks.ResidPre(1), tensors.FromShape(tok.Shape())))
	require.ErrorContains(t, err, `replace at "blocks.1.hook_resid_pre"`)
	_, err = m.Run(randTokens(t, 1, c.NCtx+1, c.DVocab, 1), nil)
	require.ErrorContains(t, err, "exceeds n_ctx")
	bad, _ := Tokens([][]int{{1, 2, c.DVocab}})
	_, err = m.Run(bad, nil)
	require.ErrorContains(t, err, "row 0, position 2")
	_, err = Tokens([][]int{{1, 2}, {3}})
	require.ErrorContains(t, err, "row 1 has 1 tokens")
}

// TestCacheAnalyses checks the residual decomposition and direct logit attribution: the
// components' logit attributions add up to the logit difference exactly.
func TestCacheAnalyses(t *testing.T) {
	c := testConfigs["gpt2-like"]
	m := testModel(t, c, 5)
	tok := randTokens(t, 2, 5, c.DVocab, 9)
	out := m.MustRun(tok, hooks.New().CacheAll())

	dec, err := out.Cache.DecomposeResid(c.NLayers, true, true)
	require.NoError(t, err)
	require.Equal(t, []string{"embed", "pos_embed", "0_attn_out", "0_mlp_out", "1_attn_out", "1_mlp_out"}, dec.Labels)
	final := floats(out.Cache.MustGet(hooks.ResidPost(c.NLayers - 1)))
	sum := make([]float32, len(final))
	for ci := range dec.Dims[0] {
		for i := range sum {
			sum[i] += dec.Data[ci*len(final)+i]
		}
	}
	requireClose(t, sum, final, 1e-5, "sum of decomposition = final residual")

	acc, err := out.Cache.AccumulatedResid(c.NLayers, c.NLayers, true)
	require.NoError(t, err)
	require.Equal(t, []string{"0_pre", "0_mid", "1_pre", "1_mid", "final_post"}, acc.Labels)

	const a, b = 3, 7
	dir, err := m.LogitDiffDirection(a, b)
	require.NoError(t, err)
	ln, err := out.Cache.ApplyLNToStack(dec, true)
	require.NoError(t, err)
	attrs, err := hooks.LogitAttrs(ln, dir, -1)
	require.NoError(t, err)
	lnB := m.Weights.Flat("ln_final.b")
	we := m.Weights.Flat("embed.W_E")
	var bias float64
	for i := range lnB {
		bias += float64(lnB[i]) * float64(we[a*c.DModel+i]-we[b*c.DModel+i])
	}
	logits := floats(out.Logits)
	for bi := range 2 {
		var total float64
		for ci := range attrs {
			total += attrs[ci][bi]
		}
		off := (bi*5 + 4) * c.DVocab
		want := float64(logits[off+a] - logits[off+b])
		require.InDelta(t, want, total+bias, 1e-4, "batch %d: DLA sum vs logit diff", bi)
	}

	heads, err := out.Cache.StackHeadResults(c.NLayers)
	require.NoError(t, err)
	require.Equal(t, c.NLayers*c.NHeads, heads.Dims[0])
	require.Equal(t, "L1H3", heads.Labels[7])
}

// TestGradientsAtHooks compares the gradient of a logit with respect to hook points against
// central finite differences through Add hooks.
func TestGradientsAtHooks(t *testing.T) {
	for _, name := range []string{"gpt2-like", "llama-like", "pythia-like", "gemma-like", "olmo-like"} {
		t.Run(name, func(t *testing.T) { testGradientsAtHooks(t, testConfigs[name]) })
	}
}

func testGradientsAtHooks(t *testing.T, c Config) {
	m := testModel(t, c, 6)
	tok := randTokens(t, 1, 4, c.DVocab, 11)
	ld := func(logits *graph.Node, _ []*graph.Node) *graph.Node {
		g := logits.Graph()
		oh := make([]float32, c.DVocab)
		oh[2], oh[5] = 1, -1
		w := graph.Const(g, oh)                                                              // [V]
		last := graph.Slice(logits, graph.AxisRange(), graph.AxisElem(3), graph.AxisRange()) // [1, 1, V]
		return graph.ReduceAllSum(graph.Mul(last, graph.ExpandLeftToRank(w, 3)))
	}
	last := c.NLayers - 1
	names := []string{hooks.Embed, hooks.K(0), hooks.ResidPre(last), hooks.Pattern(0), hooks.MLPPost(last), hooks.Z(last)}
	out := m.MustRun(tok, hooks.New().Grad("ld", ld, names).Cache(names...))
	require.False(t, math.IsNaN(out.Metric))
	for _, name := range names {
		grad := floats(out.Grads[name])
		act := out.Cache.MustGet(name)
		shape := act.Shape().Dimensions
		n := len(grad)
		// The step is 1e-2 of the activation's RMS, at most 1e-2: normalised activations (the
		// keys before a q/k norm) can be small, and a fixed step would leave the linear regime.
		var ss float64
		for _, v := range floats(act) {
			ss += float64(v) * float64(v)
		}
		eps := float32(min(1e-2, 1e-2*math.Sqrt(ss/float64(n))))
		for _, idx := range []int{0, n / 3, n / 2, n - 1} {
			delta := func(s float32) *tensors.Tensor {
				d := make([]float32, n)
				d[idx] = s
				return tensors.FromFlatDataAndDimensions(d, shape...)
			}
			up := m.MustRun(tok, hooks.New().Add(name, delta(eps)).Grad("ld", ld, nil)).Metric
			down := m.MustRun(tok, hooks.New().Add(name, delta(-eps)).Grad("ld", ld, nil)).Metric
			fd := (up - down) / (2 * float64(eps))
			require.InDelta(t, fd, float64(grad[idx]), 2e-3+2e-2*math.Abs(fd), "%s[%d]", name, idx)
		}
	}
}

func requireClose(t *testing.T, got, want []float32, tol float64, what string) {
	t.Helper()
	require.Equal(t, len(want), len(got), "%s: length", what)
	worst, at := 0.0, -1
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	if worst > tol || math.IsNaN(worst) {
		t.Fatalf("%s: max |diff| %g at %d (got %g, want %g), tolerance %g", what, worst, at, got[at], want[at], tol)
	}
}

// TestFallbackToPureGo runs a graph with an op the fast backend lacks: the run falls
// back to the pure-Go backend, says so in Output.Backend, and computes the same logits.
// (BitwiseAnd stands in for any op fastcpu lacks; the pure-Go backend has it.)
func TestFallbackToPureGo(t *testing.T) {
	c := testConfigs["attn-only"]
	w, err := NewRandomWeights(c, 8)
	require.NoError(t, err)
	b, name := MustNewBackend("fastcpu")
	m, err := New(w, b, name)
	require.NoError(t, err)
	tok := randTokens(t, 2, 5, c.DVocab, 3)
	plain := m.MustRun(tok, nil)
	require.Equal(t, "fastcpu", plain.Backend)
	set := hooks.New().Func(hooks.ResidPre(1), "bitwise-noop", func(x *graph.Node, _ []*graph.Node) *graph.Node {
		i := graph.ConvertDType(x, dtypes.Int32)
		bits := graph.ConvertDType(graph.BitwiseAnd(i, i), dtypes.Float32)
		return graph.Add(x, graph.MulScalar(bits, 0))
	})
	out := m.MustRun(tok, set)
	require.True(t, strings.HasPrefix(out.Backend, "go"), out.Backend)
	requireClose(t, floats(out.Logits), floats(plain.Logits), 1e-5, "fallback logits")
}

// TestCompiledGraphReuse checks that hook sets differing only in fed values share one compiled
// runner (sweeps do not recompile), and that an unkeyed Go function hook is never shared.
func TestCompiledGraphReuse(t *testing.T) {
	c := testConfigs["attn-only"]
	m := testModel(t, c, 9)
	tok := randTokens(t, 1, 4, c.DVocab, 2)
	clean := m.MustRun(tok, hooks.New().Cache(hooks.ResidPre(1)))
	v := clean.Cache.MustGet(hooks.ResidPre(1))
	zeros := tensors.FromShape(v.Shape())
	r1, err := m.Compile(hooks.New().Replace(hooks.ResidPre(1), v))
	require.NoError(t, err)
	r2, err := m.Compile(hooks.New().Replace(hooks.ResidPre(1), zeros))
	require.NoError(t, err)
	require.Same(t, r1.c, r2.c, "same layout, different values: one compiled graph")
	a, err := r1.Run(tok)
	require.NoError(t, err)
	b, err := r2.RunWith(tok, hooks.New().Replace(hooks.ResidPre(1), v))
	require.NoError(t, err)
	requireClose(t, floats(a.Logits), floats(b.Logits), 0, "runner reused with new values")

	fn := func(x *graph.Node, _ []*graph.Node) *graph.Node { return x }
	u1, err := m.Compile(hooks.New().Func(hooks.ResidPre(1), "", fn))
	require.NoError(t, err)
	u2, err := m.Compile(hooks.New().Func(hooks.ResidPre(1), "", fn))
	require.NoError(t, err)
	require.NotSame(t, u1.c, u2.c, "unkeyed function hooks are compiled per set")
	_, err = r1.RunWith(tok, hooks.New().Zero(hooks.ResidPre(1)))
	require.ErrorContains(t, err, "layout differs")
}
