package attrgraph

import (
	"math"
	"testing"
)

// A graph small enough to score by hand: token -> feature (2), feature -> logit (3),
// error -> logit (1). Row-normalised: the logit reads 3/4 feature, 1/4 error; the feature reads
// the token only. Influence on the logit: feature 3/4, error 1/4, token 3/4 (through the feature).
func handGraph() *Graph {
	g := &Graph{Tokens: []int{5}, NLayers: 1, P: 1, Features: []Feature{{Layer: 0, Pos: 0, Index: 7, Act: 1}},
		NActive: 1, Logits: []Logit{{Token: 3, Prob: 1}}, N: 4}
	g.Adj = make([]float32, 16)
	f, e, tok, lg := 0, g.ErrorNode(0, 0), g.TokenNode(0), g.LogitNode(0)
	g.Adj[lg*4+f], g.Adj[lg*4+e], g.Adj[f*4+tok] = 3, -1, 2
	return g
}

func TestScoresByHand(t *testing.T) {
	g := handGraph()
	rep, comp, err := g.Scores()
	if err != nil {
		t.Fatal(err)
	}
	// replacement = token / (token + error) = 0.75 / (0.75 + 0.25); completeness: the logit's
	// row is 1/4 error, weighted by output influence (0.75, 0.25, 0.75, 1) over 2.75.
	if math.Abs(rep-0.75) > 1e-7 || math.Abs(comp-2.5/2.75) > 1e-7 {
		t.Fatalf("replacement %g (want 0.75), completeness %g (want %g)", rep, comp, 2.5/2.75)
	}
	p, err := g.Prune(0.8, 0.98)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.75, 0.25, 0.75, 0}
	for i, v := range want {
		if math.Abs(p.Influence[i]-v) > 1e-7 {
			t.Fatalf("influence %v, want %v", p.Influence, want)
		}
	}
	// Node threshold 0.8 of total 1.75: the feature and the token (0.75 each, 6/7 of it) suffice;
	// the error node (0.25) goes. Tokens and logits are always kept.
	if !p.Nodes[0] || p.Nodes[1] || !p.Nodes[2] || !p.Nodes[3] {
		t.Fatalf("kept nodes %v, want feature, token, logit", p.Nodes)
	}
	if !p.Edges[3*4+0] || !p.Edges[0*4+2] || p.Edges[3*4+1] {
		t.Fatalf("kept edges wrong: %v", p.Edges)
	}
}

func TestPruneRejectsBadThresholds(t *testing.T) {
	if _, err := handGraph().Prune(1.5, 0.98); err == nil {
		t.Fatal("node threshold 1.5 accepted")
	}
}
