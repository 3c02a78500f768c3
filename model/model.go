package model

import (
	"math"
	"strconv"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best dot-imported.
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/interp-dev/interp/hooks"
)

// This file is the whole forward pass, top to bottom: embeddings -> blocks (norm -> attention ->
// norm -> MLP) -> final norm -> unembedding. Every activation passes through hk.Point under its
// TransformerLens name. The architectures of every family are Config fields read here (norm kind
// and placement, rotary embeddings, grouped-query attention, gated MLPs, parallel residuals,
// windows, soft-caps); there is no other forward pass. Shapes use the legend in doc.go.

// Params are the weight nodes of one graph, by TransformerLens name (see ParamSpecs).
type Params map[string]*Node

// Forward builds the forward pass for tokens [B, P] (int32) and returns the logits [B, P, V].
// hk applies the run's hooks; nil runs the plain model.
func Forward(c Config, p Params, tokens *Node, hk *hooks.Active) *Node {
	return forward(c, p, tokens, nil, hk)
}

// forward is Forward, or with d a pass of incremental decoding (decode.go): tokens [B, P] are new
// tokens at positions d.pos, keys and values are read from and written to d's cache, and the
// logits are those of the last position only, [B, V].
func forward(c Config, p Params, tokens *Node, d *decoding, hk *hooks.Active) *Node {
	batch, pos := tokens.Shape().Dimensions[0], tokens.Shape().Dimensions[1]
	g := tokens.Graph()

	// Embeddings. Positions are gathered rather than sliced: Slice has no gradient on the
	// pure-Go backend, Gather's (a scatter-add) works everywhere.
	embed := Gather(p["embed.W_E"], InsertAxes(tokens, -1)) // [B, P, D]
	if c.EmbedScale != 0 {
		embed = MulScalar(embed, float64(float32(c.EmbedScale)))
	}
	embed = hk.Point(hooks.Embed, embed)
	resid := embed
	var posQK *Node // shortformer: added to the queries' and keys' inputs
	if c.PositionalEmbeddings {
		var posEmbed *Node
		if d != nil {
			posEmbed = Gather(p["pos_embed.W_pos"], InsertAxes(d.pos, -1)) // [B, P, D]
		} else {
			positions := Iota(g, shapes.Make(dtypes.Int32, pos, 1), 0)                // [P, 1]
			posEmbed = Gather(p["pos_embed.W_pos"], positions)                        // [P, D]
			posEmbed = BroadcastToDims(InsertAxes(posEmbed, 0), batch, pos, c.DModel) // [B, P, D]
		}
		posEmbed = hk.Point(hooks.PosEmbed, posEmbed)
		if c.Shortformer {
			posQK = posEmbed
		} else {
			resid = Add(resid, posEmbed)
		}
	}
	if d == nil {
		return forwardFrom(c, p, resid, posQK, 0, hk)
	}
	for l := range c.NLayers {
		resid = block(c, p, l, resid, posQK, d, hk)
	}
	x := norm(c, p, "ln_final", resid, hk)                                   // [B, P, D]
	last := Reshape(SliceAxis(x, 1, AxisRange(pos-1, pos)), batch, c.DModel) // [B, D]
	return unembed(c, p, last)                                               // [B, V]
}

// ForwardFrom runs blocks start..L-1, the final LayerNorm and the unembedding on resid [B, P, D],
// the residual stream entering block start (hook_resid_pre of start), and returns the logits
// [B, P, V]. Patching sweeps use it to recompute only the layers after a patch point.
func ForwardFrom(c Config, p Params, resid *Node, start int, hk *hooks.Active) *Node {
	return forwardFrom(c, p, resid, shortformerPos(c, p, resid), start, hk)
}

func forwardFrom(c Config, p Params, resid, posQK *Node, start int, hk *hooks.Active) *Node {
	for l := start; l < c.NLayers; l++ {
		resid = block(c, p, l, resid, posQK, nil, hk)
	}
	return unembed(c, p, norm(c, p, "ln_final", resid, hk))
}

// shortformerPos is what a shortformer model adds to the queries' and keys' inputs, W_pos[:P]
// broadcast to resid's [B, P, D], for a pass that starts inside the model (ForwardFrom, Blocks:
// hook_pos_embed is upstream of it and not visited); nil for other models.
func shortformerPos(c Config, p Params, resid *Node) *Node {
	if !c.Shortformer {
		return nil
	}
	dims := resid.Shape().Dimensions
	positions := Iota(resid.Graph(), shapes.Make(dtypes.Int32, dims[1], 1), 0) // [P, 1]
	pos := Gather(p["pos_embed.W_pos"], positions)                             // [P, D]
	return BroadcastToDims(InsertAxes(pos, 0), dims...)                        // [B, P, D]
}

// unembed maps the final normalised residual stream [..., D] to logits [..., V], soft-capped
// when the config says so.
func unembed(c Config, p Params, x *Node) *Node {
	last := x.Rank() - 1
	var logits *Node
	if c.TiedEmbeddings {
		logits = DotGeneral(x, []int{last}, nil, p["embed.W_E"], []int{1}, nil) // [..., V]
	} else {
		logits = DotGeneral(x, []int{last}, nil, p["unembed.W_U"], []int{0}, nil) // [..., V]
	}
	if c.UnembedBias {
		logits = Add(logits, ExpandLeftToRank(p["unembed.b_U"], logits.Rank()))
	}
	return softcap(logits, c.OutputSoftcap)
}

// softcap is cap * tanh(x / cap), or x when cap is 0.
func softcap(x *Node, cap float64) *Node {
	if cap == 0 {
		return x
	}
	return MulScalar(Tanh(MulScalar(x, 1/cap)), cap)
}

// block is one transformer block: resid_pre -> (+attn) resid_mid -> (+mlp) resid_post, or with
// a parallel residual resid_pre -> (+attn +mlp) resid_post. Norms sit before (ln1, ln2), around
// or after (ln1_post, ln2_post) the sublayers, as c.NormPlacement says. posQK (shortformer
// models; nil otherwise) is added to the attention's query and key inputs. d is nil except in
// incremental decoding.
func block(c Config, p Params, l int, resid, posQK *Node, d *decoding, hk *hooks.Active) *Node {
	resid = hk.Point(hooks.ResidPre(l), resid)
	attnOut := attention(c, p, l, preNorm(c, p, blockName(l, "ln1"), resid, hk), posQK, d, hk)
	attnOut = hk.Point(hooks.AttnOut(l), postNorm(c, p, blockName(l, "ln1_post"), attnOut, hk))
	if !c.HasMLP() {
		return hk.Point(hooks.ResidPost(l), Add(resid, attnOut))
	}
	if c.ParallelResidual {
		mlpOut := hk.Point(hooks.MLPOut(l), mlp(c, p, l, preNorm(c, p, blockName(l, "ln2"), resid, hk), hk))
		return hk.Point(hooks.ResidPost(l), Add(Add(mlpOut, attnOut), resid)) // Pythia's order of the sum
	}
	resid = hk.Point(hooks.ResidMid(l), Add(resid, attnOut))
	mlpOut := mlp(c, p, l, preNorm(c, p, blockName(l, "ln2"), resid, hk), hk)
	mlpOut = hk.Point(hooks.MLPOut(l), postNorm(c, p, blockName(l, "ln2_post"), mlpOut, hk))
	return hk.Point(hooks.ResidPost(l), Add(resid, mlpOut))
}

// preNorm is the norm before a sublayer (ln1, ln2), the identity where blocks have none.
func preNorm(c Config, p Params, name string, x *Node, hk *hooks.Active) *Node {
	if !c.PreNorms() {
		return x
	}
	return norm(c, p, name, x, hk)
}

// postNorm is the norm after a sublayer (ln1_post, ln2_post), the identity where blocks have none.
func postNorm(c Config, p Params, name string, x *Node, hk *hooks.Active) *Node {
	if !c.PostNorms() {
		return x
	}
	return norm(c, p, name, x, hk)
}

// norm is the model's normalisation over the last axis of x [..., N], with hooks name.hook_scale
// [..., 1] and name.hook_normalized [..., N], the output after the learned gain (and bias).
//
// LayerNorm (unfolded, as TransformerLens): x' = x - mean(x), scale = sqrt(mean(x'^2) + eps),
// out = x'/scale * w + b. RMSNorm: scale = sqrt(mean(x^2) + eps), out = x/scale * w. With
// normalization "none" it is the identity and has no hooks.
func norm(c Config, p Params, name string, x *Node, hk *hooks.Active) *Node {
	if !c.HasNorm() {
		return x
	}
	return normalize(c, x, p[name+".w"], p[name+".b"], name, hk)
}

// Normalize is the model's norm over the last axis of x [..., N] with gain w [N] and, for a
// LayerNorm, bias b [N] (nil for RMSNorm), without hooks; x itself without a norm. Clients that
// rebuild a norm's input by hand (circuits' edge ablation) use it, so the norm is written once.
func Normalize(c Config, x, w, b *Node) *Node {
	if !c.HasNorm() {
		return x
	}
	return normalize(c, x, w, b, "", nil)
}

func normalize(c Config, x, w, b *Node, name string, hk *hooks.Active) *Node {
	r := x.Rank()
	if c.Normalization == LayerNorm {
		x = Sub(x, ReduceAndKeep(x, ReduceMean, -1))
	}
	// Sqrt then Div rather than Rsqrt: Rsqrt has no gradient in GoMLX v0.26.0.
	scale := Sqrt(AddScalar(ReduceAndKeep(Square(x), ReduceMean, -1), c.LNEps)) // [..., 1]
	scale = hk.Point(name+".hook_scale", scale)
	x = Mul(Div(x, scale), ExpandLeftToRank(w, r))
	if c.Normalization == LayerNorm {
		x = Add(x, ExpandLeftToRank(b, r))
	}
	return hk.Point(name+".hook_normalized", x)
}

// attention is causal multi-head self-attention with per-head weights. It returns attn_out
// [B, P, D] (before the hook). The per-head result [B, P, H, D] is only materialised when a
// hook asks for it; otherwise z is contracted with W_O over heads and d_head in one matmul.
//
// Under grouped-query attention k and v have Hkv heads ([B, P, Hkv, K], as hooked) and query head
// h reads key/value head h / (H/Hkv). Query/key norms come before the rotary embedding, whose
// outputs are hook_rot_q and hook_rot_k.
//
// In incremental decoding (d non-nil) the keys and values of this pass's P new tokens are written
// into d's cache after their hooks, and the queries attend over the cache's T slots: scores and
// pattern are [B, H, P, T].
func attention(c Config, p Params, l int, x, posQK *Node, d *decoding, hk *hooks.Active) *Node {
	pre := blockName(l, "attn.")
	proj := func(in *Node, w, b string) *Node {
		y := DotGeneral(in, []int{2}, nil, p[pre+w], []int{1}, nil) // [B, P, H or Hkv, K]
		return Add(y, ExpandLeftToRank(p[pre+b], 4))
	}
	qk := x
	if posQK != nil { // shortformer: positions enter the queries and keys only
		qk = Add(x, posQK)
	}
	q := hk.Point(hooks.Q(l), proj(qk, "W_Q", "b_Q")) // [B, P, H, K]
	k := hk.Point(hooks.K(l), proj(qk, "W_K", "b_K")) // [B, P, Hkv, K]
	v := hk.Point(hooks.V(l), proj(x, "W_V", "b_V"))  // [B, P, Hkv, K]
	if c.QKNorm != NoQKNorm {
		q = qkNorm(c, p, pre+"q_norm", q, hk)
		k = qkNorm(c, p, pre+"k_norm", k, hk)
	}
	if c.RotaryDim > 0 {
		q = hk.Point(hooks.RotQ(l), rotary(c, l, q, d))
		k = hk.Point(hooks.RotK(l), rotary(c, l, k, d))
	}
	var mask *Node // [1 or B, 1, Pq, Pk]
	if d != nil {
		k, v = d.write(l, k, v) // [B, T, Hkv, K]
		mask = d.mask(c, l, x.DType())
	} else {
		mask = ExpandLeftToRank(attentionMask(c, l, x.Graph(), x.Shape().Dimensions[1], x.DType()), 4)
	}
	k, v = repeatKV(c, k), repeatKV(c, v) // [B, Pk, H, K]

	// scores[b, h, q, s] = q[b, q, h, :] . k[b, s, h, :] / attn_scale, soft-capped, and masked
	// with -inf where s > q (causal) or, in a local layer, s <= q - window.
	scores := DotGeneral(q, []int{3}, []int{0, 2}, k, []int{3}, []int{0, 2}) // [B, H, Pq, Pk]
	scale := c.AttnScale
	if scale == 0 {
		scale = math.Sqrt(float64(c.DHead))
	}
	if scale != 1 {
		scores = MulScalar(scores, 1/scale)
	}
	scores = softcap(scores, c.AttnSoftcap)
	// The mask is added ([1, 1, P, P]: 0 where a key is visible, -inf elsewhere) rather than
	// selected with a [B, H, P, P] Where: the same values, without materialising a broadcast
	// mask; the gradient at masked positions is zero either way (their pattern is 0).
	scores = Add(scores, mask)
	scores = hk.Point(hooks.AttnScores(l), scores)
	pattern := hk.Point(hooks.Pattern(l), Softmax(scores, -1)) // [B, H, Pq, Pk]

	// z[b, q, h, k] = sum_s pattern[b, h, q, s] v[b, s, h, k]
	z := DotGeneral(pattern, []int{3}, []int{0, 1}, v, []int{1}, []int{0, 2}) // [B, H, Pq, K]
	z = hk.Point(hooks.Z(l), TransposeAllAxes(z, 0, 2, 1, 3))                 // [B, P, H, K]

	bO := ExpandLeftToRank(p[pre+"b_O"], 3)
	if hk.Wants(hooks.Result(l)) {
		// result[b, p, h, d] = z[b, p, h, :] @ W_O[h]
		result := DotGeneral(z, []int{3}, []int{2}, p[pre+"W_O"], []int{1}, []int{0}) // [H, B, P, D]
		result = hk.Point(hooks.Result(l), TransposeAllAxes(result, 1, 2, 0, 3))      // [B, P, H, D]
		return Add(ReduceSum(result, 2), bO)
	}
	out := DotGeneral(z, []int{2, 3}, nil, p[pre+"W_O"], []int{0, 1}, nil) // [B, P, D]
	return Add(out, bO)
}

// attentionMask is [P, P]: 0 where query q may see key s (s <= q, and q - s < window in a local
// layer), -inf elsewhere.
func attentionMask(c Config, l int, g *Graph, P int, dtype dtypes.DType) *Node {
	visible := LowerTriangular(g, P) // [P, P] bool
	if c.Local(l) {
		qi := Iota(g, shapes.Make(dtypes.Int32, P, P), 0)
		si := Iota(g, shapes.Make(dtypes.Int32, P, P), 1)
		visible = LogicalAnd(visible, LessThan(Sub(qi, si), Scalar(g, dtypes.Int32, c.WindowSize)))
	}
	zero, negInf := ScalarZero(g, dtype), Infinity(g, dtype, -1)
	return Where(visible, BroadcastToDims(zero, P, P), BroadcastToDims(negInf, P, P))
}

// qkNorm is the RMS norm of queries or keys x [B, P, heads, K]: per head over K (QKNormHead), or
// over the whole projection, heads*K at once (QKNormProj). Hooks: name.hook_scale, name.hook_normalized.
func qkNorm(c Config, p Params, name string, x *Node, hk *hooks.Active) *Node {
	if c.QKNorm == QKNormHead {
		return norm(c, p, name, x, hk)
	}
	dims := x.Shape().Dimensions
	flat := Reshape(x, dims[0], dims[1], dims[2]*dims[3]) // [B, P, heads*K]
	return Reshape(norm(c, p, name, flat, hk), dims...)
}

// repeatKV gives each query head its key/value head: [B, P, Hkv, K] -> [B, P, H, K], key/value
// head j serving query heads j*G .. j*G+G-1 (G = H/Hkv). Without grouping it returns x.
func repeatKV(c Config, x *Node) *Node {
	G := c.NHeads / c.KVHeads()
	if G == 1 {
		return x
	}
	dims := x.Shape().Dimensions
	B, P, Hkv, K := dims[0], dims[1], dims[2], dims[3]
	return Reshape(BroadcastToDims(InsertAxes(x, 3), B, P, Hkv, G, K), B, P, Hkv*G, K)
}

// rotary applies the rotary embedding to x [B, P, heads, K] at positions 0..P-1 (at d.pos in
// incremental decoding): the first RotaryDim dimensions of each head, as pairs (i, i + RotaryDim/2)
// (Hugging Face's rotate_half), turn by angle pos * inv_freq[i]; the rest pass through.
//
//	out_rot = x_rot * cos + rotate_half(x_rot) * sin,  rotate_half([x1, x2]) = [-x2, x1]
func rotary(c Config, l int, x *Node, d *decoding) *Node {
	dims := x.Shape().Dimensions
	P, K, R := dims[1], dims[3], c.RotaryDim
	var cos, sin *Node // [1 or B, P, 1, R]
	if d != nil {
		cos, sin = d.rotary(c, l)
	} else {
		cosT, sinT := rotaryTables(c, l, P)               // [P, R] each
		cos = Reshape(Const(x.Graph(), cosT), 1, P, 1, R) // [1, P, 1, R]
		sin = Reshape(Const(x.Graph(), sinT), 1, P, 1, R) // [1, P, 1, R]
	}
	rot := x
	if R < K {
		rot = SliceAxis(x, 3, AxisRange(0, R))
	}
	x1, x2 := SliceAxis(rot, 3, AxisRange(0, R/2)), SliceAxis(rot, 3, AxisRange(R/2, R))
	half := Concatenate([]*Node{Neg(x2), x1}, 3) // rotate_half
	out := Add(Mul(rot, BroadcastToDims(cos, rot.Shape().Dimensions...)), Mul(half, BroadcastToDims(sin, rot.Shape().Dimensions...)))
	if R < K {
		out = Concatenate([]*Node{out, SliceAxis(x, 3, AxisRange(R, K))}, 3)
	}
	return out
}

// mlp is the two-layer MLP: hook_pre = x W_in + b_in, hook_post = act(hook_pre), output
// hook_post W_out + b_out (before the hook_mlp_out hook). A gated MLP has hook_pre = x W_gate,
// hook_pre_linear = x W_in and hook_post = act(hook_pre) * hook_pre_linear + b_in (TransformerLens
// GatedMLP; Llama's SwiGLU, Gemma's GeGLU).
func mlp(c Config, p Params, l int, x *Node, hk *hooks.Active) *Node {
	pre := blockName(l, "mlp.")
	var h *Node
	if c.GatedMLP {
		gate := DotGeneral(x, []int{2}, nil, p[pre+"W_gate"], []int{0}, nil) // [B, P, M]
		gate = hk.Point(hooks.MLPPre(l), gate)
		lin := DotGeneral(x, []int{2}, nil, p[pre+"W_in"], []int{0}, nil) // [B, P, M]
		lin = hk.Point(hooks.MLPPreLinear(l), lin)
		h = Add(Mul(activation(c.Act, gate), lin), ExpandLeftToRank(p[pre+"b_in"], 3))
	} else {
		h = DotGeneral(x, []int{2}, nil, p[pre+"W_in"], []int{0}, nil) // [B, P, M]
		h = activation(c.Act, hk.Point(hooks.MLPPre(l), Add(h, ExpandLeftToRank(p[pre+"b_in"], 3))))
	}
	h = hk.Point(hooks.MLPPost(l), h)
	out := DotGeneral(h, []int{2}, nil, p[pre+"W_out"], []int{0}, nil) // [B, P, D]
	return Add(out, ExpandLeftToRank(p[pre+"b_out"], 3))
}

// activation applies the MLP non-linearity.
func activation(act Activation, x *Node) *Node {
	switch act {
	case GeluNew: // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
		inner := MulScalar(Add(x, MulScalar(Mul(x, Square(x)), 0.044715)), math.Sqrt(2/math.Pi))
		return Mul(MulScalar(x, 0.5), AddScalar(Tanh(inner), 1))
	case Gelu: // x Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
		return Mul(MulScalar(x, 0.5), AddScalar(Erf(MulScalar(x, 1/math.Sqrt2)), 1))
	case Relu:
		return Max(x, ZerosLike(x))
	case Silu: // x sigmoid(x)
		return Mul(x, Logistic(x))
	}
	panic("model: unknown activation " + string(act))
}

func blockName(l int, suffix string) string {
	return "blocks." + strconv.Itoa(l) + "." + suffix
}
