package model

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/hooks"
)

// TestLogitLens checks every row of the lens against an independent float64 readout of the cached
// residual streams: LayerNorm with its statistics recomputed, times ln_final's weight plus its
// bias, then the unembedding. The last row must also be the plain run's own distribution.
//
// Tolerance: the lens's logits are float32 sums of D products (the norm's mean and variance are D
// terms too), so each logit may differ from the float64 one by about 4*D*eps32*sum_i|h_i W_iv|
// (h the normalised stream). A probability moves by at most p*(exp(2*delta)-1) when every logit
// moves by at most delta. A stream read from the wrong layer moves probabilities by far more.
func TestLogitLens(t *testing.T) {
	c := Config{NLayers: 3, DModel: 64, NHeads: 4, DHead: 16, DMLP: 256, NCtx: 16, DVocab: 97,
		Act: GeluNew, Normalization: LayerNorm, PositionalEmbeddings: true, UnembedBias: true, LNEps: 1e-5}
	m := equivModel(t, c, "dense", "")
	prompt := []int{5, 17, 3, 96, 40, 5, 17}
	const k = 5
	lens, err := m.LogitLens(prompt, k)
	require.NoError(t, err)
	require.Equal(t, []string{"0_pre", "1_pre", "2_pre", "final_post"}, lens.Labels)

	tt, err := Tokens([][]int{prompt})
	require.NoError(t, err)
	names := []string{hooks.ResidPre(0), hooks.ResidPre(1), hooks.ResidPre(2), hooks.ResidPost(2)}
	out, err := m.Run(tt, hooks.New().Cache(names...))
	require.NoError(t, err)
	P, D, V := len(prompt), c.DModel, c.DVocab
	lw, lb := m.Weights.Flat("ln_final.w"), m.Weights.Flat("ln_final.b")
	wu, bu := m.Weights.Flat("unembed.W_U"), m.Weights.Flat("unembed.b_U")
	plain := tensors.MustCopyFlatData[float32](out.Logits)
	const eps32 = 1.0 / (1 << 23)
	for r, name := range names {
		x := tensors.MustCopyFlatData[float32](out.Cache.MustGet(name))
		for p := range P {
			h := make([]float64, D)
			var mean, vr float64
			for i := range D {
				mean += float64(x[p*D+i])
			}
			mean /= float64(D)
			for i := range D {
				d := float64(x[p*D+i]) - mean
				vr += d * d
			}
			vr /= float64(D)
			for i := range D {
				h[i] = (float64(x[p*D+i])-mean)/math.Sqrt(vr+c.LNEps)*float64(lw[i]) + float64(lb[i])
			}
			logits := make([]float32, V)
			delta := 0.0
			for v := range V {
				s, mag := float64(bu[v]), math.Abs(float64(bu[v]))
				for i := range D {
					s += h[i] * float64(wu[i*V+v])
					mag += math.Abs(h[i] * float64(wu[i*V+v]))
				}
				logits[v] = float32(s)
				delta = math.Max(delta, 4*float64(D)*eps32*mag)
			}
			want := Probs(logits)
			if r == len(names)-1 {
				// The last row is the model's own prediction.
				own := Probs(plain[p*V : (p+1)*V])
				for v := range V {
					require.InDelta(t, own[v], want[v], want[v]*(math.Exp(2*delta)-1)+1e-7, "plain run, pos %d token %d", p, v)
				}
			}
			got := lens.Top[r][p]
			require.Len(t, got, k)
			for j, tp := range got {
				tol := want[tp.Token]*(math.Exp(2*delta)-1) + 1e-7
				require.InDelta(t, want[tp.Token], tp.Prob, tol, "row %s pos %d rank %d token %d", lens.Labels[r], p, j, tp.Token)
				if j > 0 {
					require.LessOrEqual(t, tp.Prob, got[j-1].Prob, "row %s pos %d: not sorted", lens.Labels[r], p)
				}
			}
			// No token left out is more likely than the last one kept (ties within tolerance).
			in := map[int]bool{}
			for _, tp := range got {
				in[tp.Token] = true
			}
			lastKept := got[k-1].Prob
			for v := range V {
				if !in[v] {
					require.LessOrEqual(t, want[v], lastKept*math.Exp(2*delta)+1e-7, "row %s pos %d: token %d left out", lens.Labels[r], p, v)
				}
			}
			top1 := lens.Top[len(names)-1][p][0].Token
			require.InDelta(t, want[top1], lens.Final[r][p], want[top1]*(math.Exp(2*delta)-1)+1e-7, "final-token probability row %d pos %d", r, p)
		}
	}

	_, err = m.LogitLens(nil, k)
	require.ErrorContains(t, err, "empty prompt")
	_, err = m.LogitLens(prompt, 0)
	require.ErrorContains(t, err, "k 0")
	_, err = m.LogitLens([]int{V}, 1)
	require.Error(t, err)
}
