package model

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// This file is the loader framework for Hugging Face model families other than GPT-2 (whose
// loader is load.go): a registry by config.json model_type, the union of the config.json fields
// the families use, and a strict reader of checkpoint tensors. Each family's names live in one
// small file (family_llama.go, family_neox.go, family_neo.go).

// family reads one Hugging Face model_type.
type family struct {
	// config turns the parsed config.json into a Config.
	config func(hf hfArch) (Config, error)
	// weights maps the checkpoint's tensors to TransformerLens names, taking each from ck.
	weights func(c Config, hf hfArch, ck *checkpoint) map[string]*tensors.Tensor
	// buffer reports tensors the checkpoint may carry that are not weights (rotary inv_freq,
	// mask buffers); they are skipped unread.
	buffer func(name string) bool
}

var families = map[string]family{}

// registerFamily registers the loader of a config.json model_type.
func registerFamily(modelType string, f family) { families[modelType] = f }

// FamilyNames lists the Hugging Face model_types Load reads, sorted.
func FamilyNames() []string {
	names := []string{"gpt2"}
	for name := range families {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// hfArch is the union of the config.json fields the families read. Pointers mark fields whose
// absence means a family default other than the zero value.
type hfArch struct {
	ModelType string `json:"model_type"`

	HiddenSize   int      `json:"hidden_size"`
	NumLayers    int      `json:"num_hidden_layers"`
	NumHeads     int      `json:"num_attention_heads"`
	NumKVHeads   int      `json:"num_key_value_heads"`
	HeadDim      int      `json:"head_dim"`
	Intermediate *int     `json:"intermediate_size"`
	MaxPos       int      `json:"max_position_embeddings"`
	VocabSize    int      `json:"vocab_size"`
	RMSEps       float64  `json:"rms_norm_eps"`
	LayerNormEps float64  `json:"layer_norm_eps"`
	Tie          *bool    `json:"tie_word_embeddings"`
	HiddenAct    string   `json:"hidden_act"`
	HiddenActG   string   `json:"hidden_activation"` // Gemma
	AttnBias     *bool    `json:"attention_bias"`
	MLPBias      bool     `json:"mlp_bias"`
	RopeTheta    float64  `json:"rope_theta"`
	RopeScaling  *hfRope  `json:"rope_scaling"`
	PartialRot   *float64 `json:"partial_rotary_factor"`

	SlidingWindow    *int     `json:"sliding_window"`
	UseSlidingWindow *bool    `json:"use_sliding_window"` // Qwen 2 and 3
	LayerTypes       []string `json:"layer_types"`
	SlidingPattern   int      `json:"sliding_window_pattern"` // Gemma 3
	RopeLocalBase    float64  `json:"rope_local_base_freq"`   // Gemma 3
	QueryPreAttn     float64  `json:"query_pre_attn_scalar"`  // Gemma
	AttnSoftcap      *float64 `json:"attn_logit_softcapping"`
	FinalSoftcap     *float64 `json:"final_logit_softcapping"`

	// GPT-NeoX (Pythia).
	RotaryPct   *float64 `json:"rotary_pct"`
	RotaryBase  float64  `json:"rotary_emb_base"`
	ParallelRes *bool    `json:"use_parallel_residual"`

	// GPT-Neo.
	NumLayersNeo   int             `json:"num_layers"`
	NumHeadsNeo    int             `json:"num_heads"`
	AttentionTypes json.RawMessage `json:"attention_types"`
	WindowSize     int             `json:"window_size"`
	LNEpsNeo       float64         `json:"layer_norm_epsilon"`
	ActivationFn   string          `json:"activation_function"`

	// interp's own layout for architectures GPT-2's config cannot express.
	Interp *Config `json:"interp_config"`
}

// hfRope is config.json's rope_scaling.
type hfRope struct {
	RopeType       string  `json:"rope_type"`
	Type           string  `json:"type"` // older name of rope_type
	Factor         float64 `json:"factor"`
	LowFreqFactor  float64 `json:"low_freq_factor"`
	HighFreqFactor float64 `json:"high_freq_factor"`
	OriginalMaxPos int     `json:"original_max_position_embeddings"`
}

// scaling converts rope_scaling, nil for none or the default type.
func (r *hfRope) scaling() (*RopeScaling, error) {
	if r == nil {
		return nil, nil
	}
	t := r.RopeType
	if t == "" {
		t = r.Type
	}
	switch t {
	case "", "default":
		return nil, nil
	case "linear", "llama3":
		return &RopeScaling{Type: t, Factor: r.Factor, LowFreqFactor: r.LowFreqFactor,
			HighFreqFactor: r.HighFreqFactor, OriginalMaxPos: r.OriginalMaxPos}, nil
	}
	return nil, fmt.Errorf("rope_scaling type %q is not supported (want default, linear or llama3)", t)
}

// act maps a Hugging Face activation name.
func hfActivation(name string) (Activation, error) {
	switch name {
	case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
		// gelu_fast is the same tanh approximation written as 0.5x(1 + tanh(0.7978845608 x (1 + 0.044715 x^2))).
		return GeluNew, nil
	case "gelu":
		return Gelu, nil
	case "relu":
		return Relu, nil
	case "silu", "swish":
		return Silu, nil
	}
	return "", fmt.Errorf("activation %q is not supported (want gelu_new, gelu_pytorch_tanh, gelu, relu or silu)", name)
}

// readFamilyConfig reads config.json and, for a registered model_type, its Config. ok is false
// for GPT-2 configs (model_type gpt2 or none), which ReadHFConfig reads.
func readFamilyConfig(path string) (c Config, hf hfArch, f family, ok bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, hf, family{}, false, fmt.Errorf("model: read config: %w", err)
	}
	if err := json.Unmarshal(data, &hf); err != nil {
		return Config{}, hf, family{}, false, fmt.Errorf("model: parse config %s: %w", path, err)
	}
	if hf.ModelType == "" || hf.ModelType == "gpt2" {
		return Config{}, hf, family{}, false, nil
	}
	f, known := families[hf.ModelType]
	if !known {
		return Config{}, hf, family{}, false, fmt.Errorf("model: config %s: model_type %q is not supported (want one of %s)",
			path, hf.ModelType, strings.Join(FamilyNames(), ", "))
	}
	c, err = f.config(hf)
	if err != nil {
		return Config{}, hf, family{}, false, fmt.Errorf("model: config %s: %s: %w", path, hf.ModelType, err)
	}
	if c.Family == "" && hf.ModelType != interpModelType { // interp's layout keeps the config's own
		c.Family = hf.ModelType
	}
	if err := c.Validate(); err != nil {
		return Config{}, hf, family{}, false, fmt.Errorf("%w (in %s)", err, path)
	}
	return c, hf, f, true, nil
}

// loadFamily reads the checkpoint in dir for config c of family f.
func loadFamily(dir string, c Config, hf hfArch, f family) (*Weights, error) {
	keep := func(name string) bool { return f.buffer == nil || !f.buffer(name) }
	ts, src, where, err := readCheckpointTensors(dir, keep)
	if err != nil {
		return nil, err
	}
	ck := &checkpoint{ts: ts, src: src, where: where, used: map[string]bool{}}
	if f.buffer != nil {
		for name := range ts {
			if f.buffer(name) {
				ck.used[name] = true
			}
		}
	}
	out := f.weights(c, hf, ck)
	if err := ck.finish(c); err != nil {
		return nil, err
	}
	w := &Weights{Config: c, Tensors: out}
	if err := w.Check(); err != nil {
		return nil, fmt.Errorf("model: load %s: %w", where, err)
	}
	return w, nil
}

// checkpoint hands out a checkpoint's tensors by name, strictly: take and tensor record the
// first missing, mis-shaped or non-float tensor as the error, and finish reports every tensor no
// one took. A tensor handed to take is dropped from the checkpoint, so that once its data is
// converted to TransformerLens's layout the original can be freed: Load's peak stays near the
// size of the weights rather than twice it.
type checkpoint struct {
	ts    map[string]*tensors.Tensor
	src   map[string]string
	where string
	used  map[string]bool
	err   error
}

// file is the file a tensor came from (the checkpoint's index or file when absent).
func (k *checkpoint) file(name string) string {
	if f, ok := k.src[name]; ok {
		return f
	}
	return k.where
}

// has reports whether the checkpoint holds name.
func (k *checkpoint) has(name string) bool {
	_, ok := k.ts[name]
	return ok
}

// get validates and returns name's tensor, or nil after recording the first error.
func (k *checkpoint) get(name string, shape []int) *tensors.Tensor {
	if k.err != nil {
		return nil
	}
	k.used[name] = true
	t, ok := k.ts[name]
	switch {
	case !ok || t == nil:
		k.err = fmt.Errorf("model: load %s: tensor %q: missing (%s wants shape %v)", k.where, name, configFile, shape)
	case t.DType() != dtypes.Float32:
		k.err = fmt.Errorf("model: load %s: tensor %q: dtype %s, want a float dtype (F32, F16, BF16 or F64)", k.file(name), name, t.DType())
	case !slices.Equal(t.Shape().Dimensions, shape):
		k.err = fmt.Errorf("model: load %s: tensor %q: shape %v, want %v (from %s)", k.file(name), name, t.Shape().Dimensions, shape, configFile)
	}
	if k.err != nil {
		return nil
	}
	return t
}

// tensor returns name's tensor as read (no copy), which must have the given shape; after the
// first error, zeros.
func (k *checkpoint) tensor(name string, shape ...int) *tensors.Tensor {
	if t := k.get(name, shape); t != nil {
		return t
	}
	return zeros(shape...)
}

// take returns name's float32 data, which must have the given shape, and drops the tensor from
// the checkpoint. After the first error it returns zeros of that shape, so a family's mapping
// code can run to its end without checks.
func (k *checkpoint) take(name string, shape ...int) []float32 {
	t := k.get(name, shape)
	if t == nil {
		n := 1
		for _, d := range shape {
			n *= d
		}
		return make([]float32, n)
	}
	k.ts[name] = nil // the data lives on in the returned slice until the caller converts it
	return ckptFlat32(t)
}

// tied checks an output embedding a tied checkpoint also stores: it must equal the input
// embedding, whose data is embed.
func (k *checkpoint) tied(lmHead, embedName string, embed []float32, shape ...int) {
	if !k.has(lmHead) {
		return
	}
	a := k.take(lmHead, shape...)
	if k.err != nil {
		return
	}
	for i := range a {
		if a[i] != embed[i] {
			k.err = fmt.Errorf("model: load %s: tensor %q: differs from %s at element %d (%g vs %g) but %s ties the embeddings; set tie_word_embeddings false to use it",
				k.file(lmHead), lmHead, embedName, i, a[i], embed[i], configFile)
			return
		}
	}
}

// finish returns the first take error, or an error naming the tensors no one took.
func (k *checkpoint) finish(c Config) error {
	if k.err != nil {
		return k.err
	}
	var unexpected []string
	for name := range k.ts {
		if !k.used[name] {
			unexpected = append(unexpected, name)
		}
	}
	if len(unexpected) == 0 {
		return nil
	}
	sort.Strings(unexpected)
	more := ""
	if len(unexpected) > 1 {
		more = fmt.Sprintf(" (and %d more unexpected: %s)", len(unexpected)-1, strings.Join(unexpected[1:min(len(unexpected), 6)], ", "))
	}
	return fmt.Errorf("model: load %s: tensor %q: unexpected for this %s config (%d layers)%s",
		k.file(unexpected[0]), unexpected[0], c.Family, c.NLayers, more)
}

// Layout conversions from PyTorch nn.Linear weights ([out, in]) to TransformerLens's. Each
// writes straight into its new tensor's memory (one allocation, no copy after).

// tensorOf copies data into a new tensor of the given shape.
func tensorOf(data []float32, shape ...int) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(data, shape...)
}

// zeros is a zero tensor (the biases a family does not have).
func zeros(shape ...int) *tensors.Tensor {
	return tensors.FromShape(shapes.Make(dtypes.Float32, shape...))
}

// filled returns a new float32 tensor of the given shape whose data fill writes.
func filled(fill func(out []float32), shape ...int) *tensors.Tensor {
	t := zeros(shape...)
	tensors.MustMutableFlatData(t, fill)
	return t
}

// transposeInto writes the [cols, rows] transpose of the row-major [rows, cols] matrix a into
// out, in 64 x 64 tiles so that both sides stay in cache.
func transposeInto(out, a []float32, rows, cols int) {
	const tile = 64
	for r0 := 0; r0 < rows; r0 += tile {
		for c0 := 0; c0 < cols; c0 += tile {
			for r := r0; r < min(r0+tile, rows); r++ {
				row := a[r*cols:]
				for c := c0; c < min(c0+tile, cols); c++ {
					out[c*rows+r] = row[c]
				}
			}
		}
	}
}

// linearIn converts an nn.Linear weight [out, in] to [in, out] (W_in, W_gate, W_out, W_U).
func linearIn(w []float32, out, in int) *tensors.Tensor {
	return filled(func(o []float32) { transposeInto(o, w, out, in) }, in, out)
}

// linearHeads converts a query/key/value projection [heads*K, D] to [heads, D, K]: per head, the
// transpose of its [K, D] rows.
func linearHeads(w []float32, heads, K, D int) *tensors.Tensor {
	return filled(func(o []float32) {
		for h := range heads {
			transposeInto(o[h*D*K:(h+1)*D*K], w[h*K*D:(h+1)*K*D], K, D)
		}
	}, heads, D, K)
}

// linearOut converts an output projection [D, H*K] to W_O [H, K, D].
func linearOut(w []float32, D, H, K int) *tensors.Tensor {
	return filled(func(o []float32) { transposeInto(o, w, D, H*K) }, H, K, D)
}

// plusOne returns 1 + w in float32 (Gemma's RMSNorm gain, as Gemma computes it).
func plusOne(w []float32) []float32 {
	out := make([]float32, len(w))
	for i, x := range w {
		out[i] = 1 + x
	}
	return out
}
