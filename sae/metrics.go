package sae

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/internal/plots"
	"github.com/interp-dev/interp/model"
)

// Metrics are an SAE's evaluation on a model (see doc.go for the definitions).
type Metrics struct {
	Rows   int `json:"rows"`   // SAE rows evaluated
	Tokens int `json:"tokens"` // token positions run through the model

	L0                float64 `json:"l0"`
	MSE               float64 `json:"mse"`
	FVU               float64 `json:"fvu"`
	ExplainedVariance float64 `json:"explained_variance"`
	CosSim            float64 `json:"cossim"`
	L2Ratio           float64 `json:"l2_ratio"`

	CEClean            float64 `json:"ce_loss_clean"`
	CESpliced          float64 `json:"ce_loss_with_sae"`
	CESplicedWithError float64 `json:"ce_loss_with_sae_and_error"`
	CEZeroAblated      float64 `json:"ce_loss_zero_ablated"`
	CELossScore        float64 `json:"ce_loss_score"`
	CELossScoreError   float64 `json:"ce_loss_score_with_error"`
	KLSpliced          float64 `json:"kl_div_with_sae"`
	KLSplicedWithError float64 `json:"kl_div_with_sae_and_error"`
	KLZeroAblated      float64 `json:"kl_div_zero_ablated"`
	KLScore            float64 `json:"kl_div_score"`

	DeadFrac       float64 `json:"dead_fraction"`
	DenseFrac      float64 `json:"dense_fraction"`
	DenseThreshold float64 `json:"dense_threshold"`
	// Density is each latent's firing frequency over the evaluated rows.
	Density []float64 `json:"-"`
	Backend string    `json:"backend"`
}

// reconAccum accumulates reconstruction metrics over batches of rows.
type reconAccum struct {
	d               int
	rows            int
	sumSq, sumYY    float64
	sumY            []float64
	cos, l2         float64
	cosRows, l2Rows int
	l0              float64
	fires           []float64
}

func newReconAccum(d, f int) *reconAccum {
	return &reconAccum{d: d, sumY: make([]float64, d), fires: make([]float64, f)}
}

// add accumulates rows of targets y and reconstructions yhat ([n*d] each), the active latents of
// each row l0 [n] and each latent's fire count fires [F] (either may be nil).
func (a *reconAccum) add(y, yhat []float32, l0, fires []float32) {
	d := a.d
	n := len(y) / d
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
		if yy > 0 {
			a.l2 += math.Sqrt(hh / yy)
			a.l2Rows++
			if hh > 0 {
				a.cos += yh / math.Sqrt(yy*hh)
			}
			a.cosRows++
		}
	}
	for _, v := range l0 {
		a.l0 += float64(v)
	}
	for j, v := range fires {
		a.fires[j] += float64(v)
	}
	a.rows += n
}

// result fills the reconstruction fields of m.
func (a *reconAccum) result(m *Metrics, denseThreshold float64) {
	n := float64(a.rows)
	m.Rows = a.rows
	m.L0 = a.l0 / n
	m.MSE = a.sumSq / (n * float64(a.d))
	var meanSq float64
	for _, s := range a.sumY {
		meanSq += s * s
	}
	m.FVU = a.sumSq / (a.sumYY - meanSq/n)
	m.ExplainedVariance = 1 - m.FVU
	m.CosSim = a.cos / float64(max(a.cosRows, 1))
	m.L2Ratio = a.l2 / float64(max(a.l2Rows, 1))
	m.Density = make([]float64, len(a.fires))
	dead, dense := 0, 0
	for j, f := range a.fires {
		m.Density[j] = f / n
		if f == 0 {
			dead++
		}
		if m.Density[j] > denseThreshold {
			dense++
		}
	}
	m.DeadFrac = float64(dead) / float64(len(a.fires))
	m.DenseFrac = float64(dense) / float64(len(a.fires))
	m.DenseThreshold = denseThreshold
}

// EvalOptions configure Evaluate.
type EvalOptions struct {
	Batches  int // token batches; default 8
	SeqBatch int // token rows per batch; default 8
	// SkipBOS leaves position 0 out of the reconstruction metrics (the model runs are whole).
	SkipBOS bool
	// DenseThreshold is the firing frequency above which a latent counts as dense; default 0.1.
	DenseThreshold float64
}

// Evaluate measures an SAE on a model with tokens from src: reconstruction metrics on the site's
// rows, and, with the SAE spliced into the model, the next-token cross-entropy and the KL
// divergence from the clean model (with and without the error term), against zero-ablating the
// site.
func Evaluate(m *model.Model, s *SAE, src TokenSource, opt EvalOptions) (*Metrics, error) {
	c := s.Config
	if c.TargetSite() != c.Site || c.Skip {
		return nil, errors.New("sae: evaluate: transcoders are evaluated by the transcoder package")
	}
	if opt.Batches == 0 {
		opt.Batches = 8
	}
	if opt.SeqBatch == 0 {
		opt.SeqBatch = 8
	}
	if opt.DenseThreshold == 0 {
		opt.DenseThreshold = 0.1
	}
	w, err := SiteWidth(m.Config, c.Site)
	if err != nil {
		return nil, err
	}
	if w != c.DIn {
		return nil, fmt.Errorf("sae: evaluate: site %s gives rows of width %d, the SAE reads %d", c.Site, w, c.DIn)
	}
	acc := newReconAccum(c.DIn, c.DSAE)
	var ce [4]float64 // clean, spliced, spliced+error, zero
	var kl [3]float64 // spliced, spliced+error, zero
	var nCE, nKL int
	clean := hooks.New().Cache(c.Site.Hook)
	variants := make([]*hooks.Set, 3)
	for i := range variants {
		variants[i] = hooks.New()
	}
	if err := Splice(variants[0], s, false); err != nil {
		return nil, err
	}
	if err := Splice(variants[1], s, true); err != nil {
		return nil, err
	}
	ZeroSite(variants[2], c.Site)
	met := &Metrics{Backend: m.BackendName}
	for range opt.Batches {
		rows, mask, err := NextBatch(src, opt.SeqBatch)
		if err != nil {
			return nil, err
		}
		tokens, err := model.Tokens(rows)
		if err != nil {
			return nil, fmt.Errorf("sae: evaluate: %s: %w", src.Name(), err)
		}
		out, err := m.Run(tokens, clean)
		if err != nil {
			return nil, err
		}
		met.Tokens += len(rows) * len(rows[0])
		x := appendSite(nil, c.Site, out.Cache.MustGet(c.Site.Hook), opt.SkipBOS)
		if len(x) == 0 {
			return nil, errNoRows
		}
		f, err := s.engine().forward(tensors.FromFlatDataAndDimensions(x, len(x)/c.DIn, c.DIn), s.paramList())
		if err != nil {
			return nil, err
		}
		acc.add(x, tensors.MustCopyFlatData[float32](f.Recon), f.L0, f.Fires)
		V := m.Config.DVocab
		cleanL := NewLogits(out.Logits, V)
		c0, n0 := cleanL.CrossEntropy(rows, mask)
		ce[0] += c0
		nCE += n0
		for i, set := range variants {
			o, err := m.Run(tokens, set)
			if err != nil {
				return nil, err
			}
			l := NewLogits(o.Logits, V)
			ci, _ := l.CrossEntropy(rows, mask)
			ce[i+1] += ci
			k, nk := l.KLFrom(cleanL, rows, mask)
			kl[i] += k
			if i == 0 {
				nKL += nk
			}
		}
	}
	acc.result(met, opt.DenseThreshold)
	met.CEClean, met.CESpliced, met.CESplicedWithError, met.CEZeroAblated =
		ce[0]/float64(nCE), ce[1]/float64(nCE), ce[2]/float64(nCE), ce[3]/float64(nCE)
	met.KLSpliced, met.KLSplicedWithError, met.KLZeroAblated = kl[0]/float64(nKL), kl[1]/float64(nKL), kl[2]/float64(nKL)
	met.CELossScore = (met.CEZeroAblated - met.CESpliced) / (met.CEZeroAblated - met.CEClean)
	met.CELossScoreError = (met.CEZeroAblated - met.CESplicedWithError) / (met.CEZeroAblated - met.CEClean)
	met.KLScore = (met.KLZeroAblated - met.KLSpliced) / met.KLZeroAblated
	return met, nil
}

// Logits holds a run's logits [rows, V] with each row's log-sum-exp.
type Logits struct {
	v   []float32
	V   int
	lse []float64
}

// NewLogits copies a run's logits [rows, V] (any leading shape) and computes each row's log-sum-exp.
func NewLogits(t *tensors.Tensor, V int) *Logits {
	l := &Logits{v: tensors.MustCopyFlatData[float32](t), V: V}
	l.lse = make([]float64, len(l.v)/V)
	parallelRows(len(l.lse), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := l.v[r*V : (r+1)*V]
			mx := math.Inf(-1)
			for _, x := range row {
				mx = max(mx, float64(x))
			}
			var s float64
			for _, x := range row {
				s += math.Exp(float64(x) - mx)
			}
			l.lse[r] = mx + math.Log(s)
		}
	})
	return l
}

// CrossEntropy sums -log p(next token) over every position but the last of each row (only where
// mask[b][p], when a task gives a loss mask) and returns the sum and the count.
func (l *Logits) CrossEntropy(rows [][]int, mask [][]bool) (float64, int) {
	var total float64
	n := 0
	P := len(rows[0])
	for b, r := range rows {
		for p := 0; p+1 < P; p++ {
			if mask != nil && !mask[b][p] {
				continue
			}
			i := b*P + p
			total -= float64(l.v[i*l.V+r[p+1]]) - l.lse[i]
			n++
		}
	}
	return total, n
}

// KLFrom sums KL(clean || l) over every position (only where mask[b][p], when a task gives a
// loss mask) and returns the sum and the count.
func (l *Logits) KLFrom(clean *Logits, rows [][]int, mask [][]bool) (float64, int) {
	V := l.V
	part := make([]float64, len(l.lse))
	parallelRows(len(l.lse), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			var k float64
			for i := r * V; i < (r+1)*V; i++ {
				lc := float64(clean.v[i]) - clean.lse[r]
				k += math.Exp(lc) * (lc - (float64(l.v[i]) - l.lse[r]))
			}
			part[r] = k
		}
	})
	var total float64
	n := 0
	P := len(rows[0])
	for r, k := range part {
		if b, p := r/P, r%P; mask != nil && (p+1 >= P || !mask[b][p]) {
			continue
		}
		total += k
		n++
	}
	return total, n
}

// DensityHistogram plots the log10 firing frequencies of the latents (dead latents at -10) to
// path (.png or .svg).
func DensityHistogram(path string, density []float64) error {
	v := make([]float64, len(density))
	for i, d := range density {
		v[i] = math.Log10(d + 1e-10)
	}
	return plots.Histogram(path, "SAE feature density", "log10(firing frequency)", v, 40)
}
