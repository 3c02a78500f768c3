package circuits

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// Node ablation replaces chosen heads' hook_result and chosen MLPs' hook_mlp_out with values
// from another run, row by row: a Func hook per layer computes
//
//	result' = result + mask * (replacement - result)      mask [B, H] broadcast to [B, P, H, D]
//
// with the masks and replacements fed as inputs, so one compiled graph serves every choice of
// nodes (faithfulness of any circuit, every head of a patching sweep).

// nodeMasks marks which nodes are replaced in which rows of a batch (1 = replaced).
type nodeMasks struct {
	rows, heads int
	head        [][]float32 // per layer [rows*H]
	mlp         [][]float32 // per layer [rows]; nil without MLPs
}

func newNodeMasks(c model.Config, rows int) *nodeMasks {
	m := &nodeMasks{rows: rows, heads: c.NHeads}
	for range c.NLayers {
		m.head = append(m.head, make([]float32, rows*c.NHeads))
		if c.HasMLP() {
			m.mlp = append(m.mlp, make([]float32, rows))
		}
	}
	return m
}

// set marks node n (a head or an MLP) as replaced in rows [from, to).
func (m *nodeMasks) set(n Node, from, to int) {
	for r := from; r < to; r++ {
		switch n.Kind {
		case Head:
			m.head[n.Layer][r*m.heads+n.Head] = 1
		case MLP:
			m.mlp[n.Layer][r] = 1
		}
	}
}

// nodeAblationSet returns the hooks that replace the masked nodes' outputs by src's (whose
// tensors have masks.rows rows).
func nodeAblationSet(c model.Config, masks *nodeMasks, src *senderActs) *hooks.Set {
	set := hooks.New()
	for l := range c.NLayers {
		set.Func(hooks.Result(l), "circuits.replace-heads", replaceMasked,
			tensors.FromFlatDataAndDimensions(masks.head[l], masks.rows, c.NHeads), src.result[l])
		if c.HasMLP() {
			set.Func(hooks.MLPOut(l), "circuits.replace-mlp", replaceMasked,
				tensors.FromFlatDataAndDimensions(masks.mlp[l], masks.rows, 1), src.mlp[l])
		}
	}
	return set
}

// replaceMasked is x + mask (replacement - x) for x [B, P, H, D] with mask [B, H], or x [B, P, D]
// with mask [B, 1].
func replaceMasked(x *graph.Node, in []*graph.Node) *graph.Node {
	dims := x.Shape().Dimensions
	var m *graph.Node
	if len(dims) == 4 {
		m = graph.Reshape(in[0], dims[0], 1, dims[2], 1) // [B, 1, H, 1]
	} else {
		m = graph.Reshape(in[0], dims[0], 1, 1) // [B, 1, 1]
	}
	m = graph.BroadcastToDims(m, dims...)
	return graph.Add(x, graph.Mul(m, graph.Sub(in[1], x)))
}

// runNodeAblation runs tokens with the masked nodes replaced and returns the logits.
func (e *experiment) runNodeAblation(tokens *tensors.Tensor, masks *nodeMasks, src *senderActs) (*tensors.Tensor, error) {
	out, err := e.m.Run(tokens, nodeAblationSet(e.m.Config, masks, src))
	if err != nil {
		return nil, err
	}
	return out.Logits, nil
}
