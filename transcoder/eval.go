package transcoder

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

// Replacement is the model's next-token loss with some MLPs replaced by transcoders.
type Replacement struct {
	Layers []int `json:"layers"`
	// CE is the mean next-token cross-entropy with the MLPs replaced; CEWithError with the
	// reconstruction error added back (equal to clean: a check); CEZero with the MLPs zero-ablated.
	CE          float64 `json:"ce_loss_replaced"`
	CEWithError float64 `json:"ce_loss_replaced_with_error"`
	CEZero      float64 `json:"ce_loss_zero_ablated"`
	// CERecovered = (CEZero - CE) / (CEZero - CEClean): 1 when the replacement loses nothing,
	// 0 when it is as bad as deleting the MLPs.
	CERecovered          float64 `json:"ce_loss_recovered"`
	CERecoveredWithError float64 `json:"ce_loss_recovered_with_error"`
	// KL is the mean over positions of KL(clean || replaced); KLScore = 1 - KL / KLZero.
	KL          float64 `json:"kl_div_replaced"`
	KLWithError float64 `json:"kl_div_replaced_with_error"`
	KLZero      float64 `json:"kl_div_zero_ablated"`
	KLScore     float64 `json:"kl_div_score"`
}

// LayerMetrics are one transcoder's reconstruction of its MLP's output on the clean model's
// activations, and the loss with only that MLP replaced.
type LayerMetrics struct {
	Layer             int     `json:"layer"`
	Input             string  `json:"input_hook"`
	Target            string  `json:"target_hook"`
	L0                float64 `json:"l0"`
	MSE               float64 `json:"mse"`
	FVU               float64 `json:"fvu"` // sum ||yhat - y||^2 / sum ||y - mean y||^2 over the MLP outputs
	ExplainedVariance float64 `json:"explained_variance"`
	CosSim            float64 `json:"cossim"`
	DeadFrac          float64 `json:"dead_fraction"` // latents that never fired on the evaluated rows
	// Density is each latent's firing frequency.
	Density []float64   `json:"-"`
	Alone   Replacement `json:"replaced_alone"`
}

// Metrics are the evaluation of a set of transcoders on a model.
type Metrics struct {
	Tokens  int            `json:"tokens"`
	Rows    int            `json:"rows"`   // positions in the reconstruction metrics
	Scored  int            `json:"scored"` // next-token predictions in the CE loss
	CEClean float64        `json:"ce_loss_clean"`
	Layers  []LayerMetrics `json:"layers"`
	// All has every transcoder's MLP replaced at once.
	All     Replacement `json:"all_replaced"`
	Backend string      `json:"backend"`
}

// EvalOptions configure Evaluate.
type EvalOptions struct {
	Batches  int  // token batches; default 8
	SeqBatch int  // token rows per batch; default 8
	SkipBOS  bool // leave position 0 out of the reconstruction metrics (the runs are whole)
}

// Evaluate measures transcoders (at most one per layer) on m with tokens from src: each one's
// reconstruction of its MLP output (FVU, MSE, L0, dead fraction), and the cross-entropy and KL
// (at the positions a MaskedSource's mask selects; every position otherwise) of the model with that MLP replaced, with every transcoder's MLP replaced at once, with and
// without the error term, against zero-ablating the same MLPs.
func Evaluate(m *model.Model, ts []*sae.SAE, src sae.TokenSource, opt EvalOptions) (*Metrics, error) {
	if len(ts) == 0 {
		return nil, errors.New("transcoder: evaluate: no transcoders")
	}
	if opt.Batches <= 0 {
		opt.Batches = 8
	}
	if opt.SeqBatch <= 0 {
		opt.SeqBatch = 8
	}
	bl, err := byLayer(m.Config, ts)
	if err != nil {
		return nil, err
	}
	layers := make([]int, 0, len(bl))
	for l := range bl {
		layers = append(layers, l)
	}
	sort.Ints(layers)
	ordered := make([]*sae.SAE, len(layers))
	for i, l := range layers {
		ordered[i] = bl[l]
	}
	// Replacement groups: each transcoder alone, then all together (when there are several).
	groups := make([][]*sae.SAE, 0, len(ordered)+1)
	for _, s := range ordered {
		groups = append(groups, []*sae.SAE{s})
	}
	if len(ordered) > 1 {
		groups = append(groups, ordered)
	}
	type variantSets struct{ rep, repErr, zero *hooks.Set }
	sets := make([]variantSets, len(groups))
	for i, g := range groups {
		v := variantSets{hooks.New(), hooks.New(), hooks.New()}
		if err := Replace(v.rep, m.Config, g, false); err != nil {
			return nil, err
		}
		if err := Replace(v.repErr, m.Config, g, true); err != nil {
			return nil, err
		}
		ZeroMLPs(v.zero, g)
		sets[i] = v
	}
	clean := hooks.New()
	for _, s := range ordered {
		clean.Cache(s.Config.Site.Hook, s.Config.TargetSite().Hook)
	}

	recon := make([]*reconAccum, len(ordered))
	for i, s := range ordered {
		recon[i] = newReconAccum(s.Config.Out(), s.Config.DSAE)
	}
	type sums struct{ ce, ceErr, ceZero, kl, klErr, klZero float64 }
	acc := make([]sums, len(groups))
	var ceClean float64
	var nCE, nKL int
	met := &Metrics{Backend: m.BackendName}
	for range opt.Batches {
		rows, mask, err := sae.NextBatch(src, opt.SeqBatch)
		if err != nil {
			return nil, err
		}
		tokens, err := model.Tokens(rows)
		if err != nil {
			return nil, fmt.Errorf("transcoder: evaluate: %s: %w", src.Name(), err)
		}
		out, err := m.Run(tokens, clean)
		if err != nil {
			return nil, err
		}
		met.Tokens += len(rows) * len(rows[0])
		for i, s := range ordered {
			if err := recon[i].addRun(s, out.Cache, opt.SkipBOS); err != nil {
				return nil, err
			}
		}
		V := m.Config.DVocab
		cl := sae.NewLogits(out.Logits, V)
		c, n := cl.CrossEntropy(rows, mask)
		ceClean += c
		nCE += n
		_, k := cl.KLFrom(cl, rows, mask)
		nKL += k
		for i, v := range sets {
			for j, set := range []*hooks.Set{v.rep, v.repErr, v.zero} {
				o, err := m.Run(tokens, set)
				if err != nil {
					return nil, err
				}
				l := sae.NewLogits(o.Logits, V)
				ce, _ := l.CrossEntropy(rows, mask)
				kl, _ := l.KLFrom(cl, rows, mask)
				switch j {
				case 0:
					acc[i].ce += ce
					acc[i].kl += kl
				case 1:
					acc[i].ceErr += ce
					acc[i].klErr += kl
				case 2:
					acc[i].ceZero += ce
					acc[i].klZero += kl
				}
			}
		}
	}
	if nCE == 0 {
		return nil, errors.New("transcoder: evaluate: the loss mask selects no prediction")
	}
	met.CEClean, met.Scored = ceClean/float64(nCE), nCE
	result := func(i int) Replacement {
		a := acc[i]
		r := Replacement{CE: a.ce / float64(nCE), CEWithError: a.ceErr / float64(nCE), CEZero: a.ceZero / float64(nCE),
			KL: a.kl / float64(nKL), KLWithError: a.klErr / float64(nKL), KLZero: a.klZero / float64(nKL)}
		for _, s := range groups[i] {
			r.Layers = append(r.Layers, Layer(s))
		}
		r.CERecovered = (r.CEZero - r.CE) / (r.CEZero - met.CEClean)
		r.CERecoveredWithError = (r.CEZero - r.CEWithError) / (r.CEZero - met.CEClean)
		r.KLScore = 1 - r.KL/r.KLZero
		return r
	}
	for i, s := range ordered {
		lm := recon[i].result()
		lm.Layer, lm.Input, lm.Target = Layer(s), s.Config.Site.Hook, s.Config.TargetSite().Hook
		lm.Alone = result(i)
		met.Layers = append(met.Layers, lm)
		met.Rows = recon[i].rows
	}
	if len(ordered) > 1 {
		met.All = result(len(groups) - 1)
	} else {
		met.All = met.Layers[0].Alone
	}
	return met, nil
}

// reconAccum accumulates one transcoder's reconstruction metrics over batches.
type reconAccum struct {
	d, rows               int
	sumSq, sumYY, cos, l0 float64
	sumY, fires           []float64
}

func newReconAccum(d, f int) *reconAccum {
	return &reconAccum{d: d, sumY: make([]float64, d), fires: make([]float64, f)}
}

// addRun reconstructs the target from the input cached in one clean run.
func (a *reconAccum) addRun(s *sae.SAE, cache *hooks.Cache, skipBOS bool) error {
	c := s.Config
	x := rowsOf(cache.MustGet(c.Site.Hook), skipBOS)
	y := rowsOf(cache.MustGet(c.TargetSite().Hook), skipBOS)
	n := len(x) / c.DIn
	if n == 0 {
		return errors.New("transcoder: evaluate: no rows (sequences of length 1 with SkipBOS)")
	}
	xt := tensors.FromFlatDataAndDimensions(x, n, c.DIn)
	f, err := s.Encode(xt)
	if err != nil {
		return err
	}
	yt, err := s.Decode(f, xt)
	if err != nil {
		return err
	}
	fv, yhat := tensors.MustCopyFlatData[float32](f), tensors.MustCopyFlatData[float32](yt)
	F, d := c.DSAE, a.d
	for r := range n {
		yr, hr := y[r*d:(r+1)*d], yhat[r*d:(r+1)*d]
		var ss, yy, hh, yh float64
		for i := range d {
			e := float64(hr[i]) - float64(yr[i])
			ss += e * e
			yy += float64(yr[i]) * float64(yr[i])
			hh += float64(hr[i]) * float64(hr[i])
			yh += float64(yr[i]) * float64(hr[i])
			a.sumY[i] += float64(yr[i])
		}
		a.sumSq += ss
		a.sumYY += yy
		if yy > 0 && hh > 0 {
			a.cos += yh / math.Sqrt(yy*hh)
		}
		for j, v := range fv[r*F : (r+1)*F] {
			if v != 0 {
				a.l0++
				a.fires[j]++
			}
		}
	}
	a.rows += n
	return nil
}

func (a *reconAccum) result() LayerMetrics {
	n := float64(a.rows)
	var meanSq float64
	for _, s := range a.sumY {
		meanSq += s * s
	}
	lm := LayerMetrics{L0: a.l0 / n, MSE: a.sumSq / (n * float64(a.d)), FVU: a.sumSq / (a.sumYY - meanSq/n), CosSim: a.cos / n}
	lm.ExplainedVariance = 1 - lm.FVU
	lm.Density = make([]float64, len(a.fires))
	dead := 0
	for j, f := range a.fires {
		lm.Density[j] = f / n
		if f == 0 {
			dead++
		}
	}
	lm.DeadFrac = float64(dead) / float64(len(a.fires))
	return lm
}

// rowsOf flattens an activation [B, P, X] to rows, optionally without position 0.
func rowsOf(t *tensors.Tensor, skipBOS bool) []float32 {
	v := tensors.MustCopyFlatData[float32](t)
	if !skipBOS {
		return v
	}
	d := t.Shape().Dimensions
	B, P, X := d[0], d[1], d[2]
	out := make([]float32, 0, B*(P-1)*X)
	for b := range B {
		out = append(out, v[(b*P+1)*X:(b+1)*P*X]...)
	}
	return out
}
