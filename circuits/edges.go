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
// the rebuilt input is per head and per input, x [B, P, H, D] for each of q, k, v, which goes
// through ln1 (when the model has LayerNorm) and W_Q / W_K / W_V to replace hook_q / hook_k /
// hook_v; for an MLP it goes through ln2 and W_in to replace hook_mlp_pre; for the logits it
// replaces the final hook_resid_post. The graph is built from Func hooks: hooks earlier in the
// forward pass (hook_embed, hook_pos_embed, hook_result, hook_mlp_out, hook_resid_pre/mid)
// record their nodes for the later ones, and the masks ([senders, H] per layer and input) and
// the ablated outputs are fed, so one compiled graph serves every subset of edges.

// edgeMasks marks the ablated edges, per receiver input: entry [s, h] of a head mask is 1 when
// the edge from sender s to head h's input is ablated.
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

// newEdgeMasks returns masks with the edges for which ablated returns true set.
func (g *Graph) newEdgeMasks(ablated func(Edge) bool) *edgeMasks {
	m := &edgeMasks{g: g}
	for l := range g.NLayers {
		var qkv [3][]float32
		for i := range qkv {
			qkv[i] = make([]float32, g.senderCount(l)*g.NHeads)
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
		m.head[e.To.Layer][inputIndex(e.Input)][s*m.g.NHeads+e.To.Head] = v
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
	corr = append(corr, src.result...)
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
				tensors.FromFlatDataAndDimensions(masks.head[l][i], g.senderCount(l), c.NHeads),
				weight(attn(l, w)), weight(attn(l, b)),
			}
			if c.HasLN() {
				in = append(in, weight(blockName(l, "ln1.w")), weight(blockName(l, "ln1.b")))
			}
			set.Func(name, "circuits.edges.qkv", func(x *graph.Node, in []*graph.Node) *graph.Node {
				return headInput(c, st.resid[l], st.pieces, in)
			}, in...)
		}
		set.Func(hooks.Result(l), "circuits.edges.stash", func(x *graph.Node, _ []*graph.Node) *graph.Node {
			st.pieces = append(st.pieces, graph.Sub(st.corrResult[l], x)) // [B, P, H, D]
			return x
		})
		if c.HasMLP() {
			set.Func(hooks.ResidMid(l), "circuits.edges.stash", func(x *graph.Node, _ []*graph.Node) *graph.Node {
				st.resid[-1-l] = x
				return x
			})
			set.Func(hooks.MLPPre(l), "circuits.edges.mlp", func(x *graph.Node, in []*graph.Node) *graph.Node {
				return mlpInput(c, st.resid[-1-l], st.pieces, in)
			}, tensors.FromFlatDataAndDimensions(masks.mlp[l], len(masks.mlp[l]), 1),
				weight(blockName(l, "ln2.w")), weight(blockName(l, "ln2.b")),
				weight(blockName(l, "mlp.W_in")), weight(blockName(l, "mlp.b_in")))
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

// headInput rebuilds q, k or v [B, P, H, K] from the residual stream with the ablated edges'
// differences added per head. in: mask [S, H], W [H, D, K], b [H, K] (, ln w [D], ln b [D]).
func headInput(c model.Config, resid *graph.Node, pieces []*graph.Node, in []*graph.Node) *graph.Node {
	dims := resid.Shape().Dimensions
	B, P, D, H, K := dims[0], dims[1], dims[2], c.NHeads, c.DHead
	x := graph.Add(graph.BroadcastToDims(graph.InsertAxes(resid, 2), B, P, H, D), ablatedDelta(pieces, in[0], 0)) // [B, P, H, D]
	if c.HasLN() {
		x = layerNormLast(x, in[3], in[4], c.LNEps)
	}
	y := graph.DotGeneral(x, []int{3}, []int{2}, in[1], []int{1}, []int{0}) // [H, B, P, K]
	y = graph.TransposeAllAxes(y, 1, 2, 0, 3)                               // [B, P, H, K]
	return graph.Add(y, graph.BroadcastToDims(graph.Reshape(in[2], 1, 1, H, K), B, P, H, K))
}

// mlpInput rebuilds hook_mlp_pre [B, P, M] from hook_resid_mid with the ablated edges'
// differences added. in: mask [S, 1], ln2 w, ln2 b [D], W_in [D, M], b_in [M].
func mlpInput(c model.Config, resid *graph.Node, pieces []*graph.Node, in []*graph.Node) *graph.Node {
	x := graph.Add(resid, ablatedDelta(pieces, in[0], 1)) // [B, P, D]
	if c.HasLN() {
		x = layerNormLast(x, in[1], in[2], c.LNEps)
	}
	y := graph.DotGeneral(x, []int{2}, nil, in[3], []int{0}, nil) // [B, P, M]
	return graph.Add(y, graph.ExpandLeftToRank(in[4], 3))
}

// layerNormLast is the model's LayerNorm over the last axis, with weight and bias [D].
func layerNormLast(x, w, b *graph.Node, eps float64) *graph.Node {
	r := x.Rank()
	x = graph.Sub(x, graph.ReduceAndKeep(x, graph.ReduceMean, -1))
	scale := graph.Sqrt(graph.AddScalar(graph.ReduceAndKeep(graph.Square(x), graph.ReduceMean, -1), eps))
	x = graph.Div(x, scale)
	return graph.Add(graph.Mul(x, graph.ExpandLeftToRank(w, r)), graph.ExpandLeftToRank(b, r))
}

func blockName(l int, suffix string) string { return "blocks." + strconv.Itoa(l) + "." + suffix }

// runEdgeAblation runs tokens with the masked edges ablated and returns the logits.
func (e *experiment) runEdgeAblation(tokens *tensors.Tensor, masks *edgeMasks, src *senderActs) (*tensors.Tensor, error) {
	if err := e.edgeLevel(); err != nil {
		return nil, err
	}
	out, err := e.m.Run(tokens, edgeAblationSet(e.m, masks, src))
	if err != nil {
		return nil, err
	}
	return out.Logits, nil
}
