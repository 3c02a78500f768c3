package transcoder

import (
	"fmt"
	"github.com/interp-dev/interp/sae"
	"math"
	"testing"
)

// With the exact transcoders of the planted model, the attribution of L1 feature 0 is complete
// (the contributions and the constant sum to its pre-activation), and the top path is the
// planted one: embed -> L0 feature 0 -> L1 feature 0.
func TestPlantedPathExact(t *testing.T) {
	p := newPlanted(t)
	a, err := NewAnalysis(p.m, []*sae.SAE{p.exact(t, 0), p.exact(t, 1)}, p.drivingPrompt())
	if err != nil {
		t.Fatal(err)
	}
	if z := a.Latents(1, 0)[0]; z <= 0 {
		t.Fatalf("L1 feature 0 does not fire on the driving prompt (latents %v)", a.Latents(1, 0))
	}
	att, err := a.Attribute(FeatureTarget(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	sum := att.Constant
	for _, n := range att.Nodes {
		sum += n.Contribution
		if n.Kind == KindError && math.Abs(n.Contribution) > 1e-4 {
			t.Errorf("exact transcoder has error contribution %g", n.Contribution)
		}
	}
	if math.Abs(sum-att.Value) > 1e-4*(1+math.Abs(att.Value)) {
		t.Errorf("contributions + constant = %.6g, pre-activation %.6g", sum, att.Value)
	}
	top := att.Nodes[0]
	if top.Kind != KindFeature || top.Layer != 0 || top.Latent != 0 {
		t.Errorf("top direct contributor is %s, want L0 feature 0", top.ID())
	}
	g, err := a.Paths(FeatureTarget(1, 0, 0), PathOptions{Depth: 2, Branch: 3, Beam: 6})
	if err != nil {
		t.Fatal(err)
	}
	var best *Path
	for i := range g.Paths {
		if len(g.Paths[i].Nodes) == 3 {
			best = &g.Paths[i]
			break
		}
	}
	if best == nil {
		t.Fatalf("no path of depth 2 in %+v", g.Paths)
	}
	if n := best.Nodes[1]; n.Kind != KindFeature || n.Layer != 0 || n.Latent != 0 {
		t.Errorf("top depth-2 path goes through %s, want L0.tc0@0", n.ID())
	}
	if n := best.Nodes[2]; n.Kind != KindEmbed || n.Pos != 0 {
		t.Errorf("top depth-2 path starts at %s, want embed@0", n.ID())
	}
	t.Logf("value %.4f; top path %s <- %s <- %s: %.4f", g.Value, best.Nodes[0].ID(), best.Nodes[1].ID(), best.Nodes[2].ID(), best.Attribution)
}

// nodeConstant is the part of an expandable node's contribution that its expansion does not
// attribute: for a feature, weight x (its encoder's constant); for a head, pattern x (the
// LayerNorm bias and b_V through the OV circuit). Used by tests of the expansion's exactness.
func (a *Analysis) nodeConstant(n Node, e []float64) float64 {
	c := a.cfg
	D, K := c.DModel, c.DHead
	switch n.Kind {
	case KindFeature:
		return n.Weight * a.tc[n.Layer].encBias[n.Latent]
	case KindHead:
		bp := fmt.Sprintf("blocks.%d.attn.", n.Layer)
		wO, wV, bV := a.w[bp+"W_O"], a.w[bp+"W_V"], a.w[bp+"b_V"]
		h, kv := n.Head, c.KVHead(n.Head)
		ea := a.attnPullback(n.Layer, n.Pos, e)
		u := make([]float64, K)
		for kk := range K {
			u[kk] = dot32(wO[(h*K+kk)*D:(h*K+kk+1)*D], ea)
		}
		v := dot32(bV[kv*K:(kv+1)*K], u)
		if c.HasLN() && c.PreNorms() {
			lnB := a.w[fmt.Sprintf("blocks.%d.ln1.b", n.Layer)]
			for d := range D {
				v += float64(lnB[d]) * dot32(wV[(kv*D+d)*K:(kv*D+d+1)*K], u)
			}
		}
		return n.Act * v
	}
	return 0
}
