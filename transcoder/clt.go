package transcoder

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"go.yaml.in/yaml/v3"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/internal/atomicfile"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

// A cross-layer transcoder (CLT; Ameisen et al. 2025): layer l's encoder reads layer l's MLP
// input, and each of its latents has one decoder vector for the MLP output of every layer
// m >= l. Layer m's output is reconstructed from every earlier layer's latents:
//
//	f_l     = act_l(x_l W_enc_l + b_enc_l)                         [F]
//	y_m     = b_dec_m + sum_{l <= m} f_l W_dec_l[:, m - l, :]       [D]
//
// Layers holds, per layer, the encoder as an *sae.SAE (its W_dec is the decoder into its own
// layer and its b_dec is b_dec_l), so that encoding is the SAE code; Dec[l] holds every decoder
// of layer l's latents, [F, L - l, D].
type CLT struct {
	Layers []*sae.SAE
	Dec    [][]float32 // [L][F * (L-l) * D]
}

// CLTSpec chooses a CLT for a model: its architecture and width per layer.
type CLTSpec struct {
	Arch sae.Arch // relu, jumprelu or topk
	DSAE int      // latents per layer
	K    int      // topk: active latents per layer and row
}

// CLTConfigFile is the file beside the tensors that says what the folder holds (circuit-tracer's
// transcoder config: model_kind, feature_input_hook, feature_output_hook, and interp's fields).
const CLTConfigFile = "config.yaml"

// cltFileConfig is config.yaml.
type cltFileConfig struct {
	ModelKind         string  `yaml:"model_kind"`
	FeatureInputHook  string  `yaml:"feature_input_hook"`
	FeatureOutputHook string  `yaml:"feature_output_hook"`
	Activation        string  `yaml:"activation"`
	K                 int     `yaml:"k,omitempty"`
	NLayers           int     `yaml:"n_layers"`
	DTranscoder       int     `yaml:"d_transcoder"`
	DModel            int     `yaml:"d_model"`
	ModelName         string  `yaml:"model_name,omitempty"`
	DatasetPath       string  `yaml:"dataset_path,omitempty"`
	NormScale         float64 `yaml:"norm_scale,omitempty"`
}

// NLayers is the number of layers the CLT spans.
func (c *CLT) NLayers() int { return len(c.Layers) }

// Config is layer 0's encoder config (every layer's has the same architecture and sizes).
func (c *CLT) Config() sae.Config { return c.Layers[0].Config }

// Decoder returns the decoder vector of latent f of layer l into layer m's output ([D], a view).
func (c *CLT) Decoder(l, f, m int) []float32 {
	L, D := c.NLayers(), c.Config().Out()
	n := L - l
	return c.Dec[l][(f*n+m-l)*D : (f*n+m-l+1)*D]
}

// blockHook strips "blocks.L." from a hook name, the block-relative name circuit-tracer's
// config uses (feature_input_hook, feature_output_hook).
func blockHook(name string) string {
	if l, _ := hooks.Layer(name); l >= 0 {
		return strings.TrimPrefix(name, "blocks."+strconv.Itoa(l)+".")
	}
	return name
}

// NewCLTConfigs returns the per-layer encoder configs of a CLT for model c: layer l reads
// InputHook(c, l) and writes TargetHook(l).
func NewCLTConfigs(c model.Config, s CLTSpec) ([]sae.Config, error) {
	switch s.Arch {
	case sae.ReLU, sae.JumpReLU, sae.TopK:
	default:
		return nil, fmt.Errorf("transcoder: a cross-layer transcoder is relu, jumprelu or topk, not %q", s.Arch)
	}
	var out []sae.Config
	for l := range c.NLayers {
		sc, err := NewConfig(c, Spec{Layer: l, Arch: s.Arch, DSAE: s.DSAE, K: s.K})
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// NewCLT checks the layers and decoders and builds a CLT: every layer of one architecture and
// width, reading layer l's input hook and writing layer l's output hook, and Dec[l] of
// F * (L-l) * D values whose first decoder is the layer's own W_dec.
func NewCLT(layers []*sae.SAE, dec [][]float32) (*CLT, error) {
	if len(layers) == 0 {
		return nil, errors.New("transcoder: a cross-layer transcoder needs at least one layer")
	}
	if len(dec) != len(layers) {
		return nil, fmt.Errorf("transcoder: %d layers but %d decoder sets", len(layers), len(dec))
	}
	c0 := layers[0].Config
	L, F, D := len(layers), c0.DSAE, c0.Out()
	for l, s := range layers {
		c := s.Config
		if c.Arch != c0.Arch || c.DSAE != F || c.DIn != c0.DIn || c.Out() != D || c.K != c0.K || c.Skip {
			return nil, fmt.Errorf("transcoder: CLT layer %d (%s, %d -> %d -> %d) differs from layer 0 (%s, %d -> %d -> %d)",
				l, c.Arch, c.DIn, c.DSAE, c.Out(), c0.Arch, c0.DIn, F, D)
		}
		if got := layerOf(c.TargetSite().Hook); got != l {
			return nil, fmt.Errorf("transcoder: CLT layer %d writes %s", l, c.TargetSite().Hook)
		}
		if li, _ := hooks.Layer(c.Site.Hook); li != l {
			return nil, fmt.Errorf("transcoder: CLT layer %d reads %s", l, c.Site.Hook)
		}
		if want := F * (L - l) * D; len(dec[l]) != want {
			return nil, fmt.Errorf("transcoder: CLT layer %d decoders have %d values, want %d (%d x %d x %d)", l, len(dec[l]), want, F, L-l, D)
		}
	}
	clt := &CLT{Layers: layers, Dec: dec}
	for l, s := range layers { // the layer's own W_dec is its first decoder
		own := make([]float32, F*D)
		for f := range F {
			copy(own[f*D:(f+1)*D], clt.Decoder(l, f, l))
		}
		s.Params["W_dec"] = tensors.FromFlatDataAndDimensions(own, F, D)
	}
	return clt, nil
}

// NewRandomCLT returns a CLT with random encoders and decoders (decoder rows of norm 0.1 over
// all their layers, encoders of the same directions' scale, zero biases), for tests and as
// the start of training.
func NewRandomCLT(c model.Config, s CLTSpec, b backends.Backend, seed uint64) (*CLT, error) {
	cfgs, err := NewCLTConfigs(c, s)
	if err != nil {
		return nil, err
	}
	L := len(cfgs)
	rng := rand.New(rand.NewPCG(seed, 0xc17))
	var layers []*sae.SAE
	var dec [][]float32
	for l, sc := range cfgs {
		st, err := sae.NewRandom(sc, b, sae.InitOptions{Seed: seed + uint64(l)})
		if err != nil {
			return nil, err
		}
		F, D := sc.DSAE, sc.Out()
		n := L - l
		d := make([]float32, F*n*D)
		for f := range F {
			row := d[f*n*D : (f+1)*n*D]
			var ss float64
			for i := range row {
				row[i] = float32(rng.NormFloat64())
				ss += float64(row[i]) * float64(row[i])
			}
			scale := 0.1 / math.Sqrt(ss)
			for i := range row {
				row[i] *= float32(scale)
			}
		}
		layers = append(layers, st)
		dec = append(dec, d)
	}
	return NewCLT(layers, dec)
}

// Reconstruct returns layer m's reconstruction [P*D] from the latents of layers <= m (lat[l]
// [P*F], nil for none).
func (c *CLT) Reconstruct(m int, lat [][]float32, P int) []float32 {
	F, D := c.Config().DSAE, c.Config().Out()
	out := make([]float32, P*D)
	bd := c.Layers[m].Flat("b_dec")
	for p := range P {
		copy(out[p*D:(p+1)*D], bd)
	}
	for l := 0; l <= m; l++ {
		if lat[l] == nil {
			continue
		}
		for p := range P {
			for f, a := range lat[l][p*F : (p+1)*F] {
				if a == 0 {
					continue
				}
				v := c.Decoder(l, f, m)
				o := out[p*D : (p+1)*D]
				for d := range D {
					o[d] += a * v[d]
				}
			}
		}
	}
	return out
}

// CheckCLT reports a CLT that does not fit model m: its layer count, or a layer's hooks.
func CheckCLT(m model.Config, c *CLT) error {
	if c.NLayers() != m.NLayers {
		return fmt.Errorf("transcoder: the cross-layer transcoder spans %d layers, the model has %d (transcoders from another model?)", c.NLayers(), m.NLayers)
	}
	for _, s := range c.Layers {
		if err := Check(m, s); err != nil {
			return err
		}
	}
	return nil
}

// SaveCLT writes the CLT in circuit-tracer's layout: W_enc_{l}.safetensors holding W_enc_{l}
// [F, D] (circuit-tracer's orientation), b_enc_{l} [F], b_dec_{l} [D] and, for JumpReLU,
// threshold_{l} [F]; W_dec_{l}.safetensors holding W_dec_{l} [F, L-l, D]; and config.yaml
// (model_kind cross_layer_transcoder, the block-relative hooks, and interp's fields). Each file
// is written atomically.
func SaveCLT(c *CLT, dir string, meta sae.Meta) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("transcoder: save CLT: %w", err)
	}
	cfg := c.Config()
	L, F, D, DIn := c.NLayers(), cfg.DSAE, cfg.Out(), cfg.DIn
	for l, s := range c.Layers {
		enc := s.Flat("W_enc") // [DIn, F]
		encT := make([]float32, F*DIn)
		for i := range DIn {
			for f := range F {
				encT[f*DIn+i] = enc[i*F+f]
			}
		}
		ts := map[string]*tensors.Tensor{
			fmt.Sprintf("W_enc_%d", l): tensors.FromFlatDataAndDimensions(encT, F, DIn),
			fmt.Sprintf("b_enc_%d", l): tensors.FromFlatDataAndDimensions(s.Flat("b_enc"), F),
			fmt.Sprintf("b_dec_%d", l): tensors.FromFlatDataAndDimensions(s.Flat("b_dec"), D),
		}
		if cfg.Arch == sae.JumpReLU {
			ts[fmt.Sprintf("threshold_%d", l)] = tensors.FromFlatDataAndDimensions(s.Flat("threshold"), F)
		}
		if err := model.WriteSafetensors(filepath.Join(dir, fmt.Sprintf("W_enc_%d.safetensors", l)), ts, nil); err != nil {
			return err
		}
		dec := map[string]*tensors.Tensor{fmt.Sprintf("W_dec_%d", l): tensors.FromFlatDataAndDimensions(c.Dec[l], F, L-l, D)}
		if err := model.WriteSafetensors(filepath.Join(dir, fmt.Sprintf("W_dec_%d.safetensors", l)), dec, nil); err != nil {
			return err
		}
	}
	act := map[sae.Arch]string{sae.ReLU: "relu", sae.JumpReLU: "jump_relu", sae.TopK: "topk"}[cfg.Arch]
	fc := cltFileConfig{ModelKind: "cross_layer_transcoder", FeatureInputHook: blockHook(cfg.Site.Hook),
		FeatureOutputHook: blockHook(cfg.TargetSite().Hook), Activation: act, K: cfg.K, NLayers: L, DTranscoder: F,
		DModel: D, ModelName: meta.ModelName, DatasetPath: meta.DatasetPath, NormScale: meta.NormScale}
	data, err := yaml.Marshal(fc)
	if err != nil {
		return fmt.Errorf("transcoder: save CLT: %w", err)
	}
	return atomicfile.WriteBytes(filepath.Join(dir, CLTConfigFile), data)
}

// IsCLTDir reports whether dir holds a cross-layer transcoder (a config.yaml with model_kind
// cross_layer_transcoder, or circuit-tracer's W_enc_0.safetensors).
func IsCLTDir(dir string) bool {
	if data, err := os.ReadFile(filepath.Join(dir, CLTConfigFile)); err == nil {
		var fc cltFileConfig
		return yaml.Unmarshal(data, &fc) == nil && fc.ModelKind == "cross_layer_transcoder"
	}
	_, err := os.Stat(filepath.Join(dir, "W_enc_0.safetensors"))
	return err == nil
}

// LoadCLT reads a CLT folder in circuit-tracer's layout for model c (see SaveCLT). Without
// config.yaml the hooks default to circuit-tracer's (hook_resid_mid, hook_mlp_out) and the
// architecture is read from the tensors (threshold_{l}: JumpReLU, else ReLU). Every tensor must
// be present, float (F32, F16 or BF16; computed in float32) and well shaped; unknown tensors are
// refused.
func LoadCLT(dir string, c model.Config, b backends.Backend) (*CLT, sae.Meta, error) {
	fail := func(format string, args ...any) (*CLT, sae.Meta, error) {
		return nil, sae.Meta{}, fmt.Errorf("transcoder: load CLT %s: %s", dir, fmt.Sprintf(format, args...))
	}
	fc := cltFileConfig{FeatureInputHook: "hook_resid_mid", FeatureOutputHook: "hook_mlp_out"}
	if data, err := os.ReadFile(filepath.Join(dir, CLTConfigFile)); err == nil {
		if err := yaml.Unmarshal(data, &fc); err != nil {
			return fail("%s: %v", CLTConfigFile, err)
		}
		if fc.ModelKind != "cross_layer_transcoder" {
			return fail("%s: model_kind %q, want cross_layer_transcoder", CLTConfigFile, fc.ModelKind)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fail("%v", err)
	}
	L := c.NLayers
	for l := L; ; l++ { // no layers beyond the model's
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("W_enc_%d.safetensors", l))); err != nil {
			break
		}
		return fail("W_enc_%d.safetensors: the model has %d layers (transcoders from another model?)", l, L)
	}
	if fc.NLayers != 0 && fc.NLayers != L {
		return fail("%s: n_layers %d, the model has %d (transcoders from another model?)", CLTConfigFile, fc.NLayers, L)
	}
	arch := sae.ReLU
	switch fc.Activation {
	case "", "relu":
	case "jump_relu", "jumprelu":
		arch = sae.JumpReLU
	case "topk":
		arch = sae.TopK
		if fc.K <= 0 {
			return fail("%s: activation topk needs k > 0", CLTConfigFile)
		}
	default:
		return fail("%s: unknown activation %q (relu, jump_relu, topk)", CLTConfigFile, fc.Activation)
	}
	var layers []*sae.SAE
	var dec [][]float32
	for l := range L {
		encFile := filepath.Join(dir, fmt.Sprintf("W_enc_%d.safetensors", l))
		ts, _, err := model.ReadSafetensors(encFile)
		if err != nil {
			return fail("%v", err)
		}
		decFile := filepath.Join(dir, fmt.Sprintf("W_dec_%d.safetensors", l))
		ds, _, err := model.ReadSafetensors(decFile)
		if err != nil {
			return fail("%v", err)
		}
		if l == 0 && fc.Activation == "" {
			if _, ok := ts["threshold_0"]; ok {
				arch = sae.JumpReLU
			}
		}
		in := "blocks." + strconv.Itoa(l) + "." + fc.FeatureInputHook
		out := "blocks." + strconv.Itoa(l) + "." + fc.FeatureOutputHook
		get := func(m map[string]*tensors.Tensor, file, name string, dims ...int) ([]float32, error) {
			t, ok := m[name]
			if !ok {
				return nil, fmt.Errorf("%s: missing tensor %s", filepath.Base(file), name)
			}
			if !slices.Equal(t.Shape().Dimensions, dims) {
				return nil, fmt.Errorf("%s: tensor %s has shape %v, want %v", filepath.Base(file), name, t.Shape().Dimensions, dims)
			}
			delete(m, name)
			return floats(t)
		}
		wEnc, ok := ts[fmt.Sprintf("W_enc_%d", l)]
		if !ok || wEnc.Shape().Rank() != 2 {
			return fail("W_enc_%d.safetensors: missing tensor W_enc_%d [F, D]", l, l)
		}
		F, DIn := wEnc.Shape().Dimensions[0], wEnc.Shape().Dimensions[1]
		sc, err := NewConfig(c, Spec{Layer: l, Arch: arch, DSAE: F, K: fc.K, Input: in, Target: out})
		if err != nil {
			return fail("layer %d: %v", l, err)
		}
		if sc.DIn != DIn {
			return fail("W_enc_%d.safetensors: W_enc_%d reads %d values, %s has %d (transcoders from another model?)", l, l, DIn, in, sc.DIn)
		}
		D := sc.Out()
		encT, err := get(ts, encFile, fmt.Sprintf("W_enc_%d", l), F, DIn)
		if err != nil {
			return fail("%v", err)
		}
		enc := make([]float32, DIn*F)
		for f := range F {
			for i := range DIn {
				enc[i*F+f] = encT[f*DIn+i]
			}
		}
		p := map[string]*tensors.Tensor{"W_enc": tensors.FromFlatDataAndDimensions(enc, DIn, F),
			"W_dec": tensors.FromFlatDataAndDimensions(make([]float32, F*D), F, D)}
		for _, t := range []struct {
			name string
			n    int
		}{{"b_enc", F}, {"b_dec", D}, {"threshold", F}} {
			if t.name == "threshold" && arch != sae.JumpReLU {
				continue
			}
			v, err := get(ts, encFile, fmt.Sprintf("%s_%d", t.name, l), t.n)
			if err != nil {
				return fail("%v", err)
			}
			p[t.name] = tensors.FromFlatDataAndDimensions(v, t.n)
		}
		for name := range ts {
			return fail("W_enc_%d.safetensors: unexpected tensor %s", l, name)
		}
		d, err := get(ds, decFile, fmt.Sprintf("W_dec_%d", l), F, L-l, D)
		if err != nil {
			return fail("%v", err)
		}
		for name := range ds {
			return fail("W_dec_%d.safetensors: unexpected tensor %s", l, name)
		}
		if l > 0 && F != layers[0].Config.DSAE {
			return fail("layer %d has %d latents, layer 0 has %d", l, F, layers[0].Config.DSAE)
		}
		sc.Meta = sae.Meta{ModelName: fc.ModelName, DatasetPath: fc.DatasetPath, NormScale: fc.NormScale}
		s, err := sae.New(sc, p, b)
		if err != nil {
			return fail("layer %d: %v", l, err)
		}
		layers = append(layers, s)
		dec = append(dec, d)
	}
	clt, err := NewCLT(layers, dec)
	if err != nil {
		return nil, sae.Meta{}, err
	}
	return clt, layers[0].Config.Meta, nil
}

// floats returns a tensor's values; model.ReadSafetensors gives F16, BF16 and F64 as float32.
func floats(t *tensors.Tensor) ([]float32, error) {
	if t.DType() != dtypes.Float32 {
		return nil, fmt.Errorf("tensor of %s, want a float type", t.DType())
	}
	return tensors.MustCopyFlatData[float32](t), nil
}

// CLTModelName returns the model_name a CLT folder's config.yaml records ("" when none).
func CLTModelName(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, CLTConfigFile))
	if err != nil {
		return ""
	}
	var fc cltFileConfig
	if yaml.Unmarshal(data, &fc) != nil {
		return ""
	}
	return fc.ModelName
}
