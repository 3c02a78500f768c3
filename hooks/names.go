package hooks

import (
	"fmt"
	"regexp"
	"strconv"
)

// Hook point names, TransformerLens convention. Build names with these helpers rather than by
// hand so a typo is a compile error, not a silently empty cache.
const (
	Embed           = "hook_embed"     // [B, P, D]
	PosEmbed        = "hook_pos_embed" // [B, P, D]
	LNFinalScale    = "ln_final.hook_scale"
	LNFinalNormed   = "ln_final.hook_normalized"
	blockNamePrefix = "blocks."
)

func block(l int, suffix string) string { return blockNamePrefix + strconv.Itoa(l) + "." + suffix }

// ResidPre is blocks.L.hook_resid_pre [B, P, D].
func ResidPre(l int) string { return block(l, "hook_resid_pre") }

// ResidMid is blocks.L.hook_resid_mid [B, P, D] (models with MLPs only).
func ResidMid(l int) string { return block(l, "hook_resid_mid") }

// ResidPost is blocks.L.hook_resid_post [B, P, D].
func ResidPost(l int) string { return block(l, "hook_resid_post") }

// AttnOut is blocks.L.hook_attn_out [B, P, D].
func AttnOut(l int) string { return block(l, "hook_attn_out") }

// MLPOut is blocks.L.hook_mlp_out [B, P, D].
func MLPOut(l int) string { return block(l, "hook_mlp_out") }

// Q is blocks.L.attn.hook_q [B, P, H, K].
func Q(l int) string { return block(l, "attn.hook_q") }

// K is blocks.L.attn.hook_k [B, P, Hkv, K] (Hkv = H without grouped-query attention).
func K(l int) string { return block(l, "attn.hook_k") }

// V is blocks.L.attn.hook_v [B, P, Hkv, K].
func V(l int) string { return block(l, "attn.hook_v") }

// Z is blocks.L.attn.hook_z [B, P, H, K], the attention-weighted values before W_O.
func Z(l int) string { return block(l, "attn.hook_z") }

// AttnScores is blocks.L.attn.hook_attn_scores [B, H, Pq, Pk]: scaled, causally masked (-inf).
func AttnScores(l int) string { return block(l, "attn.hook_attn_scores") }

// Pattern is blocks.L.attn.hook_pattern [B, H, Pq, Pk], the softmax of the scores.
func Pattern(l int) string { return block(l, "attn.hook_pattern") }

// Result is blocks.L.attn.hook_result [B, P, H, D]: each head's output, z[h] @ W_O[h].
func Result(l int) string { return block(l, "attn.hook_result") }

// RotQ is blocks.L.attn.hook_rot_q [B, P, H, K]: the queries after the rotary embedding.
func RotQ(l int) string { return block(l, "attn.hook_rot_q") }

// RotK is blocks.L.attn.hook_rot_k [B, P, Hkv, K]: the keys after the rotary embedding.
func RotK(l int) string { return block(l, "attn.hook_rot_k") }

// MLPPreLinear is blocks.L.mlp.hook_pre_linear [B, P, M]: a gated MLP's linear branch, x W_in.
func MLPPreLinear(l int) string { return block(l, "mlp.hook_pre_linear") }

// MLPPre is blocks.L.mlp.hook_pre [B, P, M] (a gated MLP's gate, x W_gate, before the activation).
func MLPPre(l int) string { return block(l, "mlp.hook_pre") }

// MLPPost is blocks.L.mlp.hook_post [B, P, M].
func MLPPost(l int) string { return block(l, "mlp.hook_post") }

// LN1Scale is blocks.L.ln1.hook_scale [B, P, 1]; LN1Normalized blocks.L.ln1.hook_normalized [B, P, D].
// hook_normalized is taken after the LayerNorm's gain and bias, as in TransformerLens 2.x and
// earlier (TransformerLens 3.x takes it before them): SAEs trained on TL 2.x activations match.
func LN1Scale(l int) string      { return block(l, "ln1.hook_scale") }
func LN1Normalized(l int) string { return block(l, "ln1.hook_normalized") }

// LN2Scale is blocks.L.ln2.hook_scale [B, P, 1]; LN2Normalized blocks.L.ln2.hook_normalized [B, P, D].
func LN2Scale(l int) string      { return block(l, "ln2.hook_scale") }
func LN2Normalized(l int) string { return block(l, "ln2.hook_normalized") }

var blockRe = regexp.MustCompile(`^blocks\.(\d+)\.(.+)$`)

// Layer returns the block index of a hook name and the rest of the name, or -1 for
// hooks outside the blocks (hook_embed, ln_final.*).
func Layer(name string) (int, string) {
	m := blockRe.FindStringSubmatch(name)
	if m == nil {
		return -1, name
	}
	l, err := strconv.Atoi(m[1])
	if err != nil {
		return -1, name
	}
	return l, m[2]
}

// Spec is one hook point and its shape, with dimensions named by the legend in model/doc.go.
type Spec struct {
	Name string
	// Dims names each axis: "batch", "pos", "head", "d_head", "d_model", "d_mlp", "query_pos",
	// "key_pos" or "1".
	Dims []string
	// Shape is the concrete shape for a given batch and pos.
	Shape []int
}

// UnknownHookError reports a hook name the model does not have.
type UnknownHookError struct {
	Name string
	// Close lists known names that differ only slightly, to help with typos.
	Close []string
}

func (e *UnknownHookError) Error() string {
	if len(e.Close) > 0 {
		return fmt.Sprintf("hooks: unknown hook point %q (did you mean %q?)", e.Name, e.Close[0])
	}
	return fmt.Sprintf("hooks: unknown hook point %q (`interp info --model M` lists them)", e.Name)
}
