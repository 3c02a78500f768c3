package model

import (
	"fmt"

	"github.com/interp-dev/interp/hooks"
)

// HookPoints lists every hook point of a model with config c, in forward order, with its
// shape for the given batch and pos. This is the one list of hook names and shapes; the
// forward pass (model.go) visits exactly these (a test holds them to it).
func HookPoints(c Config, batch, pos int) []hooks.Spec {
	B, P, D, H, Hkv, K, M := batch, pos, c.DModel, c.NHeads, c.KVHeads(), c.DHead, c.DMLP
	var out []hooks.Spec
	add := func(name string, dims []string, shape ...int) {
		out = append(out, hooks.Spec{Name: name, Dims: dims, Shape: shape})
	}
	bpd := []string{"batch", "pos", "d_model"}
	bphk := []string{"batch", "pos", "head", "d_head"}
	bpgk := []string{"batch", "pos", "kv_head", "d_head"}
	bhqk := []string{"batch", "head", "query_pos", "key_pos"}
	bpm := []string{"batch", "pos", "d_mlp"}
	norm := func(name string) {
		if c.HasNorm() {
			add(name+".hook_scale", []string{"batch", "pos", "1"}, B, P, 1)
			add(name+".hook_normalized", bpd, B, P, D)
		}
	}
	pre := func(name string) {
		if c.PreNorms() {
			norm(name)
		}
	}
	post := func(name string) {
		if c.PostNorms() {
			norm(name)
		}
	}
	qkNorm := func(name string, heads int, dims []string) {
		switch c.QKNorm {
		case QKNormHead:
			add(name+".hook_scale", []string{dims[0], dims[1], dims[2], "1"}, B, P, heads, 1)
			add(name+".hook_normalized", dims, B, P, heads, K)
		case QKNormProj:
			add(name+".hook_scale", []string{"batch", "pos", "1"}, B, P, 1)
			add(name+".hook_normalized", []string{"batch", "pos", dims[2] + "*d_head"}, B, P, heads*K)
		}
	}
	add(hooks.Embed, bpd, B, P, D)
	if c.PositionalEmbeddings {
		add(hooks.PosEmbed, bpd, B, P, D)
	}
	kv := bphk
	if Hkv != H {
		kv = bpgk
	}
	for l := range c.NLayers {
		add(hooks.ResidPre(l), bpd, B, P, D)
		pre(fmt.Sprintf("blocks.%d.ln1", l))
		add(hooks.Q(l), bphk, B, P, H, K)
		add(hooks.K(l), kv, B, P, Hkv, K)
		add(hooks.V(l), kv, B, P, Hkv, K)
		qkNorm(fmt.Sprintf("blocks.%d.attn.q_norm", l), H, bphk)
		qkNorm(fmt.Sprintf("blocks.%d.attn.k_norm", l), Hkv, kv)
		if c.RotaryDim > 0 {
			add(hooks.RotQ(l), bphk, B, P, H, K)
			add(hooks.RotK(l), kv, B, P, Hkv, K)
		}
		add(hooks.AttnScores(l), bhqk, B, H, P, P)
		add(hooks.Pattern(l), bhqk, B, H, P, P)
		add(hooks.Z(l), bphk, B, P, H, K)
		add(hooks.Result(l), []string{"batch", "pos", "head", "d_model"}, B, P, H, D)
		post(fmt.Sprintf("blocks.%d.ln1_post", l))
		add(hooks.AttnOut(l), bpd, B, P, D)
		if c.HasMLP() {
			if c.HasResidMid() {
				add(hooks.ResidMid(l), bpd, B, P, D)
			}
			pre(fmt.Sprintf("blocks.%d.ln2", l))
			add(hooks.MLPPre(l), bpm, B, P, M)
			if c.GatedMLP {
				add(hooks.MLPPreLinear(l), bpm, B, P, M)
			}
			add(hooks.MLPPost(l), bpm, B, P, M)
			post(fmt.Sprintf("blocks.%d.ln2_post", l))
			add(hooks.MLPOut(l), bpd, B, P, D)
		}
		add(hooks.ResidPost(l), bpd, B, P, D)
	}
	norm("ln_final")
	return out
}

// HookNames lists the names of HookPoints(c, 1, 1).
func HookNames(c Config) []string {
	specs := HookPoints(c, 1, 1)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	return names
}

// HasHook reports whether the model has a hook point called name.
func HasHook(c Config, name string) bool {
	for _, n := range HookNames(c) {
		if n == name {
			return true
		}
	}
	return false
}

// LogitDiffDirection is the residual-stream direction whose dot product with the final
// LayerNorm's normalised (centred, scaled) input gives logit[a] - logit[b], up to the constant
// ln_final.b . (W_U[:, a] - W_U[:, b]): the final LayerNorm weight times the difference of the
// two unembedding columns. Use it with hooks.LogitAttrs for direct logit attribution.
func (m *Model) LogitDiffDirection(a, b int) ([]float32, error) {
	c := m.Config
	if a < 0 || a >= c.DVocab || b < 0 || b >= c.DVocab {
		return nil, fmt.Errorf("model: logit direction: token ids %d, %d outside the vocabulary [0, %d)", a, b, c.DVocab)
	}
	dir := make([]float32, c.DModel)
	if c.TiedEmbeddings {
		we := m.Weights.Flat("embed.W_E") // [V, D]
		for i := range dir {
			dir[i] = we[a*c.DModel+i] - we[b*c.DModel+i]
		}
	} else {
		wu := m.Weights.Flat("unembed.W_U") // [D, V]
		for i := range dir {
			dir[i] = wu[i*c.DVocab+a] - wu[i*c.DVocab+b]
		}
	}
	if c.HasNorm() {
		w := m.Weights.Flat("ln_final.w")
		for i := range dir {
			dir[i] *= w[i]
		}
	}
	return dir, nil
}
