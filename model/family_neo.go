package model

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// gpt_neo (GPT-Neo, the TinyStories models): GPT-2's block with learned positions, separate
// bias-free q/k/v projections (nn.Linear), unscaled attention scores, and local attention
// (window_size) on the layers attention_types marks "local". The buffers attn.attention.bias
// and attn.attention.masked_bias are skipped.

func init() {
	registerFamily("gpt_neo", family{config: neoConfig, weights: neoWeights, buffer: func(name string) bool {
		return strings.HasSuffix(name, ".attn.attention.bias") || strings.HasSuffix(name, ".attn.attention.masked_bias")
	}})
}

// neoLayerTypes expands attention_types, [[["global", "local"], 12]], to one type per layer.
func neoLayerTypes(raw json.RawMessage, layers int) ([]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var groups [][]json.RawMessage
	if err := json.Unmarshal(raw, &groups); err != nil {
		return nil, fmt.Errorf("attention_types: %v", err)
	}
	var types []string
	for _, g := range groups {
		if len(g) != 2 {
			return nil, fmt.Errorf("attention_types: want [[types], repeat] pairs, got %s", raw)
		}
		var pattern []string
		var repeat int
		if err := json.Unmarshal(g[0], &pattern); err != nil {
			return nil, fmt.Errorf("attention_types: %v", err)
		}
		if err := json.Unmarshal(g[1], &repeat); err != nil || repeat < 0 || len(types)+repeat*len(pattern) > layers {
			return nil, fmt.Errorf("attention_types: repeat count %s gives more than num_layers %d layers, or is not a count", g[1], layers)
		}
		for range repeat {
			types = append(types, pattern...)
		}
	}
	if len(types) != layers {
		return nil, fmt.Errorf("attention_types gives %d layers, num_layers is %d", len(types), layers)
	}
	return types, nil
}

func neoConfig(hf hfArch) (Config, error) {
	c := Config{
		NLayers: hf.NumLayersNeo, DModel: hf.HiddenSize, NHeads: hf.NumHeadsNeo, NCtx: hf.MaxPos, DVocab: hf.VocabSize,
		Normalization: LayerNorm, LNEps: hf.LNEpsNeo, PositionalEmbeddings: true, TiedEmbeddings: true,
		AttnScale: 1, WindowSize: hf.WindowSize,
	}
	if c.LNEps == 0 {
		c.LNEps = 1e-5
	}
	if hf.Tie != nil {
		c.TiedEmbeddings = *hf.Tie
	}
	if hf.NumHeadsNeo > 0 {
		c.DHead = hf.HiddenSize / hf.NumHeadsNeo
	}
	c.DMLP = 4 * hf.HiddenSize
	if hf.Intermediate != nil {
		c.DMLP = *hf.Intermediate
	}
	act := hf.ActivationFn
	if act == "" {
		act = "gelu_new"
	}
	var err error
	if c.Act, err = hfActivation(act); err != nil {
		return Config{}, err
	}
	types, err := neoLayerTypes(hf.AttentionTypes, c.NLayers)
	if err != nil {
		return Config{}, err
	}
	for l, t := range types {
		switch t {
		case "global":
		case "local":
			if c.LocalLayers == nil {
				c.LocalLayers = make([]bool, c.NLayers)
			}
			c.LocalLayers[l] = true
		default:
			return Config{}, fmt.Errorf("attention_types: layer %d type %q is not supported (want global or local)", l, t)
		}
	}
	if c.LocalLayers == nil {
		c.WindowSize = 0
	}
	return c, nil
}

func neoWeights(c Config, _ hfArch, ck *checkpoint) map[string]*tensors.Tensor {
	prefix := "transformer."
	if !ck.has(prefix+"wte.weight") && ck.has("wte.weight") {
		prefix = ""
	}
	D, H, K, M, V, P := c.DModel, c.NHeads, c.DHead, c.DMLP, c.DVocab, c.NCtx
	out := map[string]*tensors.Tensor{
		"embed.W_E":       ck.tensor(prefix+"wte.weight", V, D),
		"pos_embed.W_pos": ck.tensor(prefix+"wpe.weight", P, D),
	}
	ln := func(hf, tl string) {
		out[tl+".w"] = ck.tensor(hf+".weight", D)
		out[tl+".b"] = ck.tensor(hf+".bias", D)
	}
	for l := range c.NLayers {
		hb, tb := prefix+"h."+strconv.Itoa(l)+".", "blocks."+strconv.Itoa(l)+"."
		a := hb + "attn.attention."
		ln(hb+"ln_1", tb+"ln1")
		for _, n := range []string{"q", "k", "v"} {
			out[tb+"attn.W_"+strings.ToUpper(n)] = linearHeads(ck.take(a+n+"_proj.weight", H*K, D), H, K, D)
			out[tb+"attn.b_"+strings.ToUpper(n)] = zeros(H, K)
		}
		out[tb+"attn.W_O"] = linearOut(ck.take(a+"out_proj.weight", D, H*K), D, H, K)
		out[tb+"attn.b_O"] = ck.tensor(a+"out_proj.bias", D)
		ln(hb+"ln_2", tb+"ln2")
		out[tb+"mlp.W_in"] = linearIn(ck.take(hb+"mlp.c_fc.weight", M, D), M, D)
		out[tb+"mlp.b_in"] = ck.tensor(hb+"mlp.c_fc.bias", M)
		out[tb+"mlp.W_out"] = linearIn(ck.take(hb+"mlp.c_proj.weight", D, M), D, M)
		out[tb+"mlp.b_out"] = ck.tensor(hb+"mlp.c_proj.bias", D)
	}
	ln(prefix+"ln_f", "ln_final")
	if c.TiedEmbeddings {
		ck.tied("lm_head.weight", prefix+"wte.weight", ckptFlat32(out["embed.W_E"]), V, D)
	} else {
		out["unembed.W_U"] = linearIn(ck.take("lm_head.weight", V, D), V, D)
	}
	return out
}
