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
	bl, err := byLayer(m.Config, ts)
	if err != nil {
		return nil, err
	}
	layers := make([]int, 0, len(bl))
	for l := range bl {
		layers = append(layers, l)
	}
	sort.Ints(layers)
	u := evalUnits{
		layers: layers,
		sae:    func(l int) *sae.SAE { return bl[l] },
		recon: func(l int, cache *hooks.Cache, skipBOS bool) (y, yhat, f []float32, err error) {
			return reconstructRows(bl[l], cache, skipBOS)
		},
		replace: func(set *hooks.Set, group []int, withError bool) error {
			g := make([]*sae.SAE, len(group))
			for i, l := range group {
				g[i] = bl[l]
			}
			return Replace(set, m.Config, g, withError)
		},
	}
	return evaluate(m, src, opt, u)
}

// EvaluateCLT measures a cross-layer transcoder as Evaluate measures per-layer ones: each layer's
// reconstruction from the latents of every layer up to it (read from the clean run's MLP inputs),
// and the loss with one layer's MLP replaced (its reconstruction from the same run's latents) and
// with every MLP replaced at once.
func EvaluateCLT(m *model.Model, c *CLT, src sae.TokenSource, opt EvalOptions) (*Metrics, error) {
	if err := CheckCLT(m.Config, c); err != nil {
		return nil, err
	}
	layers := make([]int, c.NLayers())
	for l := range layers {
		layers[l] = l
	}
	u := evalUnits{
		layers: layers,
		sae:    func(l int) *sae.SAE { return c.Layers[l] },
		recon: func(m int, cache *hooks.Cache, skipBOS bool) (y, yhat, f []float32, err error) {
			lat := make([][]float32, c.NLayers())
			var n int
			for l := 0; l <= m; l++ {
				s := c.Layers[l]
				x := rowsOf(cache.MustGet(s.Config.Site.Hook), skipBOS)
				n = len(x) / s.Config.DIn
				ft, err := s.Encode(tensors.FromFlatDataAndDimensions(x, n, s.Config.DIn))
				if err != nil {
					return nil, nil, nil, err
				}
				lat[l] = tensors.MustCopyFlatData[float32](ft)
			}
			y = rowsOf(cache.MustGet(c.Layers[m].Config.TargetSite().Hook), skipBOS)
			return y, c.Reconstruct(m, lat, n), lat[m], nil
		},
		replace: func(set *hooks.Set, group []int, withError bool) error {
			return ReplaceCLTLayers(set, m.Config, c, group, withError)
		},
	}
	return evaluate(m, src, opt, u)
}

// evalUnits are what evaluate measures: the layers, each layer's dictionary (for its hooks and
// sizes), the reconstruction of a layer's MLP output from a clean run's cache (targets,
// reconstructions and latents, as rows), and the hooks that replace a group of layers' MLPs.
type evalUnits struct {
	layers  []int
	sae     func(l int) *sae.SAE
	recon   func(l int, cache *hooks.Cache, skipBOS bool) (y, yhat, f []float32, err error)
	replace func(set *hooks.Set, group []int, withError bool) error
}

func evaluate(m *model.Model, src sae.TokenSource, opt EvalOptions, u evalUnits) (*Metrics, error) {
	if opt.Batches <= 0 {
		opt.Batches = 8
	}
	if opt.SeqBatch <= 0 {
		opt.SeqBatch = 8
	}
	// Replacement groups: each layer alone, then all together (when there are several).
	groups := make([][]int, 0, len(u.layers)+1)
	for _, l := range u.layers {
		groups = append(groups, []int{l})
	}
	if len(u.layers) > 1 {
		groups = append(groups, u.layers)
	}
	type variantSets struct{ rep, repErr, zero *hooks.Set }
	sets := make([]variantSets, len(groups))
	for i, g := range groups {
		v := variantSets{hooks.New(), hooks.New(), hooks.New()}
		if err := u.replace(v.rep, g, false); err != nil {
			return nil, err
		}
		if err := u.replace(v.repErr, g, true); err != nil {
			return nil, err
		}
		for _, l := range g {
			v.zero.Zero(u.sae(l).Config.TargetSite().Hook)
		}
		sets[i] = v
	}
	clean := hooks.New()
	for _, l := range u.layers {
		s := u.sae(l)
		clean.Cache(s.Config.Site.Hook, s.Config.TargetSite().Hook)
	}
	for _, l := range u.layers { // a CLT's reconstruction reads every earlier layer's input
		for k := 0; k < l; k++ {
			if s := u.sae(k); s != nil {
				clean.Cache(s.Config.Site.Hook)
			}
		}
	}

	recon := make([]*reconAccum, len(u.layers))
	for i, l := range u.layers {
		s := u.sae(l)
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
		for i, l := range u.layers {
			y, yhat, f, err := u.recon(l, out.Cache, opt.SkipBOS)
			if err != nil {
				return nil, err
			}
			if err := recon[i].add(y, yhat, f); err != nil {
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
			KL: a.kl / float64(nKL), KLWithError: a.klErr / float64(nKL), KLZero: a.klZero / float64(nKL), Layers: groups[i]}
		r.CERecovered = (r.CEZero - r.CE) / (r.CEZero - met.CEClean)
		r.CERecoveredWithError = (r.CEZero - r.CEWithError) / (r.CEZero - met.CEClean)
		r.KLScore = 1 - r.KL/r.KLZero
		return r
	}
	for i, l := range u.layers {
		s := u.sae(l)
		lm := recon[i].result()
		lm.Layer, lm.Input, lm.Target = l, s.Config.Site.Hook, s.Config.TargetSite().Hook
		lm.Alone = result(i)
		met.Layers = append(met.Layers, lm)
		met.Rows = recon[i].rows
	}
	if len(u.layers) > 1 {
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

// reconstructRows encodes a transcoder's input cached in one clean run and reconstructs its
// target: the targets, reconstructions and latents as rows.
func reconstructRows(s *sae.SAE, cache *hooks.Cache, skipBOS bool) (y, yhat, f []float32, err error) {
	c := s.Config
	x := rowsOf(cache.MustGet(c.Site.Hook), skipBOS)
	y = rowsOf(cache.MustGet(c.TargetSite().Hook), skipBOS)
	n := len(x) / c.DIn
	if n == 0 {
		return nil, nil, nil, errors.New("transcoder: evaluate: no rows (sequences of length 1 with SkipBOS)")
	}
	xt := tensors.FromFlatDataAndDimensions(x, n, c.DIn)
	ft, err := s.Encode(xt)
	if err != nil {
		return nil, nil, nil, err
	}
	yt, err := s.Decode(ft, xt)
	if err != nil {
		return nil, nil, nil, err
	}
	return y, tensors.MustCopyFlatData[float32](yt), tensors.MustCopyFlatData[float32](ft), nil
}

// add accumulates rows of targets y, reconstructions yhat and latents fv.
func (a *reconAccum) add(y, yhat, fv []float32) error {
	d := a.d
	n := len(y) / d
	if n == 0 {
		return errors.New("transcoder: evaluate: no rows (sequences of length 1 with SkipBOS)")
	}
	F := len(a.fires)
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
