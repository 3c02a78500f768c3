package sae

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Synthetic is a source of rows made from a known sparse dictionary, for tests, examples and
// benchmarks: NFeatures random unit directions in D dimensions; each row switches each feature on
// independently with probability Active/NFeatures, with a magnitude uniform in [0.5, 1.5], and
// sums them. A good SAE recovers the directions (Recovery).
type Synthetic struct {
	D, NFeatures int
	Active       float64
	// Features are the true directions, row-major [NFeatures, D], unit norm.
	Features []float32
	rng      *rand.Rand
}

// NewSynthetic returns a synthetic source, deterministic given seed.
func NewSynthetic(d, nFeatures int, active float64, seed uint64) *Synthetic {
	rng := rand.New(rand.NewPCG(seed, 0x5e7))
	return &Synthetic{D: d, NFeatures: nFeatures, Active: active, Features: randomRows(rng, nFeatures, d, 1), rng: rng}
}

// Next returns n rows [n*D] (and a nil target: the SAE reconstructs its input).
func (s *Synthetic) Next(n int) (x, y []float32, err error) {
	x = make([]float32, n*s.D)
	p := s.Active / float64(s.NFeatures)
	for r := range n {
		row := x[r*s.D : (r+1)*s.D]
		for f := range s.NFeatures {
			if s.rng.Float64() >= p {
				continue
			}
			a := float32(0.5 + s.rng.Float64())
			dir := s.Features[f*s.D : (f+1)*s.D]
			for i := range row {
				row[i] += a * dir[i]
			}
		}
	}
	return x, nil, nil
}

// Recovery is the mean over the true features of the largest cosine similarity between the
// feature and a decoder row of s: 1 when every feature has its own latent.
func (s *Synthetic) Recovery(a *SAE) (float64, error) {
	if a.Config.Out() != s.D {
		return 0, fmt.Errorf("sae: recovery: SAE d_out %d, data d %d", a.Config.Out(), s.D)
	}
	wdec := a.Flat("W_dec")
	F, D := a.Config.DSAE, s.D
	norms := make([]float64, F)
	for j := range F {
		norms[j] = norm(wdec[j*D : (j+1)*D])
	}
	var total float64
	for f := range s.NFeatures {
		dir := s.Features[f*D : (f+1)*D]
		best := math.Inf(-1)
		for j := range F {
			if norms[j] == 0 {
				continue
			}
			var dot float64
			for i := range D {
				dot += float64(dir[i]) * float64(wdec[j*D+i])
			}
			best = max(best, dot/norms[j])
		}
		total += best
	}
	return total / float64(s.NFeatures), nil
}
