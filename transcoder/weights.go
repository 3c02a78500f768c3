package transcoder

import (
	"fmt"
	"math"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

// Input-invariant circuit analysis: connections that depend on the weights only.

// encoderDirections returns layer l's transcoder encoder columns pulled back through the norm
// before the MLP (its gain; centred for a LayerNorm, not for an RMSNorm; the input-dependent
// scale left out): [F][D]. Without a norm before the MLP they are the columns themselves.
func encoderDirections(m *model.Model, s *sae.SAE) [][]float64 {
	c := s.Config
	enc := s.Flat("W_enc")
	F := c.DSAE
	var w []float32
	if m.Config.PreNorms() {
		w = m.Weights.Flat(fmt.Sprintf("blocks.%d.ln2.w", Layer(s)))
	}
	centre := m.Config.HasLN()
	out := make([][]float64, F)
	for j := range F {
		v := make([]float64, c.DIn)
		var mean float64
		for i := range v {
			v[i] = float64(enc[i*F+j])
			if w != nil {
				v[i] *= float64(w[i])
			}
			mean += v[i]
		}
		if w != nil && centre {
			mean /= float64(len(v))
			for i := range v {
				v[i] -= mean
			}
		}
		out[j] = v
	}
	return out
}

// Connections returns the input-invariant connection strengths between the latents of an
// upstream transcoder and those of a downstream one: C[i][j] = W_dec_up[i] . center(w_ln2 *
// W_enc_down[:, j]), the downstream latent's pre-activation per unit of the upstream latent's
// activation, up to the downstream LayerNorm's scale (Dunefsky et al.'s "input-invariant"
// factor). [F_up][F_down].
func Connections(m *model.Model, up, down *sae.SAE) ([][]float64, error) {
	for _, s := range []*sae.SAE{up, down} {
		if err := Check(m.Config, s); err != nil {
			return nil, err
		}
	}
	if Layer(up) >= Layer(down) {
		return nil, fmt.Errorf("transcoder: connections: layer %d is not upstream of layer %d", Layer(up), Layer(down))
	}
	dirs := encoderDirections(m, down)
	dec := up.Flat("W_dec")
	D := up.Config.Out()
	out := make([][]float64, up.Config.DSAE)
	for i := range out {
		row := make([]float64, len(dirs))
		for j, d := range dirs {
			row[j] = dot32(dec[i*D:(i+1)*D], d)
		}
		out[i] = row
	}
	return out, nil
}

// Scored is an index (latent or token) with a score.
type Scored struct {
	Index int     `json:"index"`
	Score float64 `json:"score"`
}

// TopUpstream returns the n upstream latents with the largest |connection| to downstream
// latent j.
func TopUpstream(conn [][]float64, j, n int) []Scored {
	s := make([]Scored, len(conn))
	for i, row := range conn {
		s[i] = Scored{i, row[j]}
	}
	return top(s, n, true)
}

func top(s []Scored, n int, abs bool) []Scored {
	sortSlice(s, func(a, b int) bool {
		if abs {
			return math.Abs(s[a].Score) > math.Abs(s[b].Score)
		}
		return s[a].Score > s[b].Score
	})
	return s[:min(n, len(s))]
}

// DeEmbed returns the n tokens whose embeddings most drive latent j of transcoder s directly:
// score[v] = W_E[v] . center(w_ln2 * W_enc[:, j]) (the direct path from the token embedding,
// the LayerNorm scale left out; Dunefsky et al.'s de-embedding), largest first.
func DeEmbed(m *model.Model, s *sae.SAE, j, n int) ([]Scored, error) {
	if err := Check(m.Config, s); err != nil {
		return nil, err
	}
	if j < 0 || j >= s.Config.DSAE {
		return nil, fmt.Errorf("transcoder: de-embedding: latent %d out of range [0, %d)", j, s.Config.DSAE)
	}
	if s.Config.Site.Hook != InputHook(m.Config, Layer(s)) {
		return nil, fmt.Errorf("transcoder: de-embedding needs a transcoder reading %s, not %s", InputHook(m.Config, Layer(s)), s.Config.Site.Hook)
	}
	dir := encoderDirections(m, s)[j]
	wE := m.Weights.Flat("embed.W_E")
	D := m.Config.DModel
	scale := 1.0 // hook_embed is W_E[v] times the embedding scale (Gemma's sqrt(d_model))
	if m.Config.EmbedScale != 0 {
		scale = float64(float32(m.Config.EmbedScale))
	}
	scores := make([]Scored, m.Config.DVocab)
	for v := range scores {
		scores[v] = Scored{v, scale * dot32(wE[v*D:(v+1)*D], dir)}
	}
	return top(scores, n, false), nil
}
