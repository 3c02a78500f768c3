package model

import (
	"math"
	"strconv"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best dot-imported.
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/interp-dev/interp/hooks"
)

// This file is the whole forward pass, top to bottom: embeddings -> blocks (LayerNorm ->
// attention -> LayerNorm -> MLP) -> final LayerNorm -> unembedding. Every activation passes
// through hk.Point under its TransformerLens name. Shapes use the legend in doc.go.

// Params are the weight nodes of one graph, by TransformerLens name (see ParamSpecs).
type Params map[string]*Node

// Forward builds the forward pass for tokens [B, P] (int32) and returns the logits [B, P, V].
// hk applies the run's hooks; nil runs the plain model.
func Forward(c Config, p Params, tokens *Node, hk *hooks.Active) *Node {
	batch, pos := tokens.Shape().Dimensions[0], tokens.Shape().Dimensions[1]
	g := tokens.Graph()

	// Embeddings. Positions are gathered rather than sliced: Slice has no gradient on the
	// pure-Go backend, Gather's (a scatter-add) works everywhere.
	embed := Gather(p["embed.W_E"], InsertAxes(tokens, -1)) // [B, P, D]
	embed = hk.Point(hooks.Embed, embed)
	resid := embed
	if c.PositionalEmbeddings {
		positions := Iota(g, shapes.Make(dtypes.Int32, pos, 1), 0)                // [P, 1]
		posEmbed := Gather(p["pos_embed.W_pos"], positions)                       // [P, D]
		posEmbed = BroadcastToDims(InsertAxes(posEmbed, 0), batch, pos, c.DModel) // [B, P, D]
		posEmbed = hk.Point(hooks.PosEmbed, posEmbed)
		resid = Add(resid, posEmbed)
	}

	return ForwardFrom(c, p, resid, 0, hk)
}

// ForwardFrom runs blocks start..L-1, the final LayerNorm and the unembedding on resid [B, P, D],
// the residual stream entering block start (hook_resid_pre of start), and returns the logits
// [B, P, V]. Patching sweeps use it to recompute only the layers after a patch point.
func ForwardFrom(c Config, p Params, resid *Node, start int, hk *hooks.Active) *Node {
	for l := start; l < c.NLayers; l++ {
		resid = block(c, p, l, resid, hk)
	}
	return unembed(c, p, layerNorm(c, p, "ln_final", resid, hk))
}

// unembed maps the final normalised residual stream [..., D] to logits [..., V].
func unembed(c Config, p Params, x *Node) *Node {
	last := x.Rank() - 1
	if c.TiedEmbeddings {
		return DotGeneral(x, []int{last}, nil, p["embed.W_E"], []int{1}, nil) // [..., V]
	}
	return DotGeneral(x, []int{last}, nil, p["unembed.W_U"], []int{0}, nil) // [..., V]
}

// block is one transformer block: resid_pre -> (+attn) resid_mid -> (+mlp) resid_post.
func block(c Config, p Params, l int, resid *Node, hk *hooks.Active) *Node {
	resid = hk.Point(hooks.ResidPre(l), resid)
	x := layerNorm(c, p, blockName(l, "ln1"), resid, hk)
	attnOut := hk.Point(hooks.AttnOut(l), attention(c, p, l, x, hk))
	if !c.HasMLP() {
		return hk.Point(hooks.ResidPost(l), Add(resid, attnOut))
	}
	resid = hk.Point(hooks.ResidMid(l), Add(resid, attnOut))
	x = layerNorm(c, p, blockName(l, "ln2"), resid, hk)
	mlpOut := hk.Point(hooks.MLPOut(l), mlp(c, p, l, x, hk))
	return hk.Point(hooks.ResidPost(l), Add(resid, mlpOut))
}

// layerNorm is TransformerLens's (unfolded) LayerNorm: hook_scale is sqrt(var + eps) [B, P, 1]
// and hook_normalized the output after the learned scale and bias. With normalization "none"
// it is the identity and has no hooks.
func layerNorm(c Config, p Params, name string, x *Node, hk *hooks.Active) *Node {
	if !c.HasLN() {
		return x
	}
	x = Sub(x, ReduceAndKeep(x, ReduceMean, -1)) // [B, P, D]
	// Sqrt then Div rather than Rsqrt: Rsqrt has no gradient in GoMLX v0.26.0.
	scale := Sqrt(AddScalar(ReduceAndKeep(Square(x), ReduceMean, -1), c.LNEps)) // [B, P, 1]
	scale = hk.Point(name+".hook_scale", scale)
	x = Div(x, scale)
	x = Add(Mul(x, ExpandLeftToRank(p[name+".w"], 3)), ExpandLeftToRank(p[name+".b"], 3))
	return hk.Point(name+".hook_normalized", x)
}

// attention is causal multi-head self-attention with per-head weights. It returns attn_out
// [B, P, D] (before the hook). The per-head result [B, P, H, D] is only materialised when a
// hook asks for it; otherwise z is contracted with W_O over heads and d_head in one matmul.
func attention(c Config, p Params, l int, x *Node, hk *hooks.Active) *Node {
	pre := blockName(l, "attn.")
	proj := func(w, b string) *Node {
		y := DotGeneral(x, []int{2}, nil, p[pre+w], []int{1}, nil) // [B, P, H, K]
		return Add(y, ExpandLeftToRank(p[pre+b], 4))
	}
	q := hk.Point(hooks.Q(l), proj("W_Q", "b_Q")) // [B, P, H, K]
	k := hk.Point(hooks.K(l), proj("W_K", "b_K")) // [B, P, H, K]
	v := hk.Point(hooks.V(l), proj("W_V", "b_V")) // [B, P, H, K]

	// scores[b, h, q, s] = q[b, q, h, :] . k[b, s, h, :] / sqrt(K), causally masked with -inf.
	scores := DotGeneral(q, []int{3}, []int{0, 2}, k, []int{3}, []int{0, 2}) // [B, H, Pq, Pk]
	scores = MulScalar(scores, 1/math.Sqrt(float64(c.DHead)))
	// The mask is added ([1, 1, P, P]: 0 on and below the diagonal, -inf above) rather than
	// selected with a [B, H, P, P] Where: the same values, without materialising a broadcast
	// mask; the gradient at masked positions is zero either way (their pattern is 0).
	g, P := scores.Graph(), scores.Shape().Dimensions[2]
	zero, negInf := ScalarZero(g, scores.DType()), Infinity(g, scores.DType(), -1)
	mask := Where(LowerTriangular(g, P), BroadcastToDims(zero, P, P), BroadcastToDims(negInf, P, P)) // [P, P]
	scores = Add(scores, ExpandLeftToRank(mask, 4))
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

// mlp is the two-layer MLP: hook_pre = x W_in + b_in, hook_post = act(hook_pre), output
// hook_post W_out + b_out (before the hook_mlp_out hook).
func mlp(c Config, p Params, l int, x *Node, hk *hooks.Active) *Node {
	pre := blockName(l, "mlp.")
	h := DotGeneral(x, []int{2}, nil, p[pre+"W_in"], []int{0}, nil) // [B, P, M]
	h = hk.Point(hooks.MLPPre(l), Add(h, ExpandLeftToRank(p[pre+"b_in"], 3)))
	h = hk.Point(hooks.MLPPost(l), activation(c.Act, h))
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
	}
	panic("model: unknown activation " + string(act))
}

func blockName(l int, suffix string) string {
	return "blocks." + strconv.Itoa(l) + "." + suffix
}
