package model

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/interp-dev/interp/internal/atomicfile"
)

// Activation names the MLP non-linearity.
type Activation string

const (
	// GeluNew is GPT-2's tanh approximation of GELU (HF "gelu_new", TransformerLens "gelu_new").
	GeluNew Activation = "gelu_new"
	// Gelu is the exact GELU, x * Phi(x), computed with erf.
	Gelu Activation = "gelu"
	// Relu is max(x, 0).
	Relu Activation = "relu"
	// Silu is x * sigmoid(x) (HF "silu", Llama's SwiGLU gate).
	Silu Activation = "silu"
)

// Normalization names the normalisation applied before attention, MLP and unembedding.
type Normalization string

const (
	// LayerNorm is the GPT-2 LayerNorm with learned scale and bias.
	LayerNorm Normalization = "LN"
	// RMS is RMSNorm: x / sqrt(mean(x^2) + eps) * w, no centring and no bias (Llama, Qwen,
	// Gemma, OLMo 2). Gemma's (1 + w) gain is folded into w by its loader, exactly: Gemma
	// computes 1 + w in float32 too.
	RMS Normalization = "RMS"
	// NoNorm applies no normalisation (common in toy attention-only models).
	NoNorm Normalization = "none"
)

// NormPlacement says where a block's norms sit around attention and the MLP.
type NormPlacement string

const (
	// PreNorm normalises the input of attention and the MLP (GPT-2, Llama, Pythia): ln1, ln2.
	PreNorm NormPlacement = ""
	// PrePostNorm also normalises their outputs before they join the residual stream (Gemma 2
	// and 3): ln1, ln1_post, ln2, ln2_post.
	PrePostNorm NormPlacement = "pre_post"
	// PostNorm normalises only their outputs (OLMo 2): ln1_post, ln2_post.
	PostNorm NormPlacement = "post"
)

// QKNorm says whether queries and keys are normalised (RMS, before the rotary embedding).
type QKNorm string

const (
	// NoQKNorm leaves queries and keys as projected.
	NoQKNorm QKNorm = ""
	// QKNormHead normalises each head's query and key over d_head (Qwen 3, Gemma 3):
	// attn.q_norm.w and attn.k_norm.w are [K].
	QKNormHead QKNorm = "head"
	// QKNormProj normalises the whole query and key projection, all heads at once (OLMo 2):
	// attn.q_norm.w is [H*K] and attn.k_norm.w [Hkv*K].
	QKNormProj QKNorm = "proj"
)

// RopeScaling adjusts the rotary frequencies for long contexts, as Hugging Face's rope_scaling.
type RopeScaling struct {
	// Type is "linear" (every frequency divided by Factor) or "llama3" (Llama 3.1's
	// wavelength-dependent scaling with LowFreqFactor, HighFreqFactor, OriginalMaxPos).
	Type           string  `json:"rope_type"`
	Factor         float64 `json:"factor"`
	LowFreqFactor  float64 `json:"low_freq_factor,omitempty"`
	HighFreqFactor float64 `json:"high_freq_factor,omitempty"`
	OriginalMaxPos int     `json:"original_max_position_embeddings,omitempty"`
}

// Config describes a GPT-style decoder. Field names follow TransformerLens's
// HookedTransformerConfig so configs read the same on both sides.
type Config struct {
	NLayers int `json:"n_layers"`
	DModel  int `json:"d_model"`
	NHeads  int `json:"n_heads"`
	DHead   int `json:"d_head"`
	// DMLP is the hidden width of the MLP; ignored when AttnOnly.
	DMLP   int `json:"d_mlp"`
	NCtx   int `json:"n_ctx"`
	DVocab int `json:"d_vocab"`
	// Act is the MLP activation; GPT-2 uses gelu_new.
	Act Activation `json:"act_fn"`
	// Normalization is LN or none; GPT-2 uses LN.
	Normalization Normalization `json:"normalization_type"`
	// AttnOnly drops the MLP sublayers (the toy models of the induction-head studies).
	AttnOnly bool `json:"attn_only"`
	// PositionalEmbeddings adds learned absolute positional embeddings (GPT-2: true).
	PositionalEmbeddings bool `json:"positional_embeddings"`
	// Shortformer adds the positional embeddings (hook_pos_embed) to the queries' and keys'
	// inputs of every attention layer, after ln1, and not to the residual stream: TransformerLens's
	// positional_embedding_type "shortformer" (Press et al. 2021), as in Neel Nanda's
	// attention-only toy models. Needs PositionalEmbeddings.
	Shortformer bool `json:"shortformer,omitempty"`
	// TiedEmbeddings makes the unembedding the transpose of the token embedding (GPT-2: true),
	// in which case no separate W_U is stored.
	TiedEmbeddings bool `json:"tied_embeddings"`
	// LNEps is the LayerNorm epsilon. GPT-2 uses 1e-5 (GoMLX's layers default of 1e-3 would be wrong).
	LNEps float64 `json:"eps"`
	// Tokenizer names the tokenizer the model was trained with: "gpt2" (byte-level BPE, r50k),
	// "dir" (vocab.json/merges.txt or tokenizer.json beside the weights) or "" (token ids only).
	Tokenizer string `json:"tokenizer,omitempty"`
	// The fields below describe architectures other than GPT-2's; their zero values are GPT-2's.

	// Family is the Hugging Face model_type the weights were loaded from ("gpt2", "llama",
	// "gpt_neox", ...); "" for interp's own models. Informational: the fields below decide the
	// computation.
	Family string `json:"family,omitempty"`
	// NKVHeads is the number of key/value heads under grouped-query attention (TransformerLens
	// n_key_value_heads): query head h reads key/value head h / (NHeads/NKVHeads). 0 means NHeads.
	NKVHeads int `json:"n_key_value_heads,omitempty"`
	// RotaryDim is how many leading dimensions of each query and key head the rotary embedding
	// turns (Hugging Face's rotate_half pairing, i with i + RotaryDim/2); 0 means no rotary
	// embedding. Pythia turns rotary_pct of d_head, Llama all of it.
	RotaryDim int `json:"rotary_dim,omitempty"`
	// RotaryBase is the rotary base theta (rope_theta; 10000 when 0).
	RotaryBase float64 `json:"rotary_base,omitempty"`
	// RotaryBaseLocal is the base of local (sliding-window) layers when it differs (Gemma 3's
	// rope_local_base_freq); 0 means RotaryBase. Local layers never use RopeScaling.
	RotaryBaseLocal float64 `json:"rotary_base_local,omitempty"`
	// RopeScaling rescales the rotary frequencies (nil: none).
	RopeScaling *RopeScaling `json:"rope_scaling,omitempty"`
	// GatedMLP makes the MLP gated (TransformerLens gated_mlp: Llama's SwiGLU, Gemma's GeGLU):
	// hook_pre = x W_gate, hook_pre_linear = x W_in, hook_post = act(hook_pre) * hook_pre_linear + b_in.
	GatedMLP bool `json:"gated_mlp,omitempty"`
	// ParallelResidual computes attention and the MLP from the same residual stream and adds both
	// (TransformerLens parallel_attn_mlp; Pythia, GPT-J); such blocks have no hook_resid_mid.
	ParallelResidual bool `json:"parallel_attn_mlp,omitempty"`
	// NormPlacement puts the block norms before, around or after attention and the MLP.
	NormPlacement NormPlacement `json:"norm_placement,omitempty"`
	// QKNorm normalises queries and keys before the rotary embedding.
	QKNorm QKNorm `json:"qk_norm,omitempty"`
	// AttnScale divides the attention scores (TransformerLens attn_scale); 0 means sqrt(d_head).
	// GPT-Neo does not scale (1); Gemma uses sqrt(query_pre_attn_scalar).
	AttnScale float64 `json:"attn_scale,omitempty"`
	// AttnSoftcap caps the scores as cap * tanh(score / cap) before the mask (Gemma 2); 0: none.
	AttnSoftcap float64 `json:"attn_scores_soft_cap,omitempty"`
	// OutputSoftcap caps the logits the same way (Gemma 2's final_logit_softcapping); 0: none.
	OutputSoftcap float64 `json:"output_logits_soft_cap,omitempty"`
	// WindowSize is the local attention window: a query at position q sees keys s with
	// q - WindowSize < s <= q. Used by the layers LocalLayers marks.
	WindowSize int `json:"window_size,omitempty"`
	// LocalLayers marks the layers whose attention is local (windowed); nil or false: global.
	LocalLayers []bool `json:"local_layers,omitempty"`
	// UnembedBias adds unembed.b_U [V] to the logits (TransformerLens b_U). No checkpoint family
	// has one; Process creates it when it folds a LayerNorm bias into the unembedding.
	UnembedBias bool `json:"unembed_bias,omitempty"`
	// EmbedScale multiplies the token embedding before hook_embed (Gemma: sqrt(d_model), in
	// float32 as Gemma rounds it); 0 means 1.
	EmbedScale float64 `json:"embed_scale,omitempty"`

	// Task names the task the model was trained on (a tasks.New name, recorded by interp train
	// as config.json's interp_task); commands that need a task take it as their default. "" for
	// models trained elsewhere.
	Task string `json:"task,omitempty"`
}

// GPT2Small returns the configuration of GPT-2 small (124M parameters).
func GPT2Small() Config {
	return Config{
		NLayers: 12, DModel: 768, NHeads: 12, DHead: 64, DMLP: 3072, NCtx: 1024, DVocab: 50257,
		Act: GeluNew, Normalization: LayerNorm, PositionalEmbeddings: true, TiedEmbeddings: true,
		LNEps: 1e-5, Tokenizer: "gpt2",
	}
}

// AttnOnlyToy returns a small attention-only configuration in the style of the induction-head
// studies (no MLPs, no LayerNorm, learned positions, separate unembedding).
func AttnOnlyToy(layers, heads, dModel, vocab, nCtx int) Config {
	return Config{
		NLayers: layers, DModel: dModel, NHeads: heads, DHead: dModel / heads, NCtx: nCtx, DVocab: vocab,
		Act: Relu, Normalization: NoNorm, AttnOnly: true, PositionalEmbeddings: true, LNEps: 1e-5,
	}
}

// LlamaToy returns a small Llama-style configuration for training studies: RMSNorm (eps 1e-6),
// rotary embeddings over the whole head (base 10000), a SwiGLU MLP of width 8/3 d_model rounded
// up to a multiple of 16, kvHeads key/value heads, no positional embeddings, untied unembedding.
func LlamaToy(layers, heads, kvHeads, dModel, vocab, nCtx int) Config {
	dMLP := (8*dModel/3 + 15) / 16 * 16
	kv := kvHeads
	if kv == heads {
		kv = 0
	}
	return Config{
		NLayers: layers, DModel: dModel, NHeads: heads, NKVHeads: kv, DHead: dModel / heads, DMLP: dMLP, NCtx: nCtx,
		DVocab: vocab, Act: Silu, Normalization: RMS, LNEps: 1e-6, GatedMLP: true, RotaryDim: dModel / heads,
		RotaryBase: 10000, Family: "llama",
	}
}

// HasMLP reports whether blocks have an MLP sublayer.
func (c Config) HasMLP() bool { return !c.AttnOnly }

// HasLN reports whether the model applies LayerNorm.
func (c Config) HasLN() bool { return c.Normalization == LayerNorm }

// HasNorm reports whether the model normalises at all (LayerNorm or RMSNorm).
func (c Config) HasNorm() bool { return c.Normalization == LayerNorm || c.Normalization == RMS }

// KVHeads is the number of key/value heads (NKVHeads, or NHeads without grouped-query attention).
func (c Config) KVHeads() int {
	if c.NKVHeads > 0 {
		return c.NKVHeads
	}
	return c.NHeads
}

// KVHead is the key/value head query head h reads.
func (c Config) KVHead(h int) int { return h / (c.NHeads / c.KVHeads()) }

// Local reports whether layer l's attention is local (windowed).
func (c Config) Local(l int) bool { return l < len(c.LocalLayers) && c.LocalLayers[l] }

// PreNorms reports whether blocks normalise the input of attention and the MLP (ln1, ln2).
func (c Config) PreNorms() bool { return c.HasNorm() && c.NormPlacement != PostNorm }

// PostNorms reports whether blocks normalise the output of attention and the MLP (ln1_post, ln2_post).
func (c Config) PostNorms() bool {
	return c.HasNorm() && (c.NormPlacement == PrePostNorm || c.NormPlacement == PostNorm)
}

// HasResidMid reports whether blocks have a hook_resid_mid (an MLP after attention, not beside it).
func (c Config) HasResidMid() bool { return c.HasMLP() && !c.ParallelResidual }

// GPT2Layout reports nil when c uses only what GPT-2 and interp's toy models use (LayerNorm or
// none, learned or no positions, plain MLP, one key/value head per head, pre-norms, scores
// scaled by sqrt(d_head), no caps, windows, embedding scale or unembedding bias), and otherwise
// an error naming the first other feature: Save writes the Hugging Face GPT-2 layout only for the
// former.
func (c Config) GPT2Layout() error {
	feature := ""
	switch {
	case c.Normalization == RMS:
		feature = "RMSNorm"
	case c.KVHeads() != c.NHeads:
		feature = "grouped-query attention"
	case c.RotaryDim > 0:
		feature = "rotary embeddings"
	case c.GatedMLP:
		feature = "a gated MLP"
	case c.ParallelResidual:
		feature = "a parallel residual"
	case c.NormPlacement != PreNorm:
		feature = "norms after attention and the MLP"
	case c.QKNorm != NoQKNorm:
		feature = "query/key norms"
	case c.AttnScale != 0:
		feature = "a non-standard attention scale"
	case c.AttnSoftcap != 0 || c.OutputSoftcap != 0:
		feature = "soft-capping"
	case slices.Contains(c.LocalLayers, true):
		feature = "local attention"
	case c.EmbedScale != 0:
		feature = "a scaled embedding"
	case c.UnembedBias:
		feature = "an unembedding bias"
	}
	if feature == "" {
		return nil
	}
	fam := c.Family
	if fam == "" {
		fam = "this model"
	}
	return fmt.Errorf("%s uses %s, which GPT-2's checkpoint layout cannot hold", fam, feature)
}

// Validate checks the configuration for impossible or unknown values.
func (c Config) Validate() error {
	switch {
	case c.NLayers <= 0:
		return fmt.Errorf("model: config: n_layers must be positive, got %d", c.NLayers)
	case c.DModel <= 0:
		return fmt.Errorf("model: config: d_model must be positive, got %d", c.DModel)
	case c.NHeads <= 0:
		return fmt.Errorf("model: config: n_heads must be positive, got %d", c.NHeads)
	case c.DHead <= 0:
		return fmt.Errorf("model: config: d_head must be positive, got %d", c.DHead)
	case c.NCtx <= 0:
		return fmt.Errorf("model: config: n_ctx must be positive, got %d", c.NCtx)
	case c.DVocab <= 0:
		return fmt.Errorf("model: config: d_vocab must be positive, got %d", c.DVocab)
	case !c.AttnOnly && c.DMLP <= 0:
		return fmt.Errorf("model: config: d_mlp must be positive for a model with MLPs, got %d", c.DMLP)
	}
	switch c.Act {
	case GeluNew, Gelu, Relu, Silu:
	default:
		if !c.AttnOnly {
			return fmt.Errorf("model: config: unknown act_fn %q (want gelu_new, gelu, relu or silu)", c.Act)
		}
	}
	switch c.Normalization {
	case LayerNorm, RMS:
		if c.LNEps <= 0 {
			return fmt.Errorf("model: config: eps must be positive with %s, got %g", c.Normalization, c.LNEps)
		}
	case NoNorm:
	default:
		return fmt.Errorf("model: config: unknown normalization_type %q (want LN, RMS or none)", c.Normalization)
	}
	return c.validateArch()
}

// validateArch checks the fields beyond GPT-2's.
func (c Config) validateArch() error {
	switch {
	case c.NKVHeads < 0 || (c.NKVHeads > 0 && c.NHeads%c.NKVHeads != 0):
		return fmt.Errorf("model: config: n_key_value_heads %d must divide n_heads %d", c.NKVHeads, c.NHeads)
	case c.RotaryDim < 0 || c.RotaryDim > c.DHead || c.RotaryDim%2 != 0:
		return fmt.Errorf("model: config: rotary_dim %d must be even and at most d_head %d", c.RotaryDim, c.DHead)
	case c.RotaryDim > 0 && c.PositionalEmbeddings:
		return fmt.Errorf("model: config: rotary and learned positional embeddings together are not supported")
	case c.Shortformer && !c.PositionalEmbeddings:
		return fmt.Errorf("model: config: shortformer needs learned positional embeddings")
	case c.RotaryBase < 0 || c.RotaryBaseLocal < 0:
		return fmt.Errorf("model: config: rotary bases must be positive, got %g and %g", c.RotaryBase, c.RotaryBaseLocal)
	case c.AttnScale < 0 || c.AttnSoftcap < 0 || c.OutputSoftcap < 0 || c.EmbedScale < 0:
		return fmt.Errorf("model: config: attn_scale, soft caps and embed_scale must not be negative")
	case len(c.LocalLayers) > c.NLayers:
		return fmt.Errorf("model: config: local_layers has %d entries for %d layers", len(c.LocalLayers), c.NLayers)
	case slices.Contains(c.LocalLayers, true) && c.WindowSize <= 0:
		return fmt.Errorf("model: config: local layers need a positive window_size, got %d", c.WindowSize)
	case c.GatedMLP && c.AttnOnly:
		return fmt.Errorf("model: config: gated_mlp set on an attention-only model")
	case c.ParallelResidual && c.AttnOnly:
		return fmt.Errorf("model: config: parallel_attn_mlp set on an attention-only model")
	}
	switch c.NormPlacement {
	case PreNorm, PrePostNorm, PostNorm:
	default:
		return fmt.Errorf("model: config: unknown norm_placement %q (want \"\", pre_post or post)", c.NormPlacement)
	}
	if c.NormPlacement != PreNorm && c.ParallelResidual {
		return fmt.Errorf("model: config: norm_placement %s with a parallel residual is not supported", c.NormPlacement)
	}
	switch c.QKNorm {
	case NoQKNorm, QKNormHead, QKNormProj:
	default:
		return fmt.Errorf("model: config: unknown qk_norm %q (want \"\", head or proj)", c.QKNorm)
	}
	if c.QKNorm != NoQKNorm && c.Normalization != RMS {
		return fmt.Errorf("model: config: qk_norm needs normalization_type RMS")
	}
	if r := c.RopeScaling; r != nil {
		switch {
		case r.Type != "linear" && r.Type != "llama3":
			return fmt.Errorf("model: config: rope_scaling type %q is not supported (want linear or llama3)", r.Type)
		case r.Factor <= 0:
			return fmt.Errorf("model: config: rope_scaling factor must be positive, got %g", r.Factor)
		case r.Type == "llama3" && (r.LowFreqFactor <= 0 || r.HighFreqFactor <= r.LowFreqFactor || r.OriginalMaxPos <= 0):
			return fmt.Errorf("model: config: llama3 rope_scaling needs 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0")
		}
	}
	return nil
}

// hfConfig is the subset of a Hugging Face GPT-2 config.json this package reads and writes.
// The interp_* fields carry what the GPT-2 schema cannot express (attention-only, no LayerNorm,
// no positional embeddings); Hugging Face ignores them.
type hfConfig struct {
	ModelType          string   `json:"model_type"`
	Architectures      []string `json:"architectures,omitempty"`
	NLayer             int      `json:"n_layer"`
	NEmbd              int      `json:"n_embd"`
	NHead              int      `json:"n_head"`
	NInner             *int     `json:"n_inner"`
	NPositions         int      `json:"n_positions"`
	NCtx               int      `json:"n_ctx,omitempty"`
	VocabSize          int      `json:"vocab_size"`
	ActivationFunction string   `json:"activation_function"`
	LayerNormEpsilon   float64  `json:"layer_norm_epsilon"`
	TieWordEmbeddings  *bool    `json:"tie_word_embeddings,omitempty"`

	InterpAttnOnly      bool   `json:"interp_attn_only,omitempty"`
	InterpNormalization string `json:"interp_normalization,omitempty"`
	InterpNoPosEmbed    bool   `json:"interp_no_pos_embed,omitempty"`
	InterpShortformer   bool   `json:"interp_shortformer,omitempty"`
	InterpDHead         int    `json:"interp_d_head,omitempty"`
	InterpTokenizer     string `json:"interp_tokenizer,omitempty"`
	InterpTask          string `json:"interp_task,omitempty"`
}

// ReadHFConfig parses a Hugging Face config.json: GPT-2's (plus this project's interp_*
// extensions) or that of any family Load reads (FamilyNames).
func ReadHFConfig(path string) (Config, error) {
	if c, _, _, ok, err := readFamilyConfig(path); err != nil || ok {
		return c, err
	}
	return readGPT2Config(path)
}

// readGPT2Config parses a Hugging Face GPT-2 config.json (plus the interp_* extensions).
func readGPT2Config(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("model: read config: %w", err)
	}
	var hf hfConfig
	if err := json.Unmarshal(data, &hf); err != nil {
		return Config{}, fmt.Errorf("model: parse config %s: %w", path, err)
	}
	if hf.ModelType != "" && hf.ModelType != "gpt2" {
		return Config{}, fmt.Errorf("model: config %s: model_type %q is not supported (want gpt2)", path, hf.ModelType)
	}
	c := Config{
		NLayers: hf.NLayer, DModel: hf.NEmbd, NHeads: hf.NHead, NCtx: hf.NPositions, DVocab: hf.VocabSize,
		LNEps: hf.LayerNormEpsilon, AttnOnly: hf.InterpAttnOnly, PositionalEmbeddings: !hf.InterpNoPosEmbed,
		Shortformer: hf.InterpShortformer, Normalization: LayerNorm, TiedEmbeddings: true, Tokenizer: hf.InterpTokenizer,
		Task: hf.InterpTask,
	}
	if c.NCtx == 0 {
		c.NCtx = hf.NCtx
	}
	if hf.TieWordEmbeddings != nil {
		c.TiedEmbeddings = *hf.TieWordEmbeddings
	}
	if hf.InterpNormalization != "" {
		c.Normalization = Normalization(hf.InterpNormalization)
	}
	if c.LNEps == 0 {
		c.LNEps = 1e-5
	}
	if hf.NHead > 0 {
		c.DHead = hf.NEmbd / hf.NHead
	}
	if hf.InterpDHead > 0 {
		c.DHead = hf.InterpDHead
	}
	if hf.NInner != nil {
		c.DMLP = *hf.NInner
	} else {
		c.DMLP = 4 * hf.NEmbd
	}
	switch hf.ActivationFunction {
	case "gelu_new", "gelu_pytorch_tanh", "":
		c.Act = GeluNew
	case "gelu":
		c.Act = Gelu
	case "relu":
		c.Act = Relu
	default:
		return Config{}, fmt.Errorf("model: config %s: activation_function %q is not supported (want gelu_new, gelu or relu)", path, hf.ActivationFunction)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%w (in %s)", err, path)
	}
	return c, nil
}

// WriteHFConfig writes c as a Hugging Face GPT-2 config.json.
func WriteHFConfig(c Config, path string) error {
	dMLP := c.DMLP
	tied := c.TiedEmbeddings
	hf := hfConfig{
		ModelType: "gpt2", Architectures: []string{"GPT2LMHeadModel"},
		NLayer: c.NLayers, NEmbd: c.DModel, NHead: c.NHeads, NInner: &dMLP, NPositions: c.NCtx, NCtx: c.NCtx,
		VocabSize: c.DVocab, ActivationFunction: string(c.Act), LayerNormEpsilon: c.LNEps,
		TieWordEmbeddings: &tied, InterpAttnOnly: c.AttnOnly, InterpNoPosEmbed: !c.PositionalEmbeddings,
		InterpShortformer: c.Shortformer, InterpTokenizer: c.Tokenizer, InterpTask: c.Task,
	}
	if c.Normalization != LayerNorm {
		hf.InterpNormalization = string(c.Normalization)
	}
	if c.DHead*c.NHeads != c.DModel {
		hf.InterpDHead = c.DHead
	}
	data, err := json.MarshalIndent(hf, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'))
}

// writeFileAtomic writes data to a temporary file beside path and renames it into place,
// so a reader never sees a half-written file (see package atomicfile).
func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.WriteBytes(path, data); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	return nil
}
