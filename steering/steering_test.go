package steering

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/transcoder"
)

var configs = map[string]model.Config{
	"gpt2-like": {NLayers: 2, DModel: 16, NHeads: 4, DHead: 4, DMLP: 32, NCtx: 12, DVocab: 23,
		Act: model.GeluNew, Normalization: model.LayerNorm, PositionalEmbeddings: true, TiedEmbeddings: true, LNEps: 1e-5},
	"llama-like": model.LlamaToy(2, 4, 2, 16, 23, 12),
}

func testModel(t *testing.T, c model.Config) *model.Model {
	t.Helper()
	w, err := model.NewRandomWeights(c, 7)
	require.NoError(t, err)
	b, name := model.MustNewBackend("")
	m, err := model.New(w, b, name)
	require.NoError(t, err)
	return m
}

// act runs one prompt alone and returns its activation at hook, [P][per] flattened per position.
func act(t *testing.T, m *model.Model, set *hooks.Set, prompt []int, hook string) [][]float32 {
	t.Helper()
	tok, err := model.Tokens([][]int{prompt})
	require.NoError(t, err)
	if set == nil {
		set = hooks.New()
	}
	out, err := m.Run(tok, set.Cache(hook))
	require.NoError(t, err)
	a := out.Cache.MustGet(hook)
	P := a.Shape().Dimensions[1]
	flat := tensors.MustCopyFlatData[float32](a)
	per := len(flat) / P
	rows := make([][]float32, P)
	for p := range rows {
		rows[p] = flat[p*per : (p+1)*per]
	}
	return rows
}

// eps is a float32 sum's relative rounding bound for n terms of similar size: n * 2^-23 (STYLE 16).
func eps(n int) float64 { return float64(n) * 0x1p-23 }

// TestDiffMeans checks the direction against the mean difference computed prompt by prompt, at
// the last token and averaged over tokens, on prompts of several lengths (so several batches).
func TestDiffMeans(t *testing.T) {
	for name, c := range configs {
		m := testModel(t, c)
		pos := [][]int{{1, 2, 3}, {4, 5, 6}, {7, 8, 9, 10}}
		neg := [][]int{{11, 12}, {13, 14, 15, 16, 17}}
		for _, hook := range []string{hooks.ResidPost(0), hooks.Z(1)} {
			for _, at := range []string{AtLast, AtMean} {
				d, err := DiffMeans(m, hook, pos, neg, at)
				require.NoError(t, err)
				mean := func(ps [][]int) []float64 {
					var s []float64
					for _, p := range ps {
						rows := act(t, m, nil, p, hook)
						use := rows[len(rows)-1:]
						if at == AtMean {
							use = rows
						}
						if s == nil {
							s = make([]float64, len(rows[0]))
						}
						for _, r := range use {
							for i, x := range r {
								s[i] += float64(x) / float64(len(use)) / float64(len(ps))
							}
						}
					}
					return s
				}
				a, b := mean(pos), mean(neg)
				got := tensors.MustCopyFlatData[float32](d.Vector)
				require.Len(t, got, len(a))
				for i := range got {
					// the activations themselves differ by batch (rounding of a few reductions of <= 32 terms)
					tol := 4 * eps(32) * (math.Abs(a[i]) + math.Abs(b[i]) + 1)
					require.InDelta(t, a[i]-b[i], float64(got[i]), tol, "%s %s %s: element %d", name, hook, at, i)
				}
				wantDims := []int{c.DModel}
				if hook == hooks.Z(1) {
					wantDims = []int{c.NHeads, c.DHead}
				}
				require.Equal(t, wantDims, d.Vector.Shape().Dimensions)
			}
		}
	}
}

// TestSteerAddsTheScaledDirection: a saved direction, read back and applied with a coefficient,
// moves the hook's activation by exactly coef * direction at every position.
func TestSteerAddsTheScaledDirection(t *testing.T) {
	m := testModel(t, configs["llama-like"])
	hook := hooks.ResidPost(0)
	d, err := DiffMeans(m, hook, [][]int{{1, 2, 3}}, [][]int{{4, 5, 6}}, AtLast)
	require.NoError(t, err)
	d.Model = "llama-like"
	path := filepath.Join(t.TempDir(), "dir.safetensors")
	require.NoError(t, d.Save(path))
	back, err := LoadDirection(path)
	require.NoError(t, err)
	require.Equal(t, hook, back.Hook)
	require.Equal(t, 1, back.NPositive)
	require.Equal(t, "llama-like", back.Model)
	require.Equal(t, tensors.MustCopyFlatData[float32](d.Vector), tensors.MustCopyFlatData[float32](back.Vector))

	s, err := ParseSteer(hook + "+=" + path + "*-2.5")
	require.NoError(t, err)
	require.Equal(t, Steer{Hook: hook, File: path, Coef: -2.5}, s)
	set := hooks.New()
	s.Apply(set, back)
	prompt := []int{3, 1, 4, 1, 5}
	plain, steered := act(t, m, nil, prompt, hook), act(t, m, set, prompt, hook)
	v := tensors.MustCopyFlatData[float32](d.Vector)
	for p := range plain {
		for i := range plain[p] {
			want := plain[p][i] + float32(-2.5)*v[i]
			require.InDelta(t, want, steered[p][i], eps(2)*math.Abs(float64(want))+1e-7, "position %d, element %d", p, i)
		}
	}
}

// TestFeatureSteer: clamping, scaling or adding to a latent moves the site's activation by
// (f_i' - f_i) W_dec[i], with f the SAE's own latents (computed here by SAE.Encode, outside the
// model's graph); for a transcoder the MLP's output moves so, with f read from its input.
func TestFeatureSteer(t *testing.T) {
	c := configs["gpt2-like"]
	m := testModel(t, c)
	site := hooks.ResidPost(0)
	s, err := sae.NewRandom(sae.Config{Arch: sae.ReLU, DIn: c.DModel, DSAE: 24, Site: sae.Site{Hook: site}}, m.Backend, sae.InitOptions{Seed: 1, DecoderNorm: 1, EncoderFromDecoder: true})
	require.NoError(t, err)
	tc, err := transcoder.NewConfig(c, transcoder.Spec{Layer: 1, Arch: sae.TopK, DSAE: 20, K: 4})
	require.NoError(t, err)
	tr, err := sae.NewRandom(tc, m.Backend, sae.InitOptions{Seed: 2, DecoderNorm: 1})
	require.NoError(t, err)
	prompt := []int{2, 7, 1, 8, 2, 8}
	for _, dict := range []*sae.SAE{s, tr} {
		in, out := dict.Config.Site.Hook, dict.Config.TargetSite().Hook
		x := act(t, m, nil, prompt, in)
		plain := act(t, m, nil, prompt, out)
		flat := []float32{}
		for _, r := range x {
			flat = append(flat, r...)
		}
		f, err := dict.Encode(tensors.FromFlatDataAndDimensions(flat, len(x), dict.Config.DIn))
		require.NoError(t, err)
		F := dict.Config.DSAE
		fs := tensors.MustCopyFlatData[float32](f)
		wdec := tensors.MustCopyFlatData[float32](dict.Params["W_dec"])
		D := dict.Config.Out()
		latent := 0 // the most active latent on this prompt, so that scaling it moves something
		for j := range F {
			sum := func(j int) (a float64) {
				for p := range x {
					a += float64(fs[p*F+j])
				}
				return a
			}
			if sum(j) > sum(latent) {
				latent = j
			}
		}
		for _, fsp := range []FeatureSteer{{Latent: latent, Op: sae.SteerClamp, Value: 5}, {Latent: latent, Op: sae.SteerScale, Value: -2}, {Latent: latent, Op: sae.SteerAdd, Value: 1.5}} {
			set := hooks.New()
			require.NoError(t, fsp.Apply(set, c, dict))
			got := act(t, m, set, prompt, out)
			moved := 0.0
			for p := range plain {
				fi := float64(fs[p*F+latent])
				next := map[sae.SteerOp]float64{sae.SteerClamp: fsp.Value, sae.SteerScale: fsp.Value * fi, sae.SteerAdd: fi + fsp.Value}[fsp.Op]
				for i := range plain[p] {
					want := float64(plain[p][i]) + (next-fi)*float64(wdec[latent*D+i])
					require.InDelta(t, want, float64(got[p][i]), 4*eps(D)*(math.Abs(want)+math.Abs(next)+1), "%s %s: position %d, element %d", out, fsp.Op, p, i)
					moved = max(moved, math.Abs(float64(got[p][i]-plain[p][i])))
				}
			}
			require.Greater(t, moved, 1e-3, "%s %s changes the activation", out, fsp.Op)
		}
	}
}

func TestParseSpecs(t *testing.T) {
	f, err := ParseFeatureSteer("out/my:sae:12*=0.5")
	require.NoError(t, err)
	require.Equal(t, FeatureSteer{Dir: "out/my:sae", Latent: 12, Op: sae.SteerScale, Value: 0.5}, f)
	f, err = ParseFeatureSteer("d:0=-3")
	require.NoError(t, err)
	require.Equal(t, FeatureSteer{Dir: "d", Latent: 0, Op: sae.SteerClamp, Value: -3}, f)
	f, err = ParseFeatureSteer("d:7+=2")
	require.NoError(t, err)
	require.Equal(t, FeatureSteer{Dir: "d", Latent: 7, Op: sae.SteerAdd, Value: 2}, f)
	s, err := ParseSteer("blocks.1.hook_resid_post+=a.safetensors")
	require.NoError(t, err)
	require.Equal(t, 1.0, s.Coef)
	for spec, want := range map[string]string{
		"d:x=1": "latent", "d:1=y": "value", "d1=1": "want SAE_DIR", "d:1-=1": "latent", "d:1*1": "steering op",
	} {
		_, err := ParseFeatureSteer(spec)
		require.ErrorContains(t, err, want, spec)
	}
	for spec, want := range map[string]string{
		"blocks.1.hook_resid_post": "want HOOK+=FILE", "+=a": "want HOOK", "h+=a*z": "coefficient", "h+=*2": "no direction file",
	} {
		_, err := ParseSteer(spec)
		require.ErrorContains(t, err, want, spec)
	}
}
