package transcoder

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

// DecoderInto returns the decoders of layer l's latents into layer m's output, [F, D] (m >= l).
func (c *CLT) DecoderInto(l, m int) []float32 {
	F, D := c.Config().DSAE, c.Config().Out()
	out := make([]float32, 0, F*D)
	for f := range F {
		out = append(out, c.Decoder(l, f, m)...)
	}
	return out
}

// ReplaceCLT adds hooks to set that replace every MLP's output by the CLT's reconstruction from
// the same run: layer l's input hook encodes its activation (the identity otherwise, keeping the
// latents while the graph is built), and layer m's output becomes b_dec_m + sum_{l <= m} f_l
// W_dec_l[:, m-l]. A later layer reads the activations the earlier replacements produced.
func ReplaceCLT(set *hooks.Set, mc model.Config, c *CLT) error {
	all := make([]int, c.NLayers())
	for l := range all {
		all[l] = l
	}
	return ReplaceCLTLayers(set, mc, c, all, false)
}

// ReplaceCLTLayers is ReplaceCLT for the MLPs of the given layers only (each reconstructed from
// the latents of every layer up to it, read in the same run). withError adds the reconstruction
// error back, held constant for gradients (the forward values are the model's).
func ReplaceCLTLayers(set *hooks.Set, mc model.Config, c *CLT, layers []int, withError bool) error {
	if err := CheckCLT(mc, c); err != nil {
		return err
	}
	top := -1
	for _, m := range layers {
		if m < 0 || m >= c.NLayers() {
			return fmt.Errorf("transcoder: CLT layer %d out of range [0, %d)", m, c.NLayers())
		}
		top = max(top, m)
	}
	L := c.NLayers()
	cfg := c.Config()
	lat := make([]*graph.Node, L) // [N, F] per layer, set while a graph is built
	for l, s := range c.Layers[:top+1] {
		sc := s.Config
		key := fmt.Sprintf("clt-encode/%s/k%d/%s", sc.Arch, sc.K, sc.Site.Hook)
		set.Func(sc.Site.Hook, key, func(x *graph.Node, p []*graph.Node) *graph.Node {
			lat[l] = sae.EncodeGraph(sc, sae.NodesFrom(sc, p), graph.Reshape(x, -1, sc.DIn))
			return x
		}, s.Tensors()...)
	}
	F, D := cfg.DSAE, cfg.Out()
	for _, m := range layers {
		inputs := []*tensors.Tensor{c.Layers[m].Params["b_dec"]}
		for l := 0; l <= m; l++ {
			inputs = append(inputs, tensors.FromFlatDataAndDimensions(c.DecoderInto(l, m), F, D))
		}
		out := c.Layers[m].Config.TargetSite().Hook
		set.Func(out, fmt.Sprintf("clt-decode/%s/%d/err%v", out, m, withError), func(y *graph.Node, p []*graph.Node) *graph.Node {
			recon := graph.InsertAxes(p[0], 0) // [1, D]
			for l := 0; l <= m; l++ {
				if lat[l] == nil || lat[l].Graph() != y.Graph() {
					panic(fmt.Sprintf("transcoder: CLT layer %d's input is not computed before %s", l, out))
				}
				recon = graph.Add(recon, graph.DotGeneral(lat[l], []int{1}, nil, p[1+l], []int{0}, nil)) // [N, D]
			}
			recon = graph.Reshape(recon, y.Shape().Dimensions...)
			if withError {
				recon = graph.Add(recon, graph.StopGradient(graph.Sub(y, recon)))
			}
			return recon
		}, inputs...)
	}
	return nil
}
