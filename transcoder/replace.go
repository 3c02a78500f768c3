package transcoder

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

// Replacement runs. A transcoder reads one hook (the MLP's input) and writes another (its
// output), but a hooks.Fn only sees the activation of its own hook point. The forward pass
// visits hook points in order while the graph is built, and Fn closures run during that build,
// so Replace adds two function hooks per transcoder:
//
//	input hook  (ln2.hook_normalized): the identity, which also stores the node in a variable
//	                                   shared with the second closure;
//	target hook (hook_mlp_out):        reads that node and returns the transcoder's output.
//
// The stored node belongs to the graph being built; each build stores its own before the
// target hook reads it (a compiled graph is reused without calling the closures again). The
// transcoder's tensors are fed as inputs of the target hook, so one compiled graph serves every
// transcoder of the same shape.

// Replace adds hooks to set that replace each transcoder's target (an MLP's output) by the
// transcoder's output computed from its input hook in the same run. withError adds the
// reconstruction error back, held constant for gradients: the forward values are the model's,
// the transcoder's latents sit in the graph (SAELens use_error_term). A later layer's transcoder
// reads the activations its earlier replacements produced.
func Replace(set *hooks.Set, m model.Config, ts []*sae.SAE, withError bool) error {
	if _, err := byLayer(m, ts); err != nil {
		return err
	}
	for _, s := range ts {
		c := s.Config
		in, out := c.Site.Hook, c.TargetSite().Hook
		input := readInput(set, in, out)
		key := fmt.Sprintf("transcoder/%s/k%d/skip%v/bdec%v/norm%s/%s->%s/err%v", c.Arch, c.K, c.Skip, c.ApplyBDecToInput, c.RuntimeNorm, in, out, withError)
		set.Func(out, key, func(y *graph.Node, p []*graph.Node) *graph.Node {
			recon := reconstructGraph(c, sae.NodesFrom(c, p), input(y), y) // [B, P, DOut]
			if withError {
				recon = graph.Add(recon, graph.StopGradient(graph.Sub(y, recon)))
			}
			return recon
		}, s.Tensors()...)
	}
	return nil
}

// readInput adds the identity hook at in that records its node while a graph is built, and
// returns the function a hook at out (later in the forward pass) calls, with its own activation y,
// to read that node; it panics if in was not visited first in y's graph.
func readInput(set *hooks.Set, in, out string) func(y *graph.Node) *graph.Node {
	var x *graph.Node // [B, P, DIn], set while the graph is built
	set.Func(in, "transcoder-input/"+in, func(a *graph.Node, _ []*graph.Node) *graph.Node {
		x = a
		return a
	})
	return func(y *graph.Node) *graph.Node {
		if x == nil || x.Graph() != y.Graph() {
			panic(fmt.Sprintf("transcoder: input %s is not computed before target %s", in, out))
		}
		a := x
		x = nil
		return a
	}
}

// reconstructGraph is the transcoder's output for activation x [B, P, DIn], shaped like the
// target y [B, P, DOut].
func reconstructGraph(c sae.Config, p sae.Nodes, x, y *graph.Node) *graph.Node {
	rows := graph.Reshape(x, -1, c.DIn) // [N, DIn]
	f := sae.EncodeGraph(c, p, rows)
	return graph.Reshape(sae.DecodeGraph(c, p, f, rows), y.Shape().Dimensions...)
}

// ZeroMLPs adds to set hooks that zero-ablate the targets of the given transcoders: the
// baseline of the CE loss recovered.
func ZeroMLPs(set *hooks.Set, ts []*sae.SAE) {
	for _, s := range ts {
		set.Zero(s.Config.TargetSite().Hook)
	}
}
