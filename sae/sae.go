package sae

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/autodiff"
)

// SAE is a sparse autoencoder (or, with Target/Skip, a transcoder) bound to a backend: its
// config and its tensors (float32, ParamSpecs order and shapes). Safe for use by one goroutine
// at a time.
type SAE struct {
	Config  Config
	Params  map[string]*tensors.Tensor
	Backend backends.Backend

	once sync.Once
	eng  *engine
}

// New binds checked tensors to a backend.
func New(c Config, params map[string]*tensors.Tensor, backend backends.Backend) (*SAE, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := checkParams(c, params, "sae"); err != nil {
		return nil, err
	}
	if backend == nil {
		return nil, errors.New("sae: nil backend")
	}
	autodiff.Register()
	return &SAE{Config: c, Params: params, Backend: backend}, nil
}

// checkParams verifies that params holds exactly ParamSpecs(c), float32 and well shaped.
func checkParams(c Config, params map[string]*tensors.Tensor, where string) error {
	specs := ParamSpecs(c)
	for _, s := range specs {
		t, ok := params[s.Name]
		if !ok || t == nil {
			return fmt.Errorf("%s: missing tensor %q (%s needs %v)", where, s.Name, c.Arch, s.Shape)
		}
		if t.DType() != dtypes.Float32 {
			return fmt.Errorf("%s: tensor %q is %s, want float32", where, s.Name, t.DType())
		}
		if !slices.Equal(t.Shape().Dimensions, s.Shape) {
			return fmt.Errorf("%s: tensor %q has shape %v, want %v", where, s.Name, t.Shape().Dimensions, s.Shape)
		}
	}
	if len(params) != len(specs) {
		for name := range params {
			if !slices.ContainsFunc(specs, func(s ParamSpec) bool { return s.Name == name }) {
				return fmt.Errorf("%s: unexpected tensor %q for architecture %s", where, name, c.Arch)
			}
		}
	}
	return nil
}

// InitOptions choose an SAE's random initialisation.
type InitOptions struct {
	// DecoderNorm is the norm of each decoder row; 0 means 0.1 (the "heuristic" init of
	// Anthropic's April 2024 update, SAELens's default).
	DecoderNorm float64
	// EncoderFromDecoder initialises W_enc as W_dec^T; otherwise W_enc has its own random
	// directions of the same norm.
	EncoderFromDecoder bool
	// Threshold is the initial JumpReLU threshold (0 means 0.01, SAELens's default).
	Threshold float64
	Seed      uint64
}

// NewRandom returns an SAE with random decoder directions, zero biases and (JumpReLU) a
// constant threshold, deterministically from opt.Seed.
func NewRandom(c Config, backend backends.Backend, opt InitOptions) (*SAE, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	norm := opt.DecoderNorm
	if norm == 0 {
		norm = 0.1
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x5ae))
	F, In, Out := c.DSAE, c.DIn, c.Out()
	wdec := randomRows(rng, F, Out, norm) // [F, DOut]
	wenc := make([]float32, In*F)         // [DIn, F]
	switch {
	case opt.EncoderFromDecoder && In == Out:
		for j := range F {
			for i := range In {
				wenc[i*F+j] = wdec[j*Out+i]
			}
		}
	default:
		r := randomRows(rng, F, In, norm)
		for j := range F {
			for i := range In {
				wenc[i*F+j] = r[j*In+i]
			}
		}
	}
	p := map[string]*tensors.Tensor{
		"W_enc": tensors.FromFlatDataAndDimensions(wenc, In, F),
		"b_enc": tensors.FromFlatDataAndDimensions(make([]float32, F), F),
		"W_dec": tensors.FromFlatDataAndDimensions(wdec, F, Out),
		"b_dec": tensors.FromFlatDataAndDimensions(make([]float32, Out), Out),
	}
	if c.HasThreshold() {
		th := opt.Threshold
		if th == 0 {
			th = 0.01
		}
		if c.Arch == BatchTopK {
			th = 0
		}
		p["threshold"] = tensors.FromFlatDataAndDimensions(filled(F, float32(th)), F)
	}
	if c.Skip {
		p["W_skip"] = tensors.FromFlatDataAndDimensions(make([]float32, Out*In), Out, In)
	}
	if c.Arch == Gated { // SAELens's initialisation: zero biases, exp(r_mag) = 1
		p["b_gate"] = p["b_enc"]
		delete(p, "b_enc")
		p["r_mag"] = tensors.FromFlatDataAndDimensions(make([]float32, F), F)
		p["b_mag"] = tensors.FromFlatDataAndDimensions(make([]float32, F), F)
	}
	return New(c, p, backend)
}

// randomRows returns n random directions of dimension d scaled to norm, row-major [n, d].
func randomRows(rng *rand.Rand, n, d int, norm float64) []float32 {
	out := make([]float32, n*d)
	for r := range n {
		v := out[r*d : (r+1)*d]
		var ss float64
		for i := range v {
			x := rng.NormFloat64()
			v[i] = float32(x)
			ss += x * x
		}
		s := norm / math.Sqrt(ss)
		for i := range v {
			v[i] = float32(float64(v[i]) * s)
		}
	}
	return out
}

func filled(n int, v float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// Flat returns a copy of the named tensor's data.
func (s *SAE) Flat(name string) []float32 {
	return tensors.MustCopyFlatData[float32](s.Params[name])
}

// Tensors lists s's tensors in ParamSpecs order, the order NodesFrom reads: the inputs of a
// graph that uses the SAE's nodes.
func (s *SAE) Tensors() []*tensors.Tensor {
	specs := ParamSpecs(s.Config)
	out := make([]*tensors.Tensor, len(specs))
	for i, p := range specs {
		out[i] = s.Params[p.Name]
	}
	return out
}

// Clone returns a deep copy of s (on the same backend).
func (s *SAE) Clone() *SAE {
	p := make(map[string]*tensors.Tensor, len(s.Params))
	for name, t := range s.Params {
		p[name] = tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](t), t.Shape().Dimensions...)
	}
	c := s.Config
	c.Meta.Extra = cloneMap(c.Meta.Extra)
	return &SAE{Config: c, Params: p, Backend: s.Backend}
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// paramList returns the tensors in ParamSpecs order.
func (s *SAE) paramList() []*tensors.Tensor {
	specs := ParamSpecs(s.Config)
	out := make([]*tensors.Tensor, len(specs))
	for i, sp := range specs {
		out[i] = s.Params[sp.Name]
	}
	return out
}

// FoldScale folds activation scaling factors into the weights: an SAE trained on x*in
// reconstructing y*out becomes one that reads x and reconstructs y (SAELens
// fold_activation_norm_scaling_factor): W_enc *= in, W_dec /= out, b_dec /= out,
// W_skip *= in/out. With ApplyBDecToInput (in = out) the encoder input x*in - b_dec becomes
// (x - b_dec/in) * in, so the same b_dec serves both sides.
func (s *SAE) FoldScale(in, out float64) {
	if in == 1 && out == 1 {
		return
	}
	scale := func(name string, f float64) {
		t, ok := s.Params[name]
		if !ok {
			return
		}
		tensors.MustMutableFlatData(t, func(v []float32) {
			for i := range v {
				v[i] = float32(float64(v[i]) * f)
			}
		})
	}
	scale("W_enc", in)
	scale("W_dec", 1/out)
	scale("b_dec", 1/out)
	scale("W_skip", in/out)
	s.Config.Meta.NormScale = in
}
