package model

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// gpt_neox (Pythia, GPT-NeoX): LayerNorm with bias, a fused query_key_value projection laid out
// per head ([H, 3, K] rows: each head's q, k, v together), partial rotary embeddings (rotary_pct
// of d_head), a parallel residual by default, exact GELU and an untied embed_out. The buffers
// attention.bias, attention.masked_bias and attention.rotary_emb.inv_freq are skipped.

func init() {
	registerFamily("gpt_neox", family{config: neoxConfig, weights: neoxWeights, buffer: neoxBuffer})
}

func neoxBuffer(name string) bool {
	for _, s := range []string{".attention.bias", ".attention.masked_bias", ".rotary_emb.inv_freq"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

func neoxConfig(hf hfArch) (Config, error) {
	c := Config{
		NLayers: hf.NumLayers, DModel: hf.HiddenSize, NHeads: hf.NumHeads, NCtx: hf.MaxPos, DVocab: hf.VocabSize,
		Normalization: LayerNorm, LNEps: hf.LayerNormEps, ParallelResidual: true, RotaryBase: hf.RotaryBase,
	}
	if hf.NumKVHeads != 0 && hf.NumKVHeads != hf.NumHeads {
		return Config{}, fmt.Errorf("num_key_value_heads %d is not supported (GPT-NeoX has one key/value head per head)", hf.NumKVHeads)
	}
	if hf.AttnBias != nil && !*hf.AttnBias {
		return Config{}, fmt.Errorf("attention_bias false is not supported (Pythia's projections have biases)")
	}
	if hf.Intermediate != nil {
		c.DMLP = *hf.Intermediate
	}
	if c.LNEps == 0 {
		c.LNEps = 1e-5
	}
	if hf.Tie != nil {
		c.TiedEmbeddings = *hf.Tie
	}
	if hf.ParallelRes != nil {
		c.ParallelResidual = *hf.ParallelRes
	}
	if c.RotaryBase == 0 {
		c.RotaryBase = hf.RopeTheta // newer transformers name it rope_theta
	}
	if c.RotaryBase == 0 {
		c.RotaryBase = 10000
	}
	if hf.NumHeads > 0 {
		c.DHead = hf.HiddenSize / hf.NumHeads
	}
	pct := 0.25
	if hf.RotaryPct != nil {
		pct = *hf.RotaryPct
	} else if hf.PartialRot != nil {
		pct = *hf.PartialRot
	}
	c.RotaryDim = int(float64(c.DHead) * pct)
	act := hf.HiddenAct
	if act == "" {
		act = "gelu"
	}
	var err error
	if c.Act, err = hfActivation(act); err != nil {
		return Config{}, err
	}
	if c.RopeScaling, err = hf.RopeScaling.scaling(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func neoxWeights(c Config, _ hfArch, ck *checkpoint) map[string]*tensors.Tensor {
	prefix := "gpt_neox."
	if !ck.has(prefix+"embed_in.weight") && ck.has("embed_in.weight") {
		prefix = ""
	}
	D, H, K, M, V := c.DModel, c.NHeads, c.DHead, c.DMLP, c.DVocab
	out := map[string]*tensors.Tensor{"embed.W_E": ck.tensor(prefix+"embed_in.weight", V, D)}
	ln := func(hf, tl string) {
		out[tl+".w"] = ck.tensor(hf+".weight", D)
		out[tl+".b"] = ck.tensor(hf+".bias", D)
	}
	for l := range c.NLayers {
		hb, tb := prefix+"layers."+strconv.Itoa(l)+".", "blocks."+strconv.Itoa(l)+"."
		ln(hb+"input_layernorm", tb+"ln1")
		// query_key_value rows are [H, 3, K]: head h's q rows, then its k rows, then its v rows.
		qkv := ck.take(hb+"attention.query_key_value.weight", 3*H*K, D)
		qkvB := ck.take(hb+"attention.query_key_value.bias", 3*H*K)
		for j, n := range []string{"Q", "K", "V"} {
			w := make([]float32, 0, H*K*D)
			b := make([]float32, 0, H*K)
			for h := range H {
				w = append(w, qkv[(h*3+j)*K*D:(h*3+j+1)*K*D]...)
				b = append(b, qkvB[(h*3+j)*K:(h*3+j+1)*K]...)
			}
			out[tb+"attn.W_"+n] = linearHeads(w, H, K, D)
			out[tb+"attn.b_"+n] = tensorOf(b, H, K)
		}
		out[tb+"attn.W_O"] = linearOut(ck.take(hb+"attention.dense.weight", D, H*K), D, H, K)
		out[tb+"attn.b_O"] = ck.tensor(hb+"attention.dense.bias", D)
		ln(hb+"post_attention_layernorm", tb+"ln2")
		out[tb+"mlp.W_in"] = linearIn(ck.take(hb+"mlp.dense_h_to_4h.weight", M, D), M, D)
		out[tb+"mlp.b_in"] = ck.tensor(hb+"mlp.dense_h_to_4h.bias", M)
		out[tb+"mlp.W_out"] = linearIn(ck.take(hb+"mlp.dense_4h_to_h.weight", D, M), D, M)
		out[tb+"mlp.b_out"] = ck.tensor(hb+"mlp.dense_4h_to_h.bias", D)
	}
	ln(prefix+"final_layer_norm", "ln_final")
	if c.TiedEmbeddings {
		ck.tied("embed_out.weight", prefix+"embed_in.weight", ckptFlat32(out["embed.W_E"]), V, D)
	} else {
		out["unembed.W_U"] = linearIn(ck.take("embed_out.weight", V, D), V, D)
	}
	return out
}
