package patching

import (
	"fmt"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// refPathPatch is Wang et al.'s algorithm written plainly: per sender head, one full forward
// with every layer's hook_z replaced by a host-built tensor (orig values, the sender's head from
// new) caching the receivers' inputs, then one full forward with those inputs blended into the
// receiver heads by a Func hook (other heads recomputed).
func refPathPatch(t *testing.T, m *model.Model, orig, new [][]int, r Receivers, freezeMLP bool, metric string, p *Prompts) []float64 {
	c := m.Config
	cache := func(rows [][]int, name string) ([]float32, []int) { return refCache(t, m, rows, name) }
	var scores []float64
	for ls := range c.NLayers {
		for hs := range c.NHeads {
			set := hooks.New()
			for l := range c.NLayers {
				z, dims := cache(orig, hooks.Z(l))
				if l == ls {
					nz, _ := cache(new, hooks.Z(l))
					K := dims[3]
					for i := range len(z) / K { // i indexes (n, p, h)
						if i%c.NHeads == hs {
							copy(z[i*K:(i+1)*K], nz[i*K:(i+1)*K])
						}
					}
				}
				set.Replace(hooks.Z(l), tensors.FromFlatDataAndDimensions(z, dims...))
				if freezeMLP {
					mo, md := cache(orig, hooks.MLPOut(l))
					set.Replace(hooks.MLPOut(l), tensors.FromFlatDataAndDimensions(mo, md...))
				}
			}
			if r.Logits {
				scores = append(scores, refRun(t, m, orig, set, metric, p, nil))
				continue
			}
			var names []string
			for _, h := range r.Heads {
				for _, comp := range r.inputs() {
					names = append(names, comp.Hook(h.Layer))
				}
			}
			tok, err := model.Tokens(orig)
			require.NoError(t, err)
			step1, err := m.Run(tok, set.Cache(names...))
			require.NoError(t, err)
			set2 := hooks.New()
			done := map[string]bool{}
			for _, h := range r.Heads {
				for _, comp := range r.inputs() {
					name := comp.Hook(h.Layer)
					if done[name] {
						continue
					}
					done[name] = true
					val := step1.Cache.MustGet(name)
					dims := val.Shape().Dimensions
					mask := make([]float32, len(tensors.MustCopyFlatData[float32](val)))
					K, heads := dims[3], dims[2]
					for i := range len(mask) / K {
						for _, h2 := range r.Heads {
							head := h2.Head
							if heads != c.NHeads { // k or v under grouped-query attention
								head = c.KVHead(head)
							}
							if h2.Layer == h.Layer && i%heads == head {
								for k := range K {
									mask[i*K+k] = 1
								}
							}
						}
					}
					set2.Func(name, "", func(x *graph.Node, in []*graph.Node) *graph.Node {
						return graph.Add(graph.Mul(x, graph.OneMinus(in[1])), graph.Mul(in[0], in[1]))
					}, val, tensors.FromFlatDataAndDimensions(mask, dims...))
				}
			}
			scores = append(scores, refRun(t, m, orig, set2, metric, p, nil))
		}
	}
	return scores
}

func TestPathPatchMatchesReference(t *testing.T) {
	for _, cname := range []string{"gpt2-like", "llama-like", "pythia-like"} {
		t.Run(cname, func(t *testing.T) { testPathPatch(t, cname) })
	}
}

// pathSeed picks, per config, random weights under which every receiver set's senders move
// the metric (the test requires it, so that agreement with the reference means something).
var pathSeed = map[string]uint64{"gpt2-like": 4, "llama-like": 7, "pythia-like": 7}

// testPathPatch checks path patching on one of testConfigs (3 layers of 4 heads); under
// grouped-query attention (llama-like) the k and v receivers are key/value heads.
func testPathPatch(t *testing.T, cname string) {
	cfg := testConfigs[cname]
	cfg.NLayers = 3
	m := refModel(t, cfg, pathSeed[cname], testScale[cname])
	p := refPrompts(3, 6, cfg.DVocab, 5)
	for _, tc := range []struct {
		r      Receivers
		freeze bool
	}{
		{Receivers{Logits: true}, false},
		{Receivers{Logits: true}, true},
		{Receivers{Heads: []Head{{1, 1}, {2, 0}, {2, 3}}}, false},
		{Receivers{Heads: []Head{{2, 2}}, Inputs: []Component{K, V}}, false},
		{Receivers{Heads: []Head{{1, 0}, {2, 1}}, Inputs: []Component{Q, V}}, true},
	} {
		for _, dir := range []Direction{Denoise, Noise} {
			t.Run(fmt.Sprintf("%s/freeze_mlp=%v/%s", tc.r, tc.freeze, dir), func(t *testing.T) {
				e, err := NewExperiment(m, p, LogitDiff(), Options{Direction: dir, MaxRows: 9})
				require.NoError(t, err)
				got, err := e.PathPatch(tc.r, PathOptions{FreezeMLPs: tc.freeze})
				require.NoError(t, err)
				orig, new := p.Corrupted, p.Clean
				if dir == Noise {
					orig, new = p.Clean, p.Corrupted
				}
				want := refPathPatch(t, m, orig, new, tc.r, tc.freeze, "logit_diff", p)
				requireClose(t, want, got.Scores, refTol, "path patching")
				require.Greater(t, spread(want), 50*refTol, "senders should move the metric")
				require.Equal(t, []int{3, 4}, got.Dims())
			})
		}
	}
}

// TestPathToLogitsOfLastLayer: a sender in the last layer reaches the logits only directly, so
// path patching to the logits equals activation patching of its z.
func TestPathToLogitsOfLastLayer(t *testing.T) {
	cfg := testConfigs["gpt2-like"]
	m := refModel(t, cfg, 4, testScale["gpt2-like"])
	p := refPrompts(3, 6, cfg.DVocab, 5)
	e, err := NewExperiment(m, p, NormLogitDiff(), Options{})
	require.NoError(t, err)
	path, err := e.PathPatch(Receivers{Logits: true}, PathOptions{})
	require.NoError(t, err)
	last := cfg.NLayers - 1
	act, err := e.Patch(Z, LayerHeadSetter, last)
	require.NoError(t, err)
	for h := range cfg.NHeads {
		require.InDelta(t, act.At(0, h), path.At(last, h), 1e-4)
	}
}

func TestPathPatchErrors(t *testing.T) {
	cfg := testConfigs["gpt2-like"]
	m := refModel(t, cfg, 4, 1)
	p := refPrompts(2, 5, cfg.DVocab, 5)
	e, err := NewExperiment(m, p, LogitDiff(), Options{})
	require.NoError(t, err)
	_, err = e.PathPatch(Receivers{Heads: []Head{{1, 9}}}, PathOptions{})
	require.ErrorContains(t, err, "receiver head 1.9 out of range")
	_, err = ParseHeads("9.9,9.6", cfg)
	require.ErrorContains(t, err, "head 9.9 out of range")
	_, err = ParseHeads("1-2", cfg)
	require.ErrorContains(t, err, `head "1-2": want layer.head`)
	hs, err := ParseHeads("1.2, 0.3", cfg)
	require.NoError(t, err)
	require.Equal(t, []Head{{1, 2}, {0, 3}}, hs)
}
