package transcoder

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

// The planted model: 2 layers, attention switched off (W_O = 0, b_O = 0), ReLU MLPs that compute
// known sparse functions of their LayerNorm'd input:
//
//	mlp_out^l(x) = sum_j ReLU(gain u_j^l . x - gain theta) w_j^l      (M features per layer)
//
// with u, w random unit directions orthogonal to the all-ones vector (so the LayerNorm's
// centring keeps them). Layer 1's feature 0 reads layer 0's feature 0 output direction
// (u_0^1 = w_0^0): the planted path is  token embedding -> L0 feature 0 -> L1 feature 0.
const (
	plD, plV, plM, plCtx = 32, 512, 8, 8
	plGain, plTheta      = 2.0, 1.0
	plOutNorm            = 3.0
)

type planted struct {
	m    *model.Model
	u, w [2][][]float64 // [layer][feature][D]
}

func centredUnit(rng *rand.Rand, d int) []float64 {
	v := make([]float64, d)
	var mean float64
	for i := range v {
		v[i] = rng.NormFloat64()
		mean += v[i]
	}
	var n float64
	for i := range v {
		v[i] -= mean / float64(d)
		n += v[i] * v[i]
	}
	for i := range v {
		v[i] /= math.Sqrt(n)
	}
	return v
}

func newPlanted(t testing.TB) *planted {
	t.Helper()
	c := model.Config{NLayers: 2, DModel: plD, NHeads: 2, DHead: 4, DMLP: plM, NCtx: plCtx, DVocab: plV,
		Act: model.Relu, Normalization: model.LayerNorm, LNEps: 1e-5}
	w, err := model.NewRandomWeights(c, 7)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	set := func(name string, v []float32) {
		w.Tensors[name] = tensors.FromFlatDataAndDimensions(v, w.Tensors[name].Shape().Dimensions...)
	}
	emb := make([]float32, plV*plD)
	for v := range plV {
		for i, x := range centredUnit(rng, plD) {
			emb[v*plD+i] = float32(x * math.Sqrt(plD))
		}
	}
	set("embed.W_E", emb)
	p := &planted{}
	for l := range 2 {
		set(blockParam(l, "attn.W_O"), make([]float32, c.NHeads*c.DHead*plD))
		set(blockParam(l, "attn.b_O"), make([]float32, plD))
		win, bin, wout := make([]float32, plD*plM), make([]float32, plM), make([]float32, plM*plD)
		for j := range plM {
			u := centredUnit(rng, plD)
			if l == 1 && j == 0 {
				u = p.w[0][0]
			}
			wd := centredUnit(rng, plD)
			p.u[l], p.w[l] = append(p.u[l], u), append(p.w[l], wd)
			for i := range plD {
				win[i*plM+j] = float32(plGain * u[i])
				wout[j*plD+i] = float32(plOutNorm * wd[i])
			}
			bin[j] = -plGain * plTheta
		}
		set(blockParam(l, "mlp.W_in"), win)
		set(blockParam(l, "mlp.b_in"), bin)
		set(blockParam(l, "mlp.W_out"), wout)
		set(blockParam(l, "mlp.b_out"), make([]float32, plD))
	}
	b, name := model.MustNewBackend("")
	m, err := model.New(w, b, name)
	if err != nil {
		t.Fatal(err)
	}
	p.m = m
	return p
}

func blockParam(l int, s string) string { return "blocks." + string(rune('0'+l)) + "." + s }

// exact returns the transcoder equal to layer l's planted MLP (zero reconstruction error).
func (p *planted) exact(t testing.TB, l int) *sae.SAE {
	t.Helper()
	c, err := NewConfig(p.m.Config, Spec{Layer: l, Arch: sae.ReLU, DSAE: plM})
	if err != nil {
		t.Fatal(err)
	}
	ps := map[string]*tensors.Tensor{}
	for _, spec := range sae.ParamSpecs(c) {
		src := map[string]string{"W_enc": "mlp.W_in", "b_enc": "mlp.b_in", "W_dec": "mlp.W_out", "b_dec": "mlp.b_out"}[spec.Name]
		v := p.m.Weights.Flat(blockParam(l, src))
		ps[spec.Name] = tensors.FromFlatDataAndDimensions(v, spec.Shape...)
	}
	s, err := sae.New(c, ps, p.m.Backend)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// randomTokens is a token source of uniformly random tokens.
func randomTokens(seed uint64, seqLen int) sae.TokenSource {
	rng := rand.New(rand.NewPCG(seed, 3))
	return sae.FuncSource{Label: "random", Fn: func(n int) [][]int {
		rows := make([][]int, n)
		for i := range rows {
			rows[i] = make([]int, seqLen)
			for j := range rows[i] {
				rows[i][j] = rng.IntN(plV)
			}
		}
		return rows
	}}
}

// bestMatch returns the row of mat [F][D] (row-major flat, or columns when cols) with the largest
// cosine to v, and the cosine.
func bestMatch(flat []float32, F, D int, cols bool, v []float64) (int, float64) {
	best, bi := -2.0, -1
	for j := range F {
		var dot, nn float64
		for i := range D {
			x := float64(flat[j*D+i])
			if cols {
				x = float64(flat[i*F+j])
			}
			dot += x * v[i]
			nn += x * x
		}
		if c := dot / math.Sqrt(nn+1e-30); c > best {
			best, bi = c, j
		}
	}
	return bi, best
}

// A prompt whose first token strongly drives L0 feature 0 (and so L1 feature 0).
func (p *planted) drivingPrompt() []int {
	best, bv := -1e9, 0
	emb := p.m.Weights.Flat("embed.W_E")
	for v := range plV {
		var s float64
		for i := range plD {
			s += float64(emb[v*plD+i]) * p.u[0][0][i]
		}
		if s > best {
			best, bv = s, v
		}
	}
	return []int{bv, 1, 2, 3}
}
