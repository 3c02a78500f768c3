package attrgraph

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
)

// rowL1 is the sum of |edges| into target.
func rowL1(g *Graph, target int) float64 {
	var l1 float64
	for j := range g.N {
		l1 += math.Abs(float64(g.Edge(target, j)))
	}
	return l1
}

// The rows of a head split sum to the target's edges, for a logit and for a layer-1 feature, on
// every layout; several heads carry something.
func TestHeadSplitSumsToTheEdges(t *testing.T) {
	for name, c := range testConfigs() {
		for _, kind := range dictionaries {
			t.Run(name+"/"+kind, func(t *testing.T) {
				m := newScaledModel(t, c, 61, 6)
				r := newTestReplacement(t, m, kind, 62, testPrompt(c, 6, 63))
				var err error
				g, err := r.Graph(Options{MaxLogits: 2, LogitProb: 1, BatchSize: 16})
				if err != nil {
					t.Fatal(err)
				}
				targets := []int{g.LogitNode(0)}
				for i := len(g.Features) - 1; i >= 0; i-- {
					if g.Features[i].Layer == 1 && g.Features[i].Pos > 0 {
						targets = append(targets, i)
						break
					}
				}
				for _, target := range targets {
					s, err := r.SplitByHead(g, target)
					if err != nil {
						t.Fatal(err)
					}
					// Each row is one backward pass's rounding of its own terms; the edge is another's.
					l1 := rowL1(g, target)
					for _, row := range s.Rows {
						for _, v := range row {
							l1 += math.Abs(float64(v))
						}
					}
					tol := float64(c.NLayers+2) * float64(c.DModel+r.P+c.NHeads*c.DHead) * eps32 * l1
					for j := range g.N {
						var sum float64
						for _, row := range s.Rows {
							sum += float64(row[j])
						}
						if d := math.Abs(sum - float64(g.Edge(target, j))); d > tol {
							t.Errorf("target %d source %d: split sums to %g, edge %g (|diff| %g > %g)", target, j, sum, g.Edge(target, j), d, tol)
						}
					}
					carrying := 0
					for l := range c.NLayers {
						for h := range c.NHeads {
							if math.Abs(s.Carried(l, h)) > 10*tol {
								carrying++
							}
						}
					}
					if carrying < 2 {
						t.Errorf("target %d: %d heads carry more than rounding", target, carrying)
					}
				}
			})
		}
	}
}

// finalPullback is J^T u of the final norm held at its scale on the prompt at position p, on the
// host: center(w * u) / scale for a LayerNorm, w * u / scale for an RMSNorm, u without a norm.
func finalPullback(r *Replacement, u []float32, p int) []float64 {
	c := r.cfg
	out := make([]float64, len(u))
	for i, v := range u {
		out[i] = float64(v)
	}
	if !c.HasNorm() {
		return out
	}
	w := r.m.Weights.Flat("ln_final.w")
	scale := float64(r.act("ln_final.hook_scale")[p])
	var mean float64
	for i := range out {
		out[i] *= float64(w[i])
		mean += out[i] / float64(len(out))
	}
	for i := range out {
		if c.HasLN() {
			out[i] -= mean
		}
		out[i] /= scale
	}
	return out
}

// Each head's part of a logit's edge is, in the model's own forward pass with the graph's
// linear map held (HoldLinear), the change of that head's output at the last position when the
// source's write is removed, read by the logit through the final norm alone. Checked for every
// head and every token node and a few features, on the layouts whose heads write straight into
// the residual stream (no norm after attention).
func TestHeadSplitAgainstTheForwardPass(t *testing.T) {
	for _, name := range []string{"gpt2", "llama-gqa", "neox-parallel", "no-norm"} {
		for _, kind := range dictionaries {
			t.Run(name+"/"+kind, func(t *testing.T) {
				c := testConfigs()[name]
				m := newScaledModel(t, c, 71, 6)
				var r *Replacement
				var err error
				if kind == "clt" {
					r = newTestReplacement(t, m, kind, 72, testPrompt(c, 6, 73))
				} else {
					ts := randomTranscoders(t, m, 24, 2, 72)
					for _, tc := range ts { // no skip term: a path's last head then reaches the logit through the residual stream alone
						tc.Config.Skip = false
						delete(tc.Params, "W_skip")
					}
					if r, err = NewReplacement(m, ts, testPrompt(c, 6, 73)); err != nil {
						t.Fatal(err)
					}
				}
				g, err := r.Graph(Options{MaxLogits: 1, LogitProb: 1, BatchSize: 16})
				if err != nil {
					t.Fatal(err)
				}
				target := g.LogitNode(0)
				s, err := r.SplitByHead(g, target)
				if err != nil {
					t.Fatal(err)
				}
				_, u, err := r.logitTargets(Options{Targets: []int{g.Logits[0].Token}})
				if err != nil {
					t.Fatal(err)
				}
				P, D, H := r.P, c.DModel, c.NHeads
				gd := finalPullback(r, u, P-1)
				results := func(extra func(*hooks.Set)) [][]float32 {
					set := hooks.New()
					r.HoldLinear(set)
					if extra != nil {
						extra(set)
					}
					var names []string
					for l := range c.NLayers {
						names = append(names, hooks.Result(l))
					}
					out, err := r.Run(set.Cache(names...))
					if err != nil {
						t.Fatal(err)
					}
					res := make([][]float32, c.NLayers)
					for l := range c.NLayers {
						res[l] = tensors.MustCopyFlatData[float32](out.Cache.MustGet(hooks.Result(l))) // [1, P, H, D]
					}
					return res
				}
				base := results(nil)
				minus := func(hook string, p int, v []float32) func(*hooks.Set) {
					flat := make([]float32, P*D)
					for d := range D {
						flat[p*D+d] = -v[d]
					}
					return func(set *hooks.Set) { set.Add(hook, tensors.FromFlatDataAndDimensions(flat, 1, P, D)) }
				}
				type source struct {
					node   int
					remove func(*hooks.Set)
				}
				var sources []source
				for p := range P {
					sources = append(sources, source{g.TokenNode(p), minus(hooks.Embed, p, r.embed[p*D:(p+1)*D])})
				}
				for i, f := range g.Features {
					if f.Layer != 0 || i%5 != 0 {
						continue
					}
					var removes []func(*hooks.Set)
					for m, v := range featureWrites(r, f) {
						removes = append(removes, minus(hooks.MLPOut(m), f.Pos, v))
					}
					sources = append(sources, source{i, func(set *hooks.Set) {
						for _, rm := range removes {
							rm(set)
						}
					}})
				}
				// The forward difference rounds in proportion to what the logit reads of the head's
				// output; the split's backward pass in proportion to the head's row.
				tolOf := func(l, h int) float64 {
					var read, row float64
					for d := range D {
						read += math.Abs(gd[d] * float64(base[l][((P-1)*H+h)*D+d]))
					}
					for _, v := range s.Head(l, h) {
						row += math.Abs(float64(v))
					}
					return float64(c.NLayers+2) * float64(D+P+H*c.DHead) * eps32 * (2*read + row)
				}
				checked, nonzero := 0, 0
				for _, src := range sources {
					got := results(src.remove)
					for l := range c.NLayers {
						for h := range H {
							var want float64 // minus the head's change, read through the final norm
							for d := range D {
								i := ((P-1)*H+h)*D + d
								want -= gd[d] * float64(got[l][i]-base[l][i])
							}
							split := float64(s.Head(l, h)[src.node])
							tol := tolOf(l, h)
							if d := math.Abs(split - want); d > tol {
								t.Errorf("source %d head %d.%d: split %g, forward pass %g (|diff| %g > %g)", src.node, l, h, split, want, d, tol)
							}
							checked++
							if math.Abs(want) > 10*tol {
								nonzero++
							}
						}
					}
				}
				if nonzero < checked/4 {
					t.Fatalf("only %d of %d head parts exceed rounding", nonzero, checked)
				}
			})
		}
	}
}
