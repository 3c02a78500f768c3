package model

// Cross-backend equivalence of whole models: the same weights and tokens on "fastcpu" and on
// the pure-Go backend ("go:ops_sequential", deadlock-free) must give the same logits, the same
// cached activations at every hook point, and the same gradients of metrics at hook points.
//
// Tolerances (float32 models), on the largest difference over each tensor, where S is the
// tensor's largest magnitude on the go backend:
//   - logits: max |fastcpu - go| <= 1e-4 * max(1, S);
//   - every cached hook and every gradient: <= 1e-5 * max(1, S);
//   - and, so that tiny activations (GPT-2 init: std 0.02, zero biases) cannot hide a wrong
//     kernel under those bounds, <= 1e-4 * S + 1e-9.
// That is the absolute 1e-4 / 1e-5 for tensors of magnitude up to 1, relative beyond. (Measured
// on gpt2-shaped-small with N(0, 0.3) weights: logits reach ~16 and both backends are ~1e-4
// away from a float64 evaluation of the same model -- fastcpu 5.9e-5, go 1.0e-4 -- and the
// layer-1 attention softmax amplifies that rounding to ~2e-5 in hook_pattern; so the "dense"
// weights use std 0.1, which keeps activations O(1) as in trained models.)
//
// Infinities (masked attention scores) must match exactly, NaN only NaN.
//
// Each config runs with two weight sets: "gpt2init" (NewRandomWeights, what the product
// builds) and "dense" (every tensor random, biases and LayerNorm scales included, so bias and
// broadcast bugs cannot hide behind zeros and ones).

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/fastcpu"
	"github.com/interp-dev/interp/hooks"
)

const equivRefBackend = "go:ops_sequential"

// equivBackends are the backend under test and the reference: fastcpu against GoMLX's pure-Go
// backend, unless $INTERP_EQUIV_BACKEND and $INTERP_EQUIV_REF name others (bench/gpu.sh runs
// xla:cuda against fastcpu with the same tolerances).
func equivBackends() (test, ref string) {
	test, ref = fastcpu.BackendName, equivRefBackend
	if b := os.Getenv("INTERP_EQUIV_BACKEND"); b != "" {
		test = b
	}
	if b := os.Getenv("INTERP_EQUIV_REF"); b != "" {
		ref = b
	}
	return test, ref
}

// equivConfigs: testConfigs plus a GPT-2-shaped (but small) model.
func equivConfigs() map[string]struct {
	c      Config
	b, pos int
} {
	out := map[string]struct {
		c      Config
		b, pos int
	}{}
	for name, c := range testConfigs {
		out[name] = struct {
			c      Config
			b, pos int
		}{c, 2, min(c.NCtx, 7)}
	}
	out["gpt2-shaped-small"] = struct {
		c      Config
		b, pos int
	}{Config{NLayers: 2, DModel: 128, NHeads: 4, DHead: 32, DMLP: 512, NCtx: 32, DVocab: 1000,
		Act: GeluNew, Normalization: LayerNorm, PositionalEmbeddings: true, TiedEmbeddings: true, LNEps: 1e-5}, 2, 32}
	return out
}

// equivWeights returns weights for c: "gpt2init" is NewRandomWeights; "dense" fills every
// tensor with N(0, 0.1) values (LayerNorm scales 1 + N(0, 0.1)). Deterministic in seed, so two
// calls give equal weights with separate tensors (a GoMLX tensor is bound to one backend).
func equivWeights(t *testing.T, c Config, variant string, seed uint64) *Weights {
	t.Helper()
	w, err := NewRandomWeights(c, seed)
	require.NoError(t, err)
	if variant == "gpt2init" {
		return w
	}
	rng := rand.New(rand.NewPCG(seed, 17))
	for _, s := range ParamSpecs(c) {
		data := make([]float32, len(w.Flat(s.Name)))
		for i := range data {
			data[i] = float32(rng.NormFloat64() * 0.1)
			if s.Init == -1 {
				data[i]++
			}
		}
		w.Tensors[s.Name] = tensors.FromFlatDataAndDimensions(data, s.Shape...)
	}
	return w
}

func equivModel(t *testing.T, c Config, variant string, backend string) *Model {
	t.Helper()
	b, name := MustNewBackend(backend)
	m, err := New(equivWeights(t, c, variant, 42), b, name)
	require.NoError(t, err)
	return m
}

// requireEquivClose compares float32 data under the rules at the top of this file.
func requireEquivClose(t *testing.T, got, want []float32, abs float64, what string) {
	t.Helper()
	require.Equal(t, len(want), len(got), "%s: length", what)
	worst, at, scale := 0.0, -1, 0.0
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsInf(w, 0) || math.IsNaN(w) || math.IsInf(g, 0) || math.IsNaN(g) {
			if !(g == w || math.IsNaN(g) && math.IsNaN(w)) {
				t.Fatalf("%s: at %d fastcpu %g, go %g", what, i, g, w)
			}
			continue
		}
		scale = max(scale, math.Abs(w))
		if d := math.Abs(g - w); d > worst {
			worst, at = d, i
		}
	}
	if bound := min(abs*max(1, scale), 1e-4*scale+1e-9); worst > bound {
		t.Fatalf("%s: max |fastcpu - go| = %.3g at %d (fastcpu %g, go %g); tolerance %.3g (%g * max(1, S) and 1e-4 * S, S = max |go| = %.3g)",
			what, worst, at, got[at], want[at], bound, abs, scale)
	}
}

// requireRanOn checks that a result lives on backend name (the model falls back to the pure-Go
// backend for graphs fastcpu cannot run; that must not happen here).
func requireRanOn(t *testing.T, x *tensors.Tensor, m *Model) {
	t.Helper()
	b, err := x.Backend()
	require.NoError(t, err)
	require.Same(t, m.Backend, b, "result computed on %s, not on the model's backend %s (a fallback?)", b.Name(), m.BackendName)
}

func TestBackendEquivalence(t *testing.T) {
	cfgs := equivConfigs()
	names := make([]string, 0, len(cfgs))
	for n := range cfgs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		cc := cfgs[name]
		c, B, P := cc.c, cc.b, cc.pos
		for _, variant := range []string{"gpt2init", "dense"} {
			t.Run(name+"/"+variant, func(t *testing.T) {
				testName, refName := equivBackends()
				fast := equivModel(t, c, variant, testName)
				ref := equivModel(t, c, variant, refName)
				for _, s := range ParamSpecs(c) {
					require.Equal(t, ref.Weights.Flat(s.Name), fast.Weights.Flat(s.Name), "weights %s", s.Name)
				}
				tokens := func() *tensors.Tensor { return randTokens(t, B, P, c.DVocab, 7) }

				// Logits and every hook point.
				of := fast.MustRun(tokens(), hooks.New().CacheAll())
				or := ref.MustRun(tokens(), hooks.New().CacheAll())
				requireRanOn(t, of.Logits, fast)
				require.Equal(t, or.Logits.Shape(), of.Logits.Shape())
				requireEquivClose(t, floats(of.Logits), floats(or.Logits), 1e-4, "logits")
				require.ElementsMatch(t, or.Cache.Names(), of.Cache.Names())
				require.Len(t, of.Cache.Names(), len(HookPoints(c, B, P)))
				for _, h := range or.Cache.Names() {
					w, g := or.Cache.MustGet(h), of.Cache.MustGet(h)
					require.Equal(t, w.Shape(), g.Shape(), "shape of %s", h)
					requireEquivClose(t, floats(g), floats(w), 1e-5, h)
				}

				// A run without hooks gives the same logits as the cached run (different graph).
				plain := fast.MustRun(tokens(), nil)
				requireEquivClose(t, floats(plain.Logits), floats(or.Logits), 1e-4, "logits without hooks")

				// Gradients of two metrics at hook points spread over the model.
				L := c.NLayers - 1
				var gradAt []string
				for _, h := range []string{
					hooks.Embed, hooks.PosEmbed, hooks.ResidPre(0), hooks.LN1Scale(0), hooks.LN1Normalized(0),
					hooks.Q(0), hooks.K(0), hooks.V(0), hooks.AttnScores(0), hooks.Pattern(0), hooks.Z(0),
					hooks.Result(0), hooks.AttnOut(0), hooks.ResidMid(L), hooks.MLPPre(L), hooks.MLPPost(L),
					hooks.MLPOut(L), hooks.ResidPost(L), "ln_final.hook_scale",
				} {
					if HasHook(c, h) {
						gradAt = append(gradAt, h)
					}
				}
				// Logit difference at the last position (as in TestGradientsAtHooks).
				ld := func(logits *graph.Node, _ []*graph.Node) *graph.Node {
					oh := make([]float32, c.DVocab)
					oh[2], oh[5] = 1, -1
					w := graph.Const(logits.Graph(), oh)
					last := graph.Slice(logits, graph.AxisRange(), graph.AxisElem(P-1), graph.AxisRange())
					return graph.ReduceAllSum(graph.Mul(last, graph.ExpandLeftToRank(w, 3)))
				}
				// Log-likelihood of fed targets at every position (a log-softmax through all logits).
				targets := make([]float32, B*P*c.DVocab)
				for i := range B * P {
					targets[i*c.DVocab+(i*7+3)%c.DVocab] = 1
				}
				nll := func(logits *graph.Node, in []*graph.Node) *graph.Node {
					mx := graph.StopGradient(graph.ReduceAndKeep(logits, graph.ReduceMax, -1))
					z := graph.Sub(logits, mx)
					lse := graph.Log(graph.ReduceAndKeep(graph.Exp(z), graph.ReduceSum, -1))
					return graph.ReduceAllSum(graph.Mul(graph.Sub(z, lse), in[0]))
				}
				for _, metric := range []struct {
					name string
					fn   hooks.Metric
					in   bool
				}{{"logit_diff", ld, false}, {"log_likelihood", nll, true}} {
					set := func() *hooks.Set {
						if metric.in {
							return hooks.New().Grad(metric.name, metric.fn, gradAt,
								tensors.FromFlatDataAndDimensions(slices.Clone(targets), B, P, c.DVocab))
						}
						return hooks.New().Grad(metric.name, metric.fn, gradAt)
					}
					gf := fast.MustRun(tokens(), set())
					gr := ref.MustRun(tokens(), set())
					requireRanOn(t, gf.Logits, fast)
					require.InDelta(t, gr.Metric, gf.Metric, 1e-4*max(1, math.Abs(gr.Metric)), "%s value", metric.name)
					require.Len(t, gf.Grads, len(gradAt))
					for _, h := range gradAt {
						require.Equal(t, gr.Grads[h].Shape(), gf.Grads[h].Shape(), "%s: shape of d/d %s", metric.name, h)
						requireEquivClose(t, floats(gf.Grads[h]), floats(gr.Grads[h]), 1e-5, fmt.Sprintf("%s: d/d %s", metric.name, h))
					}
				}

				// Interventions: zero, add and replace hooks.
				delta := make([]float32, B*P*c.DModel)
				for i := range delta {
					delta[i] = float32(math.Sin(float64(i))) * 0.1
				}
				patch := func(m *Model) *Output {
					set := hooks.New().Zero(hooks.AttnOut(0)).
						Add(hooks.ResidPre(L), tensors.FromFlatDataAndDimensions(slices.Clone(delta), B, P, c.DModel)).
						Replace(hooks.Embed, tensors.FromFlatDataAndDimensions(slices.Clone(delta), B, P, c.DModel)).
						Cache(hooks.ResidPost(L))
					return m.MustRun(tokens(), set)
				}
				pf, pr := patch(fast), patch(ref)
				requireRanOn(t, pf.Logits, fast)
				requireEquivClose(t, floats(pf.Logits), floats(pr.Logits), 1e-4, "patched logits")
				requireEquivClose(t, floats(pf.Cache.MustGet(hooks.ResidPost(L))), floats(pr.Cache.MustGet(hooks.ResidPost(L))), 1e-5, "patched resid_post")
			})
		}
	}
}
