package attrgraph_test

import (
	"fmt"

	"github.com/interp-dev/interp/attrgraph"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/transcoder"
)

// The attribution graph of a 4-token prompt on a tiny random model with random ReLU
// transcoders on both MLPs: its node layout, and the pruned graph written for circuit-tracer.
func ExampleBuild() {
	c := model.Config{NLayers: 2, DModel: 16, NHeads: 4, DHead: 4, DMLP: 32, NCtx: 8, DVocab: 20,
		Act: model.GeluNew, Normalization: model.LayerNorm, PositionalEmbeddings: true, LNEps: 1e-5}
	w, _ := model.NewRandomWeights(c, 1)
	b, name := model.MustNewBackend("")
	m, _ := model.New(w, b, name)
	var ts []*sae.SAE
	for l := range c.NLayers {
		sc, _ := transcoder.NewConfig(c, transcoder.Spec{Layer: l, Arch: sae.ReLU, DSAE: 8})
		s, _ := sae.NewRandom(sc, b, sae.InitOptions{DecoderNorm: 1, Seed: uint64(l)})
		ts = append(ts, s)
	}
	g, err := attrgraph.Build(m, ts, []int{3, 1, 4, 1}, attrgraph.Options{MaxLogits: 2, LogitProb: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d feature nodes, %d error nodes, %d token nodes, %d logit nodes\n",
		len(g.Features), g.TokenNode(0)-g.ErrorNode(0, 0), g.P, len(g.Logits))
	p, _ := g.Prune(0.8, 0.98)
	f := g.File(p, attrgraph.Metadata{Slug: "example", Scan: "random"}, func(t int) string { return fmt.Sprint(t) })
	fmt.Println("graph file nodes include the", f.Nodes[len(f.Nodes)-1].FeatureType, "node", f.Nodes[len(f.Nodes)-1].NodeID[:2]+"...")
	// Output:
	// 23 feature nodes, 8 error nodes, 4 token nodes, 2 logit nodes
	// graph file nodes include the logit node 3_...
}
