package sae

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// The pieces of a Neuronpedia-style latent dashboard beyond its top contexts (TopActivations):
// the histogram of a latent's activations, the tokens its decoder direction promotes and
// suppresses, and a search for the latents a token fires.

// Histogram counts a latent's positive activations in equal-width bins over [0, Max].
type Histogram struct {
	Max    float64 `json:"max"`
	Counts []int   `json:"counts"`
	// Zero counts the scanned rows where the latent did not fire.
	Zero int `json:"zero"`
}

// NewHistogram bins the positive values of acts into bins over [0, max(acts)] and counts the rest
// as zero.
func NewHistogram(acts []float32, bins int) Histogram {
	h := Histogram{Counts: make([]int, bins)}
	for _, a := range acts {
		h.Max = math.Max(h.Max, float64(a))
	}
	for _, a := range acts {
		if a <= 0 {
			h.Zero++
			continue
		}
		b := int(float64(a) / h.Max * float64(bins))
		h.Counts[min(b, bins-1)]++
	}
	return h
}

// TokenEffect is a token and the logit a direction adds to it.
type TokenEffect struct {
	Token int     `json:"token"`
	Logit float64 `json:"logit"`
}

// LogitEffects returns the k tokens whose logits latent's decoder direction raises most and the
// k it lowers most: the direction carried into the residual stream (through W_O for an hook_z
// site, W_out for mlp.hook_post; residual-stream sites as they are), times the unembedding, as
// Neuronpedia's dashboards compute it (the final norm is left out: it rescales every token alike
// at a position). Sites the residual stream does not receive linearly (queries, keys, patterns)
// and per-head dictionaries, whose rows mix heads, are refused.
func LogitEffects(m *model.Model, s *SAE, latent, k int) (promoted, suppressed []TokenEffect, err error) {
	c := s.Config
	if latent < 0 || latent >= c.DSAE {
		return nil, nil, fmt.Errorf("sae: logit effects: latent %d out of range [0, %d)", latent, c.DSAE)
	}
	mc := m.Config
	D := mc.DModel
	out := c.Out()
	dec := tensors.MustCopyFlatData[float32](s.Params["W_dec"])[latent*out : (latent+1)*out]
	site := c.TargetSite()
	l, suffix := hooks.Layer(site.Hook)
	resid := make([]float64, D)
	switch {
	case isResidual(site.Hook, suffix):
		if out != D {
			return nil, nil, fmt.Errorf("sae: logit effects: %s has width %d, d_model is %d", site, out, D)
		}
		for i, v := range dec {
			resid[i] = float64(v)
		}
	case suffix == "mlp.hook_post":
		wout := m.Weights.Flat(fmt.Sprintf("blocks.%d.mlp.W_out", l)) // [M, D]
		for j, v := range dec {
			for i := range D {
				resid[i] += float64(v) * float64(wout[j*D+i])
			}
		}
	case suffix == "attn.hook_z" && site.Heads != HeadsPerHead:
		wo := m.Weights.Flat(fmt.Sprintf("blocks.%d.attn.W_O", l)) // [H, K, D]
		K := mc.DHead
		h0 := 0
		if site.Heads == HeadsSingle {
			h0 = site.Head
		}
		for j, v := range dec {
			row := (h0*K + j) * D
			for i := range D {
				resid[i] += float64(v) * float64(wo[row+i])
			}
		}
	default:
		return nil, nil, fmt.Errorf("sae: logit effects: %s does not write into the residual stream linearly", site)
	}
	promoted, suppressed = UnembedEffects(mc, m.Weights, resid, k)
	return promoted, suppressed, nil
}

// UnembedEffects returns the k tokens whose logits a residual-stream direction [D] raises most and
// the k it lowers most (direction times the unembedding, the final norm left out).
func UnembedEffects(mc model.Config, w *model.Weights, resid []float64, k int) (promoted, suppressed []TokenEffect) {
	D, V := mc.DModel, mc.DVocab
	logits := make([]float64, V)
	if mc.TiedEmbeddings {
		we := w.Flat("embed.W_E") // [V, D]
		for v := range V {
			for i := range D {
				logits[v] += resid[i] * float64(we[v*D+i])
			}
		}
	} else {
		wu := w.Flat("unembed.W_U") // [D, V]
		for i := range D {
			for v := range V {
				logits[v] += resid[i] * float64(wu[i*V+v])
			}
		}
	}
	idx := make([]int, V)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return logits[idx[a]] > logits[idx[b]] })
	k = min(k, V)
	for i := range k {
		promoted = append(promoted, TokenEffect{idx[i], logits[idx[i]]})
		j := idx[V-1-i]
		suppressed = append(suppressed, TokenEffect{j, logits[j]})
	}
	return promoted, suppressed
}

// isResidual reports whether a hook point is the residual stream or a block's output into it.
func isResidual(name, suffix string) bool {
	switch {
	case name == hooks.Embed, strings.HasPrefix(suffix, "hook_resid_"), suffix == "hook_attn_out", suffix == "hook_mlp_out":
		return true
	}
	return false
}

// LatentScore is a latent's mean activation where a token occurs.
type LatentScore struct {
	Latent int     `json:"latent"`
	Mean   float64 `json:"mean"`
	// Fired counts the occurrences where the latent was positive; Count the occurrences.
	Fired int `json:"fired"`
	Count int `json:"count"`
}

// TokenLatents scans token batches from src and ranks the latents by their mean activation at
// the positions holding token, returning the top ones (at most top) that fired there. It returns
// no latents, and no error, when the token never occurs in the scanned rows.
func TokenLatents(m *model.Model, s *SAE, src TokenSource, token, top int, opt FeatureOptions) ([]LatentScore, error) {
	c := s.Config
	if token < 0 || token >= m.Config.DVocab {
		return nil, fmt.Errorf("sae: token latents: token %d outside the vocabulary [0, %d)", token, m.Config.DVocab)
	}
	if c.Site.Heads == HeadsPerHead {
		return nil, fmt.Errorf("sae: token latents: per-head dictionaries are not supported")
	}
	if opt.Batches == 0 {
		opt.Batches = 16
	}
	if opt.SeqBatch == 0 {
		opt.SeqBatch = 16
	}
	sum := make([]float64, c.DSAE)
	fired := make([]int, c.DSAE)
	count := 0
	err := scanLatents(m, s, src, opt, "token latents", func(rows [][]int, f []float32, _ int) {
		P := len(rows[0])
		for b, row := range rows {
			for p, id := range row {
				if id != token {
					continue
				}
				count++
				for j, a := range f[(b*P+p)*c.DSAE : (b*P+p+1)*c.DSAE] {
					if a > 0 {
						sum[j] += float64(a)
						fired[j]++
					}
				}
			}
		}
	})
	if err != nil {
		return nil, err
	}
	var out []LatentScore
	for j := range c.DSAE {
		if fired[j] > 0 {
			out = append(out, LatentScore{Latent: j, Mean: sum[j] / float64(count), Fired: fired[j], Count: count})
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Mean > out[b].Mean })
	if len(out) > top {
		out = out[:top]
	}
	return out, nil
}
