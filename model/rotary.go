package model

import "math"

// rotaryInvFreq is the rotary embedding's inverse frequencies for layer l, [RotaryDim/2]:
// inv_freq[i] = base^(-2i/RotaryDim), rescaled as c.RopeScaling says (global layers only).
// Computed in float64 and rounded to float32, as Hugging Face holds them.
func rotaryInvFreq(c Config, l int) []float64 {
	base := c.RotaryBase
	if base == 0 {
		base = 10000
	}
	local := c.Local(l) && c.RotaryBaseLocal != 0
	if local {
		base = c.RotaryBaseLocal
	}
	R := c.RotaryDim
	inv := make([]float64, R/2)
	for i := range inv {
		inv[i] = float64(float32(1 / math.Pow(base, float64(2*i)/float64(R))))
	}
	r := c.RopeScaling
	if r == nil || local {
		return inv
	}
	switch r.Type {
	case "linear":
		for i := range inv {
			inv[i] = float64(float32(inv[i] / r.Factor))
		}
	case "llama3":
		// Llama 3.1: long wavelengths are divided by factor, short ones kept, and those between
		// interpolated smoothly in 1/wavelength.
		old := float64(r.OriginalMaxPos)
		lowWavelen, highWavelen := old/r.LowFreqFactor, old/r.HighFreqFactor
		for i, f := range inv {
			wavelen := 2 * math.Pi / f
			switch {
			case wavelen > lowWavelen:
				f /= r.Factor
			case wavelen >= highWavelen:
				smooth := (old/wavelen - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor)
				f = (1-smooth)*f/r.Factor + smooth*f
			}
			inv[i] = float64(float32(f))
		}
	}
	return inv
}

// rotaryTables returns cos and sin of the rotary angles for positions 0..P-1 of layer l, each
// [P][RotaryDim]: angle[p][i] = angle[p][i + R/2] = p * inv_freq[i], the product rounded to
// float32 as Hugging Face computes it.
func rotaryTables(c Config, l, P int) (cos, sin [][]float32) {
	inv := rotaryInvFreq(c, l)
	R := c.RotaryDim
	cos, sin = make([][]float32, P), make([][]float32, P)
	for p := range P {
		cos[p], sin[p] = make([]float32, R), make([]float32, R)
		for i, f := range inv {
			a := float64(float32(p) * float32(f))
			cs, sn := float32(math.Cos(a)), float32(math.Sin(a))
			cos[p][i], cos[p][i+R/2] = cs, cs
			sin[p][i], sin[p][i+R/2] = sn, sn
		}
	}
	return cos, sin
}
