package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// ParamSpec names one weight tensor (TransformerLens name) and its shape.
type ParamSpec struct {
	Name  string
	Shape []int
	// Init is the standard deviation of its random initialisation; 0 means zeros, and -1 means ones
	// (LayerNorm scales).
	Init float64
}

// ParamSpecs lists every weight tensor of a model with config c, in a fixed order, under its
// TransformerLens name. Attention weights are stored per head:
//
//	W_Q, W_K, W_V [H, D, K]; b_Q, b_K, b_V [H, K]; W_O [H, K, D]; b_O [D]
//
// so a head's QK circuit is W_Q[h] @ W_K[h]^T and its OV circuit W_V[h] @ W_O[h].
//
// Under grouped-query attention W_K, W_V are [Hkv, D, K] and b_K, b_V [Hkv, K]. A gated MLP adds
// W_gate [D, M]; RMSNorm has a gain w and no bias b; query/key norms are attn.q_norm.w and
// attn.k_norm.w ([K] per head, or [H*K] and [Hkv*K] over the projection); norms after the
// sublayers are ln1_post and ln2_post. Biases a checkpoint does not have (Llama's) are zeros,
// as TransformerLens fills them.
func ParamSpecs(c Config) []ParamSpec {
	const std = 0.02
	D, H, Hkv, K, M, V, P := c.DModel, c.NHeads, c.KVHeads(), c.DHead, c.DMLP, c.DVocab, c.NCtx
	// GPT-2 scales the init of residual-writing projections by 1/sqrt(2*layers).
	projStd := std / math.Sqrt(2*float64(c.NLayers))
	specs := []ParamSpec{{Name: "embed.W_E", Shape: []int{V, D}, Init: std}}
	if c.PositionalEmbeddings {
		specs = append(specs, ParamSpec{Name: "pos_embed.W_pos", Shape: []int{P, D}, Init: 0.01})
	}
	normOf := func(prefix string, n int) {
		specs = append(specs, ParamSpec{Name: prefix + ".w", Shape: []int{n}, Init: -1})
		if c.HasLN() {
			specs = append(specs, ParamSpec{Name: prefix + ".b", Shape: []int{n}})
		}
	}
	pre := func(prefix string) {
		if c.PreNorms() {
			normOf(prefix, D)
		}
	}
	post := func(prefix string) {
		if c.PostNorms() {
			normOf(prefix, D)
		}
	}
	for l := range c.NLayers {
		b := fmt.Sprintf("blocks.%d", l)
		pre(b + ".ln1")
		specs = append(specs,
			ParamSpec{Name: b + ".attn.W_Q", Shape: []int{H, D, K}, Init: std},
			ParamSpec{Name: b + ".attn.W_K", Shape: []int{Hkv, D, K}, Init: std},
			ParamSpec{Name: b + ".attn.W_V", Shape: []int{Hkv, D, K}, Init: std},
			ParamSpec{Name: b + ".attn.W_O", Shape: []int{H, K, D}, Init: projStd},
			ParamSpec{Name: b + ".attn.b_Q", Shape: []int{H, K}},
			ParamSpec{Name: b + ".attn.b_K", Shape: []int{Hkv, K}},
			ParamSpec{Name: b + ".attn.b_V", Shape: []int{Hkv, K}},
			ParamSpec{Name: b + ".attn.b_O", Shape: []int{D}},
		)
		switch c.QKNorm {
		case QKNormHead:
			normOf(b+".attn.q_norm", K)
			normOf(b+".attn.k_norm", K)
		case QKNormProj:
			normOf(b+".attn.q_norm", H*K)
			normOf(b+".attn.k_norm", Hkv*K)
		}
		post(b + ".ln1_post")
		if c.HasMLP() {
			pre(b + ".ln2")
			if c.GatedMLP {
				specs = append(specs, ParamSpec{Name: b + ".mlp.W_gate", Shape: []int{D, M}, Init: std})
			}
			specs = append(specs,
				ParamSpec{Name: b + ".mlp.W_in", Shape: []int{D, M}, Init: std},
				ParamSpec{Name: b + ".mlp.b_in", Shape: []int{M}},
				ParamSpec{Name: b + ".mlp.W_out", Shape: []int{M, D}, Init: projStd},
				ParamSpec{Name: b + ".mlp.b_out", Shape: []int{D}},
			)
			post(b + ".ln2_post")
		}
	}
	if c.HasNorm() {
		normOf("ln_final", D)
	}
	if !c.TiedEmbeddings {
		specs = append(specs, ParamSpec{Name: "unembed.W_U", Shape: []int{D, V}, Init: std})
	}
	if c.UnembedBias {
		specs = append(specs, ParamSpec{Name: "unembed.b_U", Shape: []int{V}})
	}
	return specs
}

// Weights holds a model's parameters by TransformerLens name (see ParamSpecs), float32.
type Weights struct {
	Config  Config
	Tensors map[string]*tensors.Tensor
}

// NewRandomWeights initialises weights GPT-2 style (normal, std 0.02; LayerNorm scales 1, biases 0),
// deterministically from seed.
func NewRandomWeights(c Config, seed uint64) (*Weights, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	w := &Weights{Config: c, Tensors: map[string]*tensors.Tensor{}}
	for _, s := range ParamSpecs(c) {
		n := 1
		for _, d := range s.Shape {
			n *= d
		}
		t := tensors.FromShape(shapes.Make(dtypes.Float32, s.Shape...)) // zeros, filled in place
		t.MutableFlatData(func(flat any) {
			data := flat.([]float32)
			switch {
			case s.Init == -1:
				for i := range data {
					data[i] = 1
				}
			case s.Init > 0:
				for i := range data {
					data[i] = float32(rng.NormFloat64() * s.Init)
				}
			}
		})
		w.Tensors[s.Name] = t
	}
	return w, nil
}

// Check verifies that w holds exactly the tensors ParamSpecs(w.Config) names, with the right
// shapes and dtype. The error names the first offending tensor.
func (w *Weights) Check() error {
	if err := w.Config.Validate(); err != nil {
		return err
	}
	specs := ParamSpecs(w.Config)
	known := map[string]bool{}
	for _, s := range specs {
		known[s.Name] = true
		t, ok := w.Tensors[s.Name]
		if !ok || t == nil {
			return fmt.Errorf("model: weights: missing tensor %q (shape %v)", s.Name, s.Shape)
		}
		if t.DType() != dtypes.Float32 {
			return fmt.Errorf("model: weights: tensor %q has dtype %s, want float32", s.Name, t.DType())
		}
		if !slices.Equal(t.Shape().Dimensions, s.Shape) {
			return fmt.Errorf("model: weights: tensor %q has shape %v, want %v", s.Name, t.Shape().Dimensions, s.Shape)
		}
	}
	var unknown []string
	for name := range w.Tensors {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("model: weights: unexpected tensor(s) %q for this config", unknown)
	}
	return nil
}

// Flat returns a copy of the named tensor's data.
func (w *Weights) Flat(name string) []float32 {
	t, ok := w.Tensors[name]
	if !ok {
		panic(fmt.Sprintf("model: weights: no tensor %q", name))
	}
	return tensors.MustCopyFlatData[float32](t)
}

// Clone returns a deep copy of w.
func (w *Weights) Clone() *Weights {
	out := &Weights{Config: w.Config, Tensors: make(map[string]*tensors.Tensor, len(w.Tensors))}
	for name, t := range w.Tensors {
		out.Tensors[name] = tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](t), t.Shape().Dimensions...)
	}
	return out
}
