package circuits

import (
	"strconv"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// Edge-level interventions (ACDC, edge faithfulness). Ablating the edge s -> r replaces s's
// contribution to r's input only, leaving what s writes to every other receiver alone. The model
// reads one residual stream per layer, so each receiver's input is rebuilt from it:
//
//	x_r = resid + sum_{s ablated for r} (out_s^ablated - out_s^current)
//
// where resid is the residual stream the receiver normally reads (hook_resid_pre for a head,
// hook_resid_mid for an MLP, the final hook_resid_post for the logits), out_s^current the
// sender's output in this run (which itself may differ from the clean one when edges into s are
// ablated) and out_s^ablated its output on the corrupted prompt (or their mean). For a head
// the rebuilt input is per head and per input, x [B, P, heads, D] for each of q, k, v (key/value
// heads for k and v under grouped-query attention), which goes through ln1 (the model's norm,
// model.Normalize; none without a pre-norm) and W_Q / W_K / W_V to replace hook_q / hook_k /
// hook_v, before the q/k norms and the rotary embedding the forward pass then applies; for an MLP
// (reading hook_resid_mid, or hook_resid_pre with a parallel residual) it goes through ln2 and
// W_in to replace hook_mlp_pre, or for a gated MLP through W_gate and W_in to replace hook_pre
// and hook_pre_linear; for the logits it replaces the final hook_resid_post. Where a norm follows
// attention (Gemma 2/3, OLMo 2), a head's output is its share of the normalised sum (headShare:
// hook_result through the norm with this run's scale, ln1_post.hook_scale); an MLP's output is
// hook_mlp_out, after its norm, as elsewhere. The graph is built from Func hooks: hooks earlier in the
// forward pass (hook_embed, hook_pos_embed, hook_result, hook_mlp_out, hook_resid_pre/mid)
// record their nodes for the later ones, and the masks ([senders, H] per layer and input) and
// the ablated outputs are fed, so one compiled graph serves every subset of edges.

// edgeMasks marks the ablated edges, per receiver input: entry [s, h] of a head mask is 1 when
// the edge from sender s to head h's input is ablated (h a key/value head for k and v under
// grouped-query attention).
type edgeMasks struct {
	g      *Graph
	head   [][3][]float32 // per layer, per input q/k/v: [S_l * H]
	mlp    [][]float32    // per layer [S_l + H]
	logits []float32      // [S_L]
}

// senderCount is the number of sender nodes written before layer l's heads read the stream.
func (g *Graph) senderCount(l int) int {
	per := g.NHeads
	if g.HasMLP {
		per++
	}
	return 1 + l*per
}

// senderIndex is a sender's row in the masks (embed, then per layer its heads and its MLP).
func (g *Graph) senderIndex(n Node) int {
	switch n.Kind {
	case Embed:
		return 0
	case Head:
		return g.senderCount(n.Layer) + n.Head
	case MLP:
		return g.senderCount(n.Layer) + g.NHeads
	}
	panic("circuits: " + n.String() + " is not a sender")
}

func inputIndex(in Input) int {
	switch in {
	case InQ:
		return 0
	case InK:
		return 1
	}
	return 2
}

// inputHeads is the number of heads a q (i = 0), k or v input mask has: the query heads, or
// the key/value heads under grouped-query attention.
func (g *Graph) inputHeads(i int) int {
	if i == 0 || g.KVGroup <= 1 {
		return g.NHeads
	}
	return g.NHeads / g.KVGroup
}

// inputHead is the column of head h in input i's mask (its key/value head for k and v).
func (g *Graph) inputHead(i, h int) int {
	if i == 0 || g.KVGroup <= 1 {
		return h
	}
	return h / g.KVGroup
}

// newEdgeMasks returns masks with the edges for which ablated returns true set.
func (g *Graph) newEdgeMasks(ablated func(Edge) bool) *edgeMasks {
	m := &edgeMasks{g: g}
	for l := range g.NLayers {
		var qkv [3][]float32
		for i := range qkv {
			qkv[i] = make([]float32, g.senderCount(l)*g.inputHeads(i))
		}
		m.head = append(m.head, qkv)
		if g.HasMLP {
			m.mlp = append(m.mlp, make([]float32, g.senderCount(l)+g.NHeads))
		}
	}
	m.logits = make([]float32, g.senderCount(g.NLayers))
	for _, e := range g.Edges {
		if ablated(e) {
			m.set(e, 1)
		}
	}
	return m
}

// set sets edge e's mask entry to v (1 = ablated).
func (m *edgeMasks) set(e Edge, v float32) {
	s := m.g.senderIndex(e.From)
	switch e.To.Kind {
	case Head:
		i := inputIndex(e.Input)
		m.head[e.To.Layer][i][s*m.g.inputHeads(i)+m.g.inputHead(i, e.To.Head)] = v
	case MLP:
		m.mlp[e.To.Layer][s] = v
	case Logits:
		m.logits[s] = v
	}
}

// edgeBuild is what the hooks of one graph build record for the later ones.
type edgeBuild struct {
	embed      *graph.Node // hook_embed (+ hook_pos_embed once seen)
	corrEmbed  *graph.Node
	corrResult []*graph.Node
	corrMLP    []*graph.Node
	resid      map[int]*graph.Node // hook_resid_pre of layer l, and hook_resid_mid at key -1-l
	result     *graph.Node         // the current layer's hook_result, until its ln1_post scale is seen
	mlpIn      *graph.Node         // a gated MLP's rebuilt, normalised input (for hook_pre_linear)
	pieces     []*graph.Node       // out^ablated - out^current per sender, [B, P, k, D], in sender order
}

// edgeAblationSet returns the hooks that ablate the masked edges, with src the ablated outputs
// (rows equal to the batch's).
func edgeAblationSet(m *model.Model, masks *edgeMasks, src *senderActs) *hooks.Set {
	c := m.Config
	g := masks.g
	st := &edgeBuild{}
	set := hooks.New()
	corr := []*tensors.Tensor{src.embed}
	for l := range c.NLayers {
		corr = append(corr, src.headOut(l))
	}
	corr = append(corr, src.mlp...)
	set.Func(hooks.Embed, "circuits.edges.embed", func(x *graph.Node, in []*graph.Node) *graph.Node {
		*st = edgeBuild{embed: x, corrEmbed: in[0], resid: map[int]*graph.Node{}}
		st.corrResult = in[1 : 1+c.NLayers]
		st.corrMLP = in[1+c.NLayers:]
		if !c.PositionalEmbeddings {
			st.pieces = []*graph.Node{graph.InsertAxes(graph.Sub(st.corrEmbed, x), 2)}
		}
		return x
	}, corr...)
	if c.PositionalEmbeddings {
		set.Func(hooks.PosEmbed, "circuits.edges.pos", func(x *graph.Node, _ []*graph.Node) *graph.Node {
			st.pieces = []*graph.Node{graph.InsertAxes(graph.Sub(st.corrEmbed, graph.Add(st.embed, x)), 2)} // [B, P, 1, D]
			return x
		})
	}
	weight := func(name string) *tensors.Tensor { return m.Weights.Tensors[name] }
	for l := range c.NLayers {
		set.Func(hooks.ResidPre(l), "circuits.edges.stash", func(x *graph.Node, _ []*graph.Node) *graph.Node {
			st.resid[l] = x
			return x
		})
		for i, name := range []string{hooks.Q(l), hooks.K(l), hooks.V(l)} {
			w := [...]string{"W_Q", "W_K", "W_V"}[i]
			b := [...]string{"b_Q", "b_K", "b_V"}[i]
			in := []*tensors.Tensor{
				tensors.FromFlatDataAndDimensions(masks.head[l][i], g.senderCount(l), g.inputHeads(i)),
				weight(attn(l, w)), weight(attn(l, b)),
			}
			in = append(in, normWeights(m, blockName(l, "ln1"))...)
			set.Func(name, "circuits.edges.qkv", func(x *graph.Node, in []*graph.Node) *graph.Node {
				return headInput(c, st.resid[l], st.pieces, in)
			}, in...)
		}
		if c.PostNorms() {
			set.Func(hooks.Result(l), "circuits.edges.stash", func(x *graph.Node, _ []*graph.Node) *graph.Node {
				st.result = x
				return x
			})
			set.Func(postScale(l), "circuits.edges.share", func(x *graph.Node, in []*graph.Node) *graph.Node {
				st.pieces = append(st.pieces, graph.Sub(st.corrResult[l], headShareNode(c, st.result, x, in[0]))) // [B, P, H, D]
				return x
			}, weight(blockName(l, "ln1_post.w")))
		} else {
			set.Func(hooks.Result(l), "circuits.edges.stash", func(x *graph.Node, _ []*graph.Node) *graph.Node {
				st.pieces = append(st.pieces, graph.Sub(st.corrResult[l], x)) // [B, P, H, D]
				return x
			})
		}
		if c.HasMLP() {
			// The MLP reads hook_resid_mid, or with a parallel residual the layer's hook_resid_pre
			// (the heads of its own layer are then senders with zero mask rows).
			key := l
			if c.HasResidMid() {
				key = -1 - l
				set.Func(hooks.ResidMid(l), "circuits.edges.stash", func(x *graph.Node, _ []*graph.Node) *graph.Node {
					st.resid[-1-l] = x
					return x
				})
			}
			mask := tensors.FromFlatDataAndDimensions(masks.mlp[l], len(masks.mlp[l]), 1)
			ln2 := normWeights(m, blockName(l, "ln2"))
			if c.GatedMLP { // in: mask, W_gate (no bias), ln2 weights
				in := append([]*tensors.Tensor{mask, weight(blockName(l, "mlp.W_gate"))}, ln2...)
				set.Func(hooks.MLPPre(l), "circuits.edges.mlp", func(x *graph.Node, in []*graph.Node) *graph.Node {
					st.mlpIn = mlpNormalized(c, st.resid[key], st.pieces, in[0], in[2:])
					return project(st.mlpIn, in[1], nil)
				}, in...)
				set.Func(hooks.MLPPreLinear(l), "circuits.edges.mlp_linear", func(x *graph.Node, in []*graph.Node) *graph.Node {
					return project(st.mlpIn, in[0], nil)
				}, weight(blockName(l, "mlp.W_in")))
			} else { // in: mask, W_in, b_in, ln2 weights
				in := append([]*tensors.Tensor{mask, weight(blockName(l, "mlp.W_in")), weight(blockName(l, "mlp.b_in"))}, ln2...)
				set.Func(hooks.MLPPre(l), "circuits.edges.mlp", func(x *graph.Node, in []*graph.Node) *graph.Node {
					return project(mlpNormalized(c, st.resid[key], st.pieces, in[0], in[3:]), in[1], in[2])
				}, in...)
			}
			set.Func(hooks.MLPOut(l), "circuits.edges.stash", func(x *graph.Node, _ []*graph.Node) *graph.Node {
				st.pieces = append(st.pieces, graph.InsertAxes(graph.Sub(st.corrMLP[l], x), 2)) // [B, P, 1, D]
				return x
			})
		}
	}
	set.Func(hooks.ResidPost(c.NLayers-1), "circuits.edges.logits", func(x *graph.Node, in []*graph.Node) *graph.Node {
		return graph.Add(x, ablatedDelta(st.pieces, in[0], 1)) // [B, P, D]
	}, tensors.FromFlatDataAndDimensions(masks.logits, len(masks.logits), 1))
	return set
}

// ablatedDelta is sum_s mask[s, j] (out^ablated_s - out^current_s): [B, P, J, D] for a mask
// [S, J], or [B, P, D] when J = 1 and squeeze is set.
func ablatedDelta(pieces []*graph.Node, mask *graph.Node, squeeze int) *graph.Node {
	diffs := pieces[0]
	if len(pieces) > 1 {
		diffs = graph.Concatenate(pieces, 2) // [B, P, S, D]
	}
	d := graph.DotGeneral(diffs, []int{2}, nil, mask, []int{0}, nil) // [B, P, D, J]
	if squeeze == 1 {
		dims := d.Shape().Dimensions
		return graph.Reshape(d, dims[0], dims[1], dims[2]) // [B, P, D]
	}
	return graph.TransposeAllAxes(d, 0, 1, 3, 2) // [B, P, J, D]
}

// headShareNode is headShare in the graph: result [B, P, H, D], scale [B, P, 1], w [D].
func headShareNode(c model.Config, result, scale, w *graph.Node) *graph.Node {
	dims := result.Shape().Dimensions
	if c.Normalization == model.LayerNorm {
		result = graph.Sub(result, graph.ReduceAndKeep(result, graph.ReduceMean, -1))
	}
	s := graph.BroadcastToDims(graph.InsertAxes(scale, 2), dims...) // [B, P, H, D]
	return graph.Mul(graph.Div(result, s), graph.BroadcastToDims(graph.Reshape(w, 1, 1, 1, dims[3]), dims...))
}

// normWeights are the weights of a norm before a sublayer as the edge hooks are fed them: the
// gain, and a LayerNorm's bias; none without such a norm.
func normWeights(m *model.Model, name string) []*tensors.Tensor {
	c := m.Config
	if !c.PreNorms() {
		return nil
	}
	out := []*tensors.Tensor{m.Weights.Tensors[name+".w"]}
	if c.HasLN() {
		out = append(out, m.Weights.Tensors[name+".b"])
	}
	return out
}

// normalized is the model's pre-sublayer norm (model.Normalize) of x with the fed weights ln
// (gain, LayerNorm bias), or x itself where blocks have no pre-norm.
func normalized(c model.Config, x *graph.Node, ln []*graph.Node) *graph.Node {
	if len(ln) == 0 {
		return x
	}
	var b *graph.Node
	if len(ln) > 1 {
		b = ln[1]
	}
	return model.Normalize(c, x, ln[0], b)
}

// headInput rebuilds q, k or v [B, P, heads, K] from the residual stream with the ablated edges'
// differences added per head (heads: the key/value heads for k and v under grouped-query
// attention). in: mask [S, heads], W [heads, D, K], b [heads, K], then the ln1 weights.
func headInput(c model.Config, resid *graph.Node, pieces []*graph.Node, in []*graph.Node) *graph.Node {
	dims := resid.Shape().Dimensions
	B, P, D := dims[0], dims[1], dims[2]
	heads, K := in[1].Shape().Dimensions[0], c.DHead
	x := graph.Add(graph.BroadcastToDims(graph.InsertAxes(resid, 2), B, P, heads, D), ablatedDelta(pieces, in[0], 0)) // [B, P, heads, D]
	x = normalized(c, x, in[3:])
	y := graph.DotGeneral(x, []int{3}, []int{2}, in[1], []int{1}, []int{0}) // [heads, B, P, K]
	y = graph.TransposeAllAxes(y, 1, 2, 0, 3)                               // [B, P, heads, K]
	return graph.Add(y, graph.BroadcastToDims(graph.Reshape(in[2], 1, 1, heads, K), B, P, heads, K))
}

// mlpNormalized rebuilds the MLP's normalised input [B, P, D] from the residual stream it reads
// (hook_resid_mid, or hook_resid_pre with a parallel residual) with the ablated edges'
// differences added. mask [S, 1]; ln the ln2 weights.
func mlpNormalized(c model.Config, resid *graph.Node, pieces []*graph.Node, mask *graph.Node, ln []*graph.Node) *graph.Node {
	return normalized(c, graph.Add(resid, ablatedDelta(pieces, mask, 1)), ln)
}

// project is x W (+ b): [B, P, D] x [D, M] -> [B, P, M].
func project(x, w, b *graph.Node) *graph.Node {
	y := graph.DotGeneral(x, []int{2}, nil, w, []int{0}, nil) // [B, P, M]
	if b == nil {
		return y
	}
	return graph.Add(y, graph.ExpandLeftToRank(b, 3))
}

func blockName(l int, suffix string) string { return "blocks." + strconv.Itoa(l) + "." + suffix }

// runEdgeAblation runs tokens with the masked edges ablated and returns the logits.
func (e *experiment) runEdgeAblation(tokens *tensors.Tensor, masks *edgeMasks, src *senderActs) (*tensors.Tensor, error) {
	out, err := e.m.Run(tokens, edgeAblationSet(e.m, masks, src))
	if err != nil {
		return nil, err
	}
	return out.Logits, nil
}
