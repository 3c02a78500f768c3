package sae

import (
	"math"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Resample re-initialises the dead latents as in Anthropic's "Towards Monosemanticity"
// (appendix on neuron resampling): ResampleRows inputs are scored by their reconstruction loss;
// for each dead latent an input is drawn with probability proportional to its squared loss; the
// latent's decoder row becomes that input's residual (target - reconstruction) at the mean norm
// of the live decoder rows, its encoder column the residual direction (for an SAE; the input
// itself for a transcoder) at 0.2 times the mean live encoder norm, its encoder bias 0 (and a
// JumpReLU threshold its initial value), and the Adam moments of every changed entry are reset.
// It returns the number of latents resampled.
func (t *Trainer) Resample(src Batches) (int, error) {
	c := t.cfg
	dead := deadList(t.Dead())
	if len(dead) == 0 {
		return 0, nil
	}
	x, y, err := src.Next(t.opt.ResampleRows)
	if err != nil {
		return 0, err
	}
	n := len(x) / c.DIn
	target := x
	if t.key.target {
		target = y
	}
	out, err := t.eng.forward(tensors.FromFlatDataAndDimensions(x, n, c.DIn), t.inferenceParams())
	if err != nil {
		return 0, err
	}
	recon := tensors.MustCopyFlatData[float32](out.Recon)
	D := c.Out()
	resid := make([]float32, n*D)
	cum := make([]float64, n) // cumulative squared losses
	var total float64
	for r := range n {
		var l float64
		for i := range D {
			d := target[r*D+i] - recon[r*D+i]
			resid[r*D+i] = d
			l += float64(d) * float64(d)
		}
		total += l * l
		cum[r] = total
	}
	if total == 0 || math.IsNaN(total) {
		return 0, nil
	}

	wenc := t.flat("W_enc") // [DIn, F]
	wdec := t.flat("W_dec") // [F, DOut]
	benc := t.flat("b_enc")
	F, In := c.DSAE, c.DIn
	isDead := make([]bool, F)
	for _, j := range dead {
		isDead[j] = true
	}
	var decNorm, encNorm float64
	live := 0
	for j := range F {
		if isDead[j] {
			continue
		}
		live++
		decNorm += norm(wdec[j*D : (j+1)*D])
		var s float64
		for i := range In {
			s += float64(wenc[i*F+j]) * float64(wenc[i*F+j])
		}
		encNorm += math.Sqrt(s)
	}
	if live == 0 {
		decNorm, encNorm = 1, 1
	} else {
		decNorm /= float64(live)
		encNorm /= float64(live)
	}
	for _, j := range dead {
		r := sort.SearchFloat64s(cum, t.rng.Float64()*total)
		r = min(r, n-1)
		dir := resid[r*D : (r+1)*D]
		dn := norm(dir)
		if dn == 0 {
			continue
		}
		for i := range D {
			wdec[j*D+i] = float32(float64(dir[i]) / dn * decNorm)
		}
		enc := dir
		if t.key.target {
			enc = x[r*In : (r+1)*In]
		}
		en := norm(enc)
		for i := range In {
			wenc[i*F+j] = float32(float64(enc[i]) / en * 0.2 * encNorm)
		}
		benc[j] = 0
		t.sinceFire[j] = 0
	}
	t.setFlat("W_enc", wenc, func(i int) bool { return isDead[i%F] })
	t.setFlat("W_dec", wdec, func(i int) bool { return isDead[i/D] })
	t.setFlat("b_enc", benc, func(i int) bool { return isDead[i] })
	if c.Arch == JumpReLU {
		th := t.flat("threshold")
		init := t.opt.Init.Threshold
		if init == 0 {
			init = 0.01
		}
		for _, j := range dead {
			th[j] = float32(init)
		}
		t.setFlat("threshold", th, func(i int) bool { return isDead[i] })
	}
	return len(dead), nil
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func (t *Trainer) flat(name string) []float32 {
	return tensors.MustCopyFlatData[float32](t.params[t.index(name)])
}

// setFlat replaces a trained tensor's values and zeroes its Adam moments where reset is true.
func (t *Trainer) setFlat(name string, v []float32, reset func(i int) bool) {
	i := t.index(name)
	dims := t.params[i].Shape().Dimensions
	m := tensors.MustCopyFlatData[float32](t.m[i])
	s := tensors.MustCopyFlatData[float32](t.v[i])
	for k := range m {
		if reset(k) {
			m[k], s[k] = 0, 0
		}
	}
	finalize(t.params[i], t.m[i], t.v[i])
	t.params[i] = tensors.FromFlatDataAndDimensions(v, dims...)
	t.m[i] = tensors.FromFlatDataAndDimensions(m, dims...)
	t.v[i] = tensors.FromFlatDataAndDimensions(s, dims...)
}
