package attrgraph

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/transcoder"
)

const eps32 = 1.0 / (1 << 23)

// testConfigs are small models of each architectural kind the backward pass distinguishes.
func testConfigs() map[string]model.Config {
	gpt2 := model.Config{NLayers: 3, DModel: 16, NHeads: 4, DHead: 4, DMLP: 32, NCtx: 16, DVocab: 40,
		Act: model.GeluNew, Normalization: model.LayerNorm, PositionalEmbeddings: true, TiedEmbeddings: true, LNEps: 1e-5}
	llama := model.LlamaToy(3, 4, 2, 16, 40, 16) // RMSNorm, GQA, SwiGLU, rotary
	neox := gpt2
	neox.ParallelResidual, neox.PositionalEmbeddings, neox.TiedEmbeddings, neox.RotaryDim = true, false, false, 2
	gemma := llama
	gemma.NormPlacement, gemma.EmbedScale, gemma.AttnSoftcap, gemma.OutputSoftcap, gemma.Act = model.PrePostNorm, 4, 50, 30, model.GeluNew
	olmo := llama
	olmo.NormPlacement, olmo.QKNorm = model.PostNorm, model.QKNormProj
	noNorm := gpt2
	noNorm.Normalization, noNorm.TiedEmbeddings = model.NoNorm, false
	return map[string]model.Config{"gpt2": gpt2, "llama-gqa": llama, "neox-parallel": neox, "gemma-prepost": gemma,
		"olmo-post": olmo, "no-norm": noNorm}
}

// newTestModel builds a random model whose norm gains and biases are not 1 and 0.
func newTestModel(t testing.TB, c model.Config, seed uint64) *model.Model {
	return newScaledModel(t, c, seed, 1)
}

// newScaledModel is newTestModel with the attention's W_V and W_O multiplied by ov, so that
// heads carry a larger share of each edge.
func newScaledModel(t testing.TB, c model.Config, seed uint64, ov float32) *model.Model {
	t.Helper()
	w, err := model.NewRandomWeights(c, seed)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 5))
	for _, name := range slices.Sorted(maps.Keys(w.Tensors)) { // sorted: the same draws every run
		ten := w.Tensors[name]
		base := name[strings.LastIndex(name, ".")+1:]
		v := tensors.MustCopyFlatData[float32](ten)
		switch {
		case base == "W_V" || base == "W_O":
			for i := range v {
				v[i] *= ov
			}
		case base == "w" || base == "b" || strings.HasPrefix(base, "b_"):
			for i := range v {
				v[i] += float32(0.2 * rng.NormFloat64())
			}
		default:
			continue
		}
		w.Tensors[name] = tensors.FromFlatDataAndDimensions(v, ten.Shape().Dimensions...)
	}
	b, name := model.MustNewBackend("")
	m, err := model.New(w, b, name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// randomTranscoders gives each layer (but skipLayer, which keeps its MLP) a random ReLU
// transcoder with nonzero biases; layer 1's is a skip transcoder.
func randomTranscoders(t testing.TB, m *model.Model, F int, skipLayer int, seed uint64) []*sae.SAE {
	t.Helper()
	var out []*sae.SAE
	rng := rand.New(rand.NewPCG(seed, 9))
	for l := range m.Config.NLayers {
		if l == skipLayer {
			continue
		}
		c, err := transcoder.NewConfig(m.Config, transcoder.Spec{Layer: l, Arch: sae.ReLU, DSAE: F, Skip: l == 1})
		if err != nil {
			t.Fatal(err)
		}
		s, err := sae.NewRandom(c, m.Backend, sae.InitOptions{DecoderNorm: 1, Seed: seed + uint64(l)})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"b_enc", "b_dec", "W_skip"} {
			ten, ok := s.Params[name]
			if !ok {
				continue
			}
			v := tensors.MustCopyFlatData[float32](ten)
			for i := range v {
				v[i] = float32(0.1 * rng.NormFloat64())
			}
			s.Params[name] = tensors.FromFlatDataAndDimensions(v, ten.Shape().Dimensions...)
		}
		out = append(out, s)
	}
	return out
}

// randomCLT is a random ReLU cross-layer transcoder over every layer, with nonzero biases.
func randomCLT(t testing.TB, m *model.Model, F int, seed uint64) *transcoder.CLT {
	t.Helper()
	clt, err := transcoder.NewRandomCLT(m.Config, transcoder.CLTSpec{Arch: sae.ReLU, DSAE: F}, m.Backend, seed)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 11))
	for _, s := range clt.Layers {
		for _, name := range []string{"b_enc", "b_dec"} {
			v := s.Flat(name)
			for i := range v {
				v[i] = float32(0.1 * rng.NormFloat64())
			}
			s.Params[name] = tensors.FromFlatDataAndDimensions(v, len(v))
		}
	}
	// Encoder columns and decoder rows of norm about 1 (10x the default), as randomTranscoders'.
	for l, s := range clt.Layers {
		v := s.Flat("W_enc")
		for i := range v {
			v[i] *= 10
		}
		s.Params["W_enc"] = tensors.FromFlatDataAndDimensions(v, s.Config.DIn, s.Config.DSAE)
		for i := range clt.Dec[l] {
			clt.Dec[l][i] *= 10
		}
	}
	clt, err = transcoder.NewCLT(clt.Layers, clt.Dec) // the layers' own W_dec follow the decoders
	if err != nil {
		t.Fatal(err)
	}
	return clt
}

// dictionaries are the two kinds of replacement the tests run: per-layer transcoders (layer 2
// without one, layer 1's with a skip term) and a cross-layer transcoder.
var dictionaries = []string{"per-layer", "clt"}

// newTestReplacement builds the replacement of a prompt over the kind of dictionary.
func newTestReplacement(t testing.TB, m *model.Model, kind string, seed uint64, prompt []int) *Replacement {
	t.Helper()
	var r *Replacement
	var err error
	if kind == "clt" {
		r, err = NewReplacementCLT(m, randomCLT(t, m, 24, seed), prompt)
	} else {
		r, err = NewReplacement(m, randomTranscoders(t, m, 24, 2, seed), prompt)
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// featureWrites returns, for a feature of r, the vectors a W_dec it writes into each layer's
// output, read from the transcoders' own tensors.
func featureWrites(r *Replacement, f Feature) map[int][]float32 {
	D := r.cfg.DModel
	out := map[int][]float32{}
	scale := func(v []float32) []float32 {
		w := make([]float32, D)
		for d := range D {
			w[d] = f.Act * v[d]
		}
		return w
	}
	if r.clt != nil {
		for m := f.Layer; m < r.cfg.NLayers; m++ {
			out[m] = scale(r.clt.Decoder(f.Layer, f.Index, m))
		}
		return out
	}
	out[f.Layer] = scale(r.ts[f.Layer].Flat("W_dec")[f.Index*D : (f.Index+1)*D])
	return out
}

func testPrompt(c model.Config, n int, seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]int, n)
	for i := range out {
		out[i] = rng.IntN(c.DVocab)
	}
	return out
}

// The replacement model reproduces the model's logits on its prompt, with attention and norms
// frozen or recomputed.
func TestReplacementReproducesLogits(t *testing.T) {
	for name, c := range testConfigs() {
		for _, kind := range dictionaries {
			t.Run(name+"/"+kind, func(t *testing.T) {
				m := newTestModel(t, c, 3)
				r := newTestReplacement(t, m, kind, 4, testPrompt(c, 7, 5))
				var errNorm float64
				for l := range c.NLayers {
					for p := range r.P {
						for _, v := range r.Error(l, p) {
							errNorm = math.Max(errNorm, math.Abs(float64(v)))
						}
					}
				}
				if errNorm < 1e-2 {
					t.Fatalf("error nodes are %g: the test needs transcoders that do not reconstruct", errNorm)
				}
				for _, frozen := range []bool{false, true} {
					set := hooks.New()
					if err := r.Hooks(set, frozen); err != nil {
						t.Fatal(err)
					}
					out, err := r.Run(set)
					if err != nil {
						t.Fatal(err)
					}
					got := tensors.MustCopyFlatData[float32](out.Logits)
					var mx, worst float64
					for i, v := range r.logits {
						mx = math.Max(mx, math.Abs(float64(v)))
						worst = math.Max(worst, math.Abs(float64(v-got[i])))
					}
					// Each logit is a sum over L layers of dot products of length <= max(D, F, M);
					// rounding of the replaced MLP outputs (F terms) enters each layer once.
					tol := 8 * float64(c.NLayers+1) * float64(max(c.DModel, 24, c.DMLP)) * eps32 * (1 + mx)
					if worst > tol {
						t.Errorf("frozen=%v: logits differ by %g (tolerance %g)", frozen, worst, tol)
					}
				}
			})
		}
	}
}

// targetValues returns the value of every row node of g on a run's cache: a feature's
// pre-activation direction dotted with its input, a logit node's demeaned unembedding with the
// final norm's output at the last position.
func targetValues(r *Replacement, g *Graph, cache *hooks.Cache, lvecs []float32) map[int]float64 {
	c := r.cfg
	D := c.DModel
	out := map[int]float64{}
	for i, f := range g.Features {
		x := tensors.MustCopyFlatData[float32](cache.MustGet(r.ts[f.Layer].Config.Site.Hook))
		var v float64
		for d, e := range r.encoderVec(f) {
			v += float64(e) * float64(x[f.Pos*D+d])
		}
		out[i] = v
	}
	final := hooks.ResidPost(c.NLayers - 1)
	if c.HasNorm() {
		final = "ln_final.hook_normalized"
	}
	x := tensors.MustCopyFlatData[float32](cache.MustGet(final))
	for i := range g.Logits {
		var v float64
		for d := range D {
			v += float64(lvecs[i*D+d]) * float64(x[(r.P-1)*D+d])
		}
		out[g.LogitNode(i)] = v
	}
	return out
}

// Every edge is a direct effect: removing a source's write from the frozen linear model moves
// each target by exactly minus the edge weight. The runs go through the model's own forward pass
// with hooks, independent of the backward graph that computed the edges.
func TestEdgesAreDirectEffects(t *testing.T) {
	for name, c := range testConfigs() {
		for _, kind := range dictionaries {
			t.Run(name+"/"+kind, func(t *testing.T) {
				m := newTestModel(t, c, 13)
				r := newTestReplacement(t, m, kind, 14, testPrompt(c, 6, 15))
				g, err := r.Graph(Options{MaxLogits: 3, LogitProb: 1, BatchSize: 7})
				if err != nil {
					t.Fatal(err)
				}
				_, lvecs, err := r.logitTargets(Options{MaxLogits: 3, LogitProb: 1})
				if err != nil {
					t.Fatal(err)
				}
				D, P := c.DModel, r.P
				run := func(extra func(*hooks.Set)) map[int]float64 {
					set := hooks.New()
					r.HoldLinear(set)
					if extra != nil {
						extra(set)
					}
					set.CacheFilter("all", func(string) bool { return true })
					out, err := r.Run(set)
					if err != nil {
						t.Fatal(err)
					}
					return targetValues(r, g, out.Cache, lvecs)
				}
				base := run(nil)
				// The frozen run is the model's run on the prompt: each feature's value is its
				// pre-activation.
				for i, f := range g.Features {
					pre := float64(f.Act) - float64(r.ts[f.Layer].Flat("b_enc")[f.Index])
					if d := math.Abs(base[i] - pre); d > 1e-4*(1+math.Abs(pre)) {
						t.Fatalf("feature %v: frozen value %g, pre-activation %g", f, base[i], pre)
					}
				}
				at := func(p int, v []float32) *tensors.Tensor {
					flat := make([]float32, P*D)
					for d := range D {
						flat[p*D+d] = -v[d]
					}
					return tensors.FromFlatDataAndDimensions(flat, 1, P, D)
				}
				type source struct {
					node int
					add  func(*hooks.Set)
				}
				rng := rand.New(rand.NewPCG(1, 2))
				var sources []source
				for k := 0; k < 6 && len(g.Features) > 0; k++ {
					i := rng.IntN(len(g.Features))
					f := g.Features[i]
					writes := featureWrites(r, g.Features[i])
					sources = append(sources, source{i, func(s *hooks.Set) {
						for m, v := range writes {
							s.Add(hooks.MLPOut(m), at(f.Pos, v))
						}
					}})
				}
				for k := 0; k < 4; k++ {
					l, p := rng.IntN(c.NLayers), rng.IntN(P)
					e := r.Error(l, p)
					sources = append(sources, source{g.ErrorNode(l, p), func(s *hooks.Set) { s.Add(hooks.MLPOut(l), at(p, e)) }})
				}
				for p := range P {
					e := r.embed[p*D : (p+1)*D]
					sources = append(sources, source{g.TokenNode(p), func(s *hooks.Set) { s.Add(hooks.Embed, at(p, e)) }})
				}
				checked, nonzero := 0, 0
				for _, s := range sources {
					got := run(s.add)
					for target, v := range base {
						want := -float64(g.Edge(target, s.node))
						var l1 float64
						for j := range g.N {
							l1 += math.Abs(float64(g.Edge(target, j)))
						}
						// Two forward passes, each a sum of (L+1)*P*(#sources) terms through dot
						// products of length <= D + P: worst-case rounding of both.
						tol := 2 * float64(c.NLayers+2) * float64(D+P+c.NHeads*c.DHead) * eps32 * (l1 + math.Abs(v))
						if d := math.Abs(got[target] - v - want); d > tol {
							t.Errorf("edge %d -> %d: removing the source moved the target by %g, edge weight %g (|diff| %g > %g)",
								s.node, target, got[target]-v, -want, d, tol)
						}
						checked++
						if want != 0 {
							nonzero++
						}
					}
				}
				if nonzero < checked/10 {
					t.Fatalf("only %d of %d checked edges are nonzero", nonzero, checked)
				}
			})
		}
	}
}
