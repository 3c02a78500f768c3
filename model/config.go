package model

import (
	"encoding/json"
	"fmt"
	"os"

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
)

// Normalization names the normalisation applied before attention, MLP and unembedding.
type Normalization string

const (
	// LayerNorm is the GPT-2 LayerNorm with learned scale and bias.
	LayerNorm Normalization = "LN"
	// NoNorm applies no normalisation (common in toy attention-only models).
	NoNorm Normalization = "none"
)

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
	// TiedEmbeddings makes the unembedding the transpose of the token embedding (GPT-2: true),
	// in which case no separate W_U is stored.
	TiedEmbeddings bool `json:"tied_embeddings"`
	// LNEps is the LayerNorm epsilon. GPT-2 uses 1e-5 (GoMLX's layers default of 1e-3 would be wrong).
	LNEps float64 `json:"eps"`
	// Tokenizer names the tokenizer the model was trained with: "gpt2" (byte-level BPE, r50k),
	// "dir" (vocab.json/merges.txt or tokenizer.json beside the weights) or "" (token ids only).
	Tokenizer string `json:"tokenizer,omitempty"`
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

// HasMLP reports whether blocks have an MLP sublayer.
func (c Config) HasMLP() bool { return !c.AttnOnly }

// HasLN reports whether the model applies LayerNorm.
func (c Config) HasLN() bool { return c.Normalization == LayerNorm }

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
	case GeluNew, Gelu, Relu:
	default:
		if !c.AttnOnly {
			return fmt.Errorf("model: config: unknown act_fn %q (want gelu_new, gelu or relu)", c.Act)
		}
	}
	switch c.Normalization {
	case LayerNorm:
		if c.LNEps <= 0 {
			return fmt.Errorf("model: config: eps must be positive with LayerNorm, got %g", c.LNEps)
		}
	case NoNorm:
	default:
		return fmt.Errorf("model: config: unknown normalization_type %q (want LN or none)", c.Normalization)
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
	InterpDHead         int    `json:"interp_d_head,omitempty"`
	InterpTokenizer     string `json:"interp_tokenizer,omitempty"`
	InterpTask          string `json:"interp_task,omitempty"`
}

// ReadHFConfig parses a Hugging Face GPT-2 config.json (plus this project's interp_* extensions).
func ReadHFConfig(path string) (Config, error) {
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
		Normalization: LayerNorm, TiedEmbeddings: true, Tokenizer: hf.InterpTokenizer,
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
		InterpTokenizer: c.Tokenizer, InterpTask: c.Task,
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
