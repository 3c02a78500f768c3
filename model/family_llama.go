package model

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// The Llama-style families: llama (Llama 1-3, SmolLM), mistral, qwen2, qwen3, olmo2, phi3,
// gemma2 and gemma3_text. They share the checkpoint names model.layers.L.self_attn.{q,k,v,o}_proj
// and mlp.{gate,up,down}_proj (phi3 fuses qkv_proj and gate_up_proj), RMSNorm, rotary embeddings
// and a gated MLP; how they differ is in llamaFamily.

// llamaFamily is what distinguishes one Llama-style family.
type llamaFamily struct {
	tied       bool    // tie_word_embeddings default
	eps        float64 // rms_norm_eps default
	act        string  // hidden_act default
	qkvBias    bool    // q/k/v projections always have biases (qwen2)
	headDim    int     // head_dim default (0: hidden_size / heads)
	norms      NormPlacement
	qkNorm     QKNorm
	gemma      bool // Gemma: (1 + w) norm gains, sqrt(d_model) embedding scale, query_pre_attn_scalar, soft caps
	fused      bool // phi3: qkv_proj and gate_up_proj
	window     func(hf hfArch, l int) bool
	noSliding  bool    // qwen2/qwen3: use_sliding_window (by max_window_layers) is not implemented
	ropeTheta  float64 // rope_theta default
	attnCap    float64 // attn_logit_softcapping default (gemma2)
	finalCap   float64 // final_logit_softcapping default (gemma2)
	windowSize int     // sliding_window default (gemma)
}

func init() {
	everyLayer := func(hf hfArch, l int) bool { return hf.SlidingWindow != nil && *hf.SlidingWindow > 0 }
	for name, f := range map[string]llamaFamily{
		"llama":   {eps: 1e-6, act: "silu", ropeTheta: 10000},
		"mistral": {eps: 1e-6, act: "silu", ropeTheta: 10000, window: everyLayer},
		"qwen2":   {eps: 1e-6, act: "silu", ropeTheta: 10000, qkvBias: true, noSliding: true},
		"qwen3":   {eps: 1e-6, act: "silu", ropeTheta: 10000, headDim: 128, qkNorm: QKNormHead, noSliding: true},
		"olmo2":   {eps: 1e-5, act: "silu", ropeTheta: 10000, norms: PostNorm, qkNorm: QKNormProj},
		"phi3":    {eps: 1e-5, act: "silu", ropeTheta: 10000, fused: true, window: everyLayer},
		"gemma2": {tied: true, eps: 1e-6, act: "gelu_pytorch_tanh", ropeTheta: 10000, headDim: 256, norms: PrePostNorm,
			gemma: true, attnCap: 50, finalCap: 30, windowSize: 4096,
			window: func(hf hfArch, l int) bool { return l%2 == 0 }},
		"gemma3_text": {tied: true, eps: 1e-6, act: "gelu_pytorch_tanh", ropeTheta: 1e6, headDim: 256, norms: PrePostNorm,
			qkNorm: QKNormHead, gemma: true, windowSize: 4096,
			window: func(hf hfArch, l int) bool {
				p := hf.SlidingPattern
				if p == 0 {
					p = 6
				}
				return (l+1)%p != 0
			}},
	} {
		registerFamily(name, family{
			config:  f.config,
			weights: f.weights,
			buffer:  func(name string) bool { return strings.HasSuffix(name, ".rotary_emb.inv_freq") },
		})
	}
}

func (f llamaFamily) config(hf hfArch) (Config, error) {
	if hf.MLPBias {
		return Config{}, fmt.Errorf("mlp_bias is not supported (a gated MLP's biases on gate and up have no TransformerLens name)")
	}
	if f.noSliding && hf.UseSlidingWindow != nil && *hf.UseSlidingWindow {
		return Config{}, fmt.Errorf("use_sliding_window true is not supported")
	}
	c := Config{
		NLayers: hf.NumLayers, DModel: hf.HiddenSize, NHeads: hf.NumHeads, NKVHeads: hf.NumKVHeads,
		NCtx: hf.MaxPos, DVocab: hf.VocabSize, Normalization: RMS, LNEps: hf.RMSEps, TiedEmbeddings: f.tied,
		GatedMLP: true, NormPlacement: f.norms, QKNorm: f.qkNorm, RotaryBase: hf.RopeTheta,
	}
	if hf.Intermediate != nil {
		c.DMLP = *hf.Intermediate
	}
	if c.LNEps == 0 {
		c.LNEps = f.eps
	}
	if hf.Tie != nil {
		c.TiedEmbeddings = *hf.Tie
	}
	if c.NKVHeads == c.NHeads {
		c.NKVHeads = 0
	}
	if c.RotaryBase == 0 {
		c.RotaryBase = f.ropeTheta
	}
	c.DHead = hf.HeadDim
	if c.DHead == 0 {
		c.DHead = f.headDim
	}
	if c.DHead == 0 && hf.NumHeads > 0 {
		c.DHead = hf.HiddenSize / hf.NumHeads
	}
	c.RotaryDim = c.DHead
	if hf.PartialRot != nil {
		c.RotaryDim = int(float64(c.DHead) * *hf.PartialRot)
	}
	act := hf.HiddenAct
	if f.gemma && hf.HiddenActG != "" {
		act = hf.HiddenActG
	}
	if act == "" {
		act = f.act
	}
	var err error
	if c.Act, err = hfActivation(act); err != nil {
		return Config{}, err
	}
	if c.RopeScaling, err = hf.RopeScaling.scaling(); err != nil {
		return Config{}, err
	}
	if f.gemma {
		c.EmbedScale = float64(float32(math.Sqrt(float64(c.DModel))))
		if hf.QueryPreAttn > 0 {
			c.AttnScale = math.Sqrt(hf.QueryPreAttn)
		} else {
			c.AttnScale = math.Sqrt(float64(c.DHead))
		}
		c.AttnSoftcap, c.OutputSoftcap = f.attnCap, f.finalCap
		if hf.AttnSoftcap != nil {
			c.AttnSoftcap = *hf.AttnSoftcap
		}
		if hf.FinalSoftcap != nil {
			c.OutputSoftcap = *hf.FinalSoftcap
		}
		c.RotaryBaseLocal = hf.RopeLocalBase
		if hf.ModelType == "gemma3_text" && c.RotaryBaseLocal == 0 {
			c.RotaryBaseLocal = 10000
		}
	}
	// Local layers: layer_types when the config lists them, else the family's rule.
	c.WindowSize = f.windowSize
	if hf.SlidingWindow != nil && *hf.SlidingWindow > 0 {
		c.WindowSize = *hf.SlidingWindow
	}
	switch {
	case len(hf.LayerTypes) > 0:
		if len(hf.LayerTypes) != c.NLayers {
			return Config{}, fmt.Errorf("layer_types has %d entries for %d layers", len(hf.LayerTypes), c.NLayers)
		}
		for l, t := range hf.LayerTypes {
			switch t {
			case "full_attention":
			case "sliding_attention":
				if c.LocalLayers == nil {
					c.LocalLayers = make([]bool, c.NLayers)
				}
				c.LocalLayers[l] = true
			default:
				return Config{}, fmt.Errorf("layer_types[%d] %q is not supported (want full_attention or sliding_attention)", l, t)
			}
		}
	case f.window != nil && c.WindowSize > 0:
		for l := range c.NLayers {
			if f.window(hf, l) {
				if c.LocalLayers == nil {
					c.LocalLayers = make([]bool, c.NLayers)
				}
				c.LocalLayers[l] = true
			}
		}
	}
	if c.LocalLayers == nil {
		c.WindowSize = 0
	}
	return c, nil
}

// llamaPrefixes are the key prefixes of a Llama-style checkpoint's decoder: a causal LM, a bare
// model, and the language model of a multimodal wrapper.
var llamaPrefixes = []string{"model.", "", "language_model.model.", "model.language_model."}

func (f llamaFamily) weights(c Config, hf hfArch, ck *checkpoint) map[string]*tensors.Tensor {
	prefix := "model."
	for _, p := range llamaPrefixes {
		if ck.has(p + "embed_tokens.weight") {
			prefix = p
			break
		}
	}
	D, H, Hkv, K, M, V := c.DModel, c.NHeads, c.KVHeads(), c.DHead, c.DMLP, c.DVocab
	// attention_bias gives q, k, v and o biases (Llama, OLMo 2); Qwen 2 always has q, k, v biases.
	biasO := hf.AttnBias != nil && *hf.AttnBias
	biasQKV := f.qkvBias || biasO
	gain := func(w []float32) []float32 {
		if f.gemma {
			return plusOne(w)
		}
		return w
	}
	out := map[string]*tensors.Tensor{"embed.W_E": ck.tensor(prefix+"embed_tokens.weight", V, D)}
	norm := func(hf, tl string, n int) {
		if f.gemma {
			out[tl+".w"] = tensorOf(gain(ck.take(hf+".weight", n)), n)
		} else {
			out[tl+".w"] = ck.tensor(hf+".weight", n)
		}
	}
	for l := range c.NLayers {
		hb, tb := prefix+"layers."+strconv.Itoa(l)+".", "blocks."+strconv.Itoa(l)+"."
		a := hb + "self_attn."
		var q, k, v []float32
		if f.fused {
			qkv := ck.take(a+"qkv_proj.weight", (H+2*Hkv)*K, D)
			q, k, v = qkv[:H*K*D], qkv[H*K*D:(H+Hkv)*K*D], qkv[(H+Hkv)*K*D:]
		} else {
			q, k, v = ck.take(a+"q_proj.weight", H*K, D), ck.take(a+"k_proj.weight", Hkv*K, D), ck.take(a+"v_proj.weight", Hkv*K, D)
		}
		out[tb+"attn.W_Q"] = linearHeads(q, H, K, D)
		out[tb+"attn.W_K"] = linearHeads(k, Hkv, K, D)
		out[tb+"attn.W_V"] = linearHeads(v, Hkv, K, D)
		out[tb+"attn.W_O"] = linearOut(ck.take(a+"o_proj.weight", D, H*K), D, H, K)
		out[tb+"attn.b_Q"], out[tb+"attn.b_K"], out[tb+"attn.b_V"] = zeros(H, K), zeros(Hkv, K), zeros(Hkv, K)
		if biasQKV {
			out[tb+"attn.b_Q"] = tensorOf(ck.take(a+"q_proj.bias", H*K), H, K)
			out[tb+"attn.b_K"] = tensorOf(ck.take(a+"k_proj.bias", Hkv*K), Hkv, K)
			out[tb+"attn.b_V"] = tensorOf(ck.take(a+"v_proj.bias", Hkv*K), Hkv, K)
		}
		out[tb+"attn.b_O"] = zeros(D)
		if biasO {
			out[tb+"attn.b_O"] = ck.tensor(a+"o_proj.bias", D)
		}
		switch c.QKNorm {
		case QKNormHead:
			norm(a+"q_norm", tb+"attn.q_norm", K)
			norm(a+"k_norm", tb+"attn.k_norm", K)
		case QKNormProj:
			norm(a+"q_norm", tb+"attn.q_norm", H*K)
			norm(a+"k_norm", tb+"attn.k_norm", Hkv*K)
		}
		switch c.NormPlacement {
		case PreNorm:
			norm(hb+"input_layernorm", tb+"ln1", D)
			norm(hb+"post_attention_layernorm", tb+"ln2", D)
		case PrePostNorm:
			norm(hb+"input_layernorm", tb+"ln1", D)
			norm(hb+"post_attention_layernorm", tb+"ln1_post", D)
			norm(hb+"pre_feedforward_layernorm", tb+"ln2", D)
			norm(hb+"post_feedforward_layernorm", tb+"ln2_post", D)
		case PostNorm:
			norm(hb+"post_attention_layernorm", tb+"ln1_post", D)
			norm(hb+"post_feedforward_layernorm", tb+"ln2_post", D)
		}
		m := hb + "mlp."
		var gate, up []float32
		if f.fused {
			gu := ck.take(m+"gate_up_proj.weight", 2*M, D)
			gate, up = gu[:M*D], gu[M*D:]
		} else {
			gate, up = ck.take(m+"gate_proj.weight", M, D), ck.take(m+"up_proj.weight", M, D)
		}
		out[tb+"mlp.W_gate"] = linearIn(gate, M, D)
		out[tb+"mlp.W_in"] = linearIn(up, M, D)
		out[tb+"mlp.W_out"] = linearIn(ck.take(m+"down_proj.weight", D, M), D, M)
		out[tb+"mlp.b_in"], out[tb+"mlp.b_out"] = zeros(M), zeros(D)
	}
	norm(prefix+"norm", "ln_final", D)
	lmHead := "lm_head.weight"
	if strings.HasPrefix(prefix, "language_model.") {
		lmHead = "language_model.lm_head.weight"
	}
	if c.TiedEmbeddings {
		ck.tied(lmHead, prefix+"embed_tokens.weight", ckptFlat32(out["embed.W_E"]), V, D)
	} else {
		out["unembed.W_U"] = linearIn(ck.take(lmHead, V, D), V, D)
	}
	return out
}
