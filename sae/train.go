package sae

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Batches supplies training rows: Next returns n input rows x [n*DIn] and, for transcoders, n
// target rows y [n*DOut] (nil for an SAE, whose target is its input).
type Batches interface {
	Next(n int) (x, y []float32, err error)
}

// scaled is implemented by batch sources that normalise activations (ActivationStore): the
// factors are folded into the trained weights at the end.
type scaled interface {
	Scales() (in, out float64)
}

// TrainOptions are the training hyperparameters. Zero values take the defaults noted.
type TrainOptions struct {
	Steps int // training steps (required)
	Batch int // rows per step; default 4096

	LR          float64 // Adam learning rate; default 3e-4 (SAELens)
	LREnd       float64 // learning rate at the end of the decay; default LR/10
	WarmupSteps int     // linear LR warm-up from 0; default 0
	DecaySteps  int     // linear LR decay to LREnd over the last DecaySteps steps; default 0
	Beta1       float64 // default 0.9
	Beta2       float64 // default 0.999
	Eps         float64 // default 1e-8

	// Sparsity is the L1 coefficient (ReLU) or the L0 coefficient (JumpReLU); default 1 (ReLU:
	// 5 when activations are normalised to norm sqrt(d_in) works well; tune it). Unused by TopK.
	Sparsity            float64
	SparsityWarmupSteps int     // linear warm-up of the sparsity coefficient from 0
	Bandwidth           float64 // JumpReLU straight-through window; default 0.05 (SAELens)

	// AuxKCoef weights the AuxK loss of TopK and BatchTopK (dead latents reconstruct the
	// residual); default 1/32 (Gao et al.); negative turns it off. kAux = DIn/2 (SAELens).
	AuxKCoef float64
	// BatchTopKThresholdLR is the rate of the running average of BatchTopK's threshold; default 0.01.
	BatchTopKThresholdLR float64

	// DeadWindow is the number of rows without firing after which a latent counts as dead;
	// default 1000 batches (SAELens dead_feature_window).
	DeadWindow int64
	// ResampleEvery resamples dead latents every this many steps (0: never), as in Towards
	// Monosemanticity; not in the last 20% of training. ResampleRows inputs are scored (default
	// 8 batches, at most 2^17 rows).
	ResampleEvery int
	ResampleRows  int

	// UnitNormDecoder keeps every decoder row at unit norm (the gradient's component along the
	// row is removed, then the row renormalised after each step).
	UnitNormDecoder bool
	// ConstrainUnitNormBoth is the SAE of O'Neill & Bui's reference code (sae-circuits src/sae.py,
	// ConstrainedUnitNormLinear for the encoder and the decoder): every encoder column (a latent's
	// weights over the inputs) and every decoder column (an output's weights over the latents) at
	// unit norm, the gradient's component along each removed and the columns renormalised after
	// each step, and a plain L1 penalty (not scaled by decoder norms). ReLU only; not with
	// UnitNormDecoder.
	ConstrainUnitNormBoth bool
	// MatryoshkaWidths makes a BatchTopK SAE a Matryoshka one (Bussmann et al. 2025; SAELens
	// MatryoshkaBatchTopKTrainingSAE): besides the full reconstruction, each prefix of the latents
	// [0, w) for w in these strictly increasing widths (below d_sae) reconstructs the input on its
	// own, its squared error added to the loss. Inference is unchanged (a BatchTopK SAE). SAEs only.
	MatryoshkaWidths []int
	Init             InitOptions
	// InitBDecMean starts b_dec at the mean of the first batch's targets.
	InitBDecMean bool

	// Checkpoint, when set, is written every CheckpointEvery steps and at the end (atomically).
	Checkpoint      string
	CheckpointEvery int

	// LogEvery records the step's losses in the log every this many steps; default Steps/100.
	LogEvery int
	// OnStep, when set, is called after every step (progress bars).
	OnStep func(step int, s StepStats)
}

func (o *TrainOptions) defaults() {
	if o.Batch == 0 {
		o.Batch = 4096
	}
	if o.LR == 0 {
		o.LR = 3e-4
	}
	if o.LREnd == 0 {
		o.LREnd = o.LR / 10
	}
	if o.Beta1 == 0 {
		o.Beta1 = 0.9
	}
	if o.Beta2 == 0 {
		o.Beta2 = 0.999
	}
	if o.Eps == 0 {
		o.Eps = 1e-8
	}
	if o.Sparsity == 0 {
		o.Sparsity = 1
	}
	if o.Bandwidth == 0 {
		o.Bandwidth = 0.05
	}
	if o.AuxKCoef == 0 {
		o.AuxKCoef = 1.0 / 32
	}
	if o.BatchTopKThresholdLR == 0 {
		o.BatchTopKThresholdLR = 0.01
	}
	if o.DeadWindow == 0 {
		o.DeadWindow = 1000 * int64(o.Batch)
	}
	if o.ResampleRows == 0 {
		o.ResampleRows = min(8*o.Batch, 1<<17)
	}
	if o.LogEvery == 0 {
		o.LogEvery = max(1, o.Steps/100)
	}
}

func (o TrainOptions) validate() error {
	switch {
	case o.Steps <= 0:
		return fmt.Errorf("sae: train: steps = %d must be positive", o.Steps)
	case o.Batch <= 0:
		return fmt.Errorf("sae: train: batch = %d must be positive", o.Batch)
	case o.LR <= 0 || math.IsNaN(o.LR):
		return fmt.Errorf("sae: train: learning rate %g must be positive", o.LR)
	case o.Sparsity < 0:
		return fmt.Errorf("sae: train: sparsity coefficient %g must be >= 0", o.Sparsity)
	case o.WarmupSteps < 0 || o.DecaySteps < 0 || o.SparsityWarmupSteps < 0:
		return errors.New("sae: train: warm-up and decay steps must be >= 0")
	}
	return nil
}

// StepStats are one step's losses (averages over its rows) and state.
type StepStats struct {
	Step     int     `json:"step"`
	MSE      float64 `json:"mse"`      // sum over dims of (recon - target)^2, mean over rows
	Sparsity float64 `json:"sparsity"` // the sparsity loss (L1 or L0 term), coefficient included
	Aux      float64 `json:"aux"`      // the AuxK loss
	// Inner is the sum of a Matryoshka SAE's prefix reconstruction errors (MSE's form, per width).
	Inner float64 `json:"inner_mse,omitempty"`
	L0    float64 `json:"l0"` // active latents per row
	LR    float64 `json:"lr"`
	Dead  int     `json:"dead"` // latents dead by the DeadWindow rule
	// Resampled is the number of latents resampled after this step.
	Resampled int `json:"resampled,omitempty"`
}

// Trainer trains one SAE with Adam. Its weights live in the (possibly normalised) space of
// the rows it is fed; SAE() returns them with the normalisation folded in.
type Trainer struct {
	cfg  Config
	opt  TrainOptions
	eng  *engine
	b    backends.Backend
	rng  *rand.Rand
	key  stepKey
	spec []ParamSpec // trained tensors

	params, m, v []*tensors.Tensor // trained tensors and their Adam moments, spec order
	threshold    float64           // BatchTopK's running threshold

	step      int
	rows      int64
	sinceFire []int64 // rows since each latent last fired
	scaleIn   float64
	scaleOut  float64
	// Log holds the losses every LogEvery steps and at every resampling.
	Log []StepStats
}

// NewTrainer starts training a randomly initialised SAE with configuration c.
func NewTrainer(c Config, b backends.Backend, opt TrainOptions) (*Trainer, error) {
	opt.defaults()
	if err := opt.validate(); err != nil {
		return nil, err
	}
	if c.RuntimeNorm != "" {
		return nil, fmt.Errorf("sae: training: the SAE rescales each input row by its own statistics (normalize_activations %s), which training does not support", c.RuntimeNorm)
	}
	if len(opt.MatryoshkaWidths) > 0 {
		if c.Arch != BatchTopK || c.Target.Hook != "" || c.Out() != c.DIn || c.Skip {
			return nil, errors.New("sae: train: Matryoshka widths are for BatchTopK SAEs (not transcoders)")
		}
		for i, w := range opt.MatryoshkaWidths {
			if w <= 0 || w >= c.DSAE || (i > 0 && w <= opt.MatryoshkaWidths[i-1]) {
				return nil, fmt.Errorf("sae: train: Matryoshka widths %v: want strictly increasing widths in (0, d_sae = %d)", opt.MatryoshkaWidths, c.DSAE)
			}
		}
	}
	if c.Arch == Gated && opt.ResampleEvery > 0 {
		return nil, errors.New("sae: train: resampling dead latents is not supported for gated SAEs")
	}
	if opt.ConstrainUnitNormBoth && (opt.UnitNormDecoder || c.Arch != ReLU) {
		return nil, errors.New("sae: train: ConstrainUnitNormBoth is for ReLU SAEs, without UnitNormDecoder")
	}
	if opt.UnitNormDecoder && opt.Init.DecoderNorm == 0 {
		opt.Init.DecoderNorm = 1
	}
	s, err := NewRandom(c, b, opt.Init)
	if err != nil {
		return nil, err
	}
	if opt.ConstrainUnitNormBoth {
		for _, name := range []string{"W_enc", "W_dec"} {
			w := s.Flat(name)
			dims := s.Params[name].Shape().Dimensions
			R, C := dims[0], dims[1]
			for col := range C {
				var sq float64
				for r := range R {
					sq += float64(w[r*C+col]) * float64(w[r*C+col])
				}
				for r := range R {
					w[r*C+col] = float32(float64(w[r*C+col]) / math.Sqrt(sq))
				}
			}
			s.Params[name] = tensors.FromFlatDataAndDimensions(w, R, C)
		}
	}
	return newTrainerFrom(s, opt), nil
}

func newTrainerFrom(s *SAE, opt TrainOptions) *Trainer {
	c := s.Config
	t := &Trainer{cfg: c, opt: opt, eng: newEngine(c, s.Backend), b: s.Backend, spec: trainable(c),
		rng: rand.New(rand.NewPCG(opt.Init.Seed, 0x7a1)), sinceFire: make([]int64, c.DSAE), scaleIn: 1, scaleOut: 1}
	t.key = stepKey{target: c.Target.Hook != "" || c.Out() != c.DIn || c.Skip, unitNorm: opt.UnitNormDecoder, refNorm: opt.ConstrainUnitNormBoth,
		matryoshka: joinInts(opt.MatryoshkaWidths),
		beta1:      opt.Beta1, beta2: opt.Beta2, eps: opt.Eps, bandwidth: opt.Bandwidth}
	for _, sp := range t.spec {
		p := s.Params[sp.Name]
		t.params = append(t.params, p)
		t.m = append(t.m, tensors.FromShape(p.Shape()))
		t.v = append(t.v, tensors.FromShape(p.Shape()))
	}
	return t
}

// Config returns the configuration being trained.
func (t *Trainer) Config() Config { return t.cfg }

// StepCount is the number of steps taken so far.
func (t *Trainer) StepCount() int { return t.step }

// Dead returns the latents that have not fired for DeadWindow rows.
func (t *Trainer) Dead() []bool {
	out := make([]bool, len(t.sinceFire))
	for j, s := range t.sinceFire {
		out[j] = s >= t.opt.DeadWindow
	}
	return out
}

// lr is the learning rate of step (0-based): linear warm-up, constant, linear decay.
func (t *Trainer) lr(step int) float64 {
	o := t.opt
	lr := o.LR
	if o.WarmupSteps > 0 && step < o.WarmupSteps {
		lr = o.LR * float64(step+1) / float64(o.WarmupSteps)
	}
	if o.DecaySteps > 0 {
		if left := o.Steps - step; left <= o.DecaySteps {
			frac := float64(left) / float64(o.DecaySteps) // 1 -> 0 over the decay
			lr = o.LREnd + (min(lr, o.LR)-o.LREnd)*frac
		}
	}
	return lr
}

// coef is the sparsity coefficient of step, after its warm-up.
func (t *Trainer) coef(step int) float64 {
	o := t.opt
	if o.SparsityWarmupSteps > 0 && step < o.SparsityWarmupSteps {
		return o.Sparsity * float64(step+1) / float64(o.SparsityWarmupSteps)
	}
	return o.Sparsity
}

// Step trains on one batch: x [n*DIn] and, for transcoders, y [n*DOut].
func (t *Trainer) Step(x, y []float32) (StepStats, error) {
	c := t.cfg
	if len(x) == 0 || len(x)%c.DIn != 0 {
		return StepStats{}, fmt.Errorf("sae: step: %d input values are not whole rows of d_in %d", len(x), c.DIn)
	}
	n := len(x) / c.DIn
	if t.key.target {
		if len(y) != n*c.Out() {
			return StepStats{}, fmt.Errorf("sae: step: %d target values for %d rows of d_out %d", len(y), n, c.Out())
		}
	}
	if t.step == 0 && t.opt.InitBDecMean {
		t.initBDec(x, y, n)
	}
	in := stepInputs{x: tensors.FromFlatDataAndDimensions(x, n, c.DIn)}
	if t.key.target {
		in.y = tensors.FromFlatDataAndDimensions(y, n, c.Out())
	}
	dead := t.Dead()
	deadIdx := deadList(dead)
	key := t.key
	key.aux = (c.Arch == TopK || c.Arch == BatchTopK) && t.opt.AuxKCoef > 0 && len(deadIdx) > 0

	// Pre-activations (graph), then the masks and fire counts (host).
	pre, err := t.eng.preActs(in.x, t.inferenceParams())
	if err != nil {
		return StepStats{}, err
	}
	in.pre = pre
	fires, batchThr := t.selectActive(&in, n, deadIdx, key.aux)
	var l0 float64
	for _, f := range fires {
		l0 += float64(f)
	}
	l0 /= float64(n)
	lr := t.lr(t.step)
	tt := float64(t.step + 1)
	in.lrStep = lr / (1 - math.Pow(t.opt.Beta1, tt))
	in.invBC = 1 / math.Sqrt(1-math.Pow(t.opt.Beta2, tt))
	in.coef = t.coef(t.step)
	newP, newM, newV, st, err := t.eng.step(key, in, t.params, t.m, t.v)
	if err != nil {
		return StepStats{}, err
	}
	if c.Arch == JumpReLU {
		st.Sparsity = in.coef * l0
	}
	finalize(in.pre, in.mask, in.window, in.auxMask)
	finalize(t.params...)
	finalize(t.m...)
	finalize(t.v...)
	t.params, t.m, t.v = newP, newM, newV
	if c.Arch == BatchTopK && batchThr > tinyPositive {
		// The smallest kept activation is the batch threshold itself (SAELens keeps a running
		// average of the minimum positive kept activation).
		if t.step == 0 && t.threshold == 0 {
			t.threshold = batchThr
		} else {
			r := t.opt.BatchTopKThresholdLR
			t.threshold = (1-r)*t.threshold + r*batchThr
		}
	}
	nDead := 0
	for j, f := range fires {
		if f > 0 {
			t.sinceFire[j] = 0
		} else {
			t.sinceFire[j] += int64(n)
		}
		if t.sinceFire[j] >= t.opt.DeadWindow {
			nDead++
		}
	}
	t.step++
	t.rows += int64(n)
	out := StepStats{Step: t.step, MSE: st.MSE, Sparsity: st.Sparsity, Aux: st.Aux, Inner: st.Inner, L0: l0, LR: lr, Dead: nDead}
	if math.IsNaN(st.MSE) || math.IsInf(st.MSE, 0) {
		return out, fmt.Errorf("sae: step %d: loss is %g (lower the learning rate?)", t.step, st.MSE)
	}
	return out, nil
}

// selectActive is the host pass of a step: from in.pre it finds the active latents (TopK
// thresholds, BatchTopK's batch threshold, JumpReLU's thresholds) and writes in.mask, the JumpReLU
// kernel window and the AuxK mask. It returns each latent's fire count and BatchTopK's threshold.
func (t *Trainer) selectActive(in *stepInputs, n int, deadIdx []int, aux bool) (fires []float32, batchThr float64) {
	c := t.cfg
	mask := newHostBuf(t.b, n, c.DSAE)
	tensors.MustConstFlatData(in.pre, func(v []float32) {
		rule := maskRule{}
		switch c.Arch {
		case ReLU:
			rule.strict = true
		case TopK:
			rule.rowThr = rowThresholds(v, n, c.DSAE, c.K)
		case BatchTopK:
			rule.thr = batchThreshold(v, c.K*n)
			batchThr = float64(rule.thr)
		case Gated:
			fires = gatedActive(v, n, c.DSAE, t.flat("b_gate"), t.flat("r_mag"), t.flat("b_mag"), mask.flat)
			return
		case JumpReLU:
			theta := t.flat("threshold")
			for j := range theta {
				theta[j] = max(theta[j], 0)
			}
			rule.colThr = theta
			w := newHostBuf(t.b, n, c.DSAE)
			windowMask(v, n, c.DSAE, theta, t.opt.Bandwidth, w.flat)
			in.window = w.tensor()
		}
		fires = activeMask(v, n, c.DSAE, rule, mask.flat)
		if aux {
			kAux := max(1, c.DIn/2)
			in.auxScale = t.opt.AuxKCoef * min(float64(len(deadIdx))/float64(kAux), 1)
			am := newHostBuf(t.b, n, c.DSAE)
			auxMask(v, n, c.DSAE, min(kAux, len(deadIdx)), deadIdx, am.flat)
			in.auxMask = am.tensor()
		}
	})
	in.mask = mask.tensor()
	return fires, batchThr
}

func finalize(ts ...*tensors.Tensor) {
	for _, t := range ts {
		if t != nil {
			_ = t.FinalizeAll()
		}
	}
}

// initBDec sets b_dec to the mean target row of the first batch.
func (t *Trainer) initBDec(x, y []float32, n int) {
	target, d := x, t.cfg.DIn
	if t.key.target {
		target, d = y, t.cfg.Out()
	}
	mean := make([]float32, d)
	for r := range n {
		for i := range d {
			mean[i] += target[r*d+i] / float32(n)
		}
	}
	t.setParam("b_dec", tensors.FromFlatDataAndDimensions(mean, d))
}

func (t *Trainer) index(name string) int {
	for i, s := range t.spec {
		if s.Name == name {
			return i
		}
	}
	return -1
}

func (t *Trainer) setParam(name string, v *tensors.Tensor) {
	i := t.index(name)
	finalize(t.params[i])
	t.params[i] = v
}

// inferenceParams returns every SAE tensor in ParamSpecs order (BatchTopK's threshold filled
// with the running threshold).
func (t *Trainer) inferenceParams() []*tensors.Tensor {
	var out []*tensors.Tensor
	for _, s := range ParamSpecs(t.cfg) {
		if i := t.index(s.Name); i >= 0 {
			out = append(out, t.params[i])
		} else { // BatchTopK threshold
			out = append(out, tensors.FromFlatDataAndDimensions(filled(t.cfg.DSAE, float32(t.threshold)), t.cfg.DSAE))
		}
	}
	return out
}

// current returns the SAE in training space (no normalisation folded), sharing nothing with
// the trainer.
func (t *Trainer) current() *SAE {
	p := map[string]*tensors.Tensor{}
	for i, s := range ParamSpecs(t.cfg) {
		src := t.inferenceParams()[i]
		p[s.Name] = tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](src), s.Shape...)
	}
	return &SAE{Config: t.cfg, Params: p, Backend: t.b}
}

// SAE returns the trained SAE with the activation normalisation folded into its weights, so it
// reads and reconstructs raw activations.
func (t *Trainer) SAE() *SAE {
	s := t.current()
	s.FoldScale(t.scaleIn, t.scaleOut)
	if t.scaleIn == 1 && t.scaleOut == 1 {
		s.Config.Meta.NormScale = 0
	}
	return s
}

// Train runs the remaining steps on batches from src, with resampling, logging and
// checkpoints as the options ask.
func (t *Trainer) Train(src Batches) error {
	if sc, ok := src.(scaled); ok {
		t.scaleIn, t.scaleOut = sc.Scales()
	}
	o := t.opt
	for t.step < o.Steps {
		x, y, err := src.Next(o.Batch)
		if err != nil {
			return err
		}
		st, err := t.Step(x, y)
		if err != nil {
			return err
		}
		logged := t.step%o.LogEvery == 0 || t.step == o.Steps
		if o.ResampleEvery > 0 && t.step%o.ResampleEvery == 0 && t.step < o.Steps*4/5 {
			nr, err := t.Resample(src)
			if err != nil {
				return err
			}
			st.Resampled = nr
			logged = logged || nr > 0
		}
		if logged {
			t.Log = append(t.Log, st)
		}
		if o.OnStep != nil {
			o.OnStep(t.step, st)
		}
		if o.Checkpoint != "" && o.CheckpointEvery > 0 && t.step%o.CheckpointEvery == 0 && t.step < o.Steps {
			if err := t.SaveCheckpoint(o.Checkpoint); err != nil {
				return err
			}
		}
	}
	if o.Checkpoint != "" {
		return t.SaveCheckpoint(o.Checkpoint)
	}
	return nil
}
