package transcoder

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

// Steer adds hooks to set that change transcoder latent i's activation f_i (computed from the
// transcoder's input hook) as op says, and add the change through its decoder to the MLP's
// output, keeping the transcoder's error:
//
//	mlp_out' = mlp_out + (f_i' - f_i) W_dec[i]
//
// The input is read with the same two-hook pattern as Replace. value is fed as an input.
func Steer(set *hooks.Set, m model.Config, s *sae.SAE, latent int, op sae.SteerOp, value float64) error {
	if err := Check(m, s); err != nil {
		return err
	}
	c := s.Config
	if err := sae.CheckLatent(c, latent); err != nil {
		return err
	}
	if err := c.CheckLinear("transcoder: steer"); err != nil {
		return err
	}
	in, out := c.Site.Hook, c.TargetSite().Hook
	input := readInput(set, in, out)
	key := fmt.Sprintf("transcoder-steer/%s/k%d/bdec%v/%s->%s/latent%d/%s", c.Arch, c.K, c.ApplyBDecToInput, in, out, latent, op)
	inputs := append(s.Tensors(), tensors.FromScalar(float32(value)))
	set.Func(out, key, func(y *graph.Node, p []*graph.Node) *graph.Node {
		nodes := sae.NodesFrom(c, p)
		rows := graph.Reshape(input(y), -1, c.DIn)                                                       // [N, DIn]
		delta := sae.SteerDeltaGraph(c, nodes, sae.EncodeGraph(c, nodes, rows), latent, op, p[len(p)-1]) // [N, DOut]
		return graph.Add(y, graph.Reshape(delta, y.Shape().Dimensions...))
	}, inputs...)
	return nil
}
