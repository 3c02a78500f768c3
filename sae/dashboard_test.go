package sae

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

func TestNewHistogram(t *testing.T) {
	for _, tc := range []struct {
		acts []float32
		bins int
		want Histogram
	}{
		{[]float32{0, 0, 1, 2, 4}, 4, Histogram{Max: 4, Counts: []int{0, 1, 1, 1}, Zero: 2}},
		{[]float32{0.5, 1, 1}, 2, Histogram{Max: 1, Counts: []int{0, 3}}},
		{[]float32{0, -1}, 3, Histogram{Counts: []int{0, 0, 0}, Zero: 2}},
	} {
		require.Equal(t, tc.want, NewHistogram(tc.acts, tc.bins), "%v", tc.acts)
	}
}

// TestLogitEffectsMatchAForwardPass adds a latent's decoder direction at its site in the last
// layer of an attention-only model without norms, where everything after the site is linear, and
// checks that the logits move by exactly the effects LogitEffects reports. Tolerance: both runs
// sum d_model products for each logit (and, for hook_z, d_head*heads more through W_O), so each
// logit may round by (D + H*K)*eps32 times the sum of the terms' sizes; the difference of two
// runs by twice that.
func TestLogitEffectsMatchAForwardPass(t *testing.T) {
	m := tinyModel(t)
	c := m.Config
	H, K, D, V := c.NHeads, c.DHead, c.DModel, c.DVocab
	tokens, err := model.Tokens([][]int{{1, 5, 9, 2, 7}})
	require.NoError(t, err)
	for _, site := range []Site{{Hook: hooks.ResidPost(1)}, {Hook: hooks.Z(1), Heads: HeadsConcat}, {Hook: hooks.Z(1), Heads: HeadsSingle, Head: 2}} {
		din, err := SiteWidth(c, site)
		require.NoError(t, err)
		s, err := NewRandom(Config{Arch: ReLU, DIn: din, DSAE: 8, Site: site}, m.Backend, InitOptions{Seed: 5, DecoderNorm: 1})
		require.NoError(t, err)
		const latent = 3
		promoted, suppressed, err := LogitEffects(m, s, latent, V)
		require.NoError(t, err)
		require.Len(t, promoted, V)
		dec := tensors.MustCopyFlatData[float32](s.Params["W_dec"])[latent*din : (latent+1)*din]
		var add *tensors.Tensor
		switch site.Heads {
		case NoHeads:
			add = tensors.FromFlatDataAndDimensions(dec, D)
		case HeadsConcat:
			add = tensors.FromFlatDataAndDimensions(dec, H, K)
		default:
			full := make([]float32, H*K)
			copy(full[site.Head*K:], dec)
			add = tensors.FromFlatDataAndDimensions(full, H, K)
		}
		plain := m.MustRun(tokens, hooks.New().Cache(hooks.ResidPost(1)))
		moved := m.MustRun(tokens, hooks.New().Add(site.Hook, add))
		pl, mv := tensors.MustCopyFlatData[float32](plain.Logits), tensors.MustCopyFlatData[float32](moved.Logits)
		resid := tensors.MustCopyFlatData[float32](plain.Cache.MustGet(hooks.ResidPost(1)))
		wu := m.Weights.Flat("unembed.W_U")
		effect := map[int]float64{}
		for i, e := range promoted {
			effect[e.Token] = e.Logit
			if i > 0 {
				require.LessOrEqual(t, e.Logit, promoted[i-1].Logit)
			}
		}
		require.Equal(t, promoted[V-1], suppressed[0], "the most suppressed token is the last promoted one")
		const eps32 = 0x1p-23
		for p := range 5 {
			for v := range V {
				terms := 0.0
				for i := range D {
					terms += (math.Abs(float64(resid[p*D+i])) + 4) * math.Abs(float64(wu[i*V+v]))
				}
				tol := 2 * float64(D+H*K) * eps32 * terms
				got := float64(mv[p*V+v]) - float64(pl[p*V+v])
				require.InDelta(t, effect[v], got, tol, "%s pos %d token %d", site, p, v)
			}
		}
	}
	s, err := NewRandom(Config{Arch: ReLU, DIn: K, DSAE: 8, Site: Site{Hook: hooks.Q(0), Heads: HeadsPerHead}}, m.Backend, InitOptions{Seed: 5})
	require.NoError(t, err)
	_, _, err = LogitEffects(m, s, 0, 3)
	require.ErrorContains(t, err, "does not write into the residual stream")
	_, _, err = LogitEffects(m, s, 8, 3)
	require.ErrorContains(t, err, "latent 8 out of range")
}

// TestTokenLatentsAndHistogram checks the token search and the histograms against a direct
// encoding of the same rows.
func TestTokenLatentsAndHistogram(t *testing.T) {
	m := tinyModel(t)
	rng := rand.New(rand.NewPCG(4, 4))
	rows := randomTokens(rng, 6, 10, 32)
	site := Site{Hook: hooks.ResidPost(1)}
	s, err := NewRandom(Config{Arch: ReLU, DIn: 16, DSAE: 32, ApplyBDecToInput: true, Site: site}, m.Backend,
		InitOptions{Seed: 3, DecoderNorm: 1, EncoderFromDecoder: true})
	require.NoError(t, err)
	tokens, _ := model.Tokens(rows)
	act := m.MustRun(tokens, hooks.New().Cache(site.Hook)).Cache.MustGet(site.Hook)
	f, err := s.Encode(tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](act), 60, 16))
	require.NoError(t, err)
	fs := tensors.MustCopyFlatData[float32](f)
	tol := encodeTolerances(m.Config, s, tensors.MustCopyFlatData[float32](act))
	token := rows[2][4]
	var sum [32]float64
	count := 0
	for r, row := range rows {
		for p, id := range row {
			if id == token {
				count++
				for j := range 32 {
					sum[j] += float64(fs[(r*10+p)*32+j])
				}
			}
		}
	}
	src, err := RowsSource("fixed", rows, 1)
	require.NoError(t, err)
	got, err := TokenLatents(m, s, src, token, 5, FeatureOptions{Batches: 1, SeqBatch: 6})
	require.NoError(t, err)
	require.NotEmpty(t, got)
	for i, ls := range got {
		require.Equal(t, count, ls.Count)
		require.InDelta(t, sum[ls.Latent]/float64(count), ls.Mean, tol[ls.Latent], "latent %d", ls.Latent)
		if i > 0 {
			require.LessOrEqual(t, ls.Mean, got[i-1].Mean)
		}
	}
	// No latent left out has a larger mean than the last one kept (within the bound).
	kept := map[int]bool{}
	for _, ls := range got {
		kept[ls.Latent] = true
	}
	for j := range 32 {
		if !kept[j] && len(got) == 5 {
			require.LessOrEqual(t, sum[j]/float64(count), got[4].Mean+2*tol[j], "latent %d left out", j)
		}
	}
	_, err = TokenLatents(m, s, src, 32, 5, FeatureOptions{})
	require.ErrorContains(t, err, "outside the vocabulary")

	src, _ = RowsSource("fixed", rows, 1)
	reps, err := TopActivations(m, s, src, FeatureOptions{Latents: []int{got[0].Latent}, Batches: 1, SeqBatch: 6, Bins: 10})
	require.NoError(t, err)
	h := reps[0].Histogram
	require.NotNil(t, h)
	n := h.Zero
	for _, c := range h.Counts {
		n += c
	}
	require.Equal(t, 60, n)
	require.Equal(t, reps[0].Density, float64(60-h.Zero)/60)
	require.Equal(t, float64(reps[0].Examples[0].Act), h.Max)
}
